"""The numpy reference forward pass, checked against an independent float64 loop, a real model,
and (for mimic_kernels) a scalar re-implementation of the quantized dot products."""
import math
import os
import struct

import numpy as np
import pytest

from edgec.ir.block_formats import quantize
from edgec.frontends.load_model import load_model
from edgec.ir.model_ir import Tensor, tensor_to_f32
from edgec.ir.reference import QuantMatrix, Reference, quantize_activations
from tiny_models import make_tiny_config, random_weights, write_gguf

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "stories260K")


def tiny_ir(tmp_path, fmt="f32", seed=0, **overrides):
    cfg = make_tiny_config(**overrides)
    path = str(tmp_path / f"tiny-{fmt}.gguf")
    write_gguf(path, cfg, random_weights(cfg, seed), fmt)
    return load_model(path)


# ---------------- an independent float64 implementation ----------------

def loop_forward(ir, tokens):
    """Token by token, head by head, pair by pair, in float64: the same math written plainly."""
    c = ir.config
    w = {n: tensor_to_f32(t).astype(np.float64) for n, t in ir.tensors.items()}
    out_w = w["token_embd.weight"] if c.tied_embeddings else w["output.weight"]
    hd, group = c.head_dim, c.n_heads // c.n_kv_heads
    keys = [[] for _ in range(c.n_layers)]
    values = [[] for _ in range(c.n_layers)]

    def norm(x, weight):
        return x / math.sqrt(sum(v * v for v in x) / len(x) + c.norm_eps) * weight

    def rotate(vec, pos, n_heads):
        vec = vec.copy()
        for head in range(n_heads):
            base = head * hd
            for i in range(c.rope_dim // 2):
                freq = c.rope_theta ** (-2 * i / c.rope_dim)
                if c.rope_freq_factors is not None:
                    freq /= c.rope_freq_factors[i]
                a, b = (base + 2 * i, base + 2 * i + 1) if c.rope_layout == "interleaved" else \
                    (base + i, base + i + c.rope_dim // 2)
                cos, sin = math.cos(pos * freq), math.sin(pos * freq)
                vec[a], vec[b] = vec[a] * cos - vec[b] * sin, vec[a] * sin + vec[b] * cos
        return vec

    all_logits = []
    for pos, token in enumerate(tokens):
        x = w["token_embd.weight"][token].copy()
        for layer in range(c.n_layers):
            p = f"blk.{layer}."
            h = norm(x, w[p + "attn_norm.weight"])
            q, k, v = (w[p + f"attn_{n}.weight"] @ h for n in "qkv")
            if c.qkv_bias:
                q, k, v = q + w[p + "attn_q.bias"], k + w[p + "attn_k.bias"], v + w[p + "attn_v.bias"]
            q, k = rotate(q, pos, c.n_heads), rotate(k, pos, c.n_kv_heads)
            keys[layer].append(k)
            values[layer].append(v)
            att = np.zeros(c.n_heads * hd)
            for head in range(c.n_heads):
                kv = (head // group) * hd
                qh = q[head * hd:(head + 1) * hd]
                scores = [float(qh @ keys[layer][t][kv:kv + hd]) / math.sqrt(hd) for t in range(pos + 1)]
                top = max(scores)
                weights = [math.exp(s - top) for s in scores]
                total = sum(weights)
                for t in range(pos + 1):
                    att[head * hd:(head + 1) * hd] += weights[t] / total * values[layer][t][kv:kv + hd]
            x = x + w[p + "attn_output.weight"] @ att
            h = norm(x, w[p + "ffn_norm.weight"])
            gate, up = w[p + "ffn_gate.weight"] @ h, w[p + "ffn_up.weight"] @ h
            x = x + w[p + "ffn_down.weight"] @ (gate / (1 + np.exp(-gate)) * up)
        all_logits.append(out_w @ norm(x, w["output_norm.weight"]))
    return np.array(all_logits)


@pytest.mark.parametrize("overrides", [
    {},                                                           # llama, interleaved, GQA 4/2
    {"arch": "qwen2", "tied_embeddings": True},                   # neox, q/k/v biases, tied output
    {"n_kv_heads": 1, "rope_freq_factors": [1.0, 1.5, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]},  # MQA, scaled rope
    {"n_kv_heads": 4, "rope_theta": 500.0},                       # MHA, fast rotation
])
def test_reference_matches_float64_loop(tmp_path, overrides):
    ir = tiny_ir(tmp_path, "f32", seed=1, **overrides)
    tokens = [1, 17, 200, 45, 45, 299, 3, 128, 77, 9]
    got = Reference(ir).forward(tokens)
    want = loop_forward(ir, tokens)
    assert got.shape == (len(tokens), 300) and got.dtype == np.float32
    assert np.abs(want).max() > 1
    assert np.allclose(got, want, atol=2e-4 * np.abs(want).max(), rtol=0)


def test_reference_on_quantized_weights_matches_float64_loop(tmp_path):
    ir = tiny_ir(tmp_path, "q4_1", seed=2)
    tokens = [5, 6, 7, 250]
    want = loop_forward(ir, tokens)
    assert np.allclose(Reference(ir).forward(tokens), want, atol=2e-4 * np.abs(want).max(), rtol=0)


def test_batch_forward_equals_token_by_token_and_cache_rewinds(tmp_path):
    ir = tiny_ir(tmp_path, "q8_0", seed=3, arch="qwen2")
    prompt = [10, 20, 30, 40, 50, 60, 70]
    ref = Reference(ir)
    batch = ref.forward(prompt)
    assert ref.pos == len(prompt)
    ref.reset()
    steps = np.concatenate([ref.forward([t], start_pos=i) for i, t in enumerate(prompt)])
    assert np.allclose(batch, steps, atol=1e-5, rtol=1e-5)
    split = np.concatenate([ref.forward(prompt[:3], 0), ref.forward(prompt[3:], 3)])
    assert np.allclose(batch, split, atol=1e-5, rtol=1e-5)
    again = ref.forward(prompt[2:], start_pos=2)  # rewinding forgets positions 2.. and refills them
    assert np.allclose(batch[2:], again, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        ref.forward([1], start_pos=ref.pos + 1)


def test_greedy_returns_the_argmax_chain(tmp_path):
    ir = tiny_ir(tmp_path, "f32", seed=4)
    ref = Reference(ir)
    generated = ref.greedy([1, 2, 3], 6)
    assert len(generated) == 6
    seq = [1, 2, 3]
    for token in generated:
        assert token == int(np.argmax(loop_forward(ir, seq)[-1]))
        seq.append(token)


def test_stories260k_greedy_story():
    ir = load_model(os.path.join(FIXTURES, "stories260K.bin"), os.path.join(FIXTURES, "tok512.bin"))
    generated = Reference(ir).greedy([1], 40)
    text = "".join(ir.tokenizer.tokens[t] for t in generated).replace("\u2581", " ").lstrip(" ")
    assert text.startswith("Once upon a time, there was a little girl named Lily. "
                           "She loved to play outside in the park.")


# ---------------- mimic_kernels ----------------

def test_activation_quantization_rounds_half_away_from_zero():
    x = np.zeros((1, 32), np.float32)
    x[0, :6] = [127.0, 2.5, -2.5, 0.5, -0.5, 1.4999999]  # amax 127 -> d = 1, so x/d is exact
    q, d = quantize_activations(x)
    assert d[0, 0] == 1.0
    assert q[0, 0, :6].tolist() == [127, 3, -3, 1, -1, 1]
    q0, d0 = quantize_activations(np.zeros((2, 64), np.float32))
    assert not q0.any() and not d0.any()


def scalar_quant_dot(block_bytes, fmt, x):
    """One row . x, block by block from the raw bytes, as the C kernels do (q8 activations)."""
    total = np.float32(0)
    size = {"q8_0": 34, "q4_0": 18, "q4_1": 20}[fmt]
    for b in range(len(x) // 32):
        blk = block_bytes[b * size:(b + 1) * size]
        xs = x[b * 32:(b + 1) * 32]
        amax = max(abs(float(v)) for v in xs)
        dx = np.float32(np.float32(amax) / np.float32(127))
        inv = np.float32(1) / dx if dx != 0 else np.float32(0)
        qx = [int(math.copysign(math.floor(abs(float(np.float32(v) * inv)) + 0.5), float(v))) for v in xs]
        dw = np.float32(np.frombuffer(blk[0:2], np.float16)[0])
        if fmt == "q8_0":
            qw = list(struct.unpack("32b", blk[2:34]))
        else:
            packed = blk[4:20] if fmt == "q4_1" else blk[2:18]
            qw = [p & 15 for p in packed] + [p >> 4 for p in packed]
            if fmt == "q4_0":
                qw = [v - 8 for v in qw]
        isum = sum(a * b for a, b in zip(qw, qx))
        total += dw * dx * np.float32(isum)
        if fmt == "q4_1":
            mw = np.float32(np.frombuffer(blk[2:4], np.float16)[0])
            total += mw * (dx * np.float32(sum(qx)))
    return float(total)


@pytest.mark.parametrize("fmt", ["q8_0", "q4_0", "q4_1"])
def test_quant_matrix_matches_scalar_kernel(fmt):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((8, 96)).astype(np.float32)
    x = rng.standard_normal((3, 96)).astype(np.float32)
    x[1, 32:64] = 0  # an all-zero block (d = 0)
    data = quantize(w, fmt)
    got = QuantMatrix(data, fmt, w.shape).matmul(x)
    row_bytes = len(data) // 8
    want = np.array([[scalar_quant_dot(data[r * row_bytes:(r + 1) * row_bytes], fmt, x[t]) for r in range(8)]
                     for t in range(3)])
    assert np.allclose(got, want, rtol=1e-5, atol=1e-5)
    plain = x @ tensor_to_f32(Tensor("w", w.shape, fmt, data)).T
    assert not np.allclose(got, plain, rtol=1e-6, atol=1e-6)  # activation quantization is really applied
    assert np.allclose(got, plain, rtol=0.05, atol=0.05 * np.abs(plain).max())


def test_mimic_kernels_changes_only_quantized_matmuls(tmp_path):
    tokens = [3, 4, 5, 6]
    f32_ir = tiny_ir(tmp_path, "f32", seed=6)
    assert np.array_equal(Reference(f32_ir, mimic_kernels=True).forward(tokens), Reference(f32_ir).forward(tokens))
    q_ir = tiny_ir(tmp_path, "q8_0", seed=6)
    mimic, plain = Reference(q_ir, mimic_kernels=True).forward(tokens), Reference(q_ir).forward(tokens)
    assert not np.array_equal(mimic, plain)
    assert np.allclose(mimic, plain, atol=0.03 * np.abs(plain).max(), rtol=0)
