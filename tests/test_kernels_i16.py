"""Builds tests/c/test_kernels_i16.c under each compiler / ISA level and runs it; checks that
the C test's tiler and edgec.plan.interleave_layout.relayout write the same bytes.

Every build must pass all its checks and must really have used the i16 kernel path its flags
select: the C test prints EDGEC_I16_ISA, compared here with what the compiler's predefined
macros say the flags enable.
"""
from __future__ import annotations

import platform
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edgec.ir.block_formats import quantize
from edgec.plan.interleave_layout import relayout
from kernel_builds import SANITIZE, cpu_flags, kernel_isa

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "c" / "test_kernels_i16.c"
COMMON = ["-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'runtime' / 'core'}"]

# (id, compiler, flags): the builds the i16 kernels must pass.
X86_BUILDS = [
    ("gcc-native", "gcc", ["-O2", "-march=native"]),
    ("clang-native", "clang", ["-O2", "-march=native"]),
    ("gcc-avx2", "gcc", ["-O2", "-mavx2", "-mfma", "-mf16c"]),
    ("clang-avx2", "clang", ["-O2", "-mavx2", "-mfma", "-mf16c"]),
    ("gcc-scalar", "gcc", ["-O2", "-DEDGEC_SCALAR"]),
    # gcc 12 auto-vectorises scalar int8 dots for this CPU (it once got vpdpbusd's signedness wrong)
    ("gcc-scalar-native", "gcc", ["-O2", "-march=native", "-DEDGEC_SCALAR"]),
    ("gcc-native-novnni", "gcc", ["-O2", "-march=native", "-mno-avx512vnni"]),
    ("clang-asan-ubsan-native", "clang", SANITIZE + ["-march=native"]),
]
PORTABLE_BUILDS = [
    ("gcc-native", "gcc", ["-O2", "-march=native"]),
    ("clang-native", "clang", ["-O2", "-march=native"]),
    ("gcc-scalar", "gcc", ["-O2", "-DEDGEC_SCALAR"]),
    ("clang-asan-ubsan-native", "clang", SANITIZE + ["-march=native"]),
]




def _builds():
    if platform.machine() not in ("x86_64", "AMD64"):
        return PORTABLE_BUILDS
    if not {"avx2", "fma", "f16c"} <= cpu_flags():  # the AVX2 builds could not run here
        return [b for b in X86_BUILDS if "avx2" not in b[0]]
    return X86_BUILDS


def expected_isa(compiler: str, flags: list[str]) -> str:
    """The path kernels/i16.h must pick, from the compiler's predefined macros."""
    return kernel_isa(compiler, flags)


def build(tmp_path: Path, compiler: str, flags: list[str]) -> Path:
    assert shutil.which(compiler), f"{compiler} is needed to build the i16 kernel tests"
    exe = tmp_path / "test_kernels_i16"
    r = subprocess.run([compiler, *COMMON, *flags, str(SOURCE), "-o", str(exe), "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, f"build failed:\n{r.stderr}"
    assert r.stderr == "", f"unexpected compiler output:\n{r.stderr}"
    return exe


@pytest.mark.parametrize("compiler,flags", [b[1:] for b in _builds()], ids=[b[0] for b in _builds()])
def test_kernels_i16_build_and_pass(tmp_path, compiler, flags):
    exe = build(tmp_path, compiler, flags)
    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    isa = re.search(r"^EDGEC_I16_ISA=(\w+)$", run.stdout, re.M)
    assert isa, f"no ISA line in the output:\n{out[-3000:]}"
    assert isa.group(1) == expected_isa(compiler, flags), f"flags {flags} built the {isa.group(1)} path"

    lines = run.stdout.strip().splitlines()
    summary = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1]) if lines else None
    assert summary, f"no summary as the last line (crash or sanitizer report?):\n{out[-3000:]}"
    passed, failed = map(int, summary.groups())
    assert failed == 0 and run.returncode == 0, f"{failed} checks failed:\n{out[-3000:]}"
    assert passed > 4000, f"only {passed} checks ran"


@pytest.mark.parametrize("fmt", ["q4_0", "q4_1", "q8_0"])
def test_c_tiler_matches_relayout(tmp_path, fmt):
    """The C test's own tiler (what the kernels were checked with) writes relayout()'s bytes."""
    exe = build(tmp_path, "gcc", ["-O1"])
    rng = np.random.default_rng(11)
    for rows, n in [(1, 32), (17, 576), (200, 1536)]:
        gguf = quantize(rng.standard_normal((rows, n)).astype(np.float32), fmt)
        (tmp_path / "in.bin").write_bytes(gguf)
        r = subprocess.run([str(exe), "--tile", fmt, str(rows), str(n), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "out.bin").read_bytes() == relayout(fmt, gguf, rows, n), f"{fmt} {rows}x{n}: C and Python tiles differ"
