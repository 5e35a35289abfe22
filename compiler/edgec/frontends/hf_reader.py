"""Hugging Face front end: a model folder (config.json + *.safetensors + tokenizer.json) -> ModelIR.

Supports LlamaForCausalLM and Qwen2ForCausalLM with F32/F16/BF16 safetensors, sharded or not, and
BitNetForCausalLM (BitNet b1.58: packed ternary weights, see bitnet_reader.py).
Weights keep their storage format; HF's Q/K layout is the "neox" rope layout (rotate_half).

Every file of the folder is treated as untrusted: each JSON value is type-checked before use, every
size taken from config.json is bounded by what the weight files actually hold (so no allocation or
loop grows with a number in a file), and the safetensors headers are checked (dtype, shape, offsets
covering the data exactly) before any tensor is read.  Weight files must resolve (symlinks followed)
inside the model folder; for a Hugging Face cache snapshot (.../models--ORG--NAME/snapshots/REV/,
whose files are symlinks to ../../blobs/) inside that cache repo folder.  Error messages never quote
the bytes of a file.
"""
from __future__ import annotations

import json
import math
import os
import re
import struct

import numpy as np

from edgec.errors import EdgecError
from edgec.frontends.bitnet_reader import BITLINEAR_SUFFIXES, bitlinear_tensor, is_bitnet, scale_multiplies
from edgec.ir.model_ir import ModelConfig, ModelIR, Tensor, TokenizerIR

SUPPORTED_MODEL_TYPES = ("llama", "qwen2", "bitnet")
FFN_ACTIVATIONS = {"silu": "silu", "relu2": "relu2"}   # config.json hidden_act -> ModelConfig.ffn_act
DTYPE_FORMATS = {"F32": "f32", "F16": "f16", "BF16": "bf16"}
# Bits per value of every dtype the safetensors format defines.
SAFETENSORS_DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64,
    "I64": 64, "U64": 64,
}
MAX_SAFETENSORS_HEADER = 100_000_000   # the safetensors package's own limit
INDEX_FILE = "model.safetensors.index.json"

GLOBAL_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}
LAYER_NAMES = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
    "self_attn.attn_sub_norm.weight": "attn_sub_norm.weight",   # BitNet
    "mlp.ffn_sub_norm.weight": "ffn_sub_norm.weight",            # BitNet
}
LAYER_NAME_RE = re.compile(r"model\.layers\.(\d+)\.(.+)")


def hf_name_to_gguf(name: str):
    """The GGUF name of an HF tensor name, or None for tensors the forward pass does not use."""
    if name in GLOBAL_NAMES:
        return GLOBAL_NAMES[name]
    m = LAYER_NAME_RE.fullmatch(name)
    if m and m.group(2) in LAYER_NAMES:
        return f"blk.{m.group(1)}.{LAYER_NAMES[m.group(2)]}"
    return None


def gguf_name_to_hf(name: str) -> str:
    """The HF tensor name of a GGUF tensor name (inverse of hf_name_to_gguf)."""
    for hf, gg in GLOBAL_NAMES.items():
        if gg == name:
            return hf
    _, layer, rest = name.split(".", 2)
    hf_rest = next(hf for hf, gg in LAYER_NAMES.items() if gg == rest)
    return f"model.layers.{layer}.{hf_rest}"


def read_hf_folder(path: str) -> ModelIR:
    """Parse a Hugging Face model folder into a ModelIR (name/sha256 are set by load_model)."""
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        raise EdgecError(f"{path}: folder has no config.json; pass a Hugging Face model folder "
                         "(config.json + *.safetensors + tokenizer.json)")
    hf_config = _read_json_object(config_path)
    _check_architecture_fields(hf_config, config_path)
    warnings = []
    if is_bitnet(hf_config):
        tensors = read_bitnet_folder_tensors(path, hf_config, warnings)
    else:
        tensors = read_safetensors_folder(path)
    config = hf_config_to_model_config(hf_config, tensors, path)
    if config.tied_embeddings:
        tensors.pop("output.weight", None)
    tokenizer = read_hf_tokenizer(path, config.vocab_size, hf_config)
    if tokenizer is None:
        warnings.append("no tokenizer.json in the model folder: the binary will have no tokenizer")
    return ModelIR(config=config, tensors=tensors, tokenizer=tokenizer, source_path=path, source_format="hf",
                   metadata={"warnings": warnings} if warnings else {})


# ---- JSON files: parsed strictly, every value type-checked before use ----

class _NonStandardNumber(ValueError):
    """NaN / Infinity literals, which Python's json accepts but JSON does not."""


def _reject_constant(name: str):
    raise _NonStandardNumber(name)


def _parse_json(raw: bytes, where: str):
    """A JSON document from raw bytes; every way it can be malformed is one EdgecError (never quoting it)."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        problem = "is not valid UTF-8"
    except RecursionError:
        problem = "is nested too deeply"
    except _NonStandardNumber as e:
        problem = f"holds {e.args[0]}, which is not a JSON number"
    except json.JSONDecodeError as e:
        problem = f"is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
    except ValueError:  # e.g. an integer literal of thousands of digits
        problem = "holds a number too long to read"
    raise EdgecError(f"{where} {problem}; fix or re-download the file")


def _read_json(path: str):
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise EdgecError(f"{path}: cannot read the file ({e.strerror}); check its permissions") from None
    return _parse_json(raw, path)


def _read_json_object(path: str) -> dict:
    """A JSON file whose top level must be an object."""
    value = _read_json(path)
    if not isinstance(value, dict):
        raise EdgecError(f"{path}: expected a JSON object at the top level, found {_json_type(value)}; "
                         "fix or re-download the file")
    return value


def _json_type(value) -> str:
    """How a JSON value is described in a message: its kind, and the value only for numbers."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10 ** 30 else "a huge integer"
    if isinstance(value, float):
        return f"the number {value!r}"
    return {str: "a string", list: "a list", dict: "an object", type(None): "null"}.get(type(value), "a value")


_REQUIRED = object()


def _typed_value(obj: dict, key: str, where: str, required: bool, is_kind, kind: str):
    """obj[key] if is_kind(it) holds (else an error that expected `kind`); None when null or absent
    (an error if required)."""
    value = obj.get(key)
    if value is None:
        if required:
            raise EdgecError(f"{where}: {key} is missing; fix or re-download the file")
        return None
    if not is_kind(value):
        raise EdgecError(f"{where}: {key} is {_json_type(value)}, expected {kind}; fix the file")
    return value


def _is_finite_number(value) -> bool:
    # a huge int would overflow math.isfinite
    return type(value) in (int, float) and not (type(value) is int and abs(value) > 10 ** 300) \
        and math.isfinite(value)


def _int_field(obj: dict, key: str, where: str, default=_REQUIRED, minimum: int = 1) -> int:
    """obj[key] as a whole JSON number >= minimum (null or absent: default, or an error if required)."""
    value = _typed_value(obj, key, where, default is _REQUIRED, lambda v: type(v) is int, "a whole number")
    if value is None:
        return default
    if value < minimum:
        raise EdgecError(f"{where}: {key} is {value}, expected at least {minimum}; fix the file")
    return value


def _number_field(obj: dict, key: str, where: str, default=_REQUIRED, positive: bool = False) -> float:
    """obj[key] as a finite JSON number (and > 0 if positive)."""
    value = _typed_value(obj, key, where, default is _REQUIRED, _is_finite_number, "a finite number")
    if value is None:
        return default
    if positive and value <= 0:
        raise EdgecError(f"{where}: {key} is {value!r}, expected a number above 0; fix the file")
    return float(value)


def _bool_field(obj: dict, key: str, where: str, default: bool) -> bool:
    value = _typed_value(obj, key, where, False, lambda v: isinstance(v, bool), "true or false")
    return default if value is None else value


def _str_field(obj: dict, key: str, where: str, default=None):
    value = _typed_value(obj, key, where, False, lambda v: isinstance(v, str), "a string")
    return default if value is None else value


def _dict_field(obj: dict, key: str, where: str) -> dict:
    """obj[key] as an object ({} when null or absent)."""
    value = _typed_value(obj, key, where, False, lambda v: isinstance(v, dict), "an object")
    return {} if value is None else value


# ---- config.json -> ModelConfig ----

def _check_architecture_fields(c: dict, where: str) -> None:
    """model_type a string and architectures a list of strings, which the BitNet check reads first."""
    _str_field(c, "model_type", where)
    archs = c.get("architectures")
    if archs is not None and not (isinstance(archs, list) and all(isinstance(a, str) for a in archs)):
        raise EdgecError(f"{where}: architectures is {_json_type(archs)}, expected a list of class names; "
                         "fix the file")


def hf_config_to_model_config(c: dict, tensors: dict, path: str) -> ModelConfig:
    """ModelConfig from config.json; tensors decide tying when lm_head.weight is absent and bound
    every size, so that a config that does not belong to the weights is refused before it is used."""
    where = os.path.join(path, "config.json")
    model_type = _str_field(c, "model_type", where)
    if model_type not in SUPPORTED_MODEL_TYPES:
        archs = ",".join(c.get("architectures") or []) or "?"
        raise EdgecError(f"{where}: model_type {model_type!r} ({archs}) is not supported; "
                         "edgec compiles LlamaForCausalLM, Qwen2ForCausalLM and BitNetForCausalLM models")
    act = _str_field(c, "hidden_act", where, "silu")
    if act not in FFN_ACTIVATIONS:
        raise EdgecError(f"{where}: hidden_act {act!r} is not supported; edgec runs silu (SwiGLU) and relu2 "
                         "(BitNet) FFNs")
    if (c.get("attention_bias") and model_type == "llama") or c.get("mlp_bias"):
        raise EdgecError(f"{where}: llama models with attention_bias/mlp_bias are not supported")
    values = sum(math.prod(t.shape) for t in tensors.values())

    def size(key, default=_REQUIRED):
        return _bounded(key, _int_field(c, key, where, default), values, where)

    dim, n_heads, hidden = size("hidden_size"), size("num_attention_heads"), size("intermediate_size")
    n_layers = _int_field(c, "num_hidden_layers", where)
    if n_layers > len(tensors):   # every layer has tensors of its own
        raise EdgecError(f"{where}: num_hidden_layers is {_json_type(n_layers)} but the weight files hold "
                         f"{len(tensors)} tensors; the config does not belong to these weights")
    head_dim = size("head_dim", dim // n_heads)
    vocab = _vocab_size(c, tensors, values, where)
    rope = _dict_field(c, "rope_scaling", where) or _dict_field(c, "rope_parameters", where)
    theta = _number_field(c, "rope_theta", where, None, positive=True) \
        or _number_field(rope, "rope_theta", where, 10000.0, positive=True)
    return ModelConfig(
        arch=model_type, dim=dim, hidden_dim=hidden, n_layers=n_layers, n_heads=n_heads,
        n_kv_heads=size("num_key_value_heads", n_heads), head_dim=head_dim, vocab_size=vocab,
        norm_eps=_number_field(c, "rms_norm_eps", where, 1e-6), rope_theta=theta, rope_dim=head_dim,
        rope_layout="neox", rope_freq_factors=rope_freq_factors(rope, theta, head_dim, where),
        qkv_bias=(model_type == "qwen2"), ffn_act=FFN_ACTIVATIONS[act], sub_norms=(model_type == "bitnet"),
        tied_embeddings=_bool_field(c, "tie_word_embeddings", where, False) or "output.weight" not in tensors,
        max_seq_len=_int_field(c, "max_position_embeddings", where, 2048),
        name=os.path.basename(os.path.normpath(path)),
    )


def _bounded(key: str, value: int, values: int, where: str) -> int:
    """A config size checked against the number of weight values stored: each size is a dimension
    of some weight matrix, so a larger one cannot belong to these weights (and must not be allocated)."""
    if value > values:
        raise EdgecError(f"{where}: {key} is {_json_type(value)}, more than the {values} weight values the safetensors "
                         "files hold; the config does not belong to these weights")
    return value


def _vocab_size(c: dict, tensors: dict, values: int, where: str) -> int:
    """config.json's vocab_size, which must be the embedding's row count (it sizes the token list)."""
    embd = tensors.get("token_embd.weight")
    if embd is None or len(embd.shape) != 2:
        raise EdgecError(f"{where}: the weights have no 2-D model.embed_tokens.weight; the model folder is "
                         "incomplete or not a supported architecture")
    vocab = _bounded("vocab_size", _int_field(c, "vocab_size", where, embd.shape[0]), values, where)
    if vocab != embd.shape[0]:
        raise EdgecError(f"{where}: vocab_size is {vocab} but model.embed_tokens.weight has {embd.shape[0]} rows; "
                         "the config does not belong to these weights")
    return vocab


def rope_freq_factors(rope: dict, theta: float, rope_dim: int, where: str = "config.json"):
    """Per-pair divisors of theta_i for config.json's rope_scaling, or None when unscaled."""
    kind = _str_field(rope, "rope_type", where) or _str_field(rope, "type", where) or "default"
    if kind == "default":
        return None
    if kind == "linear":
        return [_number_field(rope, "factor", f"{where}: rope_scaling", positive=True)] * (rope_dim // 2)
    if kind != "llama3":
        raise EdgecError(f"{where}: rope_scaling type {kind!r} is not supported (supported: llama3, linear)")
    scaling = f"{where}: rope_scaling"
    low, high = (_number_field(rope, k, scaling, positive=True) for k in ("low_freq_factor", "high_freq_factor"))
    if low >= high:   # HF's own check; the smooth band between them divides by high - low
        raise EdgecError(f"{scaling}: low_freq_factor {low} is not below high_freq_factor {high}; fix the file")
    return llama3_rope_factors(theta, rope_dim, _number_field(rope, "factor", scaling, positive=True), low, high,
                               _number_field(rope, "original_max_position_embeddings", scaling, positive=True))


def llama3_rope_factors(theta: float, rope_dim: int, factor: float, low_freq_factor: float,
                        high_freq_factor: float, original_max_pos: float) -> list:
    """Llama-3 rope scaling as in HF's _compute_llama3_parameters, expressed as inv_freq / scaled_inv_freq."""
    low_freq_wavelen = original_max_pos / low_freq_factor
    high_freq_wavelen = original_max_pos / high_freq_factor
    factors = []
    for i in range(0, rope_dim, 2):
        inv_freq = 1.0 / theta ** (i / rope_dim)
        wavelen = 2 * math.pi / inv_freq
        if wavelen > low_freq_wavelen:  # low frequencies are slowed down by the full factor
            scaled = inv_freq / factor
        elif wavelen < high_freq_wavelen:  # high frequencies are kept
            scaled = inv_freq
        else:  # the band between is interpolated smoothly
            smooth = (original_max_pos / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            scaled = (1 - smooth) * inv_freq / factor + smooth * inv_freq
        factors.append(inv_freq / scaled)
    return factors


# ---- weight files: which ones, and their safetensors headers ----

def safetensors_files(path: str) -> list:
    """The weight files of a folder: those named by model.safetensors.index.json, else every *.safetensors;
    each must resolve inside the folder (see the module docstring)."""
    index = os.path.join(path, INDEX_FILE)
    if os.path.isfile(index):
        names = _index_shard_names(index)
    else:
        names = sorted(n for n in os.listdir(path) if n.endswith(".safetensors"))
    if not names:
        raise EdgecError(f"{path}: no *.safetensors weights in the folder; download the model's safetensors files")
    root = _containment_root(path)
    return [_shard_file(path, root, n) for n in names]


def _index_shard_names(index: str) -> list:
    """The distinct shard file names of model.safetensors.index.json's weight_map."""
    weight_map = _read_json_object(index).get("weight_map")
    if not isinstance(weight_map, dict):
        raise EdgecError(f"{index}: weight_map is {_json_type(weight_map)}, expected an object mapping tensor "
                         "names to shard files; fix or re-download the file")
    for name, file in weight_map.items():
        if not isinstance(file, str) or not file or "\0" in file:
            raise EdgecError(f"{index}: weight_map[{name[:80]!r}] is {_json_type(file)}, expected a shard file "
                             "name; fix or re-download the file")
    return sorted(set(weight_map.values()))


def _containment_root(path: str) -> str:
    """The folder weight files must resolve into: the model folder, or for a Hugging Face cache snapshot
    (models--ORG--NAME/snapshots/REV, whose files link to ../../blobs) the cache repo folder."""
    root = os.path.realpath(path)
    snapshots, repo = os.path.dirname(root), os.path.dirname(os.path.dirname(root))
    if os.path.basename(snapshots) == "snapshots" and os.path.basename(repo).startswith("models--"):
        return repo
    return root


def _shard_file(path: str, root: str, name: str) -> str:
    """The path of shard name, refused unless it is a file resolving inside root."""
    shown = repr(name[:120])
    if os.path.isabs(name) or os.path.commonpath([root, os.path.realpath(os.path.join(path, name))]) != root:
        raise EdgecError(f"{path}: weight file {shown} lies outside the model folder; the weight files "
                         "(and model.safetensors.index.json's weight_map) must name files inside it")
    file = os.path.join(path, name)
    if not os.path.isfile(file):
        raise EdgecError(f"{path}: weight file {shown} is missing or not a file; download the model's "
                         "safetensors files (all of its shards)")
    return file


def _safetensors_header(file: str) -> tuple:
    """name -> (dtype, shape, begin, end) with byte offsets relative to the data section, and where
    that section starts; every entry checked, and the entries must cover the data section exactly."""
    size = os.path.getsize(file)
    with open(file, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise EdgecError(f"{file}: truncated safetensors file ({size} bytes); re-download it")
        n = struct.unpack("<Q", head)[0]
        if n > MAX_SAFETENSORS_HEADER:
            raise EdgecError(f"{file}: safetensors header of {n} bytes is larger than the format allows "
                             f"({MAX_SAFETENSORS_HEADER}); the file is corrupt, re-download it")
        if n + 8 > size:
            raise EdgecError(f"{file}: truncated safetensors file (header of {n} bytes in a {size}-byte file); "
                             "re-download it")
        header = _parse_json(f.read(n), f"{file}: the safetensors header")
    if not isinstance(header, dict):
        raise EdgecError(f"{file}: the safetensors header is {_json_type(header)}, expected an object; "
                         "the file is corrupt, re-download it")
    entries = {name: _safetensors_entry(file, name, entry) for name, entry in header.items()
               if name != "__metadata__"}
    _check_data_section(file, entries, size - 8 - n)
    return entries, 8 + n


def _safetensors_entry(file: str, name: str, entry) -> tuple:
    """(dtype, shape, begin, end) of one header entry, whose byte range must match dtype x shape."""
    where = f"{file}: tensor {name[:120]!r}"
    if not isinstance(entry, dict):
        raise EdgecError(f"{where} is described by {_json_type(entry)}, expected an object with dtype, shape "
                         "and data_offsets; the file is corrupt, re-download it")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in SAFETENSORS_DTYPE_BITS:
        shown = repr(dtype[:20]) if isinstance(dtype, str) else _json_type(dtype)
        raise EdgecError(f"{where} has dtype {shown}, which is not a safetensors dtype; re-download the file")
    if not _is_int_list(shape) or any(d < 0 for d in shape):
        raise EdgecError(f"{where} has a shape that is not a list of sizes >= 0; re-download the file")
    if not _is_int_list(offsets) or len(offsets) != 2 or not 0 <= offsets[0] <= offsets[1]:
        raise EdgecError(f"{where} has data_offsets that are not [begin, end] with 0 <= begin <= end; "
                         "re-download the file")
    bits = math.prod(shape) * SAFETENSORS_DTYPE_BITS[dtype]
    if bits != 8 * (offsets[1] - offsets[0]):
        raise EdgecError(f"{where} spans {offsets[1] - offsets[0]} bytes but {dtype} {tuple(shape)} needs "
                         f"{bits / 8:g}; the file is corrupt, re-download it")
    return dtype, tuple(shape), offsets[0], offsets[1]


def _is_int_list(value) -> bool:
    return isinstance(value, list) and all(type(v) is int for v in value)


def _check_data_section(file: str, entries: dict, data_size: int) -> None:
    """The tensors' byte ranges tile the data section: no overlap, no gap, nothing past its end."""
    for name, (_, _, _, end) in entries.items():
        if end > data_size:
            raise EdgecError(f"{file}: truncated safetensors file: tensor {name[:120]!r} ends at byte {end} of "
                             f"a {data_size}-byte data section; re-download it")
    covered = 0
    for name, (_, _, begin, end) in sorted(entries.items(), key=lambda item: item[1][2:]):
        if begin != covered:
            raise EdgecError(f"{file}: tensor {name[:120]!r} starts at byte {begin} of the data section where "
                             f"{covered} was expected (tensors overlap or leave a gap); the file is corrupt, "
                             "re-download it")
        covered = end
    if covered != data_size:
        raise EdgecError(f"{file}: {data_size - covered} bytes follow the last tensor; the file is corrupt, "
                         "re-download it")


# ---- weight files -> Tensors ----

def read_safetensors_folder(path: str) -> dict:
    """GGUF name -> Tensor for every forward-pass tensor in the folder's safetensors files."""
    tensors = {}
    for file in safetensors_files(path):
        for hf_name, (fmt, shape, data) in read_safetensors_file(file).items():
            name = hf_name_to_gguf(hf_name)
            if name is not None:
                tensors[name] = Tensor(name=name, shape=shape, fmt=fmt, data=data)
    return tensors


def read_safetensors_file(file: str) -> dict:
    """HF name -> (fmt, shape, raw bytes), read with the safetensors package (BF16 from the raw offsets)
    after the header has been checked."""
    from safetensors import safe_open
    entries, data_start = _safetensors_header(file)
    out = {}
    for name, (dtype, _, _, _) in entries.items():
        if hf_name_to_gguf(name) is not None and dtype not in DTYPE_FORMATS:
            raise EdgecError(f"{file}: tensor {name} has dtype {dtype}; edgec reads F32, F16 and BF16 "
                             "safetensors (convert the model with torch_dtype float16)")
    try:
        with safe_open(file, framework="numpy") as f:
            for name, (dtype, shape, begin, end) in entries.items():
                if hf_name_to_gguf(name) is None:
                    continue
                if dtype == "BF16":  # numpy has no bfloat16: take the bytes at the header's offsets
                    data = _read_range(file, data_start + begin, end - begin)
                else:
                    data = np.ascontiguousarray(f.get_tensor(name)).tobytes()
                out[name] = (DTYPE_FORMATS[dtype], shape, data)
    except Exception as e:  # safetensors raises its own error types; its text may quote the file
        raise EdgecError(f"{file}: corrupt safetensors file (the safetensors package refuses it: "
                         f"{type(e).__name__}); re-download it") from None
    return out


def read_bitnet_folder_tensors(path: str, hf_config: dict, warnings: list) -> dict:
    """GGUF name -> Tensor for a BitNet folder: BitLinear matrices become tq2, the rest stays float."""
    raw = {}   # HF name -> (dtype, shape, bytes) for forward-pass tensors and their weight scales
    for file in safetensors_files(path):
        entries, data_start = _safetensors_header(file)
        for name, (dtype, shape, begin, end) in entries.items():
            base = name[:-len("_scale")] if name.endswith(".weight_scale") else name
            if hf_name_to_gguf(base) is not None:
                raw[name] = (dtype, shape, _read_range(file, data_start + begin, end - begin))
    multiplies, tensors, worst = scale_multiplies(hf_config, os.path.join(path, "config.json")), {}, 0.0
    for name, (dtype, shape, data) in raw.items():
        gguf_name = hf_name_to_gguf(name)
        if gguf_name is None:
            continue   # a weight_scale, read with its matrix
        if name.endswith(BITLINEAR_SUFFIXES):
            t, rounding = bitlinear_tensor(gguf_name, name, (dtype, shape, data), raw.get(name + "_scale"), multiplies)
            worst = max(worst, rounding)
        else:
            fmt = DTYPE_FORMATS.get(dtype)
            if fmt is None:
                raise EdgecError(f"{path}: tensor {name} has dtype {dtype}; expected F32, F16 or BF16")
            t = Tensor(name=gguf_name, shape=shape, fmt=fmt, data=data)
        tensors[gguf_name] = t
    if worst > 0:
        warnings.append(f"BitNet weight scales rounded to fp16 (tq2 block scale): up to {worst:.1e} relative change")
    return tensors


def _read_range(file: str, offset: int, n: int) -> bytes:
    with open(file, "rb") as f:
        f.seek(offset)
        return f.read(n)


# ---- tokenizer.json + tokenizer_config.json -> TokenizerIR ----

CONTROL, USER_DEFINED, UNUSED, BYTE, UNKNOWN, NORMAL = 3, 4, 5, 6, 2, 1
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>")
BYTE_TOKEN_RE = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def read_hf_tokenizer(path: str, vocab_size: int, hf_config: dict):
    """TokenizerIR from the folder's tokenizer.json (+ tokenizer_config.json), or None without tokenizer.json.
    Token ids must lie below vocab_size (the embedding's rows), which also bounds the token list."""
    tj_path = os.path.join(path, "tokenizer.json")
    if not os.path.isfile(tj_path):
        return None
    tj = _read_json_object(tj_path)
    tc_path = os.path.join(path, "tokenizer_config.json")
    tc = _read_json_object(tc_path) if os.path.isfile(tc_path) else {}
    model = _dict_field(tj, "model", tj_path)
    if model.get("type") != "BPE":
        shown = repr(model["type"][:40]) if isinstance(model.get("type"), str) else _json_type(model.get("type"))
        raise EdgecError(f"{tj_path}: tokenizer model type {shown} is not supported "
                         "(edgec reads BPE tokenizers: byte-level or SentencePiece-style)")
    tokens, token_types = _vocab_by_id(_vocab_ids(model, tj_path, vocab_size),
                                       _added_tokens(tj, tj_path, vocab_size), vocab_size)
    merges = _merges(model, tj_path)
    if _has_type(tj.get("pre_tokenizer"), "ByteLevel") or _has_type(tj.get("decoder"), "ByteLevel"):
        kind, scores, pre, add_space_prefix = "gpt2", None, _detect_pre(tj.get("pre_tokenizer")), False
    elif model.get("byte_fallback") and any("\u2581" in t for t in tokens):
        kind, scores, pre = "sentencepiece", _scores_from_merges(tokens, merges), "default"
        add_space_prefix = _adds_space_prefix(tj)
        token_types = [BYTE if BYTE_TOKEN_RE.fullmatch(t) and ty == NORMAL else ty
                       for t, ty in zip(tokens, token_types)]
    else:
        raise EdgecError(f"{tj_path}: BPE tokenizer is neither byte-level nor SentencePiece-style "
                         "(byte_fallback with \u2581 pieces); it is not supported")
    ids = {t: i for i, t in enumerate(tokens)}
    unk_token = _str_field(model, "unk_token", f"{tj_path}: model")
    unk_id = ids.get(unk_token, -1) if unk_token else -1
    if unk_id >= 0:
        token_types[unk_id] = UNKNOWN
    config_path = os.path.join(path, "config.json")
    bos_id = _special_id(tc, "bos_token", tc_path, ids, vocab_size, hf_config, config_path)
    eos_id = _special_id(tc, "eos_token", tc_path, ids, vocab_size, hf_config, config_path)
    eot_id = next((ids[t] for t in END_OF_TURN_TOKENS if t in ids and ids[t] != eos_id), -1)
    add_bos = tc.get("add_bos_token")
    if add_bos is None:
        add_bos = _post_processor_adds_bos(tj.get("post_processor"), tokens, bos_id) or kind == "sentencepiece"
    elif not isinstance(add_bos, bool):
        raise EdgecError(f"{tc_path}: add_bos_token is {_json_type(add_bos)}, expected true or false; fix the file")
    return TokenizerIR(kind=kind, tokens=tokens, token_types=token_types, scores=scores,
                       merges=merges if kind == "gpt2" else None, pre=pre,
                       bos_id=bos_id, eos_id=eos_id, eot_id=eot_id, unk_id=unk_id, add_bos=bool(add_bos),
                       add_space_prefix=add_space_prefix, chat_template=_chat_template(path, tc, tc_path))


def _token_id(value, what: str, where: str, vocab_size: int) -> int:
    """A token id from a tokenizer file: a whole number in [0, vocab_size)."""
    if type(value) is not int or value < 0:
        raise EdgecError(f"{where}: {what} has id {_json_type(value)}, expected a whole number >= 0; "
                         "fix or re-download the file")
    if value >= vocab_size:
        raise EdgecError(f"{where}: {what} has id {value}, beyond the model's {vocab_size} embedding rows "
                         "(vocab_size); the tokenizer does not belong to this model")
    return value


def _vocab_ids(model: dict, where: str, vocab_size: int) -> dict:
    """id -> token text of tokenizer.json's model.vocab (an object mapping texts to ids)."""
    vocab = _dict_field(model, "vocab", f"{where}: model")
    return {_token_id(i, f"vocab token {t[:40]!r}", where, vocab_size): t for t, i in vocab.items()}


def _added_tokens(tj: dict, where: str, vocab_size: int) -> list:
    """(id, content, special) of tokenizer.json's added_tokens."""
    added = tj.get("added_tokens") or []
    if not isinstance(added, list):
        raise EdgecError(f"{where}: added_tokens is {_json_type(added)}, expected a list; fix the file")
    out = []
    for n, a in enumerate(added):
        if not isinstance(a, dict) or not isinstance(a.get("content"), str):
            raise EdgecError(f"{where}: added token {n} is not an object with a string content; fix the file")
        out.append((_token_id(a.get("id"), f"added token {a['content'][:40]!r}", where, vocab_size),
                    a["content"], bool(a.get("special"))))
    return out


def _vocab_by_id(by_id: dict, added: list, vocab_size: int) -> tuple:
    """Tokens ordered by id (padded to vocab_size with unused [PADn] tokens) and their GGUF token types."""
    types = {}
    for i, content, special in added:
        by_id[i] = content
        types[i] = CONTROL if special else USER_DEFINED
    tokens = [by_id.get(i, f"[PAD{i}]") for i in range(vocab_size)]
    token_types = [types.get(i, NORMAL if i in by_id else UNUSED) for i in range(vocab_size)]
    return tokens, token_types


def _merges(model: dict, where: str) -> list:
    """model.merges as "left right" strings (tokenizer.json stores "a b" strings or ["a", "b"] pairs)."""
    merges = model.get("merges") or []
    if not isinstance(merges, list):
        raise EdgecError(f"{where}: model.merges is {_json_type(merges)}, expected a list; fix the file")
    out = []
    for n, m in enumerate(merges):
        if isinstance(m, list) and len(m) == 2 and all(isinstance(p, str) for p in m):
            m = " ".join(m)
        if not isinstance(m, str):
            raise EdgecError(f"{where}: merge {n} is {_json_type(m)}, expected \"left right\" or "
                             "[\"left\", \"right\"]; fix the file")
        out.append(m)
    return out


def _flatten(node) -> list:
    """A tokenizer.json component and the members of any Sequence inside it, in order (objects only)."""
    if not isinstance(node, dict):
        return []
    out = [node]
    for key in ("pretokenizers", "normalizers", "decoders", "processors"):
        children = node.get(key)
        for child in children if isinstance(children, list) else []:
            out += _flatten(child)
    return out


def _has_type(node, type_name: str) -> bool:
    return any(n.get("type") == type_name for n in _flatten(node))


def _detect_pre(pre_tokenizer) -> str:
    """The GGUF pre-tokenizer name that a byte-level tokenizer.json's pre_tokenizer corresponds to."""
    parts = _flatten(pre_tokenizer)
    if any(p.get("type") == "Digits" and p.get("individual_digits") for p in parts):
        return "smollm"
    for p in parts:
        pattern = p.get("pattern") if p.get("type") == "Split" else None
        regex = pattern.get("Regex") if isinstance(pattern, dict) else None
        if not isinstance(regex, str):
            continue
        if r"\p{N}{1,3}" in regex:
            return "llama3"
        if r"\p{L}+|\p{N}|" in regex:
            return "qwen2"
    return "gpt2"


def _scores_from_merges(tokens: list, merges: list) -> list:
    """SentencePiece scores: a piece made by merge rank r scores -r, so earlier merges win (others 0)."""
    rank = {}
    for r, m in enumerate(merges):
        rank.setdefault(m.replace(" ", ""), r)
    return [-float(rank[t]) if t in rank else 0.0 for t in tokens]


def _adds_space_prefix(tj: dict) -> bool:
    """SentencePiece add_dummy_prefix: a Prepend("\u2581") normalizer or a prepending Metaspace."""
    if any(n.get("type") == "Prepend" and n.get("prepend") == "\u2581" for n in _flatten(tj.get("normalizer"))):
        return True
    for p in _flatten(tj.get("pre_tokenizer")):
        if p.get("type") == "Metaspace":
            return p.get("prepend_scheme", "always") != "never" and p.get("add_prefix_space", True) is not False
    return False


def _special_id(tc: dict, key: str, tc_path: str, ids: dict, vocab_size: int, hf_config: dict,
                config_path: str) -> int:
    """Id of tokenizer_config's special token key (a string or {"content": ...}), else config.json's
    <key>_id (a number or a list whose first entry counts), else -1."""
    token = tc.get(key)
    if isinstance(token, dict):
        token = token.get("content")
    if token is not None and not isinstance(token, str):
        raise EdgecError(f"{tc_path}: {key} is {_json_type(token)}, expected a token text or "
                         "{\"content\": text}; fix the file")
    if token in ids:
        return ids[token]
    fallback = hf_config.get(f"{key}_id")
    if isinstance(fallback, list):
        fallback = fallback[0] if fallback else None
    if fallback is None:
        return -1
    return _token_id(fallback, f"{key}_id", config_path, vocab_size)


def _post_processor_adds_bos(post, tokens: list, bos_id: int) -> bool:
    """True when a TemplateProcessing post-processor starts every sequence with the bos token."""
    if bos_id < 0:
        return False
    for p in _flatten(post):
        single = p.get("single") if p.get("type") == "TemplateProcessing" else None
        first = single[0] if isinstance(single, list) and single else None
        special = first.get("SpecialToken") if isinstance(first, dict) else None
        if isinstance(special, dict) and special.get("id") == tokens[bos_id]:
            return True
    return False


def _chat_template(path: str, tc: dict, tc_path: str):
    """The chat template: tokenizer_config's (a string, or the 'default' of a list of {name, template}),
    else chat_template.jinja; None without one."""
    template = tc.get("chat_template")
    if isinstance(template, list):
        if not all(isinstance(t, dict) and isinstance(t.get("template"), str) for t in template):
            raise EdgecError(f"{tc_path}: chat_template is a list whose entries are not "
                             "{\"name\": ..., \"template\": text} objects; fix the file")
        named = {t.get("name") if isinstance(t.get("name"), str) else "": t["template"] for t in template}
        template = named.get("default") or next(iter(named.values()), None)
    if template is not None and not isinstance(template, str):
        raise EdgecError(f"{tc_path}: chat_template is {_json_type(template)}, expected a Jinja2 template text; "
                         "fix the file")
    jinja = os.path.join(path, "chat_template.jinja")
    if template is None and os.path.isfile(jinja):
        template = _read_text(jinja)
    return template


def _read_text(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8")
    except UnicodeDecodeError:
        raise EdgecError(f"{path} is not valid UTF-8; fix or re-download the file") from None
    except OSError as e:
        raise EdgecError(f"{path}: cannot read the file ({e.strerror}); check its permissions") from None
