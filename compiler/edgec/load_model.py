"""load_model: any supported model file or folder -> a validated ModelIR."""
from __future__ import annotations

import hashlib
import os
import re

from .errors import EdgecError
from .ir_checks import check_ir_ranges, check_no_unused_tensors
from .model_ir import FORMATS, ModelIR, Tensor, expected_shapes, row_bytes, tensor_to_f32
from .quantize_model import QUANT_CHOICES, quantize_ir

GGUF_MAGIC = b"GGUF"


def load_model(path: str, tokenizer_path: str | None = None, quant: str | None = None) -> ModelIR:
    """Read a GGUF file, a Hugging Face folder or a llama2.c checkpoint (+ tokenizer_path), check it,
    and re-encode its matrices into quant if given (None keeps the stored blocks bit-exactly).
    Vectors (norms, biases) always come back as f32."""
    path = os.fspath(path)
    if quant is not None and quant not in QUANT_CHOICES:
        raise EdgecError(f"unknown --quant {quant!r}; choose one of {', '.join(QUANT_CHOICES)}")
    if not os.path.exists(path):
        raise EdgecError(f"model {path} does not exist; pass a .gguf file, a Hugging Face folder or a "
                         "llama2.c checkpoint")
    ir = _read_any(path, tokenizer_path)
    _vectors_to_f32(ir)
    ir.source_path = path
    ir.source_sha256 = source_sha256(path)
    ir.config.name = model_name(path, ir)
    validate_ir(ir)
    if quant is not None:
        ir = quantize_ir(ir, quant)
        validate_ir(ir)
    return ir


def _read_any(path: str, tokenizer_path: str | None) -> ModelIR:
    """Dispatch on content: GGUF magic, a folder with config.json, else a llama2.c checkpoint."""
    if os.path.isdir(path):
        from .hf_reader import read_hf_folder
        return read_hf_folder(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == GGUF_MAGIC or path.lower().endswith(".gguf"):
        from .gguf_reader import read_gguf
        return read_gguf(path)
    from .llama2c_reader import _read_header, read_llama2c
    with open(path, "rb") as f:
        _read_header(f.read(256), path)  # a clear "not a model" error beats asking for a tokenizer
    if tokenizer_path is None:
        raise EdgecError(f"{path} is a llama2.c checkpoint, which carries no tokenizer; "
                         "pass its tokenizer.bin with --tokenizer")
    return read_llama2c(path, tokenizer_path)


def _vectors_to_f32(ir: ModelIR) -> None:
    """Store norms and biases as f32 (exact for f16/bf16), so every stage can read them as floats."""
    for name, t in ir.tensors.items():
        if len(t.shape) == 1 and t.fmt != "f32" and t.fmt in FORMATS:
            try:
                data = tensor_to_f32(t).tobytes()
            except ValueError:
                continue  # a wrong size: validate_ir names it
            ir.tensors[name] = Tensor(name=name, shape=t.shape, fmt="f32", data=data)


def source_sha256(path: str) -> str:
    """sha256 of a file, or of a folder's files concatenated in sorted name order."""
    files = [path] if os.path.isfile(path) else [
        os.path.join(path, n) for n in sorted(os.listdir(path)) if os.path.isfile(os.path.join(path, n))]
    h = hashlib.sha256()
    for file in files:
        with open(file, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def model_name(path: str, ir: ModelIR) -> str:
    """A short lower-case name: the file (or folder) name without extension, else GGUF's general.name."""
    base = os.path.basename(os.path.normpath(path))
    if os.path.isfile(path):
        base = os.path.splitext(base)[0]
    name = re.sub(r"[^a-z0-9_]+", "-", base.lower()).strip("-")[:48]
    if not name:
        name = re.sub(r"[^a-z0-9_]+", "-", str(ir.metadata.get("general.name", "")).lower()).strip("-")[:48]
    return name or "model"


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
