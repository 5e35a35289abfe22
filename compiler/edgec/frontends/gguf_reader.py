"""GGUF front end: a .gguf file -> ModelIR, keeping every weight's blocks bit-exactly.

Supports the llama and qwen2 architectures with F32/F16/BF16/Q8_0/Q4_0/Q4_1 tensors and the
ternary TQ2_0/TQ1_0 (docs/ternary.md; GGUF only writes them for rows that are multiples of 256).
See docs/formats.md for the metadata keys read and the layout conventions.

Hostile files: every read of the gguf package's reader is checked against the file length
(BoundedGGUFReader), metadata values must have the GGUF type the key calls for, tensor data may
not overlap, and every `{arch}.*` key is either read, known to be informational, or holds its
neutral value; anything else changes the math in a way edgec does not implement and is refused.
"""
from __future__ import annotations

import math
import os
import re

import gguf
import numpy as np
from gguf import GGUFValueType as VT

from edgec.errors import EdgecError
from edgec.ir.block_formats import FORMAT_OF_GGML
from edgec.ir.model_ir import ModelConfig, ModelIR, Tensor, TokenizerIR

GGUF_MAGIC = b"GGUF"
SUPPORTED_ARCHS = ("llama", "qwen2")
# convert_hf_to_gguf permutes llama's Q/K rows into interleaved pairs; qwen2 keeps HF's layout.
ROPE_LAYOUT_OF_ARCH = {"llama": "interleaved", "qwen2": "neox"}
ROPE_FREQS_TENSOR = "rope_freqs.weight"
FLOAT32_MAX = float(np.finfo(np.float32).max)
GGML_MAX_DIMS = 4

INT_TYPES = frozenset({VT.UINT8, VT.INT8, VT.UINT16, VT.INT16, VT.UINT32, VT.INT32, VT.UINT64, VT.INT64})
FLOAT_TYPES = frozenset({VT.FLOAT32, VT.FLOAT64})
NUMBER_TYPES = INT_TYPES | FLOAT_TYPES
VALUE_TYPES = frozenset(int(t) for t in VT)
# Fewest bytes one array element of a type takes in the file (a string is at least its 8-byte length).
MIN_ELEMENT_BYTES = {**{t: np.dtype(np_type).itemsize for t, np_type in gguf.GGUFReader.gguf_scalar_to_np.items()},
                     VT.STRING: 8}
KV_MIN_BYTES = 8 + 4          # key length + value type
TENSOR_INFO_MIN_BYTES = 8 + 4 + 4 + 8   # name length, n_dims, type, offset

# {arch}.* keys this reader reads (suffixes after "{arch}.").
READ_KEYS = frozenset({
    "embedding_length", "feed_forward_length", "block_count", "context_length", "vocab_size",
    "attention.head_count", "attention.head_count_kv", "attention.key_length", "attention.value_length",
    "attention.layer_norm_rms_epsilon", "rope.freq_base", "rope.dimension_count",
    "rope.scaling.type", "rope.scaling.factor", "rope.scale_linear",
})
# Keys that describe the model without changing its forward pass.
INFORMATIONAL_KEYS = frozenset({
    "rope.scaling.original_context_length", "rope.scaling.finetuned", "tensor_data_layout",
})
# Keys the forward pass ignores only at their neutral value (llama.cpp's defaults); any other value
# changes the math in a way edgec does not implement.
NEUTRAL_VALUES = {
    "expert_count": 0, "expert_used_count": 0, "expert_shared_count": 0, "leading_dense_block_count": 0,
    "use_parallel_residual": False, "attention.causal": True, "attention.clamp_kqv": 0.0,
    "attention.max_alibi_bias": 0.0, "attention.sliding_window": 0, "attention.scale": 0.0,
    "attn_logit_softcapping": 0.0, "final_logit_softcapping": 0.0, "logit_scale": 1.0,
    "embedding_scale": 1.0, "residual_scale": 1.0, "rope.scaling.attn_factor": 1.0,
}
LAYER_TENSOR_RE = re.compile(r"blk\.(\d+)\.(.+)")


_ITEMSIZES: dict = {}


def _itemsize(dtype) -> int:
    size = _ITEMSIZES.get(dtype)
    if size is None:
        size = _ITEMSIZES[dtype] = np.dtype(dtype).itemsize
    return size


class GGUFLayoutError(ValueError):
    """A GGUF header field points past the end of the file or names an unknown type."""


class BoundedGGUFReader(gguf.GGUFReader):
    """gguf.GGUFReader whose reads are all checked against the file length before they happen.

    The stock reader slices its memory map without checking, so a count past the end of the file
    reads empty arrays and loops without advancing (an array count of 2^62 runs for ever and grows
    memory).  Here every read, array count, tensor count and tensor size must fit in the file."""

    def _get(self, offset, dtype, count=1, override_order=None):
        # The stock _get with a bounds check (not a call to it: this runs ~10^5 times per tokenizer).
        offset, count = int(offset), int(count)
        end = offset + _itemsize(dtype) * count
        if offset < 0 or count < 0 or end > len(self.data):
            raise GGUFLayoutError(f"a field at byte {offset} needs {end - offset} bytes but the file has "
                                  f"{len(self.data)}")
        arr = self.data[offset:end].view(dtype=dtype)[:count]
        return arr.view(arr.dtype.newbyteorder(self.byte_order if override_order is None else override_order))

    def _fits(self, offset: int, count: int, min_bytes: int, what: str) -> None:
        """count items of at least min_bytes each must fit between offset and the end of the file."""
        if int(count) * min_bytes > len(self.data) - int(offset):
            raise GGUFLayoutError(f"{what} count {int(count)} at byte {int(offset)} runs past the end of the "
                                  f"{len(self.data)}-byte file")

    def _build_fields(self, offs, count):
        self._fits(offs, count, KV_MIN_BYTES, "metadata key")
        return super()._build_fields(offs, count)

    def _build_tensor_info(self, offs, count):
        self._fits(offs, count, TENSOR_INFO_MIN_BYTES, "tensor")
        return super()._build_tensor_info(offs, count)

    def _get_field_parts(self, orig_offs, raw_type):
        if int(raw_type) not in VALUE_TYPES:
            raise GGUFLayoutError(f"unknown metadata value type {int(raw_type)} at byte {orig_offs}")
        if raw_type == VT.ARRAY:
            item_type = int(self._get(orig_offs, np.uint32)[0])
            if item_type == VT.ARRAY:
                raise GGUFLayoutError(f"nested metadata array at byte {orig_offs} (GGUF models do not use them)")
            min_bytes = MIN_ELEMENT_BYTES.get(item_type, 1)
            self._fits(orig_offs + 12, self._get(orig_offs + 4, np.uint64)[0], min_bytes, "metadata array")
        return super()._get_field_parts(orig_offs, raw_type)

    def _get_tensor_info_field(self, orig_offs):
        field = super()._get_tensor_info_field(orig_offs)
        _, name, n_dims, dims, raw_type, offset = field.parts
        if int(n_dims[0]) > GGML_MAX_DIMS or any(int(d) == 0 for d in dims):
            raise GGUFLayoutError(f"tensor at byte {orig_offs} has dimensions {dims.tolist()}")
        if int(raw_type[0]) not in gguf.GGML_QUANT_SIZES:
            raise GGUFLayoutError(f"tensor at byte {orig_offs} has unknown type {int(raw_type[0])}")
        n_elements = math.prod(int(d) for d in dims)
        block, type_size = gguf.GGML_QUANT_SIZES[int(raw_type[0])]
        if n_elements * type_size // block > len(self.data) or int(offset[0]) >= len(self.data):
            raise GGUFLayoutError(f"tensor at byte {orig_offs} ({n_elements} elements at data offset "
                                  f"{int(offset[0])}) does not fit in the {len(self.data)}-byte file")
        return field


def read_gguf(path: str) -> ModelIR:
    """Parse a GGUF file into a ModelIR (tensors keep their raw bytes; name/sha256 are set by load_model)."""
    reader = _open_reader(path)
    meta = Metadata(reader.fields, path)
    arch = meta.string("general.architecture", None)
    if arch not in SUPPORTED_ARCHS:
        raise EdgecError(f"{path}: GGUF architecture {arch!r} is not supported; "
                         f"edgec compiles {', '.join(SUPPORTED_ARCHS)} models")
    check_arch_keys(meta, arch)
    tensors, rope_freqs = _read_tensors(reader, path)
    if arch == "qwen2":
        add_missing_qkv_biases(tensors)
    tokenizer = _read_tokenizer(meta, path)
    config = _read_config(meta, arch, tensors, tokenizer, rope_freqs, path)
    metadata = {"general.name": meta.string("general.name", ""),
                "general.basename": meta.string("general.basename", ""),
                "general.size_label": meta.string("general.size_label", "")}
    return ModelIR(config=config, tensors=tensors, tokenizer=tokenizer, source_path=path,
                   source_format="gguf", metadata=metadata)


def _open_reader(path: str):
    """Open with BoundedGGUFReader, turning every parse failure into a one-line EdgecError."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise EdgecError(f"{path}: not a GGUF file (magic {magic!r}, expected {GGUF_MAGIC!r}); "
                         "pass a .gguf model, a Hugging Face folder or a llama2.c checkpoint")
    try:
        reader = BoundedGGUFReader(path)
    except Exception as e:  # the gguf library raises ValueError/IndexError/KeyError/numpy errors on bad files
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise EdgecError(f"{path}: corrupt or truncated GGUF file ({reason}); re-download or re-convert it") from None
    size = os.path.getsize(path)
    for t in reader.tensors:
        if t.data_offset + t.n_bytes > size:
            raise EdgecError(f"{path}: truncated GGUF file: tensor {t.name} ends at byte "
                             f"{t.data_offset + t.n_bytes} but the file has {size}; re-download it")
    _check_no_overlap(reader.tensors, path)
    return reader


def _check_no_overlap(tensors, path: str) -> None:
    """Two tensors sharing bytes is a corrupt (or crafted) file: refuse rather than read one as the other."""
    spans = sorted((int(t.data_offset), int(t.data_offset) + int(t.n_bytes), t.name) for t in tensors)
    for (_, end, first), (begin, _, second) in zip(spans, spans[1:]):
        if begin < end:
            raise EdgecError(f"{path}: corrupt GGUF file: the data of tensors {first} and {second} overlap; "
                             "re-download or re-convert it")


class Metadata:
    """Typed access to GGUF metadata: a value stored with the wrong GGUF type is a one-line EdgecError."""

    def __init__(self, fields: dict, path: str):
        self.fields, self.path = fields, path

    def keys(self):
        return self.fields.keys()

    def _value(self, key: str, allowed: frozenset, want: str, default):
        f = self.fields.get(key)
        if f is None:
            return default
        if not f.types or f.types[0] not in allowed:
            found = f.types[0].name.lower() if f.types else "nothing"
            raise EdgecError(f"{self.path}: GGUF metadata key {key} holds {found} where {want} is expected; "
                             "the file is corrupt, re-convert it")
        return self._contents(key, f)

    def _contents(self, key: str, f):
        try:
            return f.contents()
        except Exception:  # a malformed value (bad UTF-8, ...) is a corrupt file
            raise EdgecError(f"{self.path}: GGUF metadata key {key} is unreadable; the file is corrupt, "
                             "re-convert it") from None

    def integer(self, key: str, default):
        value = self._value(key, INT_TYPES, "an integer", default)
        return default if value is default else int(value)

    def number(self, key: str, default):
        value = self._value(key, NUMBER_TYPES, "a number", default)
        return default if value is default else float(value)

    def string(self, key: str, default):
        return self._value(key, frozenset({VT.STRING}), "a string", default)

    def flag(self, key: str, default):
        value = self._value(key, frozenset({VT.BOOL}) | INT_TYPES, "a boolean", default)
        return default if value is default else bool(value)

    def array(self, key: str, item_types: frozenset, want: str, default):
        """A list whose items have one of item_types (an empty array is an empty list)."""
        f = self.fields.get(key)
        if f is None:
            return default
        if not f.types or f.types[0] != VT.ARRAY or (len(f.types) > 1 and f.types[-1] not in item_types):
            raise EdgecError(f"{self.path}: GGUF metadata key {key} is not an array of {want}; "
                             "the file is corrupt, re-convert it")
        return self._contents(key, f) if len(f.types) > 1 else []

    def any_value(self, key: str):
        """The value whatever its type (for messages and neutral-value checks)."""
        return self._contents(key, self.fields[key])


def check_arch_keys(meta: Metadata, arch: str) -> None:
    """Refuse every {arch}.* key that would change the forward pass in a way edgec does not implement."""
    prefix = f"{arch}."
    for key in meta.keys():
        if not key.startswith(prefix):
            continue
        suffix = key[len(prefix):]
        if suffix in READ_KEYS or suffix in INFORMATIONAL_KEYS or suffix.startswith("rope.scaling.yarn_"):
            continue  # yarn_* only matter with rope.scaling.type yarn, which _rope_scaling refuses
        value = meta.any_value(key)
        if suffix in NEUTRAL_VALUES and _is_value(value, NEUTRAL_VALUES[suffix]):
            continue
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise EdgecError(f"{meta.path}: GGUF metadata key {key} = {shown} changes the model's math in a way "
                         f"edgec does not implement for {arch}; edgec refuses rather than ignore it")


def _is_value(value, neutral) -> bool:
    """value equals neutral (numbers compared as numbers, a bool only to a bool)."""
    if isinstance(neutral, bool) or isinstance(value, (bool, str, list)):
        return type(value) is type(neutral) and value == neutral
    return isinstance(value, (int, float)) and float(value) == float(neutral)


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
            rope_freqs = _rope_freqs(t, path)
            continue
        tensors[t.name] = Tensor(name=t.name, shape=shape, fmt=fmt, data=data)
    return tensors, rope_freqs


def _rope_freqs(t, path: str) -> list:
    """Llama-3 rope factors from the rope_freqs.weight tensor (stored as F32 by convert_hf_to_gguf)."""
    if t.tensor_type not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
        raise EdgecError(f"{path}: tensor {ROPE_FREQS_TENSOR} has type {t.tensor_type.name}; it must be F32 "
                         "(re-convert the model)")
    return [float(v) for v in np.asarray(t.data, dtype=np.float32).reshape(-1)]


def add_missing_qkv_biases(tensors: dict) -> None:
    """qwen2's Q/K/V biases are optional in GGUF (llama.cpp reads them as such): a missing one is zero.
    Only layers whose projection is present get one, so a hostile block_count adds nothing."""
    for name in list(tensors):
        m = LAYER_TENSOR_RE.fullmatch(name)
        if not m or m.group(2) not in ("attn_q.weight", "attn_k.weight", "attn_v.weight"):
            continue
        bias = name[:-len("weight")] + "bias"
        if bias not in tensors and len(tensors[name].shape) == 2:
            rows = tensors[name].shape[0]
            tensors[bias] = Tensor(name=bias, shape=(rows,), fmt="f32", data=bytes(4 * rows))


def _read_config(meta: Metadata, arch: str, tensors: dict, tokenizer, rope_freqs, path: str) -> ModelConfig:
    def need(key):
        value = meta.integer(f"{arch}.{key}", None)
        if value is None:
            raise EdgecError(f"{path}: GGUF metadata key {arch}.{key} is missing; re-convert the model "
                             "with a current convert_hf_to_gguf.py")
        return value

    dim = need("embedding_length")
    n_heads = need("attention.head_count")
    n_kv_heads = meta.integer(f"{arch}.attention.head_count_kv", n_heads)
    key_length = meta.integer(f"{arch}.attention.key_length", None)
    if n_heads <= 0 or n_kv_heads <= 0 or (key_length is None and dim % n_heads):
        raise EdgecError(f"{path}: embedding_length {dim} does not split into head_count {n_heads} heads "
                         f"({n_kv_heads} KV heads); the file is corrupt")
    head_dim = key_length if key_length is not None else dim // n_heads
    value_length = meta.integer(f"{arch}.attention.value_length", head_dim)
    if value_length != head_dim:
        raise EdgecError(f"{path}: attention.value_length {value_length} differs from key_length {head_dim}; "
                         "edgec supports equal key and value head sizes only")
    rope_dim = meta.integer(f"{arch}.rope.dimension_count", head_dim)
    if rope_dim != head_dim:
        raise EdgecError(f"{path}: partial rotary embedding (rope.dimension_count {rope_dim} != head size "
                         f"{head_dim}) is not supported")
    vocab = meta.integer(f"{arch}.vocab_size", None)
    if vocab is None and tokenizer is not None:
        vocab = len(tokenizer.tokens)
    if vocab is None:
        embd = tensors.get("token_embd.weight")
        vocab = embd.shape[0] if embd is not None else 0
    return ModelConfig(
        arch=arch, dim=dim, hidden_dim=need("feed_forward_length"), n_layers=need("block_count"),
        n_heads=n_heads, n_kv_heads=n_kv_heads, head_dim=head_dim, vocab_size=vocab,
        norm_eps=meta.number(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5),
        rope_theta=meta.number(f"{arch}.rope.freq_base", 10000.0),
        rope_dim=rope_dim, rope_layout=ROPE_LAYOUT_OF_ARCH[arch],
        rope_freq_factors=rope_factors(meta, arch, rope_freqs, rope_dim),
        qkv_bias=(arch == "qwen2"), tied_embeddings="output.weight" not in tensors,
        max_seq_len=meta.integer(f"{arch}.context_length", 2048),
        name=meta.string("general.name", "model"),
    )


def rope_factors(meta: Metadata, arch: str, rope_freqs, rope_dim: int):
    """Per-pair divisors of the rope frequencies: Llama-3's rope_freqs tensor times the linear
    rope.scaling.factor, as llama.cpp applies them (None when unscaled)."""
    kind = meta.string(f"{arch}.rope.scaling.type", "linear")   # llama.cpp's default when only a factor is given
    factor = meta.number(f"{arch}.rope.scaling.factor", None)
    if factor is None:
        factor = meta.number(f"{arch}.rope.scale_linear", 0.0)   # the key's older name
    if kind == "none" or factor == 0.0:
        factor = 1.0  # llama.cpp: type none never scales, factor 0 means unset
    elif kind != "linear":
        raise EdgecError(f"{meta.path}: {arch}.rope.scaling.type {kind!r} is not supported (supported: linear, "
                         "and Llama-3 scaling via rope_freqs.weight); edgec refuses rather than run it unscaled")
    if factor == 1.0:
        return rope_freqs
    base = rope_freqs if rope_freqs is not None else [1.0] * (rope_dim // 2)
    return [f * factor for f in base]


def _read_tokenizer(meta: Metadata, path: str):
    """TokenizerIR from tokenizer.ggml.* metadata, or None when the file carries no tokenizer."""
    model = meta.string("tokenizer.ggml.model", None)
    if model is None:
        return None
    tokens = meta.array("tokenizer.ggml.tokens", frozenset({VT.STRING}), "strings", [])
    token_types = meta.array("tokenizer.ggml.token_type", INT_TYPES, "integers", None) or [1] * len(tokens)
    if model == "gpt2":
        kind, scores = "gpt2", None
        merges = meta.array("tokenizer.ggml.merges", frozenset({VT.STRING}), "strings", [])
    elif model == "llama":
        kind, merges = "sentencepiece", None
        scores = clamp_scores(meta.array("tokenizer.ggml.scores", NUMBER_TYPES, "numbers", [0.0] * len(tokens)))
    else:
        raise EdgecError(f"{path}: tokenizer model {model!r} is not supported (supported: gpt2 byte-level BPE, "
                         "llama SentencePiece)")
    spm = kind == "sentencepiece"
    return TokenizerIR(
        kind=kind, tokens=list(tokens), token_types=[int(t) for t in token_types], scores=scores, merges=merges,
        pre=meta.string("tokenizer.ggml.pre", "default"),
        bos_id=meta.integer("tokenizer.ggml.bos_token_id", -1),
        eos_id=meta.integer("tokenizer.ggml.eos_token_id", -1),
        eot_id=meta.integer("tokenizer.ggml.eot_token_id", -1),
        unk_id=meta.integer("tokenizer.ggml.unknown_token_id", -1),
        add_bos=meta.flag("tokenizer.ggml.add_bos_token", spm),
        add_space_prefix=meta.flag("tokenizer.ggml.add_space_prefix", spm),
        chat_template=meta.string("tokenizer.chat_template", None),
    )


def clamp_scores(scores: list) -> list:
    """SentencePiece scores only rank merges and are stored as float32: an f64 score beyond float32's
    range (1e300) is clamped to +-FLT_MAX, which keeps its rank; NaN is left for validate_ir to refuse."""
    return [min(max(float(s), -FLOAT32_MAX), FLOAT32_MAX) if not math.isnan(s) else float(s) for s in scores]
