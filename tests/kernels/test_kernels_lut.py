"""The LUT (bit-plane table lookup) kernels and their weight layout.

Builds tests/c/test_kernels_lut.c once per compiler / ISA path (scalar, AVX2, this CPU's best with gcc and
clang; NEON cross-compiled for ARMv8.0 and run under qemu's Cortex-A53, and for 32-bit ARMv7 (vtbl) under
qemu's Cortex-A7; x86-64-v2 (SSSE3 pshufb) static under qemu's Nehalem, no AVX; a sanitizer build) in
parallel, and checks that each passed every check on the path its flags select.  The Python
layout (edgec.plan.lut_layout) is checked against block_formats' dequantization, the C test's own
tiler and the C row lookup.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgec.ir.block_formats import dequantize, quantize
from edgec.errors import EdgecError
from edgec.plan.lut_layout import (BLOCKS, LUT_FORMATS, TABLE_BYTES_PER_VALUE_MAX, lut_bytes, lut_get_row,
                                   lut_table_bytes, to_lut_layout)
from kernel_builds import ARMHF, ARMV7_NEON, BUILDS, X86_64, CTest, builds

ROOT = Path(__file__).resolve().parents[2]
C_TEST = CTest("test_kernels_lut.c", "EDGEC_LUT_ISA", vnni=False, dotprod=False)
runs = C_TEST.fixture()
SMALL, BIG = BUILDS["clang-asan-ubsan-O0-native"].running("small", "--small"), BUILDS["gcc-native"].running("big", "--big")
# 32-bit ARM (armv7: 64-bit vtbl, qemu-arm as a Cortex-A7): --small; the model shapes run the same code as AArch64's
ARMV7_SMALL = [b.running("small", "--small") for b in builds(*ARMV7_NEON)]


# the slowest first: they start first
@pytest.mark.parametrize("build", [BUILDS["gcc-neon-a53"], *builds("gcc-x86-64-v2", "clang-x86-64-v2"), SMALL, *ARMV7_SMALL,
                                   *builds("gcc-scalar", "clang-scalar", "gcc-scalar-native", "gcc-avx2",
                                           "clang-avx2", "gcc-native", "clang-native"), BIG], ids=str)
def test_lut_kernels_build_and_pass(runs, build):
    passed = C_TEST.passed(runs, build)
    want = 8 if build == BIG else 2000 if build.args == ("--small",) else 3000   # --big: one 49152 x 576 matrix
    assert passed >= want, f"only {passed} checks ran"
    if build.qemu_cpu and build.cross is X86_64:  # x86-64-v2: pshufb lookups in edgec's code (static glibc has some too)
        assert re.search(r"<edgec_\w+>:\n(?:.+\n)*?.*\bpshufb\b", runs[build].disassembly()), "no pshufb in the LUT kernels"
    elif build.qemu_cpu:  # NEON: table lookups really compiled in, and no ARMv8.2 dot product
        disasm = runs[build].disassembly()
        lookup = r"\bvtbl\.8\b" if build.cross is ARMHF else r"\btbl\b"   # 32-bit ARM: vtbl.8 on d registers
        assert re.search(lookup, disasm), f"no {lookup} instruction in the NEON build"
        assert not re.search(r"\bv?[su]dot\b", disasm), "sdot/udot in an ARMv8.0 / ARMv7 build"


# ---- the Python layout --------------------------------------------------------------------

def random_matrix(fmt: str, rows: int, n: int, seed: int) -> bytes:
    """Row-major fmt bytes: quantized random floats (q4_0, q4_1, tq2), or random codes with
    plausible fp16 d and m (q2, q3; their quantizer lives elsewhere)."""
    rng = np.random.default_rng(seed)
    if fmt in ("q4_0", "q4_1", "tq2"):
        return quantize(rng.standard_normal((rows, n)).astype(np.float32), fmt)
    per, size = BLOCKS[fmt]
    blocks = rng.integers(0, 256, size=(rows * n // per, size), dtype=np.uint8)
    d = (rng.uniform(0.001, 0.05, blocks.shape[0]) * rng.choice([-1, 1], blocks.shape[0])).astype(np.float16)
    m = (-rng.uniform(0, 4, blocks.shape[0]) * d.astype(np.float32)).astype(np.float16)
    blocks[:, 0:2] = d.view(np.uint8).reshape(-1, 2)
    blocks[:, 2:4] = m.view(np.uint8).reshape(-1, 2)
    return blocks.tobytes()


def spec_dequantize_q23(data: bytes, fmt: str, rows: int, n: int) -> np.ndarray:
    """q2 / q3 by the format definition, one column position at a time: w = d*q + m (float32)."""
    size = BLOCKS[fmt][1]
    blk = np.frombuffer(data, dtype=np.uint8).reshape(rows, n // 32, size)
    d = blk[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    m = blk[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32)
    out = np.empty((rows, n // 32, 32), dtype=np.float32)
    for j in range(32):
        q = (blk[..., 4 + (j & 7)] >> (2 * (j >> 3))) & 3
        if fmt == "q3":
            q = q | (((blk[..., 12 + (j >> 3)] >> (j & 7)) & 1) << 2)
        out[..., j] = d * q.astype(np.float32) + m
    return out.reshape(rows, n)


def reference_rows(data: bytes, fmt: str, rows: int, n: int) -> np.ndarray:
    """block_formats' dequantization; for q2 / q3 also checked against the spec decoder above."""
    want = dequantize(data, fmt, (rows, n))
    if fmt in ("q2", "q3"):
        assert np.array_equal(want, spec_dequantize_q23(data, fmt, rows, n)), f"block_formats decodes {fmt} unlike its spec"
    return want


SHAPES = [(1, 64), (17, 128), (33, 64), (100, 192), (64, 576)]


@pytest.mark.parametrize("fmt", LUT_FORMATS)
def test_layout_get_row_equals_dequantize(fmt):
    for i, (rows, n) in enumerate(SHAPES):
        data = random_matrix(fmt, rows, n, seed=i)
        lut = to_lut_layout(data, fmt, rows, n)
        assert len(lut) == lut_bytes(fmt, rows, n)
        want = reference_rows(data, fmt, rows, n)
        got = np.stack([lut_get_row(lut, fmt, rows, n, r) for r in range(rows)])
        assert got.dtype == np.float32
        assert np.array_equal(got, want), f"{fmt} {rows}x{n}: {np.count_nonzero(got != want)} values differ"


def test_table_bytes_match_the_c_header():
    header = (ROOT / "runtime" / "core" / "kernels" / "lut.h").read_text()
    per_value = re.search(r"#define EDGEC_LUT_TABLE_BYTES_MAX\(n\) \(\(size_t\)\(n\) \* (\d+)\)", header)
    assert per_value and int(per_value.group(1)) == TABLE_BYTES_PER_VALUE_MAX
    assert lut_table_bytes(576, 32) == 32 * 576 * TABLE_BYTES_PER_VALUE_MAX


def test_layout_sizes_and_padding():
    # same bytes per weight as the row-major blocks once rows fill whole groups
    for fmt in LUT_FORMATS:
        per, size = BLOCKS[fmt]
        assert lut_bytes(fmt, 64, 576) == 64 * 576 // per * size, fmt
    assert lut_bytes("q4_1", 33, 576) == 2 * 18 * 640
    lut = to_lut_layout(random_matrix("q2", 1, 32, seed=5), "q2", 1, 32)
    tile = np.frombuffer(lut, dtype=np.uint8)
    assert not tile[2:64].any() and not tile[66:128].any() and not tile.reshape(-1, 64)[2:, 2:].any(), \
        "padding rows must be all-zero bytes"


def test_layout_rejects_bad_input():
    with pytest.raises(EdgecError, match="q8_0"):
        lut_bytes("q8_0", 4, 32)
    with pytest.raises(EdgecError, match="multiple of 64"):
        lut_bytes("tq2", 4, 96)
    with pytest.raises(EdgecError, match="does not hold"):
        to_lut_layout(b"\0" * 11, "q2", 1, 32)
    lut = to_lut_layout(random_matrix("q3", 3, 32, seed=1), "q3", 3, 32)
    with pytest.raises(EdgecError, match="outside"):
        lut_get_row(lut, "q3", 3, 32, 3)
    with pytest.raises(EdgecError, match="does not hold"):
        lut_get_row(lut[:-1], "q3", 3, 32, 0)


# ---- the Python layout against the C side -----------------------------------------------------

@pytest.fixture(scope="module")
def c_tool(runs) -> Path:
    """An x86 test program for the --tile / --get-rows modes (any path: they do not depend on it)."""
    outcome = runs[BUILDS["gcc-scalar"]]
    outcome.assert_compiled_clean()
    return outcome.exe


@pytest.mark.parametrize("fmt", LUT_FORMATS)
def test_c_tiler_and_get_row_match_python(tmp_path, c_tool, fmt):
    """The C test's own tiler (what the kernels were checked with) writes to_lut_layout()'s bytes,
    and edgec_get_row_lut_FMT reads them as lut_get_row does."""
    for i, (rows, n) in enumerate([(1, 64), (45, 192), (200, 576)]):
        data = random_matrix(fmt, rows, n, seed=100 + i)
        lut = to_lut_layout(data, fmt, rows, n)
        (tmp_path / "in.bin").write_bytes(data)
        r = subprocess.run([str(c_tool), "--tile", fmt, str(rows), str(n), str(tmp_path / "in.bin"), str(tmp_path / "tiles.bin")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "tiles.bin").read_bytes() == lut, f"{fmt} {rows}x{n}: C and Python tiles differ"
        (tmp_path / "lut.bin").write_bytes(lut)
        r = subprocess.run([str(c_tool), "--get-rows", fmt, str(rows), str(n), str(tmp_path / "lut.bin"), str(tmp_path / "rows.bin")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        c_rows = np.fromfile(tmp_path / "rows.bin", dtype=np.float32).reshape(rows, n)
        py_rows = np.stack([lut_get_row(lut, fmt, rows, n, r) for r in range(rows)])
        assert np.array_equal(c_rows, py_rows), f"{fmt} {rows}x{n}: C get_row differs from lut_get_row"
        assert np.array_equal(c_rows, reference_rows(data, fmt, rows, n))
