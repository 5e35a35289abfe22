"""The LUT (bit-plane table lookup) kernels and their weight layout.

Builds tests/c/test_kernels_lut.c once per compiler / ISA path (scalar, AVX2, AVX-512 with gcc and
clang; NEON cross-compiled for ARMv8.0 and run under qemu's Cortex-A53; a sanitizer build) in
parallel, and checks that each passed every check on the path its flags select.  The Python
layout (edgec.plan.lut_layout) is checked against block_formats' dequantization, the C test's own
tiler and the C row lookup.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from edgec.ir.block_formats import dequantize, quantize
from edgec.errors import EdgecError
from edgec.plan.lut_layout import (BLOCKS, LUT_FORMATS, TABLE_BYTES_PER_VALUE_MAX, lut_bytes, lut_get_row,
                                   lut_table_bytes, to_lut_layout)
from kernel_builds import kernel_isa, runnable_builds

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "c" / "test_kernels_lut.c"
COMMON = ["-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'runtime' / 'core'}"]
SANITIZE = ["-O0", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]  # -O1 compiles 10x slower here
CROSS_GCC, QEMU, OBJDUMP = "aarch64-linux-gnu-gcc", "qemu-aarch64", "aarch64-linux-gnu-objdump"
SETUP_HINT = "run examples/setup.sh (it apt-installs gcc-aarch64-linux-gnu and qemu-user)"

# id -> (compiler, flags, run prefix, test-program arguments, EDGEC_LUT_ISA it must report)
X86_BUILDS = {
    "clang-asan-ubsan-avx512": ("clang", SANITIZE + ["-march=native"], [], ["--small"], "avx512"),
    "gcc-scalar": ("gcc", ["-O2", "-DEDGEC_SCALAR"], [], [], "scalar"),
    "clang-scalar": ("clang", ["-O2", "-DEDGEC_SCALAR"], [], [], "scalar"),
    # gcc 12 auto-vectorises scalar int code for this CPU (it once got vpdpbusd's signedness wrong)
    "gcc-scalar-native": ("gcc", ["-O2", "-march=native", "-DEDGEC_SCALAR"], [], [], "scalar"),
    "gcc-avx2": ("gcc", ["-O2", "-mavx2", "-mfma", "-mf16c"], [], [], "avx2"),
    "clang-avx2": ("clang", ["-O2", "-mavx2", "-mfma", "-mf16c"], [], [], "avx2"),
    "gcc-avx512": ("gcc", ["-O2", "-march=native"], [], [], "avx512"),
    "clang-avx512": ("clang", ["-O2", "-march=native"], [], [], "avx512"),
    "gcc-avx512-big": ("gcc", ["-O2", "-march=native"], [], ["--big"], "avx512"),   # 49152 x 576
}
NEON_BUILDS = {
    "gcc-neon-a53": (CROSS_GCC, ["-O2", "-static", "-march=armv8-a", "-mtune=cortex-a53"],
                     [QEMU, "-cpu", "cortex-a53"], [], "neon"),
}




BUILDS = runnable_builds(X86_BUILDS, NEON_BUILDS)


def expected_isa(compiler: str, flags: list[str]) -> str:
    """The path kernels/lut.h must pick, from the compiler's predefined macros."""
    return kernel_isa(compiler, flags, vnni=False, dotprod=False)


def _build_and_run(exe: Path, compiler: str, flags: list[str], prefix: list[str], args: list[str]):
    """(build, run) CompletedProcesses; run is None when the build failed."""
    build = subprocess.run([compiler, *COMMON, *flags, str(SOURCE), "-o", str(exe), "-lm"], capture_output=True, text=True)
    if build.returncode != 0:
        return build, None
    return build, subprocess.run([*prefix, str(exe), *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Future]:
    """Builds and runs every test program in parallel (once per session); tests wait on theirs."""
    out_dir = tmp_path_factory.mktemp("lut")
    pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1))
    futures = {}
    for build_id, (compiler, flags, prefix, args, _) in BUILDS.items():
        if all(shutil.which(t) for t in [compiler, *prefix[:1]]):  # else the test itself fails with SETUP_HINT
            futures[build_id] = pool.submit(_build_and_run, out_dir / f"test_kernels_lut_{build_id}", compiler, flags, prefix, args)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("build_id", list(BUILDS))
def test_lut_kernels_build_and_pass(runs, build_id):
    compiler, flags, prefix, args, isa_want = BUILDS[build_id]
    missing = [t for t in [compiler, *prefix[:1]] if shutil.which(t) is None]
    assert not missing, f"{', '.join(missing)} not found: {SETUP_HINT}"
    assert expected_isa(compiler, flags) == isa_want, f"{compiler} {flags} no longer defines the macros of {isa_want}"
    build, run = runs[build_id].result()
    assert build.returncode == 0, f"build failed:\n{build.stderr[-3000:]}"
    assert build.stderr == "", f"unexpected compiler output:\n{build.stderr[-3000:]}"
    out = run.stdout + run.stderr
    isa = re.search(r"^EDGEC_LUT_ISA=(\w+)$", run.stdout, re.M)
    assert isa, f"no ISA line in the output:\n{out[-3000:]}"
    assert isa.group(1) == isa_want, f"flags {flags} built the {isa.group(1)} path"
    lines = run.stdout.strip().splitlines()
    summary = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1]) if lines else None
    assert summary, f"no summary as the last line (crash or sanitizer report?):\n{out[-3000:]}"
    passed, failed = map(int, summary.groups())
    assert failed == 0 and run.returncode == 0, f"{failed} checks failed:\n{out[-3000:]}"
    want = 8 if "--big" in args else 2000 if "--small" in args else 3000
    assert passed >= want, f"only {passed} checks ran"
    if prefix:  # NEON: table lookups really compiled in, and no ARMv8.2 dot product
        exe = Path(build.args[build.args.index("-o") + 1])
        disasm = subprocess.run([OBJDUMP, "-d", str(exe)], capture_output=True, text=True, check=True).stdout
        assert re.search(r"\btbl\b", disasm), "no tbl instruction in the NEON build"
        assert not re.search(r"\b[su]dot\b", disasm), "sdot/udot in an ARMv8.0 build"


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
    build_id = "gcc-scalar"
    build, _ = runs[build_id].result()
    assert build.returncode == 0, build.stderr
    return Path(build.args[build.args.index("-o") + 1])


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
