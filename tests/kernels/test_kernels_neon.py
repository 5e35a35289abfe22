"""NEON kernel checks beyond tests/c/test_kernels.c (whose AArch64 builds run in tests/kernels/test_kernels.py):
the quantized matmuls' chunk tails under qemu-aarch64, and a probe that qemu's Cortex-A53 really lacks
sdot, so that the ARMv8.0 runs prove A53-safety.

32-bit ARM (the armv7 target: the same kernels over kernels/arm/neon/a32.h): the kernel families' own C
test programs (tests/c: dense + float + fp16, lowbit, ternary, attention; i16 in test_kernels_neon_i16.py,
LUT in test_kernels_lut.py) built for armhf and run under qemu-arm as a Cortex-A7 against their scalar /
double references (clang: built warning-free), the chunk
tails with gcc, clang and the plain-NEON (VFPv3, no vfma) fallback, and a probe that qemu's Cortex-A7
rejects ARMv8 instructions, so those runs prove the binaries are ARMv7 code.
"""
from __future__ import annotations

import dataclasses
import re

import pytest

from kernel_builds import ARMV7_NEON, BUILDS, C_TESTS, Build, build_and_run, built, builds, module_runs

# test_kernels.c's shapes leave 0, 1 or 2 blocks after the last whole 4-block chunk; this covers 3
# (n = 96, 224) as well, with every row and token count the tiles split differently.  The reference
# is the scalar row decoder (edgec_get_row_*, exact) times the q8a activations, in double.
TAILS_C = r"""
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "kernels/kernels.h"

static uint32_t rng = 12345u;
static uint32_t next(void) { rng = rng * 1664525u + 1013904223u; return rng >> 8; }
static float uniform(void) { return (float)next() / 8388608.0f * 2.0f - 1.0f; }

typedef void (*matmul_q)(float *, int, const void *, int, int, const edgec_block_q8a *, int, int);
typedef void (*get_row)(float *, const void *, int, int);

int main(void)
{
    const matmul_q mm[3] = {edgec_matmul_q8_0, edgec_matmul_q4_0, edgec_matmul_q4_1};
    const get_row gr[3] = {edgec_get_row_q8_0, edgec_get_row_q4_0, edgec_get_row_q4_1};
    const int bytes[3] = {34, 18, 20}, ns[] = {96, 128, 160, 224}, rows_list[] = {1, 2, 3, 5}, toks[] = {1, 2, 3, 4, 5, 6, 9};
    int checks = 0, bad = 0;
    for (int f = 0; f < 3; f++)
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++)
                for (int c = 0; c < 7; c++) {
                    int n = ns[a], rows = rows_list[b], nt = toks[c], nb = n / 32;
                    uint8_t *w = malloc((size_t)rows * nb * bytes[f] + 1), *wr = w + 1; /* odd address */
                    for (int i = 0; i < rows * nb * bytes[f]; i++) wr[i] = (uint8_t)next();
                    for (int k = 0; k < rows * nb; k++) { /* sane fp16 scales: d, and m for q4_1 */
                        uint8_t *blk = wr + k * bytes[f];
                        uint16_t d = edgec_fp32_to_fp16(0.01f * (1.0f + uniform())), m = edgec_fp32_to_fp16(-0.1f * uniform());
                        memcpy(blk, &d, 2);
                        if (f == 2) memcpy(blk + 2, &m, 2);
                    }
                    float *x = malloc(sizeof(float) * n * nt), *out = malloc(sizeof(float) * rows * nt), *row = malloc(sizeof(float) * n);
                    edgec_block_q8a *xq = malloc(sizeof(edgec_block_q8a) * nb * nt);
                    for (int i = 0; i < n * nt; i++) x[i] = uniform();
                    for (int t = 0; t < nt; t++) edgec_quantize_q8a(x + t * n, xq + t * nb, n);
                    mm[f](out, rows, wr, 0, rows, xq, nt, n);
                    for (int r = 0; r < rows; r++) {
                        gr[f](row, wr, r, n);
                        for (int t = 0; t < nt; t++) {
                            double s = 0, mag = 0;
                            for (int j = 0; j < n; j++) {
                                double term = (double)row[j] * xq[t * nb + j / 32].d * xq[t * nb + j / 32].qs[j % 32];
                                s += term;
                                mag += fabs(term);
                            }
                            checks++;
                            if (!(fabs(out[t * rows + r] - s) <= 1e-5 * mag + 1e-30)) {
                                bad++;
                                printf("FAIL: format %d n=%d rows=%d n_tok=%d r=%d t=%d: %g, want %g\n", f, n, rows, nt, r, t, out[t * rows + r], s);
                            }
                        }
                    }
                    free(w); free(x); free(out); free(row); free(xq);
                }
    printf("EDGEC_KERNELS_ISA=%s\n%d passed, %d failed\n", EDGEC_KERNELS_ISA, checks - bad, bad);
    return bad != 0;
}
"""



@pytest.mark.parametrize("build", builds("gcc-neon-a53", "gcc-neon-dotprod", *ARMV7_NEON, "gcc-armv7-vfpv3"), ids=str)
def test_quantized_matmul_chunk_tails(tmp_path, build):
    build.require()
    src = tmp_path / "tails.c"
    src.write_text(TAILS_C)
    outcome = build_and_run(build, src, tmp_path / "tails", timeout=300)
    passed = outcome.passed("EDGEC_KERNELS_ISA")
    assert passed == 3 * 4 * (1 + 2 + 3 + 5) * (1 + 2 + 3 + 4 + 5 + 6 + 9), "not every output was checked"
    if build.name.endswith("vfpv3"):   # no VFPv4: a32.h's fallbacks (qemu's Cortex-A8 would run VFPv4 code all the same)
        assert not re.search(r"\bv(fma\.f32|cvt\.f32\.f16)\b", outcome.disassembly()), f"a VFPv4 instruction in the {build} build"


SDOT_PROBE = r"""
#include <arm_neon.h>
#include <stdio.h>
int main(int argc, char **argv) { (void)argv; int8x16_t a = vdupq_n_s8((int8_t)argc);
  printf("%d\n", vaddvq_s32(vdotq_s32(vdupq_n_s32(0), a, a))); return 0; }
"""


def test_dotprod_build_needs_dotprod_cpu(tmp_path):
    """The emulated Cortex-A53 really lacks sdot, so the ARMv8.0 runs prove A53-safety."""
    dotprod = BUILDS["gcc-neon-dotprod"]
    (tmp_path / "sdot.c").write_text(SDOT_PROBE)
    exe = built(dotprod, tmp_path / "sdot.c", tmp_path / "sdot")
    assert dotprod.qemu_cpu == "max" and dotprod.run(exe).stdout.strip() == "16"
    a53 = dataclasses.replace(dotprod, qemu_cpu="cortex-a53").run(exe)
    assert a53.returncode != 0, "qemu's cortex-a53 executed sdot: the ARMv8.0 runs would not prove A53-safety"


# ---- 32-bit ARM ---------------------------------------------------------------------------------

V8_PROBE = r"""
#include <arm_neon.h>
#include <stdio.h>
int main(int argc, char **argv) { (void)argv; float32x4_t a = vdupq_n_f32((float)argc + 0.5f);
  printf("%g\n", vgetq_lane_f32(vrndnq_f32(a), 0)); return 0; }
"""


def test_armv7_runs_reject_armv8_code(tmp_path):
    """qemu's Cortex-A7 rejects an ARMv8 instruction (vrintn, which vrndnq_f32 is on AArch32 ARMv8), so the
    armv7 builds' runs prove they are ARMv7 code: a32.h's vrndnq / vcvtaq are ARMv7 sequences."""
    armv7 = BUILDS["gcc-armv7"]
    v8 = dataclasses.replace(armv7, flags=("-O2", "-march=armv8-a", "-mfpu=neon-fp-armv8", "-mfloat-abi=hard"))
    (tmp_path / "v8.c").write_text(V8_PROBE)
    exe = built(v8, tmp_path / "v8.c", tmp_path / "v8")
    assert dataclasses.replace(v8, qemu_cpu="max").run(exe).stdout.strip() == "2"
    a7 = armv7.run(exe)
    assert a7.returncode != 0, "qemu's cortex-a7 executed vrintn: the armv7 runs would not prove ARMv7-only code"


# Each family's C test program: the line it prints its path on, at least how many checks it runs on this
# path (its own count, rounded down), and a NEON instruction its kernels must compile to.  The i16 family
# runs on armv7 as tests/kernels/test_kernels_neon_i16.py's model shapes (its own program costs 20 s of
# qemu), LUT in test_kernels_lut.py; ternary_i16.h has no NEON file (scalar there).
INT8_MAC, FLOAT_FMA = r"\bv(mull|mlal)\.s8\b", r"\bvfma\.f32\b"
FAMILY_C_TESTS = {"test_kernels.c": ("EDGEC_KERNELS_ISA", 4000, INT8_MAC),
                  "test_kernels_lowbit.c": ("EDGEC_LOWBIT_ISA", 900, INT8_MAC),
                  "test_kernels_ternary.c": ("EDGEC_TERNARY_ISA", 400, INT8_MAC),
                  "test_attention.c": ("EDGEC_KERNELS_ISA", 5000, FLOAT_FMA)}
# clang builds two of them, warning-free, without running: kernels.h includes every matmul family but LUT
# (clang-armv7 runs in test_kernels_lut.py and the chunk tails above)
CLANG_BUILT = ("test_kernels.c", "test_attention.c")


def family_build(build: str, source: str) -> Build:
    """The build named build, named for the C program it builds (the module's runs are keyed by build)."""
    return dataclasses.replace(BUILDS[build], name=f"{build}-{source.removesuffix('.c')}")


SOURCE_OF = {**{family_build("gcc-armv7", src): src for src in FAMILY_C_TESTS},
             **{family_build("clang-armv7", src): src for src in CLANG_BUILT}}


@pytest.fixture(scope="module")
def family_runs(request, tmp_path_factory):
    """Every selected family build at once: gcc (the armv7 target's compiler) built and run, clang built only."""
    folder = tmp_path_factory.mktemp("armv7_families")

    def job(build: Build):
        arg_lists = () if build.compiler.startswith("clang") else ((),)
        return build_and_run(build, C_TESTS / SOURCE_OF[build], folder / build.name, arg_lists)
    with module_runs(request, job) as r:
        yield r


@pytest.mark.parametrize("build", list(SOURCE_OF), ids=str)
def test_kernel_families_on_armv7(family_runs, build):
    build.require()
    outcome = family_runs[build]
    isa_macro, min_checks, neon_instruction = FAMILY_C_TESTS[SOURCE_OF[build]]
    outcome.assert_compiled_clean()
    disasm = outcome.disassembly()
    assert re.search(neon_instruction, disasm), f"no {neon_instruction} in {build}: its NEON kernels are not compiled in"
    assert not re.search(r"\bv?[su]dot\b", disasm), f"a dot-product instruction in the 32-bit {build}"
    if outcome.runs:   # gcc: run under qemu-arm -cpu cortex-a7
        passed = outcome.passed(isa_macro)
        assert passed >= min_checks, f"only {passed} checks ran"
