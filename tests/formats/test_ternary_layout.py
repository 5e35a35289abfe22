"""tq2 in 64-row tiles: the relayout (compiler/edgec/plan/ternary_layout.py), the C kernels
(runtime/core/kernels/ternary_i16.h and its ISA folders) under every compiler / ISA level, where kernel_choice puts
the layout, and compiled tiny --quant tq2 models against the reference.

The relayout is checked against the byte formula of docs/ternary.md written out here with plain
loops, and its decoder against block_formats.ternary_codes (the tq2 definition the reference uses).
The tiles keep one scale per row; a matrix whose blocks carry different scales within a row (not
what quantize_tq2 writes) must stay row-major, and a model holding one still matches the reference.
The C test (tests/c/test_kernels_ternary_i16.c) checks the kernels against its own tiler and a
double-precision reference; here its tiler is compared with relayout() byte for byte.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import compile_artifact
from edgec.ir import block_formats
from edgec.ir.block_formats import quantize, round_half_away, ternary_codes
from edgec.errors import EdgecError
from edgec.plan.kernel_choice import plan_all
from edgec.ir.model_ir import ModelIR, Tensor
from edgec.targets import load_target
from edgec.plan.ternary_layout import (GROUP_SCALE_BYTES, TILE_BYTES, decode, group_bytes, relayout, row_uniform,
                                       tq2_i16_bytes, undo_relayout)
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf
from test_compile_tiny import check_against_reference
from kernel_builds import BUILDS, C_TESTS, HAS_AVX2, Build, CTest, built, builds, cpu_lacks, is_x86_host

ROOT = Path(__file__).resolve().parents[2]
C_TEST = CTest("test_kernels_ternary_i16.c", "EDGEC_TERNARY_I16_ISA")
runs = C_TEST.fixture()


def c_test(tmp_path: Path, build: Build) -> Path:
    """The C test program built under build (for its --tile and --dump modes)."""
    return built(build, C_TESTS / C_TEST.source, tmp_path / "test_kernels_ternary_i16")


def tq2_matrix(rows: int, n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, n)) * rng.uniform(0.01, 2, size=(rows, 1))).astype(np.float32)
    x[0] = 0         # an all-zero row (d = 0)
    x[-1, :64] = 0   # an all-zero block in a row that is not
    return quantize(x, "tq2")


def per_block_tq2(x: np.ndarray) -> bytes:
    """tq2 with one absmean per 64-block (the quantizer edgec had before per-row scales): bytes
    another producer could write, with different scales within a row."""
    blocks = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, 64)
    d = np.abs(blocks).astype(np.float64).mean(axis=1).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(d[:, None] > 0, blocks.astype(np.float64) / d[:, None], 0.0)
    codes = (np.clip(round_half_away(ratio), -1, 1) + 1).astype(np.uint8).reshape(-1, 4, 16)
    qs = codes[:, 0] | (codes[:, 1] << 2) | (codes[:, 2] << 4) | (codes[:, 3] << 6)
    return np.concatenate([d.astype(np.float16).view(np.uint8).reshape(-1, 2), qs], axis=1).tobytes()


# ---- the relayout ------------------------------------------------------------------------------

def tiles_by_formula(raw: bytes, rows: int, n: int) -> bytes:
    """docs/ternary.md's byte formula, one byte at a time: group G at G * (128 + nb*1024), its row j's
    fp16 d at 2j, tile b at 128 + 1024b, code of row 16s + r, column 4i + k at bits 2s of byte 64i + 4r + k."""
    nb, groups = n // 64, (rows + 63) // 64
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(rows, nb, 18)
    out = bytearray(groups * (128 + nb * 1024))
    for g in range(groups):
        base = g * (128 + nb * 1024)
        for j in range(64):
            row = 64 * g + j
            out[base + 2 * j:base + 2 * j + 2] = bytes(blocks[row, 0, 0:2]) if row < rows else b"\0\0"
            for b in range(nb):
                blk = blocks[row, b] if row < rows else None
                for c in range(64):
                    code = (int(blk[2 + c % 16]) >> (2 * (c // 16))) & 3 if blk is not None else 1
                    out[base + 128 + 1024 * b + 64 * (c // 4) + 4 * (j % 16) + c % 4] |= code << (2 * (j // 16))
    return bytes(out)


@pytest.mark.parametrize("rows,n", [(64, 64), (70, 128), (5, 192), (130, 64)])
def test_relayout_follows_the_byte_formula(rows, n):
    raw = tq2_matrix(rows, n, seed=rows + n)
    assert row_uniform(raw, rows, n)
    tiles = relayout(raw, rows, n)
    assert len(tiles) == tq2_i16_bytes(rows, n) == (rows + 63) // 64 * (GROUP_SCALE_BYTES + n // 64 * TILE_BYTES)
    assert group_bytes(n) == 128 + n // 64 * 1024
    assert tiles == tiles_by_formula(raw, rows, n)


@pytest.mark.parametrize("rows,n", [(576, 576), (1536, 576), (576, 1536), (100, 576), (1, 64)])
def test_decode_and_undo_match_the_tq2_definition(rows, n):
    raw = tq2_matrix(rows, n, seed=3 * rows + n)
    tiles = relayout(raw, rows, n)
    codes, d = decode(tiles, rows, n)
    want_codes, want_d = ternary_codes(raw, "tq2", (rows, n))
    assert np.array_equal(codes, want_codes) and np.array_equal(d, want_d)
    assert undo_relayout(tiles, rows, n) == raw
    if rows % 64 == 0:
        assert len(tiles) == rows * n // 4 + 2 * rows, "whole 64-row groups: 2 bits per weight + one fp16 per row"


def test_relayout_refuses_bad_input():
    raw = bytearray(tq2_matrix(2, 64, seed=1))
    with pytest.raises(EdgecError, match="multiple of 64"):
        relayout(bytes(raw), 2, 96)
    with pytest.raises(EdgecError, match="does not hold"):
        relayout(bytes(raw[:-1]), 2, 64)
    raw[2] |= 3   # code 3 in column 0
    with pytest.raises(EdgecError, match="code 3"):
        relayout(bytes(raw), 2, 64)
    with pytest.raises(EdgecError, match="does not hold"):
        row_uniform(bytes(raw[:-1]), 2, 64)


def test_per_block_scales_are_not_row_uniform():
    """Blocks of a row with different fp16 d (even one bit): row_uniform() says so and relayout()
    refuses with a line that says what to do; quantize_tq2's output always qualifies."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((70, 192)).astype(np.float32)
    assert row_uniform(quantize(x, "tq2"), 70, 192)
    x[3, 64:128] *= 5    # one block of row 3 much larger: its own absmean differs
    raw = per_block_tq2(x)
    assert not row_uniform(raw, 70, 192)
    with pytest.raises(EdgecError, match="one scale per row"):
        relayout(raw, 70, 192)
    one_bit = bytearray(quantize(x, "tq2"))
    one_bit[(5 * 3 + 2) * 18] ^= 1   # row 5, block 2: lowest bit of d
    assert not row_uniform(bytes(one_bit), 70, 192)
    assert row_uniform(per_block_tq2(x[:, :64]), 70, 64), "one block per row is always uniform"


# ---- the C kernels -------------------------------------------------------------------------------

@pytest.mark.parametrize("build", builds(
    "gcc-native", "clang-native", "gcc-avx2", "clang-avx2", "gcc-scalar", "gcc-scalar-native",   # auto-vectorised scalar code
    "gcc-native-novnni", "clang-native-novnni",   # the vpmaddubsw path
    "clang-asan-ubsan-native", "clang-asan-ubsan-avx2"), ids=str)
def test_c_kernels_build_and_pass(runs, build):
    passed = C_TEST.passed(runs, build)
    assert passed >= 150, f"only {passed} checks ran"


def test_c_tiler_matches_relayout(tmp_path):
    """The C test's own tiler (what the kernels were checked with) writes relayout()'s bytes."""
    exe = c_test(tmp_path, BUILDS["gcc-scalar"])
    for rows, n in [(576, 576), (100, 192), (1, 64)]:
        raw = tq2_matrix(rows, n, seed=rows)
        (tmp_path / "in.bin").write_bytes(raw)
        r = subprocess.run([str(exe), "--tile", str(rows), str(n), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "out.bin").read_bytes() == relayout(raw, rows, n), f"{rows}x{n}: C and Python tiles differ"


def test_simd_paths_agree_bit_for_bit(tmp_path):
    """AVX-512 VNNI, AVX-512 without VNNI and AVX2 do the same float operations in the same order
    (the field scales 4^s come off exactly), so a fixed matmul gives the same bits on each.
    (Elsewhere: the scalar path under gcc and clang.)"""
    if is_x86_host():
        paths = [b for b in builds("clang-avx2", "gcc-avx2", "gcc-native", "clang-native-novnni") if b.skip_reason() is None]
    else:
        paths = builds("gcc-scalar-nocontract", "clang-scalar-nocontract")
    assert len(paths) >= 2, "this x86-64 machine has neither AVX2 nor AVX-512"
    dumps = []
    for i, build in enumerate(paths):
        (tmp_path / str(i)).mkdir()
        exe = c_test(tmp_path / str(i), build)
        r = subprocess.run([str(exe), "--dump", str(tmp_path / f"{i}.bin")], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        dumps.append((tmp_path / f"{i}.bin").read_bytes())
    assert len(dumps[0]) == 200 * 5 * 4 and np.isfinite(np.frombuffer(dumps[0], np.float32)).all()
    assert all(d == dumps[0] for d in dumps), f"the paths {', '.join(map(str, paths))} disagree"


# ---- where the layout goes, and compiled models --------------------------------------------------

def _tq2_ir(tied: bool) -> ModelIR:
    cfg = make_tiny_config(tied_embeddings=tied)
    tensors = {}
    for name, a in random_weights(cfg, seed=5).items():
        tensors[name] = Tensor(name, a.shape, "tq2", quantize(a, "tq2")) if a.ndim == 2 else \
            Tensor(name, a.shape, "f32", a.astype(np.float32).tobytes())
    return ModelIR(config=cfg, tensors=tensors, tokenizer=None)


@pytest.mark.parametrize("target,tiled", [("host", is_x86_host()), ("x86-avx512", True),
                                          ("x86-avx2", True), ("generic", False), ("pi5", False)])
def test_kernel_choice_tiles_tq2_on_x86(target, tiled):
    plans = plan_all(_tq2_ir(tied=False), load_target(target))
    for name in ("blk.0.ffn_down.weight", "output.weight"):
        # elsewhere tq2 stays row-major, or goes to another layout of the target's (ARM: table lookup)
        assert (plans[name].layout == "i16") == tiled, f"{target}: {name} is {plans[name].layout}"
    assert plans["token_embd.weight"].layout == "rowmajor", "a lookup-only embedding keeps row order"
    if tiled:
        assert plans["blk.0.attn_q.weight"].kernel == "edgec_matmul_i16_tq2"
        assert plan_all(_tq2_ir(tied=True), load_target(target))["token_embd.weight"].layout == "i16", \
            "a tied embedding is the classifier: tiled"


@pytest.mark.parametrize("target,tied,threads", [("host", False, 1), ("host", True, 2), ("x86-avx2", True, 1), ("generic", False, 1)])
def test_quant_tq2_compiled_against_reference(tmp_path, target, tied, threads):
    """A tiny model (kv rows 32, vocab 300: partial 64-row groups) with --quant tq2, compiled and run
    greedily against Reference(mimic_kernels=True); host and x86-avx2 (the AVX2 kernels) tile every
    tq2 matrix, generic keeps row order."""
    if target == "x86-avx2" and cpu_lacks(HAS_AVX2, "the x86-avx2 target"):
        pytest.skip(cpu_lacks(HAS_AVX2, "the x86-avx2 target"))
    cfg = make_tiny_config(tied_embeddings=tied)
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / "tiny.gguf"
    write_gguf(path, cfg, random_weights(cfg, seed=21 + tied), "f32", tok)
    res = compile_artifact(path, tmp_path / "out", target=target, ctx=128, quant="tq2")
    layouts = {t["name"]: t["layout"] for t in res.manifest["tensors"] if t["format"] == "tq2"}
    assert len(layouts) == 7 * cfg.n_layers + (1 if tied else 2), "every matrix is tq2"
    tiled = target == "x86-avx2" or (target == "host" and is_x86_host())
    lookup = layouts.pop("token_embd.weight")
    assert lookup == ("i16" if tiled and tied else "rowmajor")
    assert set(layouts.values()) == {"i16" if tiled else "rowmajor"}
    if tiled:
        blob = (res.out_dir / "firmware" / "weights.bin").read_bytes()
        t = next(t for t in res.manifest["tensors"] if t["name"] == "blk.1.attn_k.weight")
        rows, n = t["shape"]
        assert rows == 32 and t["bytes"] == tq2_i16_bytes(rows, n)
        assert decode(blob[t["offset"]:t["offset"] + t["bytes"]], rows, n)[0].max() <= 2
    check_against_reference(path, res.binary, tmp_path, quant="tq2", threads=threads)


def test_per_block_tq2_stays_rowmajor_and_matches_reference(tmp_path, monkeypatch):
    """tq2 bytes with a scale per 64-block (another producer's) cannot go into the per-row tiles: with
    quantize_tq2 swapped for a per-block quantizer on ffn_down (rows of 128, two blocks), those
    matrices stay row-major next to the tiled ones, and the program still matches the reference
    (which reads the same bytes)."""
    cfg = make_tiny_config()
    per_row = block_formats.quantize_tq2
    monkeypatch.setattr(block_formats, "quantize_tq2",
                        lambda x: per_block_tq2(x) if x.shape[-1] == cfg.hidden_dim else per_row(x))
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / "tiny.gguf"
    write_gguf(path, cfg, random_weights(cfg, seed=23), "f32", tok)
    res = compile_artifact(path, tmp_path / "out", target="host", ctx=128, quant="tq2")
    layouts = {t["name"]: t["layout"] for t in res.manifest["tensors"] if t["format"] == "tq2"}
    down = {n: l for n, l in layouts.items() if "ffn_down" in n}
    assert len(down) == cfg.n_layers and set(down.values()) == {"rowmajor"}, down
    if is_x86_host():
        assert layouts["blk.0.ffn_up.weight"] == layouts["output.weight"] == "i16"
    check_against_reference(path, res.binary, tmp_path, quant="tq2")


def test_stories260k_quant_tq2_against_reference(tmp_path):
    """The real stories260K checkpoint with --quant tq2 for host on 2 threads: ffn_gate/up have 172 rows
    (a partial third 64-row group, 11 quarters split between the workers), ffn_down (rows of 172
    columns) stays f16; greedy tokens and logits against the reference."""
    stories = ROOT / "tests" / "fixtures" / "stories260K"
    res = compile_artifact(stories / "stories260K.bin", tmp_path / "out", target="host", ctx=128, quant="tq2",
                           tokenizer=str(stories / "tok512.bin"))
    layouts = {t["name"]: (t["format"], t["layout"]) for t in res.manifest["tensors"]}
    tiled = "i16" if is_x86_host() else "rowmajor"
    assert layouts["blk.0.ffn_gate.weight"] == layouts["token_embd.weight"] == ("tq2", tiled)
    assert layouts["blk.0.ffn_down.weight"][0] == "f16"
    check_against_reference(stories / "stories260K.bin", res.binary, tmp_path, tokenizer_path=stories / "tok512.bin",
                            quant="tq2", threads=2)
