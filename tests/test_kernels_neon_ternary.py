"""NEON ternary kernels (runtime/core/kernels/arm/neon/ternary.h: tq2, tq2_0, tq1_0, row-major)
cross-compiled for AArch64 and run under qemu-aarch64: `-cpu cortex-a53` for the ARMv8.0 build
(no sdot), `-cpu max` for ARMv8.2 sdot.

Two programs:
  * tests/c/test_kernels_ternary.c as it is (its own encoders, TQ1_0 packing as gguf writes it,
    a double reference, code 3, qx at +-127): run for the gcc builds, built warning-free by clang.
  * MODEL_SHAPES_C below: random weight bytes (every code pattern, GGUF's code 3 included) with
    sane fp16 scales, on SmolLM2-sized shapes (576x576, 1536x576, 576x1536, the 49152x576
    classifier as tq2), odd row counts, a tq2 row with an odd block count past one 8192-column
    slab, and 1, 2, 3, 5 tokens.  Every output is checked against the scalar row decoder
    (edgec_get_row_*) times the q8a activations in double; a sub-range of rows must write only
    its rows, with the same bits; weights and activations end flush against a PROT_NONE page,
    so reading past a row's last block or the last token ends the run.
Every build must print the ISA its flags imply and contain sdot exactly when it is neon-dotprod.
"""
from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from neon_runs import assert_sdot_matches, build_static, check_output, require_tools, tools_present
from test_kernels_neon import BUILDS, QEMU, expected_isa

ROOT = Path(__file__).resolve().parents[1]
C_TEST = ROOT / "tests" / "c" / "test_kernels_ternary.c"
NEON_BUILDS = ["gcc-neon-a53", "gcc-neon-dotprod", "clang-neon-a53", "clang-neon-dotprod"]
C_TEST_RUNS = {"gcc-neon-a53", "gcc-neon-dotprod"}

# (fmt, rows, n, token counts)
MODEL_SHAPES = [
    ("tq2", 576, 576, (1, 5)),      # 9 blocks a row: the last chunk holds one block
    ("tq2", 1536, 576, (1, 5)),
    ("tq2", 576, 1536, (1, 5)),
    ("tq2", 49152, 576, (1,)),
    ("tq2", 203, 576, (1, 2, 5)),
    ("tq2", 5, 8768, (1, 5)),       # 137 blocks: two slabs and an odd tail
    ("tq2_0", 576, 1536, (1, 5)),
    ("tq2_0", 1536, 768, (1, 5)),
    ("tq2_0", 77, 256, (1, 3, 5)),
    ("tq2_0", 3, 8448, (1, 5)),     # 33 blocks = 66 chunks: two slabs
    ("tq1_0", 576, 1536, (1, 5)),
    ("tq1_0", 1536, 768, (1, 5)),
    ("tq1_0", 77, 256, (1, 3, 5)),
    ("tq1_0", 3, 8448, (1, 5)),
]

MODEL_SHAPES_C = r"""
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "kernels/kernels.h"

typedef void (*matmul_t)(float *, int, const void *, int, int, const edgec_block_q8a *, int, int);
typedef void (*get_row)(float *, const void *, int, int);

static uint64_t rng = 0x7e4a0b1e5eedull;
static uint32_t next(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng >> 32);
}
static float uniform(void) { return (float)(next() >> 8) / 8388608.0f - 1.0f; }

/* bytes of memory that end exactly where an inaccessible page begins */
static void *guarded(size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), span = (bytes + page - 1) / page * page;
    uint8_t *base = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED || mprotect(base + span, page, PROT_NONE)) { perror("mmap"); exit(2); }
    return base + span - bytes;
}

#define POISON -12345.0f

int main(int argc, char **argv)
{
    if (argc != 5) { fprintf(stderr, "usage: FMT ROWS N TOKENS(1,5,..)\n"); return 2; }
    const char *fmt = argv[1];
    const int rows = atoi(argv[2]), n = atoi(argv[3]), nb = n / 32;
    const int f = !strcmp(fmt, "tq2") ? 0 : !strcmp(fmt, "tq2_0") ? 1 : 2;
    const matmul_t mm[3] = {edgec_matmul_tq2, edgec_matmul_tq2_0, edgec_matmul_tq1_0};
    const get_row gr[3] = {edgec_get_row_tq2, edgec_get_row_tq2_0, edgec_get_row_tq1_0};
    const int per[3] = {64, 256, 256}, bb[3] = {18, 66, 54}, d_at[3] = {0, 64, 52};
    const size_t blocks = (size_t)rows * (n / per[f]), wbytes = blocks * bb[f];
    uint8_t *w = guarded(wbytes);
    for (size_t i = 0; i < wbytes; i++) w[i] = (uint8_t)next();
    for (size_t k = 0; k < blocks; k++) { /* d: +-(1 + m/1024) * 2^e, e in [-10, -3] */
        uint16_t d = (uint16_t)((next() & 1) << 15 | (uint16_t)(15 - 10 + next() % 8) << 10 | next() % 1024);
        memcpy(w + k * bb[f] + d_at[f], &d, 2);
    }
    float *wrow = malloc(sizeof(float) * (size_t)rows * n); /* every row decoded once, exact */
    for (int r = 0; r < rows; r++) gr[f](wrow + (size_t)r * n, w, r, n);
    int checks = 0, bad = 0;
    for (const char *p = argv[4]; *p; p += strcspn(p, ","), p += *p == ',') {
        const int nt = atoi(p), ldo = rows + 3;
        float *x = malloc(sizeof(float) * n);
        edgec_block_q8a *xq = guarded(sizeof(edgec_block_q8a) * (size_t)nb * nt);
        for (int t = 0; t < nt; t++) {
            for (int j = 0; j < n; j++) x[j] = uniform() * (j % 32 == 7 ? 8.0f : 1.0f);
            edgec_quantize_q8a(x, xq + (size_t)t * nb, n);
        }
        float *out = malloc(sizeof(float) * (size_t)ldo * nt), *part = malloc(sizeof(float) * (size_t)ldo * nt);
        for (size_t i = 0; i < (size_t)ldo * nt; i++) out[i] = part[i] = POISON;
        mm[f](out, ldo, w, 0, rows, xq, nt, n);
        const int r0 = rows > 2 ? 1 : 0, r1 = rows > 2 ? rows - 1 : rows; /* a worker's odd share */
        mm[f](part, ldo, w, r0, r1, xq, nt, n);
        int bad_here = 0, stray = 0;
        for (int t = 0; t < nt; t++)
            for (int r = 0; r < ldo; r++) {
                float o = out[(size_t)t * ldo + r], op = part[(size_t)t * ldo + r];
                if (r >= rows) { stray += o != POISON || op != POISON; continue; }
                if (r < r0 || r >= r1) stray += op != POISON;
                else stray += memcmp(&o, &op, sizeof o) != 0; /* a row's result must not depend on the range */
                const float *wr = wrow + (size_t)r * n;
                double s = 0, mag = 0;
                for (int j = 0; j < n; j++) {
                    const edgec_block_q8a *xb = xq + (size_t)t * nb + j / 32;
                    double term = (double)wr[j] * ((double)xb->d * xb->qs[j % 32]);
                    s += term;
                    mag += fabs(term);
                }
                checks++;
                if (!(fabs(o - s) <= 1e-5 * mag + 1e-30)) {
                    if (bad_here++ < 5) printf("FAIL: %s %dx%d n_tok=%d row %d token %d: %.9g, want %.9g\n", fmt, rows, n, nt, r, t, o, s);
                }
            }
        if (stray) printf("FAIL: %s %dx%d n_tok=%d: %d outputs written outside the rows or range-dependent\n", fmt, rows, n, nt, stray);
        bad += bad_here + stray;
        free(x); free(out); free(part);
    }
    printf("EDGEC_TERNARY_ISA=%s\n%d passed, %d failed\n", EDGEC_TERNARY_ISA, checks - bad, bad);
    return bad != 0;
}
"""


def _run_c_test(build_id: str, out_dir: Path):
    compiler, flags, cpu, _ = BUILDS[build_id]
    exe = out_dir / f"test_kernels_ternary_{build_id}"
    build = build_static(compiler, flags, C_TEST, exe)
    if build.returncode != 0 or build_id not in C_TEST_RUNS:
        return build, None
    return build, subprocess.run([QEMU, "-cpu", cpu, str(exe)], capture_output=True, text=True, timeout=600)


def _run_model_shapes(build_id: str, out_dir: Path):
    compiler, flags, cpu, _ = BUILDS[build_id]
    exe = out_dir / f"model_shapes_{build_id}"
    build = build_static(compiler, flags, out_dir / "model_shapes.c", exe)
    if build.returncode != 0:
        return build, []
    runs = []
    for fmt, rows, n, toks in MODEL_SHAPES:
        args = [fmt, str(rows), str(n), ",".join(map(str, toks))]
        runs.append((f"{fmt} {rows}x{n}", subprocess.run([QEMU, "-cpu", cpu, str(exe), *args], capture_output=True, text=True, timeout=600)))
    return build, runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Starts every build and run in parallel; tests wait on their own result."""
    out_dir = tmp_path_factory.mktemp("neon_ternary")
    (out_dir / "model_shapes.c").write_text(MODEL_SHAPES_C)
    pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1))
    futures = {}
    for build_id in NEON_BUILDS:
        if tools_present(BUILDS[build_id][0]):  # else the test itself fails with SETUP_HINT
            futures[("c", build_id)] = pool.submit(_run_c_test, build_id, out_dir)
            futures[("shapes", build_id)] = pool.submit(_run_model_shapes, build_id, out_dir)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("build_id", NEON_BUILDS)
def test_ternary_c_test_under_qemu(runs, build_id):
    compiler, flags, cpu, isa_want = BUILDS[build_id]
    require_tools(compiler)
    assert expected_isa(compiler, flags) == isa_want, f"{compiler} {flags} no longer defines the macros of {isa_want}"
    build, run = runs[("c", build_id)].result()
    assert build.returncode == 0 and build.stderr == "", f"build failed or warned:\n{build.stderr[-3000:]}"
    if build_id in C_TEST_RUNS:
        passed = check_output(run.stdout, run.stderr, run.returncode, "EDGEC_TERNARY_ISA", isa_want)
        assert passed > 400, f"only {passed} checks ran"
    assert_sdot_matches(build, isa_want)


@pytest.mark.parametrize("build_id", NEON_BUILDS)
def test_ternary_model_shapes_under_qemu(runs, build_id):
    compiler, _, _, isa_want = BUILDS[build_id]
    require_tools(compiler)
    build, shape_runs = runs[("shapes", build_id)].result()
    assert build.returncode == 0 and build.stderr == "", f"build failed or warned:\n{build.stderr[-3000:]}"
    assert len(shape_runs) == len(MODEL_SHAPES)
    for (name, run), (_, rows, _, toks) in zip(shape_runs, MODEL_SHAPES):
        passed = check_output(run.stdout, run.stderr, run.returncode, "EDGEC_TERNARY_ISA", isa_want)
        assert passed == rows * sum(toks), f"{name}: {passed} outputs checked, want {rows * sum(toks)}"
