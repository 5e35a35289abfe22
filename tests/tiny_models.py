"""Tiny random models and tokenizers, written in every input format, for tests.

make_tiny_config + random_weights give a small llama/qwen2 model whose activations stay O(1);
write_gguf / write_hf_folder / write_llama2c store it the way the real tools would, so each
front end can be tested by a round trip.  The writers do not reuse the readers' layout code.
"""
from __future__ import annotations

import json
import os
import struct

import numpy as np

from edgec.ir.block_formats import GGML_TYPE, quantize
from edgec.ir.model_ir import ModelConfig, TokenizerIR, expected_shapes

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def make_tiny_config(**overrides) -> ModelConfig:
    """A small model config (dim 64, hidden 128, 2 layers, 4 heads / 2 kv heads of 16, vocab 300).

    Overriding dim or n_heads recomputes head_dim and rope_dim unless they are given too;
    arch="qwen2" switches on qkv_bias and the neox rope layout unless they are given too.
    """
    cfg = dict(arch="llama", dim=64, hidden_dim=128, n_layers=2, n_heads=4, n_kv_heads=2, head_dim=16,
               vocab_size=300, norm_eps=1e-5, rope_theta=10000.0, rope_dim=16, rope_layout="interleaved",
               rope_freq_factors=None, qkv_bias=False, tied_embeddings=False, max_seq_len=256, name="tiny")
    if "head_dim" not in overrides and ("dim" in overrides or "n_heads" in overrides):
        overrides["head_dim"] = overrides.get("dim", cfg["dim"]) // overrides.get("n_heads", cfg["n_heads"])
    if "rope_dim" not in overrides:
        overrides["rope_dim"] = overrides.get("head_dim", cfg["head_dim"])
    if overrides.get("arch") == "qwen2":
        overrides.setdefault("qkv_bias", True)
        overrides.setdefault("rope_layout", "neox")
    cfg.update(overrides)
    return ModelConfig(**cfg)


def random_weights(cfg: ModelConfig, seed: int) -> dict:
    """GGUF name -> float32 array for every tensor of cfg: matrices N(0, 1/fan_in), norms ~1,
    embedding N(0, 1), output scaled so logits have a spread of about 2."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in expected_shapes(cfg).items():
        noise = rng.standard_normal(shape).astype(np.float32)
        if name.endswith("norm.weight"):
            w = 1 + 0.1 * noise
        elif name.endswith(".bias"):
            w = 0.2 * noise
        elif name == "token_embd.weight":
            w = noise
        elif name == "output.weight":
            w = noise * (2 / np.sqrt(shape[1]))
        else:
            w = noise / np.sqrt(shape[1])
        weights[name] = w.astype(np.float32)
    return weights


def neox_to_interleaved(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Reorder Q/K rows (or biases) of each head from neox pairs (i, i+d/2) to interleaved (2i, 2i+1),
    as convert_hf_to_gguf does for llama: the same model under the other rope layout."""
    rows = w.shape[0]
    head_dim = rows // n_heads
    per_head = w.reshape(n_heads, 2, head_dim // 2, *w.shape[1:])
    return np.ascontiguousarray(per_head.swapaxes(1, 2).reshape(w.shape))


# ---- GGUF ----

def _ggml_bytes(arr: np.ndarray, fmt: str) -> tuple:
    """(uint8 array of raw rows, GGML type) for fmt; types gguf cannot quantize get zero blocks."""
    import gguf
    qtype = GGML_TYPE.get(fmt) or gguf.GGMLQuantizationType[fmt.upper()]
    rows = arr.reshape(-1, arr.shape[-1])
    if fmt in GGML_TYPE:
        raw = quantize(rows, fmt)
    else:
        try:
            raw = np.asarray(gguf.quants.quantize(rows, qtype)).tobytes()
        except NotImplementedError:  # e.g. Q6_K: only the size matters for files meant to be rejected
            block, type_size = gguf.GGML_QUANT_SIZES[qtype]
            raw = bytes(rows.size // block * type_size)
    return np.frombuffer(raw, dtype=np.uint8).reshape(rows.shape[0], -1), qtype


def write_gguf(path: str, cfg: ModelConfig, weights: dict, fmt_by_tensor="f32", tokenizer: TokenizerIR = None,
               metadata: dict = None) -> None:
    """Write a GGUF file with gguf.GGUFWriter.

    fmt_by_tensor: one format for every matrix (vectors stay f32), or name -> format (unlisted: f32).
    Formats are the IR's (f32, f16, bf16, q8_0, q4_0, q4_1) or any other GGML type name (q5_0, q6_k, ...)
    for files that should be rejected.
    metadata: key -> (value, gguf.GGUFValueType[, item type for arrays]) written last, so it adds keys or
    replaces the ones written from cfg/tokenizer; a value of None removes the key (for hostile files).
    """
    import gguf
    w = gguf.GGUFWriter(path, cfg.arch)
    w.add_name(cfg.name)
    w.add_context_length(cfg.max_seq_len)
    w.add_embedding_length(cfg.dim)
    w.add_feed_forward_length(cfg.hidden_dim)
    w.add_block_count(cfg.n_layers)
    w.add_head_count(cfg.n_heads)
    w.add_head_count_kv(cfg.n_kv_heads)
    if cfg.head_dim * cfg.n_heads != cfg.dim:
        w.add_key_length(cfg.head_dim)
        w.add_value_length(cfg.head_dim)
    w.add_layer_norm_rms_eps(cfg.norm_eps)
    w.add_rope_freq_base(cfg.rope_theta)
    w.add_rope_dimension_count(cfg.rope_dim)
    w.add_vocab_size(cfg.vocab_size)
    w.add_file_type(1)
    if cfg.rope_freq_factors is not None:
        w.add_tensor("rope_freqs.weight", np.asarray(cfg.rope_freq_factors, dtype=np.float32))
    for name, arr in weights.items():
        fmt = fmt_by_tensor.get(name, "f32") if isinstance(fmt_by_tensor, dict) else \
            (fmt_by_tensor if arr.ndim == 2 else "f32")
        if fmt == "f32":
            w.add_tensor(name, np.ascontiguousarray(arr, dtype=np.float32))
        elif fmt == "f16":
            w.add_tensor(name, np.ascontiguousarray(arr, dtype=np.float16))
        else:
            raw, qtype = _ggml_bytes(arr, fmt)
            w.add_tensor(name, raw if arr.ndim == 2 else raw.reshape(-1), raw_dtype=qtype)
    if tokenizer is not None:
        _add_gguf_tokenizer(w, tokenizer)
    for key, spec in (metadata or {}).items():
        if spec is None:
            w.kv_data[0].pop(key, None)
        else:
            w.kv_data[0][key] = gguf.GGUFValue(*spec)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _add_gguf_tokenizer(w, tok: TokenizerIR) -> None:
    w.add_tokenizer_model("gpt2" if tok.kind == "gpt2" else "llama")
    w.add_tokenizer_pre(tok.pre)
    w.add_token_list(tok.tokens)
    w.add_token_types(tok.token_types)
    if tok.merges:
        w.add_token_merges(tok.merges)
    if tok.scores is not None:
        w.add_token_scores(tok.scores)
    for value, add in ((tok.bos_id, w.add_bos_token_id), (tok.eos_id, w.add_eos_token_id),
                       (tok.unk_id, w.add_unk_token_id), (tok.eot_id, w.add_eot_token_id)):
        if value >= 0:
            add(value)
    w.add_add_bos_token(tok.add_bos)
    w.add_add_space_prefix(tok.add_space_prefix)
    if tok.chat_template:
        w.add_chat_template(tok.chat_template)


# ---- Hugging Face folder ----

HF_GLOBAL = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
HF_LAYER = {"attn_norm.weight": "input_layernorm.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
            "attn_q.weight": "self_attn.q_proj.weight", "attn_k.weight": "self_attn.k_proj.weight",
            "attn_v.weight": "self_attn.v_proj.weight", "attn_output.weight": "self_attn.o_proj.weight",
            "attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias",
            "attn_v.bias": "self_attn.v_proj.bias", "ffn_gate.weight": "mlp.gate_proj.weight",
            "ffn_up.weight": "mlp.up_proj.weight", "ffn_down.weight": "mlp.down_proj.weight",
            "attn_sub_norm.weight": "self_attn.attn_sub_norm.weight", "ffn_sub_norm.weight": "mlp.ffn_sub_norm.weight"}
HF_ARCHITECTURES = {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "bitnet": "BitNetForCausalLM"}
SAFETENSORS_DTYPES = {"f32": "F32", "f16": "F16", "bf16": "BF16"}
TORCH_DTYPES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}


def hf_name(name: str) -> str:
    """HF tensor name of a GGUF tensor name."""
    if name in HF_GLOBAL:
        return HF_GLOBAL[name]
    _, layer, rest = name.split(".", 2)
    return f"model.layers.{layer}.{HF_LAYER[rest]}"


def write_safetensors(path: str, arrays: dict, dtype: str) -> None:
    """A .safetensors file (8-byte header size, JSON header, raw data) with every array stored as dtype."""
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(arrays):
        if isinstance(arrays[name], np.ndarray) and arrays[name].dtype == np.uint8:   # packed BitNet weights
            arr, raw, st_dtype = arrays[name], arrays[name].tobytes(), "U8"
        else:
            arr = np.ascontiguousarray(arrays[name], dtype=np.float32)
            raw = arr.tobytes() if dtype == "f32" else arr.astype(np.float16).tobytes() if dtype == "f16" \
                else quantize(arr, "bf16")
            st_dtype = SAFETENSORS_DTYPES[dtype]
        header[name] = {"dtype": st_dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head)
        for chunk in chunks:
            f.write(chunk)


def write_hf_folder(path: str, cfg: ModelConfig, weights: dict, dtype: str = "f32", tokenizer_json: dict = None,
                    shards: int = 1, tokenizer_config: dict = None, rope_scaling: dict = None) -> None:
    """A Hugging Face model folder: config.json, model.safetensors (or shards + index), tokenizer files.

    weights are taken as HF stores them (neox rope layout).  tokenizer_config defaults to {} when a
    tokenizer_json is given; rope_scaling goes into config.json as is.
    """
    os.makedirs(path, exist_ok=True)
    _write_json(os.path.join(path, "config.json"), _hf_config(cfg, dtype, rope_scaling))
    named = {hf_name(n): w for n, w in weights.items() if not (cfg.tied_embeddings and n == "output.weight")}
    names = sorted(named)
    if shards == 1:
        write_safetensors(os.path.join(path, "model.safetensors"), named, dtype)
    else:
        weight_map = {}
        for i in range(shards):
            file = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
            part = names[i::shards]
            write_safetensors(os.path.join(path, file), {n: named[n] for n in part}, dtype)
            weight_map.update({n: file for n in part})
        _write_json(os.path.join(path, "model.safetensors.index.json"),
                    {"metadata": {"total_size": sum(named[n].size for n in names)}, "weight_map": weight_map})
    if tokenizer_json is not None:
        _write_json(os.path.join(path, "tokenizer.json"), tokenizer_json)
        _write_json(os.path.join(path, "tokenizer_config.json"), tokenizer_config or {})


def _hf_config(cfg: ModelConfig, dtype: str, rope_scaling: dict = None) -> dict:
    """config.json contents for cfg."""
    config = {
        "architectures": [HF_ARCHITECTURES.get(cfg.arch, cfg.arch)], "model_type": cfg.arch,
        "hidden_size": cfg.dim, "intermediate_size": cfg.hidden_dim, "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads, "num_key_value_heads": cfg.n_kv_heads,
        "rms_norm_eps": cfg.norm_eps, "rope_theta": cfg.rope_theta, "tie_word_embeddings": cfg.tied_embeddings,
        "vocab_size": cfg.vocab_size, "max_position_embeddings": cfg.max_seq_len, "hidden_act": cfg.ffn_act,
        "torch_dtype": TORCH_DTYPES[dtype], "rope_scaling": rope_scaling,
    }
    if cfg.head_dim * cfg.n_heads != cfg.dim:
        config["head_dim"] = cfg.head_dim
    return config


BITLINEAR_TENSORS = ("attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                     "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight")


def pack_bitnet_codes(codes: np.ndarray) -> np.ndarray:
    """codes uint8 [rows, cols] in {0,1,2} -> uint8 [rows/4, cols]: row i*rows/4 + p at bits 2i of row p."""
    quarter = codes.shape[0] // 4
    parts = codes.reshape(4, quarter, codes.shape[1]).astype(np.uint8)
    return (parts[0] | (parts[1] << 2) | (parts[2] << 4) | (parts[3] << 6)).astype(np.uint8)


def bitnet_make_config(**overrides) -> ModelConfig:
    """A tiny BitNet b1.58 config: dim 128, FFN 192 (multiples of 64 for tq2), relu2, sub-norms, neox rope."""
    base = dict(arch="bitnet", dim=128, hidden_dim=192, n_heads=4, n_kv_heads=2, ffn_act="relu2", sub_norms=True,
                rope_layout="neox", name="tiny-bitnet")
    base.update(overrides)
    return make_tiny_config(**base)


def write_bitnet_hf_folder(path: str, cfg: ModelConfig, weights: dict, tokenizer_json: dict = None,
                           packed: bool = True, linear_class: str = "autobitlinear") -> dict:
    """A BitNetForCausalLM folder.  packed: each BitLinear matrix is ternarized (absmean per tensor, as
    BitNet's WeightQuant) and stored as uint8 [rows/4, cols] with a bf16 weight_scale that multiplies
    (autobitlinear) or divides (bitlinear) the weights; otherwise the float master weights are stored.
    Returns GGUF name -> the float matrix the checkpoint represents (for tests)."""
    os.makedirs(path, exist_ok=True)
    config = _hf_config(cfg, "bf16")
    if packed:
        config["quantization_config"] = {"quant_method": "bitnet", "linear_class": linear_class,
                                         "quantization_mode": "offline"}
    _write_json(os.path.join(path, "config.json"), config)
    arrays, represented = {}, {}
    for name, w in weights.items():
        if cfg.tied_embeddings and name == "output.weight":
            continue
        short = name.split(".", 2)[-1]
        if packed and short in BITLINEAR_TENSORS:
            scale = _bf16_round(float(np.abs(w).astype(np.float64).mean()))
            codes = (np.clip(np.round(w / np.float32(scale)), -1, 1) + 1).astype(np.uint8)
            arrays[hf_name(name)] = pack_bitnet_codes(codes)
            stored = scale if linear_class == "autobitlinear" else _bf16_round(1.0 / scale)
            arrays[hf_name(name) + "_scale"] = np.float32([stored])   # written as bf16, exact
            effective = stored if linear_class == "autobitlinear" else 1.0 / stored
            represented[name] = (codes.astype(np.float32) - 1) * np.float32(effective)
        else:
            arrays[hf_name(name)] = w
            represented[name] = w
    write_safetensors(os.path.join(path, "model.safetensors"), arrays, "bf16")
    if tokenizer_json is not None:
        _write_json(os.path.join(path, "tokenizer.json"), tokenizer_json)
        _write_json(os.path.join(path, "tokenizer_config.json"), {})
    return represented


def _bf16_round(v: float) -> float:
    """v rounded to bfloat16 (round to nearest even), as a float."""
    u = int(np.float32(v).view(np.uint32))
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return float(np.uint32(u).view(np.float32))


def _write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)


# ---- llama2.c ----

LLAMA2C_MAGIC = 0x616B3432


def write_llama2c(path: str, cfg: ModelConfig, weights: dict, version: int = 0) -> None:
    """A run.c checkpoint: legacy v0 (7-int header, negative vocab = untied) or version 1 (256-byte header)."""
    if cfg.arch != "llama" or cfg.qkv_bias or cfg.rope_layout != "interleaved" or cfg.rope_freq_factors \
            or cfg.head_dim * cfg.n_heads != cfg.dim or cfg.rope_theta != 10000.0:
        raise ValueError("llama2.c stores only plain llama models (interleaved rope, theta 10000, no biases)")
    if version not in (0, 1):
        raise ValueError("llama2.c writer supports versions 0 and 1")

    def layers(suffix):
        return [weights[f"blk.{i}.{suffix}"] for i in range(cfg.n_layers)]

    params = [cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.vocab_size, cfg.max_seq_len]
    attention = layers("attn_q.weight") + layers("attn_k.weight") + layers("attn_v.weight") \
        + layers("attn_output.weight")
    ffn = layers("ffn_gate.weight") + layers("ffn_down.weight") + layers("ffn_up.weight")  # w1, w2, w3
    if version == 0:
        if not cfg.tied_embeddings:
            params[5] = -params[5]
        header = struct.pack("<7i", *params)
        pairs = np.arange(cfg.head_dim // 2)
        angles = np.outer(np.arange(cfg.max_seq_len), 1.0 / 10000.0 ** (2 * pairs / cfg.head_dim))
        arrays = ([weights["token_embd.weight"]] + layers("attn_norm.weight") + attention
                  + layers("ffn_norm.weight") + ffn + [weights["output_norm.weight"], np.cos(angles), np.sin(angles)])
    else:
        header = struct.pack("<Ii7iB", LLAMA2C_MAGIC, 1, *params, int(cfg.tied_embeddings)).ljust(256, b"\0")
        arrays = (layers("attn_norm.weight") + layers("ffn_norm.weight")
                  + [weights["output_norm.weight"], weights["token_embd.weight"]] + attention + ffn)
    if not cfg.tied_embeddings:
        arrays.append(weights["output.weight"])
    with open(path, "wb") as f:
        f.write(header)
        for a in arrays:
            f.write(np.ascontiguousarray(a, dtype=np.float32).tobytes())


def write_llama2c_tokenizer(path: str, tok: TokenizerIR) -> None:
    """A run.c tokenizer.bin: int32 max_token_length, then per token f32 score, int32 length, bytes."""
    pieces = [t.replace("\u2581", " ").encode("utf-8") for t in tok.tokens]
    scores = tok.scores or [0.0] * len(pieces)
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max(len(p) for p in pieces)))
        for piece, score in zip(pieces, scores):
            f.write(struct.pack("<fi", score, len(piece)) + piece)


# ---- tokenizers ----

def bytes_to_unicode() -> dict:
    """GPT-2's byte -> printable character map used by byte-level BPE vocabularies."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) \
        + list(range(ord("\u00ae"), ord("\u00ff") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


# Merges in rank order; each part exists before the merge that uses it ("\u0120" is a byte-level space).
TINY_MERGES = [
    "Ġ t", "h e", "i n", "Ġ a", "e r", "o n", "Ġt he", "r e", "a n", "o u", "Ġ s", "Ġ w", "e n", "a t",
    "Ġ o", "i s", "Ġ h", "e d", "Ġ b", "i t", "o r", "Ġ c", "a r", "Ġ m", "l l", "Ġ f", "in g", "Ġ i",
    "Ġ d", "Ġ p", "l e", "Ġt o", "Ġa n", "Ġan d", "Ġo f", "Ġw h", "Ġ l", "Ġ n", "Ġ g", "Ġ e", "Ġ y",
]
TINY_CONTROL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def tiny_tokenizer_gpt2() -> tuple:
    """(TokenizerIR, tokenizer.json dict) of a 300-token byte-level BPE with SmolLM's pre-tokenizer:
    ids 0-2 control tokens (<|endoftext|>, <|im_start|> = bos, <|im_end|> = eos), 3-258 the bytes
    in byte order, 259-299 the merges' results; ChatML chat template."""
    byte_chars = bytes_to_unicode()
    tokens = TINY_CONTROL_TOKENS + [byte_chars[b] for b in range(256)] + [m.replace(" ", "") for m in TINY_MERGES]
    types = [3] * len(TINY_CONTROL_TOKENS) + [1] * (len(tokens) - len(TINY_CONTROL_TOKENS))
    tok = TokenizerIR(kind="gpt2", tokens=tokens, token_types=types, merges=list(TINY_MERGES), pre="smollm",
                      bos_id=1, eos_id=2, add_bos=False, add_space_prefix=False, chat_template=CHATML_TEMPLATE)
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    tokenizer_json = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, t in enumerate(TINY_CONTROL_TOKENS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": True}, byte_level]},
        "post_processor": byte_level, "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "vocab": {t: i for i, t in enumerate(tokens)}, "merges": list(TINY_MERGES)},
    }
    return tok, tokenizer_json


def write_tiny_gguf(path, cfg: ModelConfig, fmt_by_tensor="f32", seed: int = 0, weights: dict = None):
    """write_gguf of cfg with the tiny GPT-2 tokenizer and weights (default: random_weights(cfg, seed));
    returns path."""
    tok, _ = tiny_tokenizer_gpt2()
    write_gguf(path, cfg, random_weights(cfg, seed=seed) if weights is None else weights, fmt_by_tensor, tok)
    return path


def hf_tokenizer_config(tok: TokenizerIR) -> dict:
    """tokenizer_config.json for a TokenizerIR (special tokens by text, add_bos, chat template)."""
    config = {"add_bos_token": tok.add_bos, "chat_template": tok.chat_template}
    if tok.bos_id >= 0:
        config["bos_token"] = tok.tokens[tok.bos_id]
    if tok.eos_id >= 0:
        config["eos_token"] = tok.tokens[tok.eos_id]
    return config


TINY_PIECES = [
    "▁", "e", "t", "a", "o", "h", "n", "s", "i", "r", "d", "l", "▁t", "he", "in", "▁a", "er", "on",
    "▁the", "re", "an", "ou", "▁s", "▁w", "en", "at", "▁o", "is", "▁h", "ed", "▁b", "it", "or", "ing",
    "▁to", "▁an", "▁and", "▁of", "ll", "le", "▁i",
]


def tiny_tokenizer_sentencepiece() -> TokenizerIR:
    """A 300-token SentencePiece-style vocab in llama2.c order: <unk>, <s>, </s>, <0x00>..<0xFF>,
    then 41 pieces scored -rank (single characters first)."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + TINY_PIECES
    types = [2, 3, 3] + [6] * 256 + [1] * len(TINY_PIECES)
    scores = [0.0] * 259 + [-float(i) for i in range(len(TINY_PIECES))]
    return TokenizerIR(kind="sentencepiece", tokens=tokens, token_types=types, scores=scores, bos_id=1, eos_id=2,
                       unk_id=0, add_bos=True, add_space_prefix=True)


def mixed_dense_gguf(path, seed: int):
    """A tiny model whose matmuls take every dense kernel: q4_0, q8_0 and f16 layers, a q4_1 classifier.
    Returns (path, config)."""
    cfg = make_tiny_config(n_layers=3)
    weights = random_weights(cfg, seed=seed)
    per_layer = {"blk.0.": "q4_0", "blk.1.": "q8_0", "blk.2.": "f16"}
    fmts = {n: "f32" if a.ndim == 1 else "q4_1" if n == "output.weight" else
            next((f for p, f in per_layer.items() if n.startswith(p)), "q8_0") for n, a in weights.items()}
    return write_tiny_gguf(path, cfg, fmts, weights=weights), cfg
