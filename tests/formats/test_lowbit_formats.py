"""edgec's own low-bit group formats q2 / q3 end to end: the Python quantizer and decoder, the C
kernels under every compiler / ISA level (NEON under qemu-aarch64), and compiled tiny models.

The layout is decoded here by its definition (decode_by_definition), independently of
block_formats.lowbit_codes.  The C kernels are checked twice: by tests/c/test_kernels_lowbit.c's own
self-checks, and on cases written here (weights from block_formats.quantize and random bytes, q8a
activations) against the integer formula computed here in float64.  Compiled programs are compared
with Reference(mimic_kernels=True) as tests/test_compile_tiny.py does.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import STORIES, compile_artifact
from edgec import cli
from edgec.ir.block_formats import dequantize, lowbit_codes, quantize
from edgec.errors import EdgecError
from edgec.frontends.load_model import load_model
from edgec.ir.model_ir import FORMATS, ModelIR, Tensor, expected_shapes
from edgec.plan.quantize_model import LOWBIT_WARNING, quantize_ir
from edgec.ir.reference import QuantMatrix, quantize_activations
from edgec.targets import load_target
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf, write_hf_folder
from test_arm_targets import qemu_logits_vs_reference
from test_compile_tiny import check_against_reference
from kernel_builds import NEON, CTest, builds

LEVELS = {"q2": 3, "q3": 7}
C_TEST = CTest("test_kernels_lowbit.c", "EDGEC_LOWBIT_ISA")
runs = C_TEST.fixture()


# ---- the layout by definition ---------------------------------------------------------------

def decode_by_definition(raw: bytes, fmt: str, rows: int, n: int) -> tuple:
    """(codes int [rows, n], d, m float32 [rows, n/32]) read from the spec: d, m fp16 at bytes 0, 2;
    q[j] = (qs[j & 7] >> 2*(j >> 3)) & 3, and for q3 | ((qh[j >> 3] >> (j & 7)) & 1) << 2."""
    block_bytes = 12 if fmt == "q2" else 16
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows, n // 32, block_bytes).astype(np.int64)
    j = np.arange(32)
    codes = (blocks[..., 4 + (j & 7)] >> (2 * (j >> 3))) & 3
    if fmt == "q3":
        codes = codes | (((blocks[..., 12 + (j >> 3)] >> (j & 7)) & 1) << 2)
    half = lambda lo: (blocks[..., lo] | blocks[..., lo + 1] << 8).astype(np.uint16).view(np.float16).astype(np.float32)  # noqa: E731
    return codes.reshape(rows, n), half(0), half(2)


def plain_minmax_error(x: np.ndarray, levels: int) -> np.ndarray:
    """Squared error per 32-block of plain min/max quantization: d = fp16((max - min) / levels),
    m = fp16(min), nearest code clipped to 0..levels, decoded in float32 as d * q + m."""
    b = x.reshape(-1, 32).astype(np.float32)
    lo, hi = b.min(axis=1), b.max(axis=1)
    d = ((hi - lo) / np.float32(levels)).astype(np.float16).astype(np.float32)
    m = lo.astype(np.float16).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(d[:, None] > 0, np.clip(np.rint((b - m[:, None]) / d[:, None]), 0, levels), 0)
    w = d[:, None] * q.astype(np.float32) + m[:, None]
    return ((b.astype(np.float64) - w) ** 2).sum(axis=1)


def block_error(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return ((x.reshape(-1, 32).astype(np.float64) - w.reshape(-1, 32)) ** 2).sum(axis=1)


def sample_weights(seed: int, rows: int = 48, n: int = 576) -> np.ndarray:
    """Gaussian rows with per-row scales, a few outliers, plus constant and zero blocks."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, n)) * rng.uniform(0.005, 2, size=(rows, 1))).astype(np.float32)
    x[rng.random(x.shape) < 0.01] *= 8                   # outliers
    x[0, 0:32] = 0
    x[1, 32:64] = 0.5
    x[2, 64:96] = -3.25
    x[3, 96:128] = np.float32(1e-3)                      # not an fp16 number
    return x


# ---- the Python quantizer ---------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["q2", "q3"])
def test_quantize_layout_and_round_trip(fmt):
    x = sample_weights(21)
    raw = quantize(x, fmt)
    per, nbytes = FORMATS[fmt]
    assert (per, nbytes) == (32, 12 if fmt == "q2" else 16)
    assert len(raw) == x.size // 32 * nbytes
    codes, d, m = decode_by_definition(raw, fmt, *x.shape)
    assert codes.min() >= 0 and codes.max() <= LEVELS[fmt]
    assert codes.max() == LEVELS[fmt], "some block must use the top code"
    assert (d >= 0).all() and np.isfinite(d).all() and np.isfinite(m).all()
    # dequantize is fp32(d) * q + fp32(m), and lowbit_codes reads what the definition reads
    w = dequantize(raw, fmt, x.shape)
    want = np.repeat(d, 32, axis=1) * codes.astype(np.float32) + np.repeat(m, 32, axis=1)
    assert np.array_equal(w, want)
    c2, d2, m2 = lowbit_codes(raw, fmt, x.shape)
    assert np.array_equal(c2, codes) and np.array_equal(d2, d) and np.array_equal(m2, m)
    assert quantize(x.copy(), fmt) == raw, "quantization must be deterministic"
    # constant blocks: exact when the value is an fp16 number, else within fp16 rounding of it
    assert (w[0, 0:32] == 0).all() and (w[1, 32:64] == 0.5).all() and (w[2, 64:96] == -3.25).all()
    assert np.allclose(w[3, 96:128], 1e-3, rtol=2 ** -11, atol=0)
    assert d[0, 0] == 0 and d[1, 1] == 0 and d[2, 2] == 0


@pytest.mark.parametrize("fmt", ["q2", "q3"])
def test_codes_are_the_nearest_levels(fmt):
    """Codes are computed against the stored (fp16) d and m: every weight's code is its nearest level,
    so inside [m, m + levels*d] the error is at most d/2."""
    x = sample_weights(22)
    raw = quantize(x, fmt)
    codes, d, m = decode_by_definition(raw, fmt, *x.shape)
    L = LEVELS[fmt]
    d32, m32 = np.repeat(d, 32, axis=1), np.repeat(m, 32, axis=1)
    levels = d32[..., None] * np.arange(L + 1, dtype=np.float32) + m32[..., None]       # [rows, n, L+1]
    best = np.abs(x[..., None].astype(np.float64) - levels).min(axis=-1)
    got = np.abs(x.astype(np.float64) - (d32 * codes + m32))
    assert (got <= best + 1e-6 * np.abs(x) + 1e-12).all(), "a weight's code is not its nearest level"
    inside = (x >= m32) & (x <= m32 + L * d32)
    assert inside.mean() > 0.75   # the fitted range leaves the tails outside (q2: about 1 weight in 5)
    assert (got[inside] <= d32[inside] / 2 * (1 + 1e-6) + 1e-12).all()


@pytest.mark.parametrize("fmt", ["q2", "q3"])
def test_optimiser_never_worse_than_plain_minmax(fmt):
    """Per block, the fitted (d, m) are never worse than plain min/max (computed here), and on
    Gaussian data they are clearly better overall (the least-squares fit and range search work)."""
    x = sample_weights(23, rows=64)
    w = dequantize(quantize(x, fmt), fmt, x.shape)
    got, plain = block_error(x, w), plain_minmax_error(x, LEVELS[fmt])
    assert (got <= plain * (1 + 1e-5) + 1e-30).all(), f"{(got > plain * (1 + 1e-5)).sum()} blocks worse than min/max"
    gain = got.sum() / plain.sum()
    assert gain < (0.75 if fmt == "q2" else 0.9), f"fitted error is {gain:.2f} of min/max's"


def test_q3_beats_q2_and_errors_match_their_bits():
    x = np.random.default_rng(24).standard_normal((32, 576)).astype(np.float32)
    rel = {f: float(((dequantize(quantize(x, f), f, x.shape) - x) ** 2).sum() / (x ** 2).sum()) for f in ("q2", "q3")}
    assert 0.06 < rel["q2"] < 0.12 and 0.012 < rel["q3"] < 0.03, rel


def test_quantize_rejects_bad_input():
    with pytest.raises(ValueError, match="q2"):
        quantize(np.ones((2, 48), np.float32), "q2")
    bad = np.ones((2, 64), np.float32)
    bad[1, 5] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        quantize(bad, "q3")
    with pytest.raises(ValueError, match="fp16"):
        quantize(np.full((1, 32), 1e6, np.float32), "q2")


def _f32_ir(cfg, seed):
    tok, _ = tiny_tokenizer_gpt2()
    tensors = {n: Tensor(n, a.shape, "f32", a.astype(np.float32).tobytes()) for n, a in random_weights(cfg, seed=seed).items()}
    return ModelIR(config=cfg, tensors=tensors, tokenizer=tok)


@pytest.mark.parametrize("fmt", ["q2", "q3"])
def test_quant_option_keeps_output_matrices_at_q8_0_and_warns(fmt):
    """--quant q2/q3 re-encodes every layer matrix but, by default, stores token_embd and output as
    q8_0 (with a warning naming --output-quant); rows that are not whole 32-blocks stay f16 with a
    warning; the quality warning is there."""
    assert fmt in cli.QUANTS
    cfg = make_tiny_config(dim=80, n_heads=5, head_dim=16, hidden_dim=128)    # rows of 80: not 32-blocks
    ir = quantize_ir(_f32_ir(cfg, 25), fmt)
    warning = LOWBIT_WARNING.format(quant=fmt, bits=fmt[1])
    assert warning in ir.metadata["warnings"] and "edgec eval" in warning and f"{fmt[1]}-bit" in warning
    for name, shape in expected_shapes(cfg).items():
        t = ir.tensors[name]
        want = "f32" if len(shape) == 1 else "f16" if shape[1] % 32 else fmt
        assert t.fmt == want, name
    assert ir.tensors["blk.0.ffn_down.weight"].fmt == fmt
    assert ir.tensors["token_embd.weight"].fmt == "f16" and ir.tensors["output.weight"].fmt == "f16"
    ir64 = quantize_ir(_f32_ir(make_tiny_config(), 26), fmt)
    outputs = {n: t.fmt for n, t in ir64.tensors.items() if n in ("token_embd.weight", "output.weight")}
    assert outputs == {"token_embd.weight": "q8_0", "output.weight": "q8_0"}
    assert {t.fmt for n, t in ir64.tensors.items() if len(t.shape) == 2 and n not in outputs} == {fmt}
    kept = [w for w in ir64.metadata["warnings"] if "kept at q8_0" in w]
    assert kept == [f"--quant {fmt}: token_embd and output kept at q8_0 (use --output-quant {fmt} to quantize them too)"]
    assert ir64.metadata["output_quant"] == "q8_0"
    tied = quantize_ir(_f32_ir(make_tiny_config(tied_embeddings=True), 27), fmt)
    assert "output.weight" not in tied.tensors and tied.tensors["token_embd.weight"].fmt == "q8_0"
    assert any(w.startswith(f"--quant {fmt}: token_embd kept at q8_0") and w.endswith("quantize it too)")
               for w in tied.metadata["warnings"])


@pytest.mark.parametrize("fmt", ["q2", "q3"])
def test_output_quant_same_quantizes_every_matrix(fmt):
    ir = quantize_ir(_f32_ir(make_tiny_config(), 26), fmt, "same")
    assert {t.fmt for t in ir.tensors.values() if len(t.shape) == 2} == {fmt}
    assert not any("kept at" in w for w in ir.metadata["warnings"]) and ir.metadata["output_quant"] == fmt
    explicit = quantize_ir(_f32_ir(make_tiny_config(), 26), fmt, fmt)
    assert all(explicit.tensors[n].data == t.data for n, t in ir.tensors.items())


def test_output_quant_defaults_of_the_other_formats():
    """tq2 keeps every matrix ternary (BitNet models are trained so); the GGUF formats quantize all."""
    for quant in ("tq2", "q4_0", "q8_0"):
        ir = quantize_ir(_f32_ir(make_tiny_config(), 28), quant)
        assert {t.fmt for t in ir.tensors.values() if len(t.shape) == 2} == {quant}, quant
        assert not any("kept at" in w for w in ir.metadata["warnings"])
    mixed = quantize_ir(_f32_ir(make_tiny_config(), 28), "tq2", "q8_0")
    assert mixed.tensors["token_embd.weight"].fmt == "q8_0" and mixed.tensors["output.weight"].fmt == "q8_0"
    assert mixed.tensors["blk.0.attn_q.weight"].fmt == "tq2"


def test_output_quant_alone_reencodes_only_the_output_matrices():
    """--output-quant without --quant: token_embd/output change, every other tensor keeps its bytes;
    a matrix already in the asked format keeps its bytes too."""
    src = _f32_ir(make_tiny_config(), 29)
    ir = quantize_ir(src, None, "q3")
    for name, t in ir.tensors.items():
        if name in ("token_embd.weight", "output.weight"):
            assert t.fmt == "q3" and t.data == quantize(np.frombuffer(src.tensors[name].data, np.float32)
                                                        .reshape(t.shape), "q3"), name
        else:
            assert t is src.tensors[name], name
    assert ir.metadata["quant"] is None and ir.metadata["output_quant"] == "q3"
    again = quantize_ir(ir, "q2", "q3")
    assert again.tensors["token_embd.weight"] is ir.tensors["token_embd.weight"]
    assert again.tensors["blk.0.attn_q.weight"].fmt == "q2"


def test_bad_output_quant_is_refused(capsys):
    with pytest.raises(EdgecError, match="unknown --output-quant 'q5'; choose one of .*q3, same"):
        quantize_ir(_f32_ir(make_tiny_config(), 30), "q3", "q5")
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["compile", "m.gguf", "--quant", "q3", "--output-quant", "q5"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("edgec compile: error: argument --output-quant: invalid choice: 'q5'") and "'same'" in err
    args = cli.build_parser().parse_args(["compile", "m.gguf", "--quant", "q2", "--output-quant", "same"])
    assert (args.quant, args.output_quant) == ("q2", "same")
    assert cli.build_parser().parse_args(["compile", "m.gguf", "--quant", "q2"]).output_quant is None


# ---- the integer formula, in numpy --------------------------------------------------------

def q8a_blocks(x: np.ndarray) -> tuple:
    """(qx int8 [T, nb, 32], dx float32 [T, nb], sx float32 [T, nb]) as edgec_quantize_q8a makes them."""
    qx, dx = quantize_activations(x)
    sx = (dx * qx.astype(np.int32).sum(axis=-1).astype(np.float32)).astype(np.float32)
    return qx, dx, sx


def integer_formula(raw: bytes, fmt: str, rows: int, n: int, qx, dx, sx) -> tuple:
    """(out [T, rows], magnitude [T, rows]) in float64: sum over blocks of d_w*d_x*sum(q*qx) + m_w*s_x."""
    codes, d, m = decode_by_definition(raw, fmt, rows, n)
    q = codes.reshape(rows, n // 32, 32)
    isum = np.einsum("rbj,tbj->trb", q, qx.astype(np.int64))
    iabs = np.einsum("rbj,tbj->trb", q, np.abs(qx.astype(np.int64)))
    dd = d.astype(np.float64)[None] * dx.astype(np.float64)[:, None, :]
    ms = m.astype(np.float64)[None] * sx.astype(np.float64)[:, None, :]
    return (dd * isum + ms).sum(axis=-1), (np.abs(dd) * iabs + np.abs(ms)).sum(axis=-1)


def test_reference_mimic_matches_the_integer_formula():
    """QuantMatrix (the kernel-mimicking reference matmul) on q2 / q3 is the integer formula."""
    rng = np.random.default_rng(27)
    x = rng.standard_normal((3, 576)).astype(np.float32)
    qx, dx, sx = q8a_blocks(x)
    for fmt in ("q2", "q3"):
        w = rng.standard_normal((7, 576)).astype(np.float32)
        raw = quantize(w, fmt)
        want, mag = integer_formula(raw, fmt, 7, 576, qx, dx, sx)
        got = QuantMatrix(raw, fmt, w.shape).matmul(x)
        assert (np.abs(got - want) <= 1e-5 * mag).all(), fmt


# ---- the C kernels --------------------------------------------------------------------------

def random_block_bytes(rng, fmt: str, rows: int, n: int) -> bytes:
    """Every code pattern (random bytes) with sane random fp16 d and m of both signs."""
    nbytes = FORMATS[fmt][1]
    raw = rng.integers(0, 256, size=(rows, n // 32, nbytes), dtype=np.uint8)
    dm = (rng.uniform(0.25, 1, size=(rows, n // 32, 2)) * rng.choice([-1, 1], size=(rows, n // 32, 2))
          * np.exp2(rng.integers(-10, -2, size=(rows, n // 32, 1)))).astype(np.float16)
    raw[..., 0:4] = dm.view(np.uint8).reshape(rows, n // 32, 4)
    return raw.tobytes()


# (fmt, rows, n, n_tok, weights): SmolLM2's shapes, a batch, and every code pattern
CASES = [(fmt, rows, n, n_tok, src) for fmt in ("q2", "q3") for rows, n, n_tok, src in
         [(576, 576, 1, "quantize"), (576, 576, 5, "random"), (1536, 576, 1, "quantize"), (1536, 576, 5, "quantize"),
          (576, 1536, 9, "random")]]
Q8A = np.dtype([("d", "<f4"), ("s", "<f4"), ("qs", "i1", 32)])


@pytest.fixture(scope="module")
def kernel_cases(tmp_path_factory):
    """Case files for test_kernels_lowbit --case, with the numpy results they must give."""
    folder = tmp_path_factory.mktemp("lowbit_cases")
    rng = np.random.default_rng(28)
    cases = []
    for i, (fmt, rows, n, n_tok, src) in enumerate(CASES):
        if src == "quantize":
            raw = quantize((rng.standard_normal((rows, n)) * rng.uniform(0.01, 0.1, size=(rows, 1))).astype(np.float32), fmt)
        else:
            raw = random_block_bytes(rng, fmt, rows, n)
        x = (rng.standard_normal((n_tok, n)) * np.repeat(np.exp2(rng.integers(-4, 4, size=(n_tok, n // 32))), 32, axis=1))
        qx, dx, sx = q8a_blocks(x.astype(np.float32))
        act = np.zeros((n_tok, n // 32), dtype=Q8A)
        act["d"], act["s"], act["qs"] = dx, sx, qx
        path = folder / f"case{i}.bin"
        path.write_bytes(np.array([int(fmt[1]), rows, n, n_tok], "<i4").tobytes() + raw + act.tobytes())
        want, mag = integer_formula(raw, fmt, rows, n, qx, dx, sx)
        codes, d, m = decode_by_definition(raw, fmt, rows, n)
        rows_f32 = np.repeat(d, 32, axis=1) * codes.astype(np.float32) + np.repeat(m, 32, axis=1)
        assert np.array_equal(rows_f32, dequantize(raw, fmt, (rows, n)))
        cases.append(dict(path=path, name=f"{fmt} {rows}x{n} n_tok={n_tok} ({src})", rows=rows, n=n, n_tok=n_tok,
                          want=want, mag=mag, rows_f32=rows_f32))
    return cases


@pytest.mark.parametrize("build", builds(
    "gcc-native", "clang-native", "gcc-avx2", "clang-avx2", "gcc-scalar", "gcc-scalar-native", "gcc-native-novnni",
    # ASan guards the masked loads of a row's last chunk; UBSan only on the scalar build (see kernel_builds)
    "clang-asan-native", "clang-asan-avx2", "clang-asan-ubsan-scalar", *NEON), ids=str)
def test_c_kernels(tmp_path, runs, kernel_cases, build):
    passed = C_TEST.passed(runs, build)
    assert passed > 900, f"only {passed} checks ran"
    exe, isa_want = runs[build].exe, build.expected_isa()
    for case in kernel_cases:
        result = tmp_path / "out.bin"
        r = build.run(exe, "--case", case["path"], result, timeout=300)
        assert r.returncode == 0, f"{case['name']}: {r.stdout}{r.stderr}"
        T, rows, n = case["n_tok"], case["rows"], case["n"]
        got = np.fromfile(result, dtype=np.float32)
        assert got.size == 2 * T * rows + rows * n
        simd, scalar = got[:T * rows].reshape(T, rows), got[T * rows:2 * T * rows].reshape(T, rows)
        tol = 1e-5 * case["mag"] + 1e-30
        for name, res in (("dispatched", simd), ("scalar", scalar)):
            err = np.abs(res - case["want"])
            assert (err <= tol).all(), f"{case['name']} {name} ({isa_want}): worst err/tol {(err / tol).max():.3g}"
        assert np.array_equal(got[2 * T * rows:].reshape(rows, n), case["rows_f32"]), f"{case['name']}: get_row"


# ---- compiled tiny models -----------------------------------------------------------------------

def reference_loads_with_output_quant(monkeypatch, output_quant):
    """The shared reference helpers load the model with quant only (the default --output-quant);
    make them load it as a compile with this --output-quant does."""
    import test_arm_targets
    import test_compile_tiny

    def load(path, tokenizer_path=None, quant=None):
        return quantize_ir(load_model(str(path), tokenizer_path), quant, output_quant)
    for module in (test_compile_tiny, test_arm_targets):
        monkeypatch.setattr(module, "load_ir", load)


@pytest.mark.parametrize("target", ["host", "generic"])
@pytest.mark.parametrize("fmt", ["q2", "q3"])
def test_hf_f32_quant_lowbit_compiled(tmp_path, fmt, target):
    """The default --quant q2/q3 program: layer matrices in fmt, the untied embedding and classifier q8_0."""
    cfg = make_tiny_config(rope_layout="neox")
    tok, tok_json = tiny_tokenizer_gpt2()
    folder = tmp_path / "hf"
    # seed 29 puts a q3/generic activation within 3e-6 of an int8 rounding tie (a 1e-2 logit step)
    write_hf_folder(folder, cfg, random_weights(cfg, seed=31), "f32", tok_json, shards=1)
    res = compile_artifact(folder, tmp_path / "out", target=target, ctx=128, quant=fmt)
    assert set(res.manifest["formats"]) == {fmt, "q8_0", "f32"}
    assert (res.manifest["quant"], res.manifest["output_quant"]) == (fmt, "q8_0")
    formats = {t["name"]: t["format"] for t in res.manifest["tensors"]}
    assert formats["token_embd.weight"] == formats["output.weight"] == "q8_0"
    assert LOWBIT_WARNING.format(quant=fmt, bits=fmt[1]) in res.manifest["warnings"]
    assert any("kept at q8_0" in w for w in res.manifest["warnings"])
    model_c = (res.out_dir / "firmware" / "model.c").read_text()
    kernel = f"edgec_matmul_lut_{fmt}(" if fmt in load_target(target).lut_formats else f"edgec_matmul_{fmt}("
    assert kernel in model_c and re.search(r"edgec_get_row_(i16_)?q8_0\(", model_c)
    check_against_reference(folder, res.binary, tmp_path, quant=fmt)


@pytest.mark.parametrize("target,fmt,output_quant", [("pi-zero", "q2", None), ("pi-zero", "q3", "same"),
                                                     ("pi5", "q2", "same"), ("pi5", "q3", None)])
def test_lowbit_model_on_pi_matches_reference(tmp_path, monkeypatch, target, fmt, output_quant):
    """The Pi targets' kernels for q2/q3 in a whole program under qemu: the LUT (tbl) kernels for the
    matrices; the untied embedding a row-major row lookup, in fmt (--output-quant same) or q8_0."""
    cfg = make_tiny_config()
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / "m.gguf"
    write_gguf(path, cfg, random_weights(cfg, seed=30), "f32", tok)
    res = compile_artifact(path, tmp_path / "a", target=target, ctx=64, quant=fmt, output_quant=output_quant)
    out_fmt = fmt if output_quant else "q8_0"
    assert set(res.manifest["formats"]) == {fmt, out_fmt, "f32"}
    tensors = {t["name"]: t for t in res.manifest["tensors"]}
    assert tensors["token_embd.weight"]["format"] == tensors["output.weight"]["format"] == out_fmt
    assert tensors["token_embd.weight"]["layout"] == "rowmajor"
    layouts = {n: t["layout"] for n, t in tensors.items() if t["format"] == fmt and n != "token_embd.weight"}
    assert set(layouts.values()) == {"lut"}
    reference_loads_with_output_quant(monkeypatch, output_quant)
    err = qemu_logits_vs_reference(target, res.binary, path, tmp_path, cfg.vocab_size, quant=fmt)
    assert (err <= 1e-4).mean() >= 0.75 and err.max() <= 1.5e-2, err


def test_output_quant_alone_in_the_manifest(tmp_path):
    """edgec compile --output-quant q4_0 without --quant: only token_embd/output change, and the
    manifest says so per tensor and in output_quant."""
    cfg = make_tiny_config()
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / "m.gguf"
    write_gguf(path, cfg, random_weights(cfg, seed=32), "f16", tok)
    res = compile_artifact(path, tmp_path / "a", ctx=64, output_quant="q4_0", build=False)
    assert (res.manifest["quant"], res.manifest["output_quant"]) == ("as stored", "q4_0")
    formats = {t["name"]: t["format"] for t in res.manifest["tensors"] if len(t["shape"]) == 2}
    assert formats.pop("token_embd.weight") == formats.pop("output.weight") == "q4_0"
    plain = compile_artifact(path, tmp_path / "b", ctx=64, build=False).manifest
    stored = {t["name"]: t["format"] for t in plain["tensors"] if t["name"] in formats}
    assert formats == stored and "f16" in stored.values()
    assert (plain["quant"], plain["output_quant"]) == ("as stored", "as stored")


@pytest.mark.parametrize("output_quant", [None, "q3"])
def test_stories260k_q3_matches_reference(tmp_path, monkeypatch, output_quant):
    """The real stories260K (tied classifier) under --quant q3: its embedding/classifier q8_0 by
    default, q3 with --output-quant q3; greedy tokens and logits follow the reference."""
    res = compile_artifact(STORIES / "stories260K.bin", tmp_path / "a", target="host", ctx=96, quant="q3",
                           output_quant=output_quant, tokenizer=str(STORIES / "tok512.bin"))
    out_fmt = output_quant or "q8_0"
    tensors = {t["name"]: t for t in res.manifest["tensors"]}
    assert "output.weight" not in tensors and tensors["token_embd.weight"]["format"] == out_fmt
    assert res.manifest["output_quant"] == out_fmt and tensors["blk.0.attn_q.weight"]["format"] == "q3"
    reference_loads_with_output_quant(monkeypatch, output_quant)
    check_against_reference(STORIES / "stories260K.bin", res.binary, tmp_path,
                            tokenizer_path=str(STORIES / "tok512.bin"), quant="q3")
