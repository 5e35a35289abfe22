"""load_model: any supported model file or folder -> a validated ModelIR."""
from __future__ import annotations

import hashlib
import os
import re

from edgec.errors import EdgecError
from edgec.ir.ir_checks import validate_ir
from edgec.ir.model_ir import FORMATS, ModelIR, Tensor, tensor_to_f32

GGUF_MAGIC = b"GGUF"


def load_model(path: str, tokenizer_path: str | None = None) -> ModelIR:
    """Read a GGUF file, a Hugging Face folder or a llama2.c checkpoint (+ tokenizer_path) and check it
    (ir_checks.validate_ir). Weights keep their stored blocks bit-exactly (plan.quantize_model
    re-encodes them); vectors (norms, biases) come back as f32."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise EdgecError(f"model {path} does not exist; pass a .gguf file, a Hugging Face folder or a "
                         "llama2.c checkpoint")
    ir = _read_any(path, tokenizer_path)
    _vectors_to_f32(ir)
    ir.source_path = path
    ir.source_sha256 = source_sha256(path)
    ir.config.name = model_name(path, ir)
    validate_ir(ir)
    return ir


def _read_any(path: str, tokenizer_path: str | None) -> ModelIR:
    """Dispatch on content: GGUF magic, a folder with config.json, else a llama2.c checkpoint."""
    if os.path.isdir(path):
        from edgec.frontends.hf_reader import read_hf_folder
        return read_hf_folder(path)
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == GGUF_MAGIC or path.lower().endswith(".gguf"):
        from edgec.frontends.gguf_reader import read_gguf
        return read_gguf(path)
    from edgec.frontends.llama2c_reader import _read_header, read_llama2c
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
