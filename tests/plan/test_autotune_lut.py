"""The host autotune's LUT-vs-dot choice (edgec.plan.autotune, templates/autotune_lut_bench.c.j2).

The bench is run on real weights (one float matrix per shape, quantized, then laid out as LUT
tiles and as the dot kernel's layout by the compiler's own relayout functions), so both passes
compute the same products: their output sums must agree with each other and with a numpy
reference written here from the q8a definition.  That fails if a candidate is not run, runs on
the wrong bytes or reuses tables built for another activation length.
"""
from __future__ import annotations

import math
import os
import subprocess

import numpy as np
import pytest

from edgec.plan import autotune as A
from edgec.plan import interleave_layout, ternary_layout
from edgec.ir.block_formats import dequantize, quantize
from edgec.errors import EdgecError
from edgec.frontends.load_model import load_model
from edgec.plan.lut_layout import LUT_FORMATS, to_lut_layout
from edgec.paths import runtime_dir
from edgec.plan.quantize_model import quantize_ir
from edgec.targets import load_target
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf

CC = "clang"
CFLAGS = ["-O2", "-march=native"]
DIM, HIDDEN, KV, VOCAB = 64, 128, 40, 100   # KV and VOCAB leave a partial last row group


def synthetic_mats(fmt: str, dot_layout: str) -> list:
    """One layer and a classifier, as lut_matrices() describes them."""
    dot = f"edgec_matmul_i16_{fmt}" if dot_layout == "i16" else f"edgec_matmul_{fmt}"
    shapes = [("0.qkv", DIM, DIM), ("0.qkv", KV, DIM), ("0.qkv", KV, DIM), ("0.out", DIM, DIM),
              ("0.gate_up", HIDDEN, DIM), ("0.gate_up", HIDDEN, DIM), ("0.down", DIM, HIDDEN),
              ("output.weight", VOCAB, DIM)]
    per, size = {"q2": (32, 12), "q3": (32, 16), "tq2": (64, 18), "q4_0": (32, 18), "q4_1": (32, 20)}[fmt]
    return [{"fmt": fmt, "rows": r, "n": n, "bytes": r * n // per * size, "act": act, "dot": dot}
            for act, r, n in shapes]


def bench_activation(n: int) -> tuple:
    """The bench's activation quantized as edgec_quantize_q8a does: (int8 values, per-block scale)."""
    x = np.array([((i * 37) % 101 - 50) / 50 for i in range(n)], dtype=np.float32).reshape(-1, 32)
    d = (np.abs(x).max(axis=1) / np.float32(127)).astype(np.float32)
    inv = np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    v = (x * inv[:, None]).astype(np.float32)
    return np.sign(v) * np.floor(np.abs(v) + 0.5), d


def reference_sums(weights: list) -> tuple:
    """(sum of every output, sum of |every term|) of one pass, in float64."""
    total = scale = 0.0
    for w in weights:
        q, d = bench_activation(w.shape[1])
        terms = w.astype(np.float64) * (q * d[:, None]).reshape(-1)
        total += terms.sum()
        scale += np.abs(terms).sum()
    return total, scale


def write_weights(sets: list, path, seed: int) -> list:
    """lut.bin and dot.bin for the bench's matrix order; returns the dequantized matrices."""
    rng = np.random.default_rng(seed)
    lut, dot, exact = [], [], []
    for m in (m for s in sets for m in s["mats"]):
        fmt, rows, n = m["fmt"], m["rows"], m["n"]
        raw = quantize(rng.standard_normal((rows, n)).astype(np.float32), fmt)
        assert len(raw) == m["bytes"]
        lut.append(to_lut_layout(raw, fmt, rows, n))
        if not m["dot"].startswith("DOT_I16_"):
            dot.append(raw)
        elif fmt == "tq2":
            dot.append(ternary_layout.relayout(raw, rows, n))
        else:
            dot.append(interleave_layout.relayout(fmt, raw, rows, n))
        exact.append(dequantize(raw, fmt, (rows, n)).reshape(rows, n))
    (path / "lut.bin").write_bytes(b"".join(lut))
    (path / "dot.bin").write_bytes(b"".join(dot))
    return exact


CASES = [(f, "rowmajor") for f in LUT_FORMATS] + [(f, "i16") for f in ("q4_0", "q4_1", "tq2")]


@pytest.mark.parametrize("fmt,dot_layout", CASES)
def test_both_candidates_compute_the_same_pass(tmp_path, fmt, dot_layout):
    sets = A.lut_sets(synthetic_mats(fmt, dot_layout))
    exe = A.build_lut_bench(sets, CC, CFLAGS, 256, tmp_path, "synthetic")
    exact = write_weights(sets, tmp_path, seed=len(fmt) + len(dot_layout))
    res = A.run_lut_bench(exe, 2, tmp_path)
    assert set(res) == {fmt} and set(res[fmt]) == {"lut", "dot"}
    want, scale = reference_sums(exact)
    for cand in ("lut", "dot"):
        r = res[fmt][cand]
        assert math.isfinite(r["seconds"]) and 0 < r["seconds"] < 1, (cand, r)
        assert abs(r["sum"] - want) <= 1e-5 * scale, (cand, r["sum"], want, scale)
        assert r["sumabs"] > 0.01 * scale, (cand, r)
    assert abs(res[fmt]["lut"]["sumabs"] - res[fmt]["dot"]["sumabs"]) <= 1e-5 * scale


def test_formats_are_timed_apart_in_one_program(tmp_path):
    """A q3 model with a q4_0 classifier: two sets, each at its own offset in both weight files."""
    q3 = synthetic_mats("q3", "rowmajor")[:-1]
    cls = synthetic_mats("q4_0", "i16")[-1]
    sets = A.lut_sets(q3 + [cls])
    assert [s["fmt"] for s in sets] == ["q3", "q4_0"]
    exe = A.build_lut_bench(sets, CC, CFLAGS, 0, tmp_path)
    exact = write_weights(sets, tmp_path, seed=3)
    res = A.run_lut_bench(exe, 1, tmp_path)
    for s, part in (("q3", exact[:-1]), ("q4_0", exact[-1:])):
        want, scale = reference_sums(part)
        for cand in ("lut", "dot"):
            assert abs(res[s][cand]["sum"] - want) <= 1e-5 * scale, (s, cand, res[s][cand], want)


def test_timing_run_gives_a_choice_per_format(tmp_path):
    mats = [m for f in LUT_FORMATS for m in synthetic_mats(f, "rowmajor")]
    sets = A.lut_sets(mats)
    exe = A.build_lut_bench(sets, CC, CFLAGS, 512, tmp_path)
    res = A.run_lut_bench(exe, 3)   # arbitrary weight bytes: only the times and finite sums count
    chosen, gbs = A.choose_lut(sets, res)
    assert set(res) == set(LUT_FORMATS)
    for f in LUT_FORMATS:
        for cand in ("lut", "dot"):
            r = res[f][cand]
            assert 0 < r["seconds"] < 1 and math.isfinite(r["sum"]) and r["sumabs"] > 0, (f, cand, r)
            assert gbs[f"{cand}:{f}"] > 0
    assert chosen == sorted(chosen) and set(chosen) <= set(LUT_FORMATS)
    assert set(gbs) == {f"{c}:{f}" for f in LUT_FORMATS for c in ("lut", "dot")}


def test_choose_lut_keeps_dot_on_a_near_tie():
    sets = [{"fmt": f, "total_bytes": 10**9} for f in ("q3", "q4_1", "tq2")]
    t = lambda lut, dot: {"lut": {"seconds": lut}, "dot": {"seconds": dot}}
    chosen, gbs = A.choose_lut(sets, {"q3": t(1.0, 2.0), "q4_1": t(0.99, 1.0), "tq2": t(2.0, 1.0)})
    assert chosen == ["q3"]
    assert gbs == {"lut:q3": 1.0, "dot:q3": 0.5, "lut:q4_1": 1.01, "dot:q4_1": 1.0, "lut:tq2": 0.5, "dot:tq2": 1.0}
    assert A.choose_lut(sets[1:2], {"q4_1": t(0.99, 1.0)}, margin=0.0)[0] == ["q4_1"]


def test_tables_are_built_once_per_activation_vector():
    sets = A.lut_sets(synthetic_mats("q2", "rowmajor"))
    # q, k, v share one; out; gate, up share one; down; the classifier
    assert [m["tables"] for m in sets[0]["mats"]] == [1, 0, 0, 1, 1, 0, 1, 1]
    assert [m["dot"] for m in sets[0]["mats"]] == ["DOT_Q2"] * 8


def test_bench_source_compiles_warning_free(tmp_path):
    mats = [m for f in LUT_FORMATS for m in synthetic_mats(f, "i16" if f in ("q4_0", "q4_1", "tq2") else "rowmajor")]
    A.build_lut_bench(A.lut_sets(mats), CC, CFLAGS, 512, tmp_path)
    src = tmp_path / "lut_bench.c"
    for cc in ("gcc", "clang"):
        r = subprocess.run([cc, "-std=c11", "-O2", "-march=native", "-Wall", "-Wextra", "-Werror", f"-I{runtime_dir() / 'core'}",
                            "-c", str(src), "-o", str(tmp_path / f"{cc}.o")], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


def test_bad_weight_file_is_an_error(tmp_path):
    sets = A.lut_sets(synthetic_mats("q4_1", "rowmajor"))
    exe = A.build_lut_bench(sets, CC, CFLAGS, 0, tmp_path)
    (tmp_path / "lut.bin").write_bytes(b"\0" * 10)
    (tmp_path / "dot.bin").write_bytes(b"\0" * 10)
    with pytest.raises(EdgecError, match="LUT autotune bench failed"):
        A.run_lut_bench(exe, 1, tmp_path)


def tiny_ir(tmp_path, quant: str, output_quant: str, **cfg):
    c = make_tiny_config(**cfg)
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / f"m-{quant}-{output_quant}-{c.hidden_dim}.gguf"
    write_gguf(path, c, random_weights(c, seed=5), "f32", tok)
    return quantize_ir(load_model(str(path)), quant, output_quant)


def test_lut_matrices_in_forward_order(tmp_path):
    ir = tiny_ir(tmp_path, "q3", "q8_0")
    mats = A.lut_matrices(ir, load_target("host"), "rowmajor")
    c = ir.config
    kv = c.n_kv_heads * c.head_dim
    one_layer = [(c.dim, c.dim), (kv, c.dim), (kv, c.dim), (c.dim, c.dim), (c.hidden_dim, c.dim), (c.hidden_dim, c.dim),
                 (c.dim, c.hidden_dim)]
    assert [(m["rows"], m["n"]) for m in mats] == one_layer * c.n_layers   # the q8_0 classifier has no say here
    assert [m["act"] for m in mats[:7]] == ["0.qkv"] * 3 + ["0.out", "0.gate_up", "0.gate_up", "0.down"]
    assert {m["fmt"] for m in mats} == {"q3"} and {m["dot"] for m in mats} == {"edgec_matmul_q3"}


def test_cache_key_follows_the_matrix_set(tmp_path):
    t = load_target("host")
    key = lambda ir: A._cache_key(A._matrices(ir), A.lut_matrices(ir, t, "i16"), CC, CFLAGS)
    q3, q2 = tiny_ir(tmp_path, "q3", "q8_0"), tiny_ir(tmp_path, "q2", "q8_0")
    wider = tiny_ir(tmp_path, "q3", "q8_0", hidden_dim=192)
    assert key(q3) == key(tiny_ir(tmp_path, "q3", "q8_0"))
    assert len({key(q3), key(q2), key(wider)}) == 3
    assert A._matrices(q3) == A._matrices(q2)   # only the LUT-capable set tells these apart


def test_autotune_records_lut_choice_and_caches_it(tmp_path, monkeypatch):
    """A q3 model with an f32 classifier: nothing for the layout bench, the LUT bench alone decides."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ir = tiny_ir(tmp_path, "q3", "f32")
    first = A.autotune(ir, CC, CFLAGS, reps=2)
    second = A.autotune(ir, CC, CFLAGS, reps=2)
    assert first and not first["cached"] and second["cached"]
    assert first["layout"] is None and first["prefetch_bytes"] is None
    assert first["lut_formats"] in ([], ["q3"]) and second["lut_formats"] == first["lut_formats"]
    assert set(first["gbs"]) == {"lut:q3", "dot:q3"} and all(v > 0 for v in first["gbs"].values())
    assert first["weight_bytes"] == sum(t.n_bytes for t in ir.tensors.values() if t.fmt == "q3")
    assert os.path.isfile(tmp_path / "cache" / "edgec" / "autotune.json")


def test_q4_formats_are_not_lut_candidates(tmp_path):
    """A Q4_1 model gets no LUT bench: its LUT kernels lose in every measured setting (autotune.py)."""
    ir = tiny_ir(tmp_path, "q4_1", "q8_0")
    assert A.lut_matrices(ir, load_target("host"), "i16") == []
    assert {m["fmt"] for m in A.lut_matrices(tiny_ir(tmp_path, "tq2", "tq2"), load_target("host"), "i16")} == {"tq2"}
