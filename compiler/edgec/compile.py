"""`edgec compile`: load -> IR -> layout -> render -> build -> verify, into out/<name>-<target>/.

Everything is written into a temporary folder beside the destination and renamed into
place at the end, so a failed compile never leaves a half-written artifact.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .build import build_artifact
from .chat_template import ChatFormat, chat_format_from_template
from .codegen import build_context, render
from .errors import EdgecError
from .escaping import display_text
from .artifact_dir import check_destination, file_hashes, make_staging_dir, remove_created, replace_artifact
from .autotune import autotune
from .kernel_choice import I16_FORMATS, TERNARY_I16_FORMATS
from .load_model import load_model, validate_ir
from .lut_layout import LUT_FORMATS
from .memory_plan import plan_memory
from .model_registry import resolve_model
from .paths import runtime_dir
from .progress import Progress
from .run_artifact import run_instructions
from .quantize_model import quantize_ir
from .targets import load_target
from .tokenizer_blob import build_tokenizer_blob
from .weights_blob import write_blob

C_ARRAY_LIMIT = 4 << 20   # below this the blobs are C arrays (portable); above, .incbin (compilers choke on big literals)


@dataclass
class CompileOptions:
    model: str
    target: str = "host"
    out: str | None = None
    name: str | None = None
    tokenizer: str | None = None
    quant: str | None = None
    output_quant: str | None = None   # token_embd/output format: a --quant choice, "same", or None (per --quant)
    ctx: int = 2048
    kv_cache: str = "f16"
    autotune: bool = True
    cc: str | None = None
    build: bool = True
    quiet: bool = False


@dataclass
class CompileResult:
    out_dir: Path
    binary: Path
    manifest: dict


def sanitize_name(name: str) -> str:
    s = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    return s or "model"


def runtime_sources() -> list:
    """Runtime files an artifact needs: every .c/.h in runtime/ and runtime/kernels/ (not tools)."""
    rt = runtime_dir()
    files = [p.relative_to(rt) for p in rt.glob("*.[ch]")] + [p.relative_to(rt) for p in rt.glob("kernels/*.h")]
    return sorted(str(f) for f in files)


def _write_blobs_source(src: Path, embed: str, ctx: dict, weights_path: Path, tok_blob: bytes) -> None:
    info = {"version": __version__, "weights_bytes": weights_path.stat().st_size, "tokenizer_bytes": len(tok_blob)}
    if embed == "incbin":
        (src / "blobs.S").write_text(render("blobs.S.j2", {**info, "size_directive": ".quad"}))
    else:
        hexify = lambda b: ",\n".join(",".join(f"0x{x:02x}" for x in b[i:i + 24]) for i in range(0, len(b), 24))  # noqa: E731
        (src / "blobs.c").write_text(render("blobs.c.j2", {**info, "weights_hex": hexify(weights_path.read_bytes()),
                                                           "tokenizer_hex": hexify(tok_blob)}))


def _manifest(ir, target, layout, arena, name, opts, embed, cc, cflags, tok_bytes, need) -> dict:
    cfg = ir.config
    by_fmt: dict = {}
    for e in layout.entries:
        f = by_fmt.setdefault(e.fmt, {"tensors": 0, "bytes": 0})
        f["tensors"] += 1
        f["bytes"] += e.n_bytes
    return {
        "edgec_version": __version__,
        "name": name,
        "source": {"file": display_text(Path(ir.source_path).name), "format": ir.source_format, "sha256": ir.source_sha256},
        "target": {"name": target.name, "isa": target.isa, "cc": cc, "cflags": cflags,
                   "weight_layout": target.weight_layout, "prefetch_bytes": target.prefetch_bytes},
        "model": {"arch": cfg.arch, "dim": cfg.dim, "hidden_dim": cfg.hidden_dim, "n_layers": cfg.n_layers,
                  "n_heads": cfg.n_heads, "n_kv_heads": cfg.n_kv_heads, "head_dim": cfg.head_dim,
                  "vocab_size": cfg.vocab_size, "rope_theta": cfg.rope_theta, "rope_layout": cfg.rope_layout,
                  "norm_eps": cfg.norm_eps, "tied_embeddings": cfg.tied_embeddings, "qkv_bias": cfg.qkv_bias,
                  "ffn_act": cfg.ffn_act, "sub_norms": cfg.sub_norms},
        "quant": opts.quant or "as stored",
        "output_quant": ir.metadata.get("output_quant") or "as stored",
        "max_ctx": opts.ctx, "max_batch": arena.max_batch, "kv_cache": arena.kv_cache,
        "formats": by_fmt,
        "sizes": {"weights_bytes": layout.total_bytes, "tokenizer_bytes": tok_bytes,
                  "arena_bytes": arena.total_bytes, "kv_cache_bytes": arena.kv_cache_bytes,
                  "memory_needed_bytes": need},
        "weights_embedding": embed,
        "tensors": [{"name": e.name, "format": e.fmt, "layout": e.layout, "shape": list(e.shape),
                     "offset": e.offset, "bytes": e.n_bytes} for e in layout.entries],
        "warnings": [display_text(w) for w in ir.metadata.get("warnings", [])],
    }


def compile_model(opts: CompileOptions) -> CompileResult:
    prog = Progress(6 if opts.build else 4, quiet=opts.quiet)
    try:
        return _compile(opts, prog)
    except BaseException:
        prog.fail()
        raise


def _compile(opts: CompileOptions, prog: Progress) -> CompileResult:
    target = load_target(opts.target)
    prog.n_stages += int(target.autotune and opts.autotune and opts.build)
    if opts.ctx < 1 or opts.ctx > 1 << 20:
        raise EdgecError(f"--ctx {opts.ctx} is out of range; give a context length between 1 and 1048576")
    if opts.out:
        check_destination(Path(opts.out))   # before minutes of work, not after
    path, alias = resolve_model(opts.model)

    prog.stage(f"loading {display_text(Path(path).name)}")
    ir = load_model(path, tokenizer_path=opts.tokenizer)
    if opts.quant is not None or opts.output_quant is not None:
        ir = quantize_ir(ir, opts.quant, opts.output_quant)
        validate_ir(ir)
    if ir.tokenizer is None:
        raise EdgecError(f"{path} has no tokenizer; give one with --tokenizer")
    name = sanitize_name(opts.name or alias or ir.config.name)
    cfg = ir.config
    prog.end_stage(f"{cfg.arch}, {cfg.n_layers} layers, dim {cfg.dim}, vocab {cfg.vocab_size}")

    max_ctx = opts.ctx
    if cfg.max_seq_len and max_ctx > cfg.max_seq_len:
        ir.metadata.setdefault("warnings", []).append(
            f"--ctx {max_ctx} is beyond the {cfg.max_seq_len} tokens the model was trained on; "
            "quality degrades past them")
    if opts.kv_cache not in ("f16", "f32"):
        raise EdgecError(f"--kv-cache {opts.kv_cache} is not supported; use f16 or f32")
    cc = target.find_cc(opts.cc)
    cflags = list(target.cflags) + ["-Wall", "-Wextra"] + cc_workarounds(cc)
    tune = target.autotune and opts.autotune and opts.build

    prog.stage("planning memory and weight layout")
    tok_blob = build_tokenizer_blob(ir.tokenizer, chat=chat_format_or_none(ir))
    layout, arena, need = plan_memory(ir, target, max_ctx, opts.kv_cache, len(tok_blob))
    prog.end_stage(f"weights {layout.total_bytes / 2**20:.1f} MiB, arena {arena.total_bytes / 2**20:.1f} MiB")

    tuned = None
    if tune:
        prog.stage("autotuning kernels on this machine")
        if quantized_bytes(ir) < AUTOTUNE_MIN_BYTES:
            prog.end_stage("skipped: the weights fit in cache, profile defaults")
        else:
            tuned = autotune(ir, cc, cflags, target=target)
            if tuned:
                if tuned["layout"] is not None:
                    target.weight_layout, target.prefetch_bytes = tuned["layout"], tuned["prefetch_bytes"]
                if tuned.get("lut_formats") is not None:
                    target.lut_formats = list(tuned["lut_formats"])
                layout, arena, need = plan_memory(ir, target, max_ctx, opts.kv_cache, len(tok_blob))
            prog.end_stage(tuned_summary(tuned))
    embed = target.weights_embed
    if embed == "auto":
        embed = "incbin" if layout.total_bytes + len(tok_blob) > C_ARRAY_LIMIT else "c-array"

    out_dir = Path(opts.out or Path("out") / f"{name}-{target.name}")
    check_destination(out_dir)
    tmp, created = make_staging_dir(out_dir)
    try:
        prog.stage("writing weights")
        src = tmp / "src"
        src.mkdir()
        write_blob(ir, layout, src / "weights.bin", max_ctx,
                   progress=lambda d, t: prog.bar(d, t, f"{d / 2**20:.0f}/{t / 2**20:.0f} MiB"))
        (src / "tokenizer.bin").write_bytes(tok_blob)
        prog.end_stage()

        prog.stage("generating C")
        ctx = build_context(ir, target, layout, arena, name, max_ctx, Path(path).name)
        (src / "model.h").write_text(render("model.h.j2", ctx))
        (src / "model.c").write_text(render("model.c.j2", ctx))
        _write_blobs_source(src, embed, ctx, src / "weights.bin", tok_blob)
        rt_files = runtime_sources()
        for f in rt_files:
            (tmp / "runtime" / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(runtime_dir() / f, tmp / "runtime" / f)
        (tmp / "CMakeLists.txt").write_text(render("CMakeLists.txt.j2", {
            "version": __version__, "name": name, "cmake_name": name.replace("-", "_"),
            "source_name": Path(path).name, "target": target, "embed": embed, "cflags": cflags,
            "runtime_sources": [f for f in rt_files if f.endswith(".c")]}))
        manifest = _manifest(ir, target, layout, arena, name, opts, embed, cc, cflags, len(tok_blob), need)
        manifest["files"] = file_hashes(tmp)
        if tuned:
            manifest["autotune"] = {k: v for k, v in tuned.items() if k != "cached"}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        prog.end_stage(f"model.c {len((src / 'model.c').read_text().splitlines())} lines")

        binary = tmp / "bin" / name
        if opts.build:
            prog.stage(f"building with {cc}")
            build_artifact(tmp, cc, progress=lambda d, t: prog.bar(d, t))
            prog.end_stage(f"bin/{name} {binary.stat().st_size / 2**20:.1f} MiB")
            prog.stage("verifying the binary")
            prog.end_stage(verify_binary(binary, target.run_prefix))
        replace_artifact(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        remove_created(created)
        raise
    if opts.build and not opts.quiet:
        print_summary(prog, manifest, out_dir, name)
    if not opts.quiet:
        for w in manifest["warnings"]:
            prog.say(f"  warning: {w}")
    return CompileResult(out_dir, out_dir / "bin" / name, manifest)


def tuned_summary(tuned) -> str:
    """The autotune stage's one-line result."""
    if not tuned:
        return "no candidate built; profile defaults"
    parts = []
    if tuned["layout"] is not None:
        parts.append(f"{tuned['layout']} layout, prefetch {tuned['prefetch_bytes']} B")
    if tuned.get("lut_formats") is not None:
        parts.append(f"LUT for {', '.join(tuned['lut_formats'])}" if tuned["lut_formats"] else "no LUT")
    return ", ".join(parts) + (" (cached)" if tuned["cached"] else "")


AUTOTUNE_MIN_BYTES = 1 << 20   # below this the weights sit in L1/L2 and any choice is as good


def quantized_bytes(ir) -> int:
    """Bytes of the matrices whose layout and prefetch distance autotune measures."""
    tunable = I16_FORMATS | TERNARY_I16_FORMATS | set(LUT_FORMATS)
    return sum(t.n_bytes for t in ir.tensors.values() if t.fmt in tunable and len(t.shape) == 2)


def chat_format_or_none(ir) -> ChatFormat:
    """The model's chat format; a template edgec cannot decompose gives a warning and a program without --chat."""
    tok = ir.tokenizer
    bos = tok.tokens[tok.bos_id] if 0 <= tok.bos_id < len(tok.tokens) else ""
    eos = tok.tokens[tok.eos_id] if 0 <= tok.eos_id < len(tok.tokens) else ""
    try:
        return chat_format_from_template(tok.chat_template, bos, eos)
    except EdgecError as e:
        ir.metadata.setdefault("warnings", []).append(f"--chat falls back to a plain transcript: {e}")
        return ChatFormat()


def cc_workarounds(cc: str) -> list:
    """gcc 12's IPA pure/const analysis has deleted calls in generated kernels; turn it off for gcc."""
    try:
        ver = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [] if "clang" in ver else ["-fno-ipa-pure-const", "-fno-ipa-modref"]


def verify_binary(binary: Path, run_prefix: list) -> str:
    """The artifact starts, finds its weights and tokenizer, and reports its info (under qemu-user for a
    cross target).  Returns a note when it cannot be run here."""
    if run_prefix and not shutil.which(run_prefix[0]):
        return f"not run: {run_prefix[0]} is not installed (examples/setup.sh installs it)"
    r = subprocess.run([*run_prefix, str(binary), "--info"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise EdgecError(f"the built program failed its self-check ({r.stderr.strip() or r.returncode}); "
                         "this is an edgec bug, please report it")
    return "under " + run_prefix[0] if run_prefix else ""


def print_summary(prog: Progress, m: dict, out_dir: Path, name: str) -> None:
    s = m["sizes"]
    mib = lambda b: f"{b / 2**20:.1f} MiB"  # noqa: E731
    fmts = ", ".join(f"{k} x{v['tensors']}" for k, v in sorted(m["formats"].items()))
    prog.say("")
    prog.say(f"compiled {m['source']['file']} for {m['target']['name']} in {prog.elapsed():.1f}s -> {display_text(out_dir)}/")
    prog.say(f"  weights   {mib(s['weights_bytes'])} ({fmts})")
    prog.say(f"  KV cache  {mib(s['kv_cache_bytes'])} (--ctx {m['max_ctx']}), arena {mib(s['arena_bytes'])} in all")
    prog.say(f"  device memory needed: {mib(s['memory_needed_bytes'])}")
    for line in run_instructions(out_dir, name, m["target"]["name"], '-p "Once upon a time" -n 64'):
        prog.say(f"  {line}")
