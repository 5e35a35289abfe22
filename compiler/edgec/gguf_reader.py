"""GGUF front end: a .gguf file -> ModelIR, keeping every weight's blocks bit-exactly.

Supports the llama and qwen2 architectures with F32/F16/BF16/Q8_0/Q4_0/Q4_1 tensors and the
ternary TQ2_0/TQ1_0 (docs/ternary.md; GGUF only writes them for rows that are multiples of 256).
See docs/formats.md for the metadata keys read and the layout conventions.
"""
from __future__ import annotations

import os

import numpy as np

from .block_formats import FORMAT_OF_GGML
from .errors import EdgecError
from .model_ir import ModelConfig, ModelIR, Tensor, TokenizerIR

GGUF_MAGIC = b"GGUF"
SUPPORTED_ARCHS = ("llama", "qwen2")
# convert_hf_to_gguf permutes llama's Q/K rows into interleaved pairs; qwen2 keeps HF's layout.
ROPE_LAYOUT_OF_ARCH = {"llama": "interleaved", "qwen2": "neox"}
ROPE_FREQS_TENSOR = "rope_freqs.weight"


def read_gguf(path: str) -> ModelIR:
    """Parse a GGUF file into a ModelIR (tensors keep their raw bytes; name/sha256 are set by load_model)."""
    reader = _open_reader(path)
    fields = {name: field for name, field in reader.fields.items()}
    arch = _field(fields, "general.architecture", None)
    if arch not in SUPPORTED_ARCHS:
        raise EdgecError(f"{path}: GGUF architecture {arch!r} is not supported; "
                         f"edgec compiles {', '.join(SUPPORTED_ARCHS)} models")
    tensors, rope_freqs = _read_tensors(reader, path)
    tokenizer = _read_tokenizer(fields, path)
    config = _read_config(fields, arch, tensors, tokenizer, rope_freqs, path)
    metadata = {"general.name": _field(fields, "general.name", ""),
                "general.basename": _field(fields, "general.basename", ""),
                "general.size_label": _field(fields, "general.size_label", "")}
    return ModelIR(config=config, tensors=tensors, tokenizer=tokenizer, source_path=path,
                   source_format="gguf", metadata=metadata)


def _open_reader(path: str):
    """Open with gguf.GGUFReader, turning every parse failure into a one-line EdgecError."""
    import gguf
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise EdgecError(f"{path}: not a GGUF file (magic {magic!r}, expected {GGUF_MAGIC!r}); "
                         "pass a .gguf model, a Hugging Face folder or a llama2.c checkpoint")
    try:
        reader = gguf.GGUFReader(path)
    except Exception as e:  # the gguf library raises ValueError/IndexError/KeyError/numpy errors on bad files
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise EdgecError(f"{path}: corrupt or truncated GGUF file ({reason}); re-download or re-convert it") from None
    size = os.path.getsize(path)
    for t in reader.tensors:
        if t.data_offset + t.n_bytes > size:
            raise EdgecError(f"{path}: truncated GGUF file: tensor {t.name} ends at byte "
                             f"{t.data_offset + t.n_bytes} but the file has {size}; re-download it")
    return reader


def _field(fields: dict, key: str, default):
    """A metadata value as a Python object, or default when the key is absent."""
    f = fields.get(key)
    if f is None:
        return default
    try:
        return f.contents()
    except Exception:  # a malformed value (bad UTF-8, ...) is a corrupt file
        raise EdgecError(f"GGUF metadata key {key} is unreadable; the file is corrupt, re-convert it") from None


def _read_tensors(reader, path: str) -> tuple:
    """name -> Tensor with IR shape (rows, cols), plus the rope_freqs factors if present."""
    tensors, rope_freqs = {}, None
    for t in reader.tensors:
        fmt = FORMAT_OF_GGML.get(t.tensor_type)
        if fmt is None:
            supported = ", ".join(f.upper() for f in FORMAT_OF_GGML.values())
            raise EdgecError(f"{path}: tensor {t.name} has type {t.tensor_type.name}, which edgec does not support "
                             f"(supported: {supported}); re-quantize with llama-quantize to Q4_0/Q4_1/Q8_0, "
                             "or use a F16 GGUF")
        # GGUF lists dims innermost first (ne[0] = cols); the IR wants (rows, cols).
        shape = tuple(int(n) for n in reversed(t.shape.tolist()))
        if len(shape) > 2:
            if any(n != 1 for n in shape[:-2]):
                raise EdgecError(f"{path}: tensor {t.name} has {len(shape)} dimensions {shape}; "
                                 "edgec supports matrices and vectors only")
            shape = shape[-2:]
        data = np.ascontiguousarray(t.data).tobytes()
        if t.name == ROPE_FREQS_TENSOR:
            rope_freqs = [float(v) for v in np.asarray(t.data, dtype=np.float32).reshape(-1)]
            continue
        tensors[t.name] = Tensor(name=t.name, shape=shape, fmt=fmt, data=data)
    return tensors, rope_freqs


def _read_config(fields: dict, arch: str, tensors: dict, tokenizer, rope_freqs, path: str) -> ModelConfig:
    def need(key):
        value = _field(fields, f"{arch}.{key}", None)
        if value is None:
            raise EdgecError(f"{path}: GGUF metadata key {arch}.{key} is missing; re-convert the model "
                             "with a current convert_hf_to_gguf.py")
        return value

    dim = int(need("embedding_length"))
    n_heads = int(need("attention.head_count"))
    n_kv_heads = int(_field(fields, f"{arch}.attention.head_count_kv", n_heads))
    key_length = _field(fields, f"{arch}.attention.key_length", None)
    if n_heads <= 0 or n_kv_heads <= 0 or (key_length is None and dim % n_heads):
        raise EdgecError(f"{path}: embedding_length {dim} does not split into head_count {n_heads} heads")
    head_dim = int(key_length) if key_length is not None else dim // n_heads
    rope_dim = int(_field(fields, f"{arch}.rope.dimension_count", head_dim))
    if rope_dim != head_dim:
        raise EdgecError(f"{path}: partial rotary embedding (rope.dimension_count {rope_dim} != head size "
                         f"{head_dim}) is not supported")
    vocab = _field(fields, f"{arch}.vocab_size", None)
    if vocab is None and tokenizer is not None:
        vocab = len(tokenizer.tokens)
    if vocab is None:
        embd = tensors.get("token_embd.weight")
        vocab = embd.shape[0] if embd is not None else 0
    return ModelConfig(
        arch=arch, dim=dim, hidden_dim=int(need("feed_forward_length")), n_layers=int(need("block_count")),
        n_heads=n_heads, n_kv_heads=n_kv_heads, head_dim=head_dim, vocab_size=int(vocab),
        norm_eps=float(_field(fields, f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)),
        rope_theta=float(_field(fields, f"{arch}.rope.freq_base", 10000.0)),
        rope_dim=rope_dim, rope_layout=ROPE_LAYOUT_OF_ARCH[arch], rope_freq_factors=rope_freqs,
        qkv_bias=(arch == "qwen2"), tied_embeddings="output.weight" not in tensors,
        max_seq_len=int(_field(fields, f"{arch}.context_length", 2048)),
        name=str(_field(fields, "general.name", "model")),
    )


def _read_tokenizer(fields: dict, path: str):
    """TokenizerIR from tokenizer.ggml.* metadata, or None when the file carries no tokenizer."""
    model = _field(fields, "tokenizer.ggml.model", None)
    if model is None:
        return None
    tokens = _field(fields, "tokenizer.ggml.tokens", [])
    token_types = _field(fields, "tokenizer.ggml.token_type", None) or [1] * len(tokens)
    if model == "gpt2":
        kind, scores = "gpt2", None
        merges = _field(fields, "tokenizer.ggml.merges", [])
    elif model == "llama":
        kind, merges = "sentencepiece", None
        scores = [float(s) for s in _field(fields, "tokenizer.ggml.scores", [0.0] * len(tokens))]
    else:
        raise EdgecError(f"{path}: tokenizer model {model!r} is not supported (supported: gpt2 byte-level BPE, "
                         "llama SentencePiece)")
    spm = kind == "sentencepiece"
    return TokenizerIR(
        kind=kind, tokens=list(tokens), token_types=[int(t) for t in token_types], scores=scores, merges=merges,
        pre=str(_field(fields, "tokenizer.ggml.pre", "default")),
        bos_id=int(_field(fields, "tokenizer.ggml.bos_token_id", -1)),
        eos_id=int(_field(fields, "tokenizer.ggml.eos_token_id", -1)),
        eot_id=int(_field(fields, "tokenizer.ggml.eot_token_id", -1)),
        unk_id=int(_field(fields, "tokenizer.ggml.unknown_token_id", -1)),
        add_bos=bool(_field(fields, "tokenizer.ggml.add_bos_token", spm)),
        add_space_prefix=bool(_field(fields, "tokenizer.ggml.add_space_prefix", spm)),
        chat_template=_field(fields, "tokenizer.chat_template", None),
    )
