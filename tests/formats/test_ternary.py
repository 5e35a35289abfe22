"""Ternary weights end to end: GGUF TQ2_0 / TQ1_0 read bit-exactly, edgec's own tq2 (--quant tq2),
the C kernels under every compiler / ISA level, and compiled tiny models against the reference.

The C test (tests/c/test_kernels_ternary.c) checks the kernels against its own encoders and a
double-precision reference, built for x86 and AArch64 (run under qemu-aarch64).  Here the Python side
is checked against gguf.quants (the reference implementation GGUF files are written with) and against
small independent decoders written below;
compiled programs are compared with Reference(mimic_kernels=True) as tests/test_compile_tiny.py does.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gguf import GGMLQuantizationType as QT
from gguf import quants

from conftest import compile_artifact
from edgec.ir.block_formats import dequantize, quantize, ternary_codes
from edgec.frontends.load_model import load_model
from edgec.ir.model_ir import FORMATS, expected_shapes
from edgec.plan.quantize_model import TERNARY_WARNING, quantize_ir
from edgec.ir.reference import QuantMatrix, quantize_activations
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf, write_hf_folder
from test_compile_tiny import check_against_reference
from kernel_builds import CLANG_NEON, NEON, CTest, builds

# The whole C test runs under qemu for gcc, the Pi targets' compiler; clang only builds it warning-free
# (its NEON builds run the model shapes in tests/kernels/test_kernels_neon_ternary.py).
C_TEST = CTest("test_kernels_ternary.c", "EDGEC_TERNARY_ISA", build_only=CLANG_NEON)
runs = C_TEST.fixture()


@pytest.mark.parametrize("build", builds(
    "gcc-native", "clang-native", "gcc-avx2", "clang-avx2", "gcc-scalar", "gcc-scalar-native",
    # AVX-512 without VNNI (maddubs) and without GFNI (shift + mask code unpacking)
    "gcc-native-novnni-nogfni", "clang-asan-ubsan-native", "clang-asan-ubsan-avx2", *NEON), ids=str)
def test_c_kernels_build_and_pass(runs, build):
    passed = C_TEST.passed(runs, build)
    assert passed is None or passed > 400, f"only {passed} checks ran"


# ---- tq2: edgec's own format ---------------------------------------------------------------

def tq2_codes_by_definition(raw: bytes, n_blocks: int) -> tuple:
    """(codes [n_blocks, 64], d fp16 [n_blocks]) read byte by byte from the documented layout:
    fp16 d, then qs[16]; code j = (qs[j & 15] >> 2*(j >> 4)) & 3."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(n_blocks, 18)
    d = blocks[:, 0:2].copy().view(np.float16)[:, 0]
    codes = np.array([[(blk[2 + (j & 15)] >> (2 * (j >> 4))) & 3 for j in range(64)] for blk in blocks])
    return codes, d


def test_tq2_quantize_follows_the_definition():
    """One scale per row: d = mean|x| over the row (float64 mean -> float32 -> fp16) in every block of
    the row, codes = clip(round_half_away(x / d32), -1, 1) + 1 against the float32 d."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((6, 192)) * rng.uniform(0.01, 3, size=(6, 1))).astype(np.float32)
    x[2] = 0                   # an all-zero row
    x[4, 64:128] = 0           # an all-zero block in a row that is not: it takes the row's d, codes 1
    x[3] = 0.5                 # a constant row: every x/d is exactly 1
    x[5, :3] = [7.0, -7.0, 0.0]
    raw = quantize(x, "tq2")
    assert len(raw) == 6 * 3 * 18
    codes, d = tq2_codes_by_definition(raw, 18)
    codes, d = codes.reshape(6, 192), d.reshape(6, 3)
    assert set(np.unique(codes)) <= {0, 1, 2}, "code 3 must never be written"
    absmean = np.abs(x.astype(np.float64)).mean(axis=1)
    assert np.array_equal(d, np.repeat(absmean.astype(np.float32).astype(np.float16)[:, None], 3, axis=1)), \
        "d must be mean|x| of the row, as fp16, in every block of the row"
    for r in range(6):
        if absmean[r] == 0:
            assert (d[r] == 0).all() and (codes[r] == 1).all(), "an all-zero row is d = 0, all codes 1"
            continue
        q = x[r].astype(np.float64) / np.float32(absmean[r])
        want = np.clip(np.where(q >= 0, np.floor(q + 0.5), -np.floor(-q + 0.5)), -1, 1) + 1   # round half away
        assert np.array_equal(codes[r], want), f"row {r}: codes differ from clip(round(x/d)) + 1"
    assert (codes[3] == 2).all(), "x == d must give t = +1"
    assert (codes[4, 64:128] == 1).all() and d[4, 1] == d[4, 0] != 0
    assert list(codes[5, :3]) == [2, 0, 1]
    assert quantize(x.copy(), "tq2") == raw, "quantization must be deterministic"
    assert quantize(x[1], "tq2") == raw[3 * 18:6 * 18], "a 1-D array is one row"
    assert quantize(x.reshape(2, 3, 192), "tq2") == raw, "the last axis is the row"
    # dequantize gives d * (code - 1), and the reference reads the same codes
    w = dequantize(raw, "tq2", x.shape)
    assert np.array_equal(w, d.astype(np.float32)[:, :1] * (codes.astype(np.float32) - 1))
    c2, d2 = ternary_codes(raw, "tq2", x.shape)
    assert np.array_equal(c2, codes) and np.array_equal(d2, d.astype(np.float32))


def test_tq2_keeps_the_sign_pattern_of_large_weights():
    """A property a wrong bit layout would break: weights well above the row's mean |x| come back
    with their sign, weights well below it come back as zero."""
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 576)).astype(np.float32)
    w = dequantize(quantize(x, "tq2"), "tq2", x.shape)
    scale = np.abs(x).mean(axis=1, keepdims=True)
    big, small = np.abs(x) > 1.6 * scale, np.abs(x) < 0.4 * scale
    assert big.any() and small.any()
    assert (np.sign(w[big]) == np.sign(x[big])).all()
    assert (w[small] == 0).all()


def test_tq2_rejects_rows_that_are_not_whole_blocks():
    with pytest.raises(ValueError, match="tq2"):
        quantize(np.ones((2, 96), np.float32), "tq2")


def test_quant_tq2_quantizes_every_matrix_and_warns():
    """--quant tq2 re-encodes every matrix (token_embd and output too); a matrix whose rows are not
    whole 64-blocks stays f16 with a warning; the quality warning is always there."""
    cfg = make_tiny_config(dim=96, n_heads=4, head_dim=16, hidden_dim=128)   # rows of 96: not tq2
    tok, _ = tiny_tokenizer_gpt2()
    from edgec.ir.model_ir import ModelIR, Tensor
    weights = random_weights(cfg, seed=13)
    tensors = {n: Tensor(n, a.shape, "f32", a.astype(np.float32).tobytes()) for n, a in weights.items()}
    ir = quantize_ir(ModelIR(config=cfg, tensors=tensors, tokenizer=tok), "tq2")
    assert TERNARY_WARNING in ir.metadata["warnings"] and "edgec eval" in TERNARY_WARNING
    for name, shape in expected_shapes(cfg).items():
        t = ir.tensors[name]
        if len(shape) == 1:
            assert t.fmt == "f32", name
        elif shape[1] % 64 == 0:
            assert t.fmt == "tq2", name     # ffn_down: rows of 128
        else:
            assert t.fmt == "f16", name
            assert any(w.startswith(name) and "f16" in w for w in ir.metadata["warnings"]), name
    assert ir.tensors["blk.0.ffn_down.weight"].fmt == "tq2"
    assert ir.tensors["token_embd.weight"].fmt == "f16" and ir.tensors["output.weight"].fmt == "f16"

    cfg64 = make_tiny_config()
    tensors = {n: Tensor(n, a.shape, "f32", a.tobytes()) for n, a in random_weights(cfg64, seed=14).items()}
    ir64 = quantize_ir(ModelIR(config=cfg64, tensors=tensors, tokenizer=tok), "tq2")
    assert {t.fmt for t in ir64.tensors.values() if len(t.shape) == 2} == {"tq2"}


# ---- GGUF TQ2_0 / TQ1_0 -----------------------------------------------------------------------

def test_gguf_ternary_decoders_match_gguf_reference():
    """ternary_codes (used by the reference forward pass) against gguf.quants' dequantizers, on
    random bytes (every code, TQ2_0's never-written code 3 included) with a fixed d."""
    rng = np.random.default_rng(15)
    for fmt, qtype in (("tq2_0", QT.TQ2_0), ("tq1_0", QT.TQ1_0)):
        per, nbytes = FORMATS[fmt]
        raw = rng.integers(0, 256, size=(3, 2, nbytes), dtype=np.uint8)
        raw[..., nbytes - 2:] = np.frombuffer(np.float16(0.375).tobytes(), dtype=np.uint8)
        raw = raw.reshape(3, 2 * nbytes)
        want = np.asarray(quants.dequantize(raw, qtype), dtype=np.float32)
        codes, d = ternary_codes(raw.tobytes(), fmt, (3, 2 * per))
        assert np.array_equal(np.repeat(d, per, axis=1) * (codes.astype(np.float32) - 1), want), fmt
        assert np.array_equal(dequantize(raw.tobytes(), fmt, (3, 2 * per)), want), fmt


def ternary_weights(cfg, seed: int) -> dict:
    """Weights that are already ternary per row (t * s, t in {-1, 0, 1}), so GGUF's absmax
    TQ quantizers store them without loss and the tiny model keeps O(1) activations."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, w in random_weights(cfg, seed).items():
        if w.ndim == 2:
            t = rng.integers(-1, 2, size=w.shape).astype(np.float32)
            s = 1.0 if name == "token_embd.weight" else np.sqrt(1.5 / w.shape[1]) * (2 if name == "output.weight" else 1)
            w = t * np.float32(s)
        out[name] = w.astype(np.float32)
    return out


def gguf_ternary_model(tmp_path: Path, fmt: str, seed: int) -> tuple:
    """A tiny model whose every row is a multiple of 256 (as GGUF's TQ types need), all matrices fmt."""
    cfg = make_tiny_config(dim=256, hidden_dim=512, n_heads=4, n_kv_heads=2, head_dim=64)
    tok, _ = tiny_tokenizer_gpt2()
    weights = ternary_weights(cfg, seed)
    path = tmp_path / f"tiny-{fmt}.gguf"
    write_gguf(path, cfg, weights, fmt, tok)
    return path, cfg, weights


@pytest.mark.parametrize("fmt,qtype", [("tq2_0", QT.TQ2_0), ("tq1_0", QT.TQ1_0)])
def test_gguf_ternary_read_bit_exactly(tmp_path, fmt, qtype):
    path, cfg, weights = gguf_ternary_model(tmp_path, fmt, seed=16)
    ir = load_model(str(path))
    for name, w in weights.items():
        t = ir.tensors[name]
        if w.ndim == 1:
            continue
        assert t.fmt == fmt and tuple(t.shape) == w.shape, name
        assert t.data == np.asarray(quants.quantize(w, qtype)).tobytes(), f"{name}: bytes differ from the file's"
        # lossless for ternary rows: dequantized = t * fp16(s)
        assert np.allclose(dequantize(t.data, fmt, t.shape), w, rtol=1e-3, atol=0), name


def test_reference_mimic_matches_float64_block_sums():
    """QuantMatrix (the reference's kernel-mimicking matmul) on ternary formats equals
    sum over 32-blocks of d_w * d_x * sum((code-1) * qx), computed here in float64."""
    rng = np.random.default_rng(17)
    x = rng.standard_normal((3, 512)).astype(np.float32)
    qx, dx = quantize_activations(x)
    for fmt in ("tq2", "tq2_0", "tq1_0"):
        w = rng.standard_normal((5, 512)).astype(np.float32)
        raw = quantize(w, fmt)
        codes, d = ternary_codes(raw, fmt, w.shape)
        per = FORMATS[fmt][0]
        dw = np.repeat(d, per // 32, axis=1).astype(np.float64)                  # [rows, n/32]
        isum = np.einsum("rbj,tbj->trb", (codes.astype(np.int64) - 1).reshape(5, 16, 32), qx.astype(np.int64))
        want = (isum * dw[None] * dx.astype(np.float64)[:, None, :]).sum(axis=-1)
        got = QuantMatrix(raw, fmt, w.shape).matmul(x)
        assert np.allclose(got, want, rtol=1e-5, atol=1e-6 * np.abs(want).max()), fmt


# ---- compiled tiny models -----------------------------------------------------------------------

@pytest.mark.parametrize("target", ["host", "generic"])
@pytest.mark.parametrize("fmt", ["tq2_0", "tq1_0"])
def test_gguf_ternary_compiled(tmp_path, fmt, target):
    path, _, _ = gguf_ternary_model(tmp_path, fmt, seed=18)
    res = compile_artifact(path, tmp_path / "out", target=target, ctx=128)
    assert set(res.manifest["formats"]) == {fmt, "f32"}
    check_against_reference(path, res.binary, tmp_path)


@pytest.mark.parametrize("target", ["host", "generic"])
def test_hf_f32_quant_tq2_compiled(tmp_path, target):
    cfg = make_tiny_config(rope_layout="neox")
    tok, tok_json = tiny_tokenizer_gpt2()
    folder = tmp_path / "hf"
    # seed 19 put a reference activation on an int8 rounding tie at step 36 with per-row scales (every
    # kernel, row-major and tiled, differed from the reference there alike); 20 has none
    write_hf_folder(folder, cfg, random_weights(cfg, seed=20), "f32", tok_json, shards=1)
    res = compile_artifact(folder, tmp_path / "out", target=target, ctx=128, quant="tq2")
    assert set(res.manifest["formats"]) == {"tq2", "f32"}
    assert TERNARY_WARNING in res.manifest["warnings"]
    check_against_reference(folder, res.binary, tmp_path, quant="tq2")
