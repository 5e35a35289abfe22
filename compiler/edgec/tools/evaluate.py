"""`edgec eval`: perplexity of an artifact on a text, and how closely it follows a reference model.

The text is tokenized as ONE sequence (newlines included) by the C tokenizer library with the
artifact's own blob (firmware/tokenizer.bin, through the edgec_tokenize tool), so it gives exactly the
ids the program would give the whole text; the program's own `--tokenize` works line by line.
When the tokenizer adds BOS to prompts, every window starts with BOS.

Windows (llama-perplexity / HF style sliding window): each window holds up to `window` tokens
(BOS included) and starts `stride` text tokens after the previous one; it scores only the tokens
no earlier window scored, each predicted from everything before it in its window. The program
runs every window with `--prompt-ids WINDOW -n 0 --dump-logits`.

With a reference model, the float numpy reference (edgec.ir.reference.Reference, mimic_kernels=False)
runs the same windows: top-1 agreement and mean KL(reference || artifact) over the scored tokens.
"""
from __future__ import annotations

import math
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from edgec.build.run_artifact import Artifact, open_artifact
from edgec.errors import EdgecError
from edgec.tools.bench import _last_line, check_output_path, run_program, warn_threads_beyond_cpus, write_json


@dataclass
class EvalOptions:
    artifact: str
    text: str
    ctx_window: Optional[int] = None    # default: the artifact's max_ctx
    stride: Optional[int] = None        # default: half the window
    max_tokens: int = 4096
    reference: Optional[str] = None     # model path (or known name) for the float reference pass
    reference_tokenizer: Optional[str] = None  # tokenizer.bin when the reference is a llama2.c checkpoint
    threads: Optional[int] = None
    json_path: Optional[str] = None


@dataclass
class Window:
    tokens: list       # the ids fed to the model (BOS first when the tokenizer adds it)
    first_row: int     # logits row that predicts the first scored token
    n_scored: int      # rows first_row .. first_row + n_scored - 1 are scored


# ---- tokens and windows ----

def tokenize_whole_text(folder: Path, text_path: Path) -> tuple:
    """(ids of the whole file as one text, BOS id or None if prompts get none), from the artifact's blob."""
    from edgec.tools.tokenizer_tool import build_tokenize_tool, check_text_file, tokenize_text, tokenizer_info
    check_text_file(text_path, "--text")
    blob = folder / "firmware" / "tokenizer.bin"
    if not blob.is_file():
        raise EdgecError(f"{folder} has no firmware/tokenizer.bin; rebuild the artifact with `edgec compile`")
    tool = build_tokenize_tool(Path(tempfile.gettempdir()) / "edgec-tools")
    info = tokenizer_info(tool, blob)
    bos = int(info["bos"]) if info.get("add_bos") == "1" and int(info["bos"]) >= 0 else None
    return tokenize_text(tool, blob, text_path), bos


def plan_windows(ids: list, window: int, stride: int, bos: Optional[int]) -> list:
    """Sliding windows over ids that score every token once (the first only when BOS precedes it)."""
    prefix = [] if bos is None else [bos]
    span = window - len(prefix)  # text tokens per window
    # without BOS a window's first token has no context, so windows must overlap by one
    max_stride = span if prefix else span - 1
    if max_stride < 1 or not 1 <= stride <= max_stride:
        raise EdgecError(f"--stride {stride} must be between 1 and {max_stride} for a window of {window} tokens; "
                         "use a smaller --stride or a larger --ctx-window")
    windows, scored_to = [], 0 if prefix else 1  # without BOS the first token has nothing to predict it
    start = 0
    while scored_to < len(ids):
        end = min(start + span, len(ids))
        # text token j sits at row len(prefix) + j - start and is predicted by the row before it
        windows.append(Window(prefix + ids[start:end], len(prefix) + scored_to - start - 1, end - scored_to))
        scored_to = end
        start += stride
    return windows


# ---- running the artifact and the reference ----

def artifact_logits(art: Artifact, tokens: list, n_vocab: int, threads: Optional[int], tmp: Path) -> np.ndarray:
    """Logits [len(tokens), n_vocab] of the program for one window."""
    dump, binary = tmp / "logits.bin", art.binary
    args = ["--prompt-ids", ",".join(map(str, tokens)), "-n", 0, "--dump-logits", dump]
    if threads:
        args += ["--threads", threads]
    code, err, _ = run_program(art, args, tmp)
    if code != 0:
        raise EdgecError(f"{binary.name} failed (exit {code}): {_last_line(err)}")
    raw = np.fromfile(dump, dtype=np.float32)
    if raw.size != len(tokens) * n_vocab:
        raise EdgecError(f"{binary.name} dumped {raw.size} logits for {len(tokens)} tokens of vocab {n_vocab}; "
                         "rebuild the artifact with `edgec compile`")
    return raw.reshape(len(tokens), n_vocab)


def load_reference(path: str, tokenizer: Optional[str], n_vocab: int):
    """The float reference (dequantized weights, float activations) of a model file."""
    from edgec.frontends.load_model import load_model
    from edgec.frontends.model_registry import resolve_model
    from edgec.ir.reference import Reference
    try:
        ir = load_model(resolve_model(path)[0], tokenizer_path=tokenizer)
    except EdgecError as e:   # the loaders name compile's --tokenizer; here the flag is --reference-tokenizer
        raise EdgecError(re.sub(r"(?<![\w-])--tokenizer\b", "--reference-tokenizer", str(e))) from None
    if ir.config.vocab_size != n_vocab:
        raise EdgecError(f"reference {path} has a vocabulary of {ir.config.vocab_size} but the artifact has "
                         f"{n_vocab}; pass the model the artifact was compiled from with --reference")
    return Reference(ir, mimic_kernels=False)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


# ---- the evaluation ----

def run_eval(o: EvalOptions) -> dict:
    """Perplexity (and reference agreement) of the artifact on o.text; returns the result dict."""
    art = open_artifact(o.artifact, "eval")
    folder, manifest = art.folder, art.manifest
    max_ctx, n_vocab = int(manifest["max_ctx"]), int(manifest["model"]["vocab_size"])
    if o.threads is not None and o.threads < 1:
        raise EdgecError("--threads must be at least 1")
    check_output_path(o.json_path, "--json")
    if o.max_tokens < 2:
        raise EdgecError("--max-tokens must be at least 2")
    if o.ctx_window is not None and o.ctx_window < 2:
        raise EdgecError(f"--ctx-window {o.ctx_window} is too small; give at least 2 (default: the --ctx of {max_ctx})")
    window = min(o.ctx_window or max_ctx, max_ctx)
    ids, bos = tokenize_whole_text(folder, Path(o.text))
    ids = ids[:o.max_tokens]
    if len(ids) < 2:
        raise EdgecError(f"{o.text} has {len(ids)} tokens; perplexity needs a text of at least 2 tokens")
    stride = o.stride or max(1, (window - (bos is not None)) // 2)  # half the window's text tokens
    windows = plan_windows(ids, window, stride, bos)
    warn_threads_beyond_cpus(o.threads)
    ref = load_reference(o.reference, o.reference_tokenizer, n_vocab) if o.reference else None

    nll, ref_nll, kl, agree, scored = 0.0, 0.0, 0.0, 0, 0
    with tempfile.TemporaryDirectory(prefix="edgec-eval-") as d:
        for w in windows:
            rows = slice(w.first_row, w.first_row + w.n_scored)
            targets = np.asarray(w.tokens[w.first_row + 1: w.first_row + 1 + w.n_scored])
            ours = log_softmax(artifact_logits(art, w.tokens, n_vocab, o.threads, Path(d))[rows])
            nll -= ours[np.arange(w.n_scored), targets].sum()
            scored += w.n_scored
            if ref is not None:
                ref.reset()
                theirs = log_softmax(ref.forward(w.tokens, 0)[rows])
                ref_nll -= theirs[np.arange(w.n_scored), targets].sum()
                kl += (np.exp(theirs) * (theirs - ours)).sum()
                agree += int((theirs.argmax(axis=-1) == ours.argmax(axis=-1)).sum())
    result = {
        "model": manifest["name"],
        "text": str(o.text),
        "tokens": len(ids),
        "scored_tokens": scored,
        "windows": len(windows),
        "window": window,
        "stride": stride,
        "bos": bos is not None,
        "perplexity": math.exp(nll / scored),
        "reference": o.reference,
        "reference_perplexity": math.exp(ref_nll / scored) if ref is not None else None,
        "top1_agreement": agree / scored if ref is not None else None,
        "kl_divergence": kl / scored if ref is not None else None,
        "emulated": art.emulated,   # the emulator command when the program ran under qemu-user, else null
    }
    if o.json_path:
        write_json(o.json_path, result)
    return result


def format_report(r: dict) -> str:
    """The result as a few terminal lines."""
    lines = [f"{r['model']} on {r['text']}: {r['scored_tokens']} tokens scored in {r['windows']} windows of "
             f"{r['window']} (stride {r['stride']})"
             + (f", emulated under {r['emulated']}" if r.get("emulated") else ""),
             f"  {'perplexity':<22}{r['perplexity']:.4f}"]
    if r["reference"] is not None:
        lines += [f"  {'reference perplexity':<22}{r['reference_perplexity']:.4f}  ({r['reference']})",
                  f"  {'top-1 agreement':<22}{100 * r['top1_agreement']:.2f}%",
                  f"  {'KL(ref || ours)':<22}{r['kl_divergence']:.3e} nats/token"]
    return "\n".join(lines)
