"""Builds tests/c/test_kernels.c under each compiler / ISA level and runs it.

Every build must pass all its checks and must really have used the kernel path its flags
select: the C test prints EDGEC_KERNELS_ISA, which is compared with what the compiler's own
predefined macros say the flags enable.
"""
from __future__ import annotations

import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from kernel_builds import SANITIZE, cpu_flags, kernel_isa

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "c" / "test_kernels.c"
COMMON = ["-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'runtime' / 'core'}"]

# (id, compiler, flags): the builds the kernels must pass.
X86_BUILDS = [
    ("gcc-native", "gcc", ["-O2", "-march=native"]),
    ("clang-native", "clang", ["-O2", "-march=native"]),
    ("gcc-avx2", "gcc", ["-O2", "-mavx2", "-mfma", "-mf16c"]),
    ("gcc-scalar", "gcc", ["-O2", "-DEDGEC_SCALAR"]),
    ("clang-asan-ubsan-native", "clang", SANITIZE + ["-march=native"]),
    # AVX-512 without VNNI (the maddubs path), and the generic target auto-vectorised for
    # this CPU (gcc 12 has miscompiled int8 dots into vpdpbusd there).
    ("gcc-native-novnni", "gcc", ["-O2", "-march=native", "-mno-avx512vnni"]),
    ("gcc-scalar-native", "gcc", ["-O2", "-march=native", "-DEDGEC_SCALAR"]),
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
    if not {"avx2", "fma", "f16c"} <= cpu_flags():  # the AVX2 build could not run here
        return [b for b in X86_BUILDS if b[0] != "gcc-avx2"]
    return X86_BUILDS


def expected_isa(compiler: str, flags: list[str]) -> str:
    """The kernel path kernels.h must pick, from the compiler's predefined macros."""
    return kernel_isa(compiler, flags)


@pytest.mark.parametrize("compiler,flags", [b[1:] for b in _builds()], ids=[b[0] for b in _builds()])
def test_kernels_build_and_pass(tmp_path, compiler, flags):
    assert shutil.which(compiler), f"{compiler} is needed to build the kernel tests"
    exe = tmp_path / "test_kernels"
    build = subprocess.run([compiler, *COMMON, *flags, str(SOURCE), "-o", str(exe), "-lm"],
                           capture_output=True, text=True)
    assert build.returncode == 0, f"build failed:\n{build.stderr}"
    assert build.stderr == "", f"unexpected compiler output:\n{build.stderr}"

    run = subprocess.run([str(exe)], capture_output=True, text=True, timeout=600)
    out = run.stdout + run.stderr
    isa = re.search(r"^EDGEC_KERNELS_ISA=(\w+)$", run.stdout, re.M)
    assert isa, f"no ISA line in the output:\n{out[-3000:]}"
    assert isa.group(1) == expected_isa(compiler, flags), f"flags {flags} built the {isa.group(1)} path"

    summary = re.search(r"^(\d+) passed, (\d+) failed$", run.stdout, re.M)
    assert summary, f"no summary line (crash or sanitizer report?):\n{out[-3000:]}"
    passed, failed = map(int, summary.groups())
    assert failed == 0 and run.returncode == 0, f"{failed} checks failed:\n{out[-3000:]}"
    assert passed > 3000, f"only {passed} checks ran"
