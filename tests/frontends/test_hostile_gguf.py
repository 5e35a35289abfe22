"""Hostile GGUF files (issue 8): bounded work, one-line EdgecErrors, nothing silently ignored.

Header attacks are written byte by byte (gguf.GGUFWriter cannot write a lie); value attacks are
tiny models written with tiny_models.write_gguf's metadata overrides.
"""
from __future__ import annotations

import struct
import time
import tracemalloc

import gguf
import numpy as np
import pytest
from gguf import GGUFValueType as VT

from conftest import compile_artifact
from edgec.errors import EdgecError
from edgec.tools.inspect_model import inspect_model
from edgec.frontends.load_model import load_model
from tiny_models import (make_tiny_config, random_weights, tiny_tokenizer_gpt2, tiny_tokenizer_sentencepiece,
                         write_gguf)
from test_compile_tiny import check_against_reference

FLOAT32_MAX = float(np.finfo(np.float32).max)


def gguf_string(s: bytes) -> bytes:
    return struct.pack("<Q", len(s)) + s


def gguf_header(n_tensors: int, n_kv: int) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", 3, n_tensors, n_kv)


def refused_quickly(path, load=load_model) -> str:
    """The one-line EdgecError of loading path, which must come within a second and 64 MiB."""
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(EdgecError) as info:
            load(str(path))
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert time.monotonic() - start < 1.0
    assert peak < 64 << 20, f"peak allocation {peak >> 20} MiB"
    message = str(info.value)
    assert message and "\n" not in message and "Traceback" not in message
    return message


ARCH_KV = gguf_string(b"general.architecture") + struct.pack("<I", VT.STRING) + gguf_string(b"llama")
HOSTILE_HEADERS = {
    # The 91-byte file: an array count of 2^62 that the stock reader loops on for ever.
    "array_count_2e62": gguf_header(0, 2) + ARCH_KV + gguf_string(b"a") + struct.pack("<IIQ", VT.ARRAY, VT.UINT8, 2**62),
    "array_of_strings_past_end": gguf_header(0, 1) + gguf_string(b"a") + struct.pack("<IIQ", VT.ARRAY, VT.STRING, 10**6),
    "nested_array": gguf_header(0, 1) + gguf_string(b"a") + struct.pack("<IIQIQ", VT.ARRAY, VT.ARRAY, 1, VT.UINT8, 0),
    "string_length_2e63": gguf_header(0, 1) + gguf_string(b"a") + struct.pack("<IQ", VT.STRING, 2**63),
    "key_length_past_end": gguf_header(0, 1) + struct.pack("<Q", 2**40) + bytes(64),
    "kv_count_2e60": gguf_header(0, 2**60) + ARCH_KV,
    "tensor_count_2e60": gguf_header(2**60, 1) + ARCH_KV,
    "tensor_dims_count_2e31": gguf_header(1, 1) + ARCH_KV + gguf_string(b"t") + struct.pack("<I", 2**31) + bytes(64),
    "tensor_type_unknown": gguf_header(1, 1) + ARCH_KV + gguf_string(b"t") + struct.pack("<IQIQ", 1, 4, 99, 0)
    + bytes(64),
    "tensor_dims_huge": gguf_header(1, 1) + ARCH_KV + gguf_string(b"t") + struct.pack("<IQQIQ", 2, 2**40, 2**40, 0, 0),
    "tensor_dim_zero": gguf_header(1, 1) + ARCH_KV + gguf_string(b"t") + struct.pack("<IQQIQ", 2, 0, 2**62, 0, 0),
    "tensor_offset_wraps": gguf_header(1, 1) + ARCH_KV + gguf_string(b"t")
    + struct.pack("<IQIQ", 1, 4, 0, 2**64 - 16) + bytes(64),
    "unknown_value_type": gguf_header(0, 1) + gguf_string(b"a") + struct.pack("<I", 99) + bytes(16),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_HEADERS))
def test_hostile_header_is_refused_quickly(tmp_path, name):
    path = tmp_path / f"{name}.gguf"
    path.write_bytes(HOSTILE_HEADERS[name])
    message = refused_quickly(path)
    assert "GGUF" in message


def test_inspect_refuses_the_array_count_file_quickly(tmp_path):
    """The issue's `edgec inspect` on the 2^62 array count ran past 60 s."""
    path = tmp_path / "a.gguf"
    path.write_bytes(HOSTILE_HEADERS["array_count_2e62"])
    assert len(HOSTILE_HEADERS["array_count_2e62"]) < 100
    refused_quickly(path, load=inspect_model)


def tiny(tmp_path, name="m.gguf", metadata=None, weights=None, cfg=None, tokenizer=None, fmt="f32"):
    """A tiny llama GGUF (gpt2 tokenizer) with metadata overrides; returns its path."""
    cfg = cfg or make_tiny_config()
    if tokenizer is None:
        tokenizer, _ = tiny_tokenizer_gpt2()
    path = tmp_path / name
    write_gguf(path, cfg, weights if weights is not None else random_weights(cfg, seed=0), fmt, tokenizer,
               metadata=metadata)
    return path


def test_tiny_baseline_loads(tmp_path):
    """The file every value attack starts from is valid: the attacks test the values, not the writer."""
    assert load_model(str(tiny(tmp_path))).config.n_layers == 2


@pytest.mark.parametrize("key, spec, words", [
    ("llama.block_count", (0, VT.UINT32), "n_layers = 0"),
    ("llama.block_count", (-1, VT.INT32), "n_layers = -1"),
    ("llama.block_count", (2**40, VT.UINT64), "layers"),
    ("llama.block_count", (3, VT.UINT32), "3 layers"),
    ("llama.block_count", ("2", VT.STRING), "integer"),
    ("llama.block_count", (2.0, VT.FLOAT32), "integer"),
    ("llama.block_count", ([2, 2], VT.ARRAY, VT.UINT32), "integer"),
    ("llama.attention.head_count", (0, VT.UINT32), "head_count"),
    ("llama.attention.head_count", (-4, VT.INT32), "head_count"),
    ("llama.attention.head_count_kv", (0, VT.UINT32), "head_count"),
    ("llama.attention.head_count_kv", (3, VT.UINT32), "attention shape"),
    ("llama.embedding_length", (2**40, VT.UINT64), "dim"),
    ("llama.feed_forward_length", (0, VT.UINT32), "hidden_dim = 0"),
    ("llama.vocab_size", (10**9, VT.UINT32), "vocab_size"),
    ("llama.context_length", (0, VT.UINT32), "max_seq_len = 0"),
    ("llama.context_length", (2**40, VT.UINT64), "max_seq_len"),
    ("llama.attention.layer_norm_rms_epsilon", (float("nan"), VT.FLOAT32), "epsilon"),
    ("llama.attention.layer_norm_rms_epsilon", (float("inf"), VT.FLOAT32), "epsilon"),
    ("llama.attention.layer_norm_rms_epsilon", (0.0, VT.FLOAT32), "epsilon"),
    ("llama.attention.layer_norm_rms_epsilon", (-1e-5, VT.FLOAT32), "epsilon"),
    ("llama.attention.layer_norm_rms_epsilon", (1e-60, VT.FLOAT64), "epsilon"),   # 0 in float32
    ("llama.attention.layer_norm_rms_epsilon", ("1e-5", VT.STRING), "number"),
    ("llama.rope.freq_base", (float("nan"), VT.FLOAT32), "frequency base"),
    ("llama.rope.freq_base", (float("-inf"), VT.FLOAT32), "frequency base"),
    ("llama.rope.freq_base", (0.0, VT.FLOAT32), "frequency base"),
    ("llama.rope.dimension_count", (8, VT.UINT32), "partial rotary"),
    ("llama.attention.value_length", (8, VT.UINT32), "value_length"),
    ("general.architecture", (["llama"], VT.ARRAY, VT.STRING), "string"),
    ("tokenizer.ggml.bos_token_id", (10**6, VT.UINT32), "bos_id"),
    ("tokenizer.ggml.bos_token_id", ("1", VT.STRING), "integer"),
    ("tokenizer.ggml.tokens", ([1, 2], VT.ARRAY, VT.UINT32), "array of strings"),
    ("tokenizer.ggml.tokens", ("a", VT.STRING), "array of strings"),
    ("tokenizer.ggml.merges", ([3], VT.ARRAY, VT.INT32), "array of strings"),
    ("tokenizer.ggml.token_type", ([-1] * 300, VT.ARRAY, VT.INT32), "token type -1"),
    ("tokenizer.ggml.token_type", ([7] * 300, VT.ARRAY, VT.INT32), "token type 7"),
    ("tokenizer.ggml.token_type", ([1] * 299, VT.ARRAY, VT.INT32), "299 token types"),
])
def test_hostile_value_is_refused(tmp_path, key, spec, words):
    message = refused_quickly(tiny(tmp_path, metadata={key: spec}))
    assert words in message, message


def test_missing_block_count(tmp_path):
    assert "block_count is missing" in refused_quickly(tiny(tmp_path, metadata={"llama.block_count": None}))


def test_tokenizer_larger_than_embedding_is_refused_at_load(tmp_path):
    tok, _ = tiny_tokenizer_gpt2()
    tok.tokens += [f"extra{i}" for i in range(5)]
    tok.token_types += [1] * 5
    message = refused_quickly(tiny(tmp_path, tokenizer=tok))
    assert "305 tokens" in message and "300 rows" in message


def sentencepiece_gguf(tmp_path, scores, score_type=VT.FLOAT64):
    tok = tiny_tokenizer_sentencepiece()
    return tiny(tmp_path, tokenizer=tok, metadata={"tokenizer.ggml.scores": (scores, VT.ARRAY, score_type)})


def test_f64_scores_beyond_float32_are_clamped(tmp_path):
    """Scores only rank merges; 1e300 in an f64 array becomes FLT_MAX (same rank), documented in gguf_reader."""
    scores = [0.0] * 259 + [1e300, -1e300] + [-float(i) for i in range(39)]
    ir = load_model(str(sentencepiece_gguf(tmp_path, scores)))
    assert ir.tokenizer.scores[259:262] == [FLOAT32_MAX, -FLOAT32_MAX, -0.0]


def test_infinite_f32_score_is_clamped(tmp_path):
    scores = [0.0] * 298 + [float("inf"), float("-inf")]
    ir = load_model(str(sentencepiece_gguf(tmp_path, scores, VT.FLOAT32)))
    assert ir.tokenizer.scores[298:] == [FLOAT32_MAX, -FLOAT32_MAX]


def test_nan_score_is_refused(tmp_path):
    scores = [0.0] * 299 + [float("nan")]
    assert "score nan" in refused_quickly(sentencepiece_gguf(tmp_path, scores, VT.FLOAT32))


def test_extra_layer_tensor_is_refused(tmp_path):
    """blk.99.* in a 2-layer model used to crash autotune during compile; now it is refused at load."""
    cfg = make_tiny_config()
    weights = random_weights(cfg, seed=0)
    weights["blk.99.attn_q.weight"] = weights["blk.0.attn_q.weight"]
    message = refused_quickly(tiny(tmp_path, weights=weights))
    assert "blk.99.attn_q.weight" in message and "n_layers = 2" in message


@pytest.mark.parametrize("name, shape", [("blk.0.attn_q_norm.weight", (16,)), ("token_embd_norm.weight", (64,))])
def test_unused_tensor_is_refused(tmp_path, name, shape):
    """A tensor the forward pass does not read means a feature edgec lacks (e.g. Qwen3's q_norm)."""
    cfg = make_tiny_config()
    weights = random_weights(cfg, seed=0)
    weights[name] = np.ones(shape, np.float32)
    message = refused_quickly(tiny(tmp_path, weights=weights))
    assert name in message and "does not implement" in message


def tensor_offset_positions(path) -> dict:
    """tensor name -> byte position of its data-offset field in the tensor info."""
    reader = gguf.GGUFReader(str(path))
    return {t.name: t.field.offset + sum(int(p.nbytes) for p in t.field.parts[:-1]) for t in reader.tensors}


def test_overlapping_tensors_are_refused(tmp_path):
    path = tiny(tmp_path)
    positions = tensor_offset_positions(path)
    blob = bytearray(path.read_bytes())
    offset_of_q = blob[positions["blk.0.attn_q.weight"]:positions["blk.0.attn_q.weight"] + 8]
    at = positions["blk.0.attn_k.weight"]
    blob[at:at + 8] = offset_of_q   # k now reads q's bytes (its size fits inside q's)
    path.write_bytes(bytes(blob))
    message = refused_quickly(path)
    assert "overlap" in message


@pytest.mark.parametrize("offset", [2**64 - 32, 2**63])
def test_wrapping_tensor_offset_is_refused(tmp_path, offset):
    path = tiny(tmp_path)
    at = tensor_offset_positions(path)["blk.1.ffn_up.weight"]
    blob = bytearray(path.read_bytes())
    blob[at:at + 8] = struct.pack("<Q", offset)
    path.write_bytes(bytes(blob))
    assert "GGUF" in refused_quickly(path)


@pytest.mark.parametrize("key, spec", [
    ("llama.attn_logit_softcapping", (50.0, VT.FLOAT32)),
    ("llama.final_logit_softcapping", (30.0, VT.FLOAT32)),
    ("llama.attention.sliding_window", (4096, VT.UINT32)),
    ("llama.rope.dimension_sections", ([8, 8, 0, 0], VT.ARRAY, VT.INT32)),
    ("llama.attention.scale", (0.5, VT.FLOAT32)),
    ("llama.embedding_scale", (12.0, VT.FLOAT32)),
    ("llama.residual_scale", (0.22, VT.FLOAT32)),
    ("llama.logit_scale", (0.1, VT.FLOAT32)),
    ("llama.expert_count", (8, VT.UINT32)),
    ("llama.expert_count", ("8", VT.STRING)),
    ("llama.attention.layer_norm_epsilon", (1e-5, VT.FLOAT32)),
    ("llama.attention.causal", (False, VT.BOOL)),
    ("llama.use_parallel_residual", (True, VT.BOOL)),
    ("llama.rope.scaling.attn_factor", (0.5, VT.FLOAT32)),
    ("llama.rope.freq_base_swa", (10000.0, VT.FLOAT32)),
    ("llama.some_future_key", (1, VT.UINT32)),
])
def test_math_changing_key_is_refused(tmp_path, key, spec):
    message = refused_quickly(tiny(tmp_path, metadata={key: spec}))
    assert key in message and "does not implement" in message


@pytest.mark.parametrize("key, spec", [
    ("llama.expert_count", (0, VT.UINT32)),
    ("llama.expert_used_count", (0, VT.UINT32)),
    ("llama.attention.causal", (True, VT.BOOL)),
    ("llama.attention.sliding_window", (0, VT.UINT32)),
    ("llama.rope.scaling.attn_factor", (1.0, VT.FLOAT32)),
    ("llama.rope.scaling.original_context_length", (4096, VT.UINT32)),
    ("general.sampling.temp", (0.7, VT.FLOAT32)),
])
def test_neutral_or_informational_key_is_accepted(tmp_path, key, spec):
    assert load_model(str(tiny(tmp_path, metadata={key: spec}))).config.n_layers == 2


def test_qwen2_without_qkv_biases_runs_as_zero_biases(tmp_path):
    """llama.cpp treats qwen2's attn_{q,k,v}.bias as optional; edgec reads a missing one as zeros."""
    cfg = make_tiny_config(arch="qwen2")
    weights = {n: w for n, w in random_weights(cfg, seed=4).items() if not n.endswith(".bias")}
    del_one = tiny(tmp_path, "some.gguf", cfg=cfg, weights={n: w for n, w in random_weights(cfg, seed=4).items()
                                                           if n != "blk.1.attn_k.bias"})
    assert not load_model(str(del_one)).tensors["blk.1.attn_k.bias"].data.strip(b"\0")
    path = tiny(tmp_path, "nobias.gguf", cfg=cfg, weights=weights, fmt="q8_0")
    ir = load_model(str(path))
    for layer in range(cfg.n_layers):
        for p, rows in (("q", 64), ("k", 32), ("v", 32)):
            t = ir.tensors[f"blk.{layer}.attn_{p}.bias"]
            assert t.shape == (rows,) and t.fmt == "f32" and t.data == bytes(4 * rows)
    res = compile_artifact(path, tmp_path / "out", ctx=128)
    check_against_reference(path, res.binary, tmp_path)
