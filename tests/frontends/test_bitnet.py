"""BitNet b1.58 checkpoints (Hugging Face BitNetForCausalLM safetensors): unpacking, the forward pass
(relu2 FFN, attention/FFN sub-norms) and compiled programs against the reference.

The tiny checkpoints are written by tiny_models.write_bitnet_hf_folder; the unpacking is also
checked against the example in transformers' integrations/bitnet.py docstring, which is independent
of our packer.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from conftest import compile_artifact
from edgec.frontends.bitnet_reader import unpack_codes
from edgec.errors import EdgecError
from edgec.frontends.load_model import load_model
from edgec.ir.model_ir import tensor_to_f32
from edgec.ir.reference import Reference
from tiny_models import (bitnet_make_config, pack_bitnet_codes, random_weights, tiny_tokenizer_gpt2,
                         write_bitnet_hf_folder, write_safetensors)
from test_compile_tiny import check_against_reference


def test_unpack_matches_transformers_docstring_example():
    packed = np.array([[0b10100001, 0b00011000], [0b10010000, 0b00001010]], dtype=np.uint8)
    want = np.array([[0, -1], [-1, 1], [-1, 1], [-1, 1], [1, 0], [0, -1], [1, -1], [1, -1]])
    assert np.array_equal(unpack_codes(packed).astype(int) - 1, want)


def test_pack_unpack_round_trip():
    codes = np.random.default_rng(0).integers(0, 3, size=(64, 96)).astype(np.uint8)
    assert np.array_equal(unpack_codes(pack_bitnet_codes(codes)), codes)


@pytest.mark.parametrize("linear_class", ["autobitlinear", "bitlinear"])
def test_packed_checkpoint_loads_as_tq2(tmp_path, linear_class):
    cfg = bitnet_make_config()
    represented = write_bitnet_hf_folder(tmp_path, cfg, random_weights(cfg, seed=3), linear_class=linear_class)
    ir = load_model(str(tmp_path))
    assert ir.config.ffn_act == "relu2" and ir.config.sub_norms and ir.config.arch == "bitnet"
    ternary = [n for n, t in ir.tensors.items() if t.fmt == "tq2"]
    assert len(ternary) == 7 * cfg.n_layers
    for name in ternary:
        got, want = tensor_to_f32(ir.tensors[name]), represented[name]
        if linear_class == "autobitlinear":   # a bf16 scale is exact in tq2's fp16 d
            assert np.array_equal(got, want), name
        else:                                 # 1/scale is rounded to fp16
            np.testing.assert_allclose(got, want, rtol=1e-3, atol=0)
    assert ir.tensors["blk.0.attn_sub_norm.weight"].shape == (cfg.n_heads * cfg.head_dim,)
    assert ir.tensors["blk.1.ffn_sub_norm.weight"].shape == (cfg.hidden_dim,)


def test_float_master_weights_are_ternarized_per_tensor(tmp_path):
    cfg = bitnet_make_config()
    weights = random_weights(cfg, seed=4)
    write_bitnet_hf_folder(tmp_path, cfg, weights, packed=False)
    ir = load_model(str(tmp_path))
    w = weights["blk.1.ffn_up.weight"]
    w = ((w.view(np.uint32) + 0x7FFF + ((w.view(np.uint32) >> 16) & 1)) & 0xFFFF0000).view(np.float32)  # as bf16
    scale = np.float32(np.abs(w).astype(np.float64).mean())
    want = np.clip(np.round(w / scale), -1, 1) * np.float16(scale).astype(np.float32)
    got = tensor_to_f32(ir.tensors["blk.1.ffn_up.weight"])
    assert np.array_equal(got, want)
    assert set(np.unique(got / np.float16(scale).astype(np.float32))) <= {-1.0, 0.0, 1.0}


def _rmsnorm(x, w, eps):
    return x / np.sqrt(np.mean(x.astype(np.float64) ** 2, axis=-1, keepdims=True) + eps) * w


def _bitnet_forward(cfg, w, tokens):
    """Independent numpy forward of HF modeling_bitnet (float, no KV cache): Llama attention with
    rotate_half RoPE, attn_sub_norm before o_proj, down_proj(ffn_sub_norm(relu(gate)^2 * up))."""
    T, hd = len(tokens), cfg.head_dim
    x = w["token_embd.weight"][tokens].astype(np.float64)
    inv = cfg.rope_theta ** (-np.arange(0, hd, 2) / hd)
    ang = np.arange(T)[:, None] * inv[None, :]
    cos, sin = np.concatenate([np.cos(ang)] * 2, -1), np.concatenate([np.sin(ang)] * 2, -1)
    rot = lambda v: v * cos[:, None] + np.concatenate([-v[..., hd // 2:], v[..., :hd // 2]], -1) * sin[:, None]  # noqa: E731
    for i in range(cfg.n_layers):
        p = lambda n: w[f"blk.{i}.{n}.weight"]  # noqa: E731
        h = _rmsnorm(x, p("attn_norm"), cfg.norm_eps)
        q = rot((h @ p("attn_q").T).reshape(T, cfg.n_heads, hd))
        k = rot((h @ p("attn_k").T).reshape(T, cfg.n_kv_heads, hd))
        v = (h @ p("attn_v").T).reshape(T, cfg.n_kv_heads, hd)
        rep = cfg.n_heads // cfg.n_kv_heads
        k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
        s = np.einsum("thd,shd->hts", q, k) / math.sqrt(hd)
        s = np.where(np.triu(np.ones((T, T), bool), 1)[None], -np.inf, s)
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        att = np.einsum("hts,shd->thd", a, v).reshape(T, -1)
        x = x + _rmsnorm(att, p("attn_sub_norm"), cfg.norm_eps) @ p("attn_output").T
        h = _rmsnorm(x, p("ffn_norm"), cfg.norm_eps)
        ffn = np.maximum(h @ p("ffn_gate").T, 0) ** 2 * (h @ p("ffn_up").T)
        x = x + _rmsnorm(ffn, p("ffn_sub_norm"), cfg.norm_eps) @ p("ffn_down").T
    return _rmsnorm(x, w["output_norm.weight"], cfg.norm_eps) @ w["output.weight"].T


def test_reference_matches_independent_bitnet_forward(tmp_path):
    cfg = bitnet_make_config()
    write_bitnet_hf_folder(tmp_path, cfg, random_weights(cfg, seed=5))
    ir = load_model(str(tmp_path))
    floats = {n: tensor_to_f32(t).astype(np.float64) for n, t in ir.tensors.items()}
    tokens = [1, 7, 42, 99, 250]
    want = _bitnet_forward(ir.config, floats, tokens)
    got = Reference(ir).forward(tokens)
    np.testing.assert_allclose(got, want, atol=2e-4 * np.abs(want).max())


@pytest.mark.parametrize("target", ["host", "generic"])
def test_compiled_bitnet_matches_reference(tmp_path, target):
    cfg = bitnet_make_config()
    _, tok_json = tiny_tokenizer_gpt2()
    model = tmp_path / "bitnet"
    write_bitnet_hf_folder(model, cfg, random_weights(cfg, seed=6), tokenizer_json=tok_json)
    res = compile_artifact(model, tmp_path / "out", target=target, ctx=128)
    check_against_reference(model, res.binary, tmp_path)
    source = (tmp_path / "out" / "firmware" / "model.c").read_text()
    assert "relu2_mul(" in source and "lw->attn_sub_norm" in source and "lw->ffn_sub_norm" in source
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["model"]["ffn_act"] == "relu2" and manifest["model"]["sub_norms"] is True


def _edit_checkpoint(path: Path, name: str, array) -> None:
    """Rewrite model.safetensors with one tensor replaced (bf16 for floats, U8 kept)."""
    arrays = {}
    header_len = int.from_bytes((path / "model.safetensors").read_bytes()[:8], "little")
    header = json.loads((path / "model.safetensors").read_bytes()[8:8 + header_len])
    raw = (path / "model.safetensors").read_bytes()[8 + header_len:]
    for k, v in header.items():
        if k == "__metadata__":
            continue
        b, e = v["data_offsets"]
        if v["dtype"] == "U8":
            arrays[k] = np.frombuffer(raw[b:e], np.uint8).reshape(v["shape"])
        else:
            arrays[k] = (np.frombuffer(raw[b:e], np.uint16).astype(np.uint32) << 16).view(np.float32).reshape(v["shape"])
    if array is None:
        del arrays[name]
    else:
        arrays[name] = array
    write_safetensors(str(path / "model.safetensors"), arrays, "bf16")


def test_bad_bitnet_checkpoints_give_one_line_errors(tmp_path):
    cfg = bitnet_make_config()
    write_bitnet_hf_folder(tmp_path, cfg, random_weights(cfg, seed=7))
    name = "model.layers.0.mlp.up_proj.weight"
    _edit_checkpoint(tmp_path, name + "_scale", None)
    with pytest.raises(EdgecError, match="no .*_scale tensor"):
        load_model(str(tmp_path))
    write_bitnet_hf_folder(tmp_path, cfg, random_weights(cfg, seed=7))
    _edit_checkpoint(tmp_path, name, np.full((cfg.hidden_dim // 4, cfg.dim), 0xFF, np.uint8))
    with pytest.raises(EdgecError, match="code 3"):
        load_model(str(tmp_path))
    odd = bitnet_make_config(dim=96, n_heads=3)   # 96 columns: not a multiple of 64
    write_bitnet_hf_folder(tmp_path / "odd", odd, random_weights(odd, seed=7))
    with pytest.raises(EdgecError, match="multiple of 64") as e:
        load_model(str(tmp_path / "odd"))
    assert "\n" not in str(e.value)
