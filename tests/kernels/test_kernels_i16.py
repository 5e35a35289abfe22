"""Builds tests/c/test_kernels_i16.c under each compiler / ISA level and runs it (AArch64 builds under
qemu-aarch64); checks that the C test's tiler and edgec.plan.interleave_layout.relayout write the same bytes.

Every build must pass all its checks and must really have used the i16 kernel path its flags
select: the C test prints EDGEC_I16_ISA, compared here with what the compiler's predefined
macros say the flags enable; an AArch64 binary must contain sdot exactly when that is neon-dotprod.
"""
from __future__ import annotations

import subprocess

import numpy as np
import pytest

from edgec.ir.block_formats import quantize
from edgec.plan.interleave_layout import relayout
from kernel_builds import BUILDS, C_TESTS, CLANG_NEON, NEON, CTest, built, builds

# The whole C test takes 20-30 s a build under qemu: it runs for gcc, the Pi targets' compiler; clang
# only builds it warning-free (its NEON builds run the model shapes in tests/kernels/test_kernels_neon_i16.py).
C_TEST = CTest("test_kernels_i16.c", "EDGEC_I16_ISA", build_only=CLANG_NEON)
runs = C_TEST.fixture()


@pytest.mark.parametrize("build", builds("gcc-native", "clang-native", "gcc-avx2", "clang-avx2", "gcc-scalar", "gcc-scalar-native",
                                         "gcc-native-novnni", "clang-asan-ubsan-native", *NEON), ids=str)
def test_kernels_i16_build_and_pass(runs, build):
    passed = C_TEST.passed(runs, build)
    assert passed is None or passed > 4000, f"only {passed} checks ran"


@pytest.mark.parametrize("fmt", ["q4_0", "q4_1", "q8_0"])
def test_c_tiler_matches_relayout(tmp_path, fmt):
    """The C test's own tiler (what the kernels were checked with) writes relayout()'s bytes."""
    exe = built(BUILDS["gcc-scalar"], C_TESTS / C_TEST.source, tmp_path / "test_kernels_i16")
    rng = np.random.default_rng(11)
    for rows, n in [(1, 32), (17, 576), (200, 1536)]:
        gguf = quantize(rng.standard_normal((rows, n)).astype(np.float32), fmt)
        (tmp_path / "in.bin").write_bytes(gguf)
        r = subprocess.run([str(exe), "--tile", fmt, str(rows), str(n), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "out.bin").read_bytes() == relayout(fmt, gguf, rows, n), f"{fmt} {rows}x{n}: C and Python tiles differ"
