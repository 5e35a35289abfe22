"""Builds tests/c/test_kernels.c under each compiler / ISA level and runs it: on this machine, and
cross-compiled for AArch64 under qemu-aarch64 (Cortex-A53 for ARMv8.0, `max` for ARMv8.2 sdot), and for
x86-64-v2 (SSSE3, static) under qemu-x86_64 as a Nehalem, which has no AVX, and for RISC-V under qemu-riscv64
(the RVV 1.0 kernels at VLEN 128 and 256).

Every build must pass all its checks and must really have used the kernel path its flags
select: the C test prints EDGEC_KERNELS_ISA, which is compared with what the compiler's own
predefined macros say the flags enable; an AArch64 binary must contain the dot-product
instruction (sdot) exactly when that path is "neon-dotprod" (so the ARMv8.0 builds can run on a
Cortex-A53).  qemu is slow (about 30 s a build), so the builds run in parallel.
"""
from __future__ import annotations

import pytest

from kernel_builds import CTest, builds

# RVV at VLEN 256: built warning-free only here (72 CPU-s under qemu); tests/targets/test_riscv64.py runs whole programs at 256
C_TEST = CTest("test_kernels.c", "EDGEC_KERNELS_ISA", build_only=frozenset({"clang19-rvv-256"}))
runs = C_TEST.fixture()


@pytest.mark.parametrize("build", builds(
    "gcc-native", "clang-native", "gcc-avx2", "gcc-scalar", "clang-asan-ubsan-native",
    # AVX-512 without VNNI (the maddubs path), and the generic target auto-vectorised for this CPU
    # (gcc 12 has miscompiled int8 dots into vpdpbusd there)
    "gcc-native-novnni", "gcc-scalar-native",
    "gcc-neon-a53", "gcc-neon-dotprod", "gcc-aarch64-scalar", "clang-neon-a53", "clang-neon-dotprod",
    "gcc-x86-64-v2",
    # RVV (about 70 CPU seconds under qemu; at VLEN 256 built only); gcc-riscv64-scalar (30 more) is left out:
    # the scalar C runs in the x86 builds and in tests/targets/test_riscv64.py's rv64gc programs
    "clang19-rvv-128", "clang19-rvv-256"), ids=str)
def test_kernels_build_and_pass(runs, build):
    passed = C_TEST.passed(runs, build)
    assert passed is None if build.name in C_TEST.build_only else passed > 3000, f"only {passed} checks ran"
