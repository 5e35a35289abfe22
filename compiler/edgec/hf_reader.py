"""Hugging Face front end: a model folder (config.json + *.safetensors + tokenizer.json) -> ModelIR.

Supports LlamaForCausalLM and Qwen2ForCausalLM with F32/F16/BF16 safetensors, sharded or not, and
BitNetForCausalLM (BitNet b1.58: packed ternary weights, see bitnet_reader.py).
Weights keep their storage format; HF's Q/K layout is the "neox" rope layout (rotate_half).
"""
from __future__ import annotations

import json
import math
import os
import re
import struct

import numpy as np

from .bitnet_reader import BITLINEAR_SUFFIXES, bitlinear_tensor, is_bitnet, scale_multiplies
from .errors import EdgecError
from .model_ir import ModelConfig, ModelIR, Tensor, TokenizerIR

SUPPORTED_MODEL_TYPES = ("llama", "qwen2", "bitnet")
FFN_ACTIVATIONS = {"silu": "silu", "relu2": "relu2"}   # config.json hidden_act -> ModelConfig.ffn_act
DTYPE_FORMATS = {"F32": "f32", "F16": "f16", "BF16": "bf16"}

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
    hf_config = _read_json(config_path)
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


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise EdgecError(f"{path}: cannot read JSON ({str(e).splitlines()[0]}); fix or re-download the file") from None


def hf_config_to_model_config(c: dict, tensors: dict, path: str) -> ModelConfig:
    """ModelConfig from config.json; tensors decide tying when lm_head.weight is absent."""
    model_type = c.get("model_type")
    if model_type not in SUPPORTED_MODEL_TYPES:
        archs = ",".join(c.get("architectures") or []) or "?"
        raise EdgecError(f"{path}: model_type {model_type!r} ({archs}) is not supported; "
                         "edgec compiles LlamaForCausalLM, Qwen2ForCausalLM and BitNetForCausalLM models")
    act = c.get("hidden_act", "silu")
    if act not in FFN_ACTIVATIONS:
        raise EdgecError(f"{path}: hidden_act {act!r} is not supported; edgec runs silu (SwiGLU) and relu2 (BitNet) FFNs")
    if (c.get("attention_bias") and model_type == "llama") or c.get("mlp_bias"):
        raise EdgecError(f"{path}: llama models with attention_bias/mlp_bias are not supported")
    try:
        dim, n_heads = int(c["hidden_size"]), int(c["num_attention_heads"])
        hidden, n_layers = int(c["intermediate_size"]), int(c["num_hidden_layers"])
    except KeyError as e:
        raise EdgecError(f"{path}: config.json lacks {e.args[0]}; fix or re-download it") from None
    head_dim = int(c.get("head_dim") or dim // n_heads)
    rope = c.get("rope_scaling") or c.get("rope_parameters") or {}
    theta = float(c.get("rope_theta") or rope.get("rope_theta") or 10000.0)
    embd = tensors.get("token_embd.weight")
    vocab = int(c.get("vocab_size") or (embd.shape[0] if embd else 0))
    return ModelConfig(
        arch=model_type, dim=dim, hidden_dim=hidden, n_layers=n_layers, n_heads=n_heads,
        n_kv_heads=int(c.get("num_key_value_heads") or n_heads), head_dim=head_dim, vocab_size=vocab,
        norm_eps=float(c.get("rms_norm_eps", 1e-6)), rope_theta=theta, rope_dim=head_dim,
        rope_layout="neox", rope_freq_factors=rope_freq_factors(rope, theta, head_dim, path),
        qkv_bias=(model_type == "qwen2"), ffn_act=FFN_ACTIVATIONS[act], sub_norms=(model_type == "bitnet"),
        tied_embeddings=bool(c.get("tie_word_embeddings", False)) or "output.weight" not in tensors,
        max_seq_len=int(c.get("max_position_embeddings", 2048)),
        name=os.path.basename(os.path.normpath(path)),
    )


def rope_freq_factors(rope: dict, theta: float, rope_dim: int, path: str = "config.json"):
    """Per-pair divisors of theta_i for config.json's rope_scaling, or None when unscaled."""
    kind = rope.get("rope_type") or rope.get("type") or "default"
    if kind == "default":
        return None
    if kind == "linear":
        return [float(rope["factor"])] * (rope_dim // 2)
    if kind != "llama3":
        raise EdgecError(f"{path}: rope_scaling type {kind!r} is not supported (supported: llama3, linear)")
    return llama3_rope_factors(theta, rope_dim, float(rope["factor"]), float(rope["low_freq_factor"]),
                               float(rope["high_freq_factor"]), float(rope["original_max_position_embeddings"]))


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


def safetensors_files(path: str) -> list:
    """The weight files of a folder: those named by model.safetensors.index.json, else every *.safetensors."""
    index = os.path.join(path, "model.safetensors.index.json")
    if os.path.isfile(index):
        names = sorted(set(_read_json(index).get("weight_map", {}).values()))
    else:
        names = sorted(n for n in os.listdir(path) if n.endswith(".safetensors"))
    if not names:
        raise EdgecError(f"{path}: no *.safetensors weights in the folder; download the model's safetensors files")
    for n in names:
        if not os.path.isfile(os.path.join(path, n)):
            raise EdgecError(f"{path}: shard {n} named by model.safetensors.index.json is missing; download it")
    return [os.path.join(path, n) for n in names]


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
    """HF name -> (fmt, shape, raw bytes), read with the safetensors package (BF16 from the raw offsets)."""
    from safetensors import safe_open
    entries, data_start = _safetensors_header(file)
    out = {}
    try:
        with safe_open(file, framework="numpy") as f:
            for name in f.keys():
                tensor_slice = f.get_slice(name)
                dtype, shape = tensor_slice.get_dtype(), tuple(tensor_slice.get_shape())
                if hf_name_to_gguf(name) is None:
                    continue
                fmt = DTYPE_FORMATS.get(dtype)
                if fmt is None:
                    raise EdgecError(f"{file}: tensor {name} has dtype {dtype}; edgec reads F32, F16 and BF16 "
                                     "safetensors (convert the model with torch_dtype float16)")
                if fmt == "bf16":  # numpy has no bfloat16: take the bytes at the header's offsets
                    begin, end = entries[name][2:]
                    data = _read_range(file, data_start + begin, end - begin)
                else:
                    data = np.ascontiguousarray(f.get_tensor(name)).tobytes()
                out[name] = (fmt, shape, data)
    except EdgecError:
        raise
    except Exception as e:  # safetensors raises its own error types on corrupt files
        raise EdgecError(f"{file}: corrupt safetensors file ({str(e).splitlines()[0]}); re-download it") from None
    return out


def _safetensors_header(file: str) -> tuple:
    """name -> (dtype, shape, begin, end) with byte offsets relative to the data section, and where
    that section starts."""
    size = os.path.getsize(file)
    with open(file, "rb") as f:
        head = f.read(8)
        n = struct.unpack("<Q", head)[0] if len(head) == 8 else size
        if n + 8 > size:
            raise EdgecError(f"{file}: truncated safetensors file (header of {n} bytes in a {size}-byte file); "
                             "re-download it")
        try:
            header = json.loads(f.read(n))
        except ValueError:
            raise EdgecError(f"{file}: corrupt safetensors header; re-download it") from None
    try:
        entries = {k: (v["dtype"], tuple(v["shape"]), *v["data_offsets"]) for k, v in header.items()
                   if k != "__metadata__"}
    except (KeyError, TypeError, ValueError):
        raise EdgecError(f"{file}: corrupt safetensors header (an entry lacks dtype/shape/data_offsets); "
                         "re-download it") from None
    for k, (_, _, begin, end) in entries.items():
        if 8 + n + end > size:
            raise EdgecError(f"{file}: truncated safetensors file: tensor {k} ends at byte {8 + n + end} "
                             f"but the file has {size}; re-download it")
    return entries, 8 + n


def read_bitnet_folder_tensors(path: str, hf_config: dict, warnings: list) -> dict:
    """GGUF name -> Tensor for a BitNet folder: BitLinear matrices become tq2, the rest stays float."""
    raw = {}   # HF name -> (dtype, shape, bytes) for forward-pass tensors and their weight scales
    for file in safetensors_files(path):
        entries, data_start = _safetensors_header(file)
        for name, (dtype, shape, begin, end) in entries.items():
            base = name[:-len("_scale")] if name.endswith(".weight_scale") else name
            if hf_name_to_gguf(base) is not None:
                raw[name] = (dtype, shape, _read_range(file, data_start + begin, end - begin))
    multiplies, tensors, worst = scale_multiplies(hf_config), {}, 0.0
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
    """TokenizerIR from the folder's tokenizer.json (+ tokenizer_config.json), or None without tokenizer.json."""
    tj_path = os.path.join(path, "tokenizer.json")
    if not os.path.isfile(tj_path):
        return None
    tj = _read_json(tj_path)
    tc_path = os.path.join(path, "tokenizer_config.json")
    tc = _read_json(tc_path) if os.path.isfile(tc_path) else {}
    model = tj.get("model") or {}
    if model.get("type") != "BPE":
        raise EdgecError(f"{tj_path}: tokenizer model type {model.get('type')!r} is not supported "
                         "(edgec reads BPE tokenizers: byte-level or SentencePiece-style)")
    tokens, token_types = _vocab_by_id(model, tj.get("added_tokens") or [], vocab_size)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
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
    unk_id = ids.get(model.get("unk_token"), -1) if model.get("unk_token") else -1
    if unk_id >= 0:
        token_types[unk_id] = UNKNOWN
    bos_id = _special_id(tc.get("bos_token"), ids, hf_config.get("bos_token_id"))
    eos_id = _special_id(tc.get("eos_token"), ids, hf_config.get("eos_token_id"))
    eot_id = next((ids[t] for t in END_OF_TURN_TOKENS if t in ids and ids[t] != eos_id), -1)
    add_bos = tc.get("add_bos_token")
    if add_bos is None:
        add_bos = _post_processor_adds_bos(tj.get("post_processor"), tokens, bos_id) or kind == "sentencepiece"
    return TokenizerIR(kind=kind, tokens=tokens, token_types=token_types, scores=scores,
                       merges=merges if kind == "gpt2" else None, pre=pre,
                       bos_id=bos_id, eos_id=eos_id, eot_id=eot_id, unk_id=unk_id, add_bos=bool(add_bos),
                       add_space_prefix=add_space_prefix, chat_template=_chat_template(path, tc))


def _vocab_by_id(model: dict, added: list, vocab_size: int) -> tuple:
    """Tokens ordered by id (padded to vocab_size with unused [PADn] tokens) and their GGUF token types."""
    by_id = {int(i): t for t, i in (model.get("vocab") or {}).items()}
    types = {}
    for a in added:
        by_id[int(a["id"])] = a["content"]
        types[int(a["id"])] = CONTROL if a.get("special") else USER_DEFINED
    n = max([vocab_size] + [i + 1 for i in by_id])
    tokens = [by_id.get(i, f"[PAD{i}]") for i in range(n)]
    token_types = [types.get(i, NORMAL if i in by_id else UNUSED) for i in range(n)]
    return tokens, token_types


def _flatten(node) -> list:
    """A tokenizer.json component and the members of any Sequence inside it, in order."""
    if not isinstance(node, dict):
        return []
    out = [node]
    for key in ("pretokenizers", "normalizers", "decoders", "processors"):
        for child in node.get(key) or []:
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
        regex = (p.get("pattern") or {}).get("Regex", "") if p.get("type") == "Split" else ""
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
            return p.get("prepend_scheme", "always") != "never" and p.get("add_prefix_space", True)
    return False


def _special_id(token, ids: dict, fallback) -> int:
    """Id of a tokenizer_config special token (a string or {"content": ...}), else config.json's id."""
    if isinstance(token, dict):
        token = token.get("content")
    if isinstance(token, str) and token in ids:
        return ids[token]
    if isinstance(fallback, list):
        fallback = fallback[0] if fallback else None
    return int(fallback) if fallback is not None else -1


def _post_processor_adds_bos(post, tokens: list, bos_id: int) -> bool:
    """True when a TemplateProcessing post-processor starts every sequence with the bos token."""
    if bos_id < 0:
        return False
    for p in _flatten(post):
        single = (p.get("single") or []) if p.get("type") == "TemplateProcessing" else []
        if single and "SpecialToken" in single[0] and single[0]["SpecialToken"].get("id") == tokens[bos_id]:
            return True
    return False


def _chat_template(path: str, tc: dict):
    """The chat template: tokenizer_config's (a string, or the 'default' of a named list), else chat_template.jinja."""
    template = tc.get("chat_template")
    if isinstance(template, list):
        named = {t.get("name"): t.get("template") for t in template}
        template = named.get("default") or next(iter(named.values()), None)
    jinja = os.path.join(path, "chat_template.jinja")
    if template is None and os.path.isfile(jinja):
        with open(jinja, encoding="utf-8") as f:
            template = f.read()
    return template
