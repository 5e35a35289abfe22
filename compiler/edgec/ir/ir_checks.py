"""The IR's checks: validate_ir (ranges first, then every tensor the forward pass reads, present with
its shape, format and size, and nothing left over), run on every front end's output and after --quant.

Every failure is a one-line EdgecError naming the value, the range it must lie in and the fix.
Sizes are checked against what the file holds (the tensors present), not against fixed caps;
the only fixed limits are those of the generated C (int32 dimensions, 32-bit blob offsets).
"""
from __future__ import annotations

import math
import numbers
import re

import numpy as np

from edgec.errors import EdgecError
from edgec.ir.model_ir import FORMATS, ModelIR, expected_shapes, layer_tensor_names, row_bytes

INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1
FLOAT32_MAX = float(np.finfo(np.float32).max)
TOKEN_TYPES = range(0, 7)    # GGUF's enum: 0 undefined, 1 normal, 2 unknown, 3 control, 4 user, 5 unused, 6 byte
TOKENIZER_KINDS = ("gpt2", "sentencepiece")
ROPE_LAYOUTS = ("interleaved", "neox")
LAYER_RE = re.compile(r"blk\.(\d+)\.")
# ModelConfig fields that become C constants (#define DIM ...) and must be positive int32 values.
SIZE_FIELDS = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "head_dim", "vocab_size", "rope_dim",
               "max_seq_len")


def check_ir_ranges(ir: ModelIR) -> None:
    """Everything validate_ir must know before it may loop over layers or read tensor shapes."""
    check_sizes(ir)
    check_layer_count(ir)
    check_vocab(ir)
    check_floats(ir)
    if ir.tokenizer is not None:
        check_tokenizer(ir)


def _fail(ir: ModelIR, message: str) -> None:
    raise EdgecError(f"{ir.source_path}: {message}")


def check_sizes(ir: ModelIR) -> None:
    """Every size is a positive integer that fits the generated C's int constants."""
    cfg = ir.config
    for name in SIZE_FIELDS:
        value = getattr(cfg, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 < value <= INT32_MAX:
            _fail(ir, f"model config {name} = {value!r} is out of range (a whole number from 1 to {INT32_MAX}); "
                      "the model file is corrupt")
    for what, value in (("heads x head size", cfg.n_heads * cfg.head_dim),
                        ("KV heads x head size", cfg.n_kv_heads * cfg.head_dim)):
        if value > INT32_MAX:
            _fail(ir, f"model config {what} = {value} overflows the generated C's int; the model file is corrupt")
    if cfg.rope_layout not in ROPE_LAYOUTS:
        _fail(ir, f"rope layout {cfg.rope_layout!r} is not one of {', '.join(ROPE_LAYOUTS)}")


def check_layer_count(ir: ModelIR) -> None:
    """n_layers must match the layers whose tensors the file holds, checked before anything loops over it."""
    cfg = ir.config
    present = {int(m.group(1)) for m in map(LAYER_RE.match, ir.tensors) if m}
    beyond = sorted(i for i in present if i >= cfg.n_layers)
    if beyond:
        name = next(n for n in ir.tensors if n.startswith(f"blk.{beyond[0]}."))
        _fail(ir, f"tensor {name} belongs to layer {beyond[0]} but the config says n_layers = {cfg.n_layers}; "
                  "the file is inconsistent, re-convert it")
    if cfg.n_layers > len(present):
        _fail(ir, f"the config says the model has {cfg.n_layers} layers but the file holds tensors for "
                  f"{len(present)}; the file is incomplete or corrupt")
    needed = cfg.n_layers * len(layer_tensor_names(cfg))
    if needed > len(ir.tensors):
        _fail(ir, f"{cfg.n_layers} layers need {needed} tensors but the file holds {len(ir.tensors)}; "
                  "the file is incomplete")


def check_vocab(ir: ModelIR) -> None:
    """vocab_size is the embedding's row count (the tokenizer may be smaller, never larger)."""
    cfg = ir.config
    embd = ir.tensors.get("token_embd.weight")
    if embd is not None and len(embd.shape) == 2 and embd.shape[0] != cfg.vocab_size:
        _fail(ir, f"vocab_size {cfg.vocab_size} differs from the {embd.shape[0]} rows of token_embd.weight; "
                  "the config and the weights disagree")
    if embd is not None and len(embd.shape) == 2 and embd.shape[0] * embd.shape[1] > INT32_MAX:
        _fail(ir, f"token_embd.weight has {embd.shape[0]} x {embd.shape[1]} values, more than the generated C's "
                  f"int indexes ({INT32_MAX})")
    total = sum(len(t.data) for t in ir.tensors.values())
    if total > UINT32_MAX:
        _fail(ir, f"the weights take {total} bytes; edgec's generated C addresses them with 32-bit offsets "
                  f"(at most {UINT32_MAX} bytes), quantize to a smaller format with --quant")


def _finite_positive(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value > 0


def check_floats(ir: ModelIR) -> None:
    """The norm epsilon, rope base and rope factors are finite and positive, as are the frequencies they give."""
    cfg = ir.config
    if not _finite_positive(cfg.norm_eps) or not 0 < np.float32(cfg.norm_eps) < 1:
        _fail(ir, f"RMSNorm epsilon {cfg.norm_eps!r} is out of range (a finite number in (0, 1)); "
                  "the model file is corrupt")
    if not _finite_positive(cfg.rope_theta):
        _fail(ir, f"rope frequency base {cfg.rope_theta!r} is out of range (a finite number > 0); "
                  "the model file is corrupt")
    factors = cfg.rope_freq_factors
    if factors is not None:
        if len(factors) != cfg.rope_dim // 2:
            _fail(ir, f"rope_freqs has {len(factors)} factors, expected rope_dim/2 = {cfg.rope_dim // 2}")
        bad = next((f for f in factors if not _finite_positive(f)), None)
        if bad is not None:
            _fail(ir, f"rope scaling factor {bad!r} is out of range (finite numbers > 0); the model file is corrupt")
    with np.errstate(all="ignore"):
        freqs = cfg.rope_theta ** (-2.0 * np.arange(cfg.rope_dim // 2, dtype=np.float64) / cfg.rope_dim)
        if factors is not None:
            freqs = freqs / np.asarray(factors, dtype=np.float64)
    if not (np.all(np.isfinite(freqs)) and np.all(freqs > 0)):
        _fail(ir, f"rope frequency base {cfg.rope_theta!r} with the rope factors gives non-finite frequencies; "
                  "the model file is corrupt")


def check_tokenizer(ir: ModelIR) -> None:
    """Token lists agree in length, ids and types are in range, scores fit float32, and the tokenizer
    is no larger than the embedding (else a token id would index past it at run time)."""
    tok, vocab = ir.tokenizer, ir.config.vocab_size
    if tok.kind not in TOKENIZER_KINDS:
        _fail(ir, f"tokenizer kind {tok.kind!r} is not supported ({', '.join(TOKENIZER_KINDS)})")
    n = len(tok.tokens)
    if n == 0 or n > vocab:
        _fail(ir, f"the tokenizer has {n} tokens but the embedding has {vocab} rows; a tokenizer must have "
                  "1 to vocab_size tokens, pass the tokenizer that belongs to the model")
    if not all(isinstance(t, str) for t in tok.tokens):
        _fail(ir, "the tokenizer's token list holds non-text entries; re-export the tokenizer")
    if len(tok.token_types) != n or (tok.scores is not None and len(tok.scores) != n):
        scores = "" if tok.scores is None else f" and {len(tok.scores)} scores"
        _fail(ir, f"the tokenizer has {n} tokens but {len(tok.token_types)} token types{scores}; re-export it")
    bad_type = next((t for t in tok.token_types if isinstance(t, bool) or not isinstance(t, numbers.Integral)
                     or t not in TOKEN_TYPES), None)
    if bad_type is not None:
        _fail(ir, f"the tokenizer has token type {bad_type!r} (GGUF token types are 0 to 6); re-export it")
    if tok.scores is not None:
        bad = next((s for s in tok.scores if not isinstance(s, numbers.Real) or not abs(s) <= FLOAT32_MAX), None)
        if bad is not None:
            _fail(ir, f"the tokenizer has score {bad!r}, which is not a float32 number; re-export it")
    for name in ("bos_id", "eos_id", "eot_id", "unk_id"):
        value = getattr(tok, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not -1 <= value < n:
            _fail(ir, f"tokenizer {name} {value!r} is outside the vocabulary of {n} tokens; re-export it")
    if tok.merges is not None and not all(isinstance(m, str) for m in tok.merges):
        _fail(ir, "the tokenizer's merges are not all text; re-export the tokenizer")
    if tok.chat_template is not None and not isinstance(tok.chat_template, str):
        _fail(ir, "the chat template is not text; re-export the tokenizer")


def check_no_unused_tensors(ir: ModelIR, expected: dict) -> None:
    """A tensor the forward pass would not read means the model needs something edgec does not compute;
    running without it would silently give a different model."""
    extra = next((n for n in ir.tensors if n not in expected), None)
    if extra is not None:
        _fail(ir, f"tensor {extra} is not part of edgec's {ir.config.arch} forward pass; the model uses a "
                  "feature edgec does not implement, and edgec refuses rather than ignore the tensor")


def validate_ir(ir: ModelIR) -> None:
    """Sizes and numbers in range (ir_checks), then every tensor the forward pass needs is present with
    the right shape, format and byte size, and no tensor is left over."""
    check_ir_ranges(ir)  # first: a hostile n_layers must not reach expected_shapes' per-layer loop
    cfg = ir.config
    if cfg.n_heads % cfg.n_kv_heads or cfg.head_dim % 2 or cfg.rope_dim != cfg.head_dim:
        raise EdgecError(f"{ir.source_path}: unsupported attention shape (heads {cfg.n_heads}, kv heads "
                         f"{cfg.n_kv_heads}, head size {cfg.head_dim}, rope dims {cfg.rope_dim})")
    expected = expected_shapes(cfg)
    for name, shape in expected.items():
        t = ir.tensors.get(name)
        if t is None:
            raise EdgecError(f"{ir.source_path}: tensor {name} is missing (expected shape {shape}); "
                             "the model file is incomplete or not a supported architecture")
        if tuple(t.shape) != tuple(shape):
            raise EdgecError(f"{ir.source_path}: tensor {name} has shape {tuple(t.shape)}, expected {shape} "
                             "from the model config; the config and the weights disagree")
        if t.fmt not in FORMATS:
            raise EdgecError(f"{ir.source_path}: tensor {name} has format {t.fmt!r}; supported: "
                             f"{', '.join(FORMATS)}")
        try:
            n_bytes = row_bytes(t.fmt, shape[-1]) * (shape[0] if len(shape) == 2 else 1)
        except ValueError:
            raise EdgecError(f"{ir.source_path}: tensor {name} has rows of {shape[-1]} values, which {t.fmt} "
                             f"cannot store (blocks of {FORMATS[t.fmt][0]})") from None
        if len(t.data) != n_bytes:
            raise EdgecError(f"{ir.source_path}: tensor {name} holds {len(t.data)} bytes, expected {n_bytes} "
                             f"for {t.fmt} {shape}")
    check_no_unused_tensors(ir, expected)
