"""NEON i16-layout kernels (runtime/core/kernels/arm/neon/i16.h) cross-compiled for AArch64 and run
under qemu-aarch64: `-cpu cortex-a53` for the ARMv8.0 build (no sdot), `-cpu max` for ARMv8.2 sdot.

Two programs:
  * tests/c/test_kernels_i16.c as it is (run for the gcc builds, built warning-free by clang too): its own quantizer and tiler, a double reference, the
    row-major kernels; shapes up to 576x1536 with rows 1, 3, 16, 17, 192, 576 and 1, 2, 5, 32 tokens.
  * MODEL_SHAPES_C below, on SmolLM2's matrix shapes (576x576, 1536x576, 576x1536, the 49152x576
    classifier) and on row counts that end in a partial group (8, 11 or 2 real rows of 16), 1 and
    5 tokens.  Python writes random GGUF blocks and edgec.plan.interleave_layout.relayout's tiles (the
    bytes a compiled model holds); the C side checks every output against the row-major scalar
    decoder (edgec_get_row_*) times the q8a activations in double, checks that nothing outside the
    requested row groups is written, and puts the tiles and the activations flush against a
    PROT_NONE page, so a read past either ends the run.
Every build must print the ISA its flags imply (the compiler's own predefined macros) and contain
sdot exactly when that ISA is neon-dotprod.  The builds run in parallel, one per core.
"""
from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from edgec.plan.interleave_layout import relayout
from neon_runs import assert_sdot_matches, build_static, check_output, require_tools, tools_present
from test_kernels_neon import BUILDS, CROSS_GCC, QEMU, expected_isa

ROOT = Path(__file__).resolve().parents[1]
C_TEST = ROOT / "tests" / "c" / "test_kernels_i16.c"
NEON_BUILDS = ["gcc-neon-a53", "gcc-neon-dotprod", "clang-neon-a53", "clang-neon-dotprod"]
# The whole C test (20-30 s each under qemu) runs for gcc, the Pi targets' compiler; clang builds
# it warning-free and runs the model shapes.
C_TEST_RUNS = {"gcc-neon-a53", "gcc-neon-dotprod"}

# (fmt, rows, n, token counts): SmolLM2-135M's matrices, then rows that end in a partial group
MODEL_SHAPES = [
    ("q4_0", 576, 576, (1, 5)),
    ("q4_1", 1536, 576, (1, 5)),
    ("q4_1", 576, 1536, (1, 5)),
    ("q8_0", 1536, 576, (1, 5)),
    ("q8_0", 49152, 576, (1,)),
    ("q4_0", 1000, 576, (1, 5)),   # last group: 8 rows (one pass of a batch is all padding)
    ("q8_0", 203, 1536, (1, 5)),   # last group: 11 rows (a quad of 3)
    ("q4_1", 50, 576, (1, 2, 5)),  # last group: 2 rows
]
BLOCK_BYTES = {"q4_0": 18, "q4_1": 20, "q8_0": 34}

MODEL_SHAPES_C = r"""
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "kernels/kernels.h"

typedef void (*matmul_i16)(float *, int, const void *, int, int, int, const edgec_block_q8a *, int, int);
typedef void (*get_row)(float *, const void *, int, int);

static uint64_t rng = 0x5eed1234abcdull;
static float uniform(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(rng >> 40) / 8388608.0f - 1.0f;
}

/* bytes of memory that end exactly where an inaccessible page begins */
static void *guarded(size_t bytes)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), span = (bytes + page - 1) / page * page;
    uint8_t *base = mmap(NULL, span + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED || mprotect(base + span, page, PROT_NONE)) { perror("mmap"); exit(2); }
    return base + span - bytes;
}

static void *read_file(const char *path, size_t bytes, void *dst)
{
    FILE *f = fopen(path, "rb");
    if (!f || fread(dst, 1, bytes, f) != bytes) { fprintf(stderr, "cannot read %s\n", path); exit(2); }
    fclose(f);
    return dst;
}

#define POISON -12345.0f

int main(int argc, char **argv)
{
    if (argc != 7) { fprintf(stderr, "usage: FMT ROWS N TOKENS(1,5,..) GGUF TILES\n"); return 2; }
    const char *fmt = argv[1];
    const int rows = atoi(argv[2]), n = atoi(argv[3]), nb = n / 32, groups = (rows + 15) / 16;
    int f = !strcmp(fmt, "q4_0") ? 0 : !strcmp(fmt, "q4_1") ? 1 : 2;
    const matmul_i16 mm[3] = {edgec_matmul_i16_q4_0, edgec_matmul_i16_q4_1, edgec_matmul_i16_q8_0};
    const get_row gr[3] = {edgec_get_row_q4_0, edgec_get_row_q4_1, edgec_get_row_q8_0};
    const int bb[3] = {18, 20, 34}, tb[3] = {288, 320, 544};
    uint8_t *gguf = read_file(argv[5], (size_t)rows * nb * bb[f], malloc((size_t)rows * nb * bb[f]));
    size_t tiles_bytes = (size_t)groups * nb * tb[f];
    const uint8_t *tiles = read_file(argv[6], tiles_bytes, guarded(tiles_bytes));
    float *wrow = malloc(sizeof(float) * (size_t)rows * n); /* every row decoded once, exact */
    for (int r = 0; r < rows; r++) gr[f](wrow + (size_t)r * n, gguf, r, n);
    int checks = 0, bad = 0;
    for (const char *p = argv[4]; *p; p += strcspn(p, ","), p += *p == ',') {
        const int nt = atoi(p), ldo = rows + 3;
        float *x = malloc(sizeof(float) * n);
        edgec_block_q8a *xq = guarded(sizeof(edgec_block_q8a) * (size_t)nb * nt);
        for (int t = 0; t < nt; t++) {
            for (int j = 0; j < n; j++) x[j] = uniform() * (j % 32 == 5 ? 8.0f : 1.0f);
            edgec_quantize_q8a(x, xq + (size_t)t * nb, n);
        }
        float *out = malloc(sizeof(float) * (size_t)ldo * nt), *part = malloc(sizeof(float) * (size_t)ldo * nt);
        for (size_t i = 0; i < (size_t)ldo * nt; i++) out[i] = part[i] = POISON;
        mm[f](out, ldo, tiles, 0, groups, rows, xq, nt, n);
        const int g0 = groups > 2 ? 1 : 0, g1 = groups > 2 ? groups - 1 : groups; /* a worker's share */
        mm[f](part, ldo, tiles, g0, g1, rows, xq, nt, n);
        int bad_here = 0, stray = 0;
        for (int t = 0; t < nt; t++)
            for (int r = 0; r < ldo; r++) {
                float o = out[(size_t)t * ldo + r], op = part[(size_t)t * ldo + r];
                int inside = r >= 16 * g0 && r < 16 * g1 && r < rows;
                if (r >= rows) { stray += o != POISON || op != POISON; continue; }
                if (!inside) stray += op != POISON;
                else stray += memcmp(&o, &op, sizeof o) != 0; /* a row's result must not depend on the range */
                const float *w = wrow + (size_t)r * n;
                double s = 0, mag = 0;
                for (int j = 0; j < n; j++) {
                    const edgec_block_q8a *xb = xq + (size_t)t * nb + j / 32;
                    double term = (double)w[j] * ((double)xb->d * xb->qs[j % 32]);
                    s += term;
                    mag += fabs(term);
                }
                checks++;
                if (!(fabs(o - s) <= 1e-5 * mag + 1e-30)) {
                    if (bad_here++ < 5) printf("FAIL: %s %dx%d n_tok=%d row %d token %d: %.9g, want %.9g\n", fmt, rows, n, nt, r, t, o, s);
                }
            }
        if (stray) printf("FAIL: %s %dx%d n_tok=%d: %d outputs written outside the range or range-dependent\n", fmt, rows, n, nt, stray);
        bad += bad_here + stray;
        free(x); free(out); free(part);
    }
    printf("EDGEC_I16_ISA=%s\n%d passed, %d failed\n", EDGEC_I16_ISA, checks - bad, bad);
    return bad != 0;
}
"""


def random_gguf(fmt: str, rows: int, n: int, seed: int) -> bytes:
    """Random GGUF blocks: every byte pattern for the weights, sane fp16 scales (q4_1's m signed)."""
    rng = np.random.default_rng(seed)
    count, bb = rows * (n // 32), BLOCK_BYTES[fmt]
    blocks = rng.integers(0, 256, (count, bb), dtype=np.uint8)
    d = (rng.uniform(0.002, 0.02, count) * rng.choice([-1.0, 1.0], count)).astype(np.float16)
    blocks[:, 0:2] = d.view(np.uint8).reshape(count, 2)
    if fmt == "q4_1":
        blocks[:, 2:4] = rng.uniform(-0.1, 0.1, count).astype(np.float16).view(np.uint8).reshape(count, 2)
    return blocks.tobytes()


def _run_c_test(build_id: str, out_dir: Path):
    compiler, flags, cpu, _ = BUILDS[build_id]
    exe = out_dir / f"test_kernels_i16_{build_id}"
    build = build_static(compiler, flags, C_TEST, exe)
    if build.returncode != 0 or build_id not in C_TEST_RUNS:
        return build, None
    return build, subprocess.run([QEMU, "-cpu", cpu, str(exe)], capture_output=True, text=True, timeout=600)


def _run_model_shapes(build_id: str, out_dir: Path, data: list):
    compiler, flags, cpu, _ = BUILDS[build_id]
    src = out_dir / "model_shapes.c"
    exe = out_dir / f"model_shapes_{build_id}"
    build = build_static(compiler, flags, src, exe)
    if build.returncode != 0:
        return build, []
    runs = []
    for fmt, rows, n, toks, gguf, tiles in data:
        args = [fmt, str(rows), str(n), ",".join(map(str, toks)), str(gguf), str(tiles)]
        runs.append((f"{fmt} {rows}x{n}", subprocess.run([QEMU, "-cpu", cpu, str(exe), *args], capture_output=True, text=True, timeout=600)))
    return build, runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Starts every build and run in parallel; tests wait on their own result."""
    out_dir = tmp_path_factory.mktemp("neon_i16")
    (out_dir / "model_shapes.c").write_text(MODEL_SHAPES_C)
    data = []
    for k, (fmt, rows, n, toks) in enumerate(MODEL_SHAPES):
        gguf = random_gguf(fmt, rows, n, seed=100 + k)
        (out_dir / f"w{k}.gguf").write_bytes(gguf)
        (out_dir / f"w{k}.tiles").write_bytes(relayout(fmt, gguf, rows, n))
        data.append((fmt, rows, n, toks, out_dir / f"w{k}.gguf", out_dir / f"w{k}.tiles"))
    pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1))
    futures = {}
    for build_id in NEON_BUILDS:
        if tools_present(BUILDS[build_id][0]):  # else the test itself fails with SETUP_HINT
            futures[("c", build_id)] = pool.submit(_run_c_test, build_id, out_dir)
            futures[("shapes", build_id)] = pool.submit(_run_model_shapes, build_id, out_dir, data)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("build_id", NEON_BUILDS)
def test_i16_c_test_under_qemu(runs, build_id):
    compiler, flags, cpu, isa_want = BUILDS[build_id]
    require_tools(compiler)
    assert expected_isa(compiler, flags) == isa_want, f"{compiler} {flags} no longer defines the macros of {isa_want}"
    build, run = runs[("c", build_id)].result()
    assert build.returncode == 0 and build.stderr == "", f"build failed or warned:\n{build.stderr[-3000:]}"
    if build_id in C_TEST_RUNS:
        passed = check_output(run.stdout, run.stderr, run.returncode, "EDGEC_I16_ISA", isa_want)
        assert passed > 4000, f"only {passed} checks ran"
    assert_sdot_matches(build, isa_want)


@pytest.mark.parametrize("build_id", NEON_BUILDS)
def test_i16_model_shapes_under_qemu(runs, build_id):
    compiler, _, _, isa_want = BUILDS[build_id]
    require_tools(compiler)
    build, shape_runs = runs[("shapes", build_id)].result()
    assert build.returncode == 0 and build.stderr == "", f"build failed or warned:\n{build.stderr[-3000:]}"
    assert len(shape_runs) == len(MODEL_SHAPES)
    for (name, run), (_, rows, _, toks) in zip(shape_runs, MODEL_SHAPES):
        passed = check_output(run.stdout, run.stderr, run.returncode, "EDGEC_I16_ISA", isa_want)
        assert passed == rows * sum(toks), f"{name}: {passed} outputs checked, want {rows * sum(toks)}"


def test_guard_page_catches_an_overread(tmp_path):
    """The guard pages above really fault: reading one byte past a guarded buffer ends the program."""
    require_tools(CROSS_GCC)
    src = tmp_path / "overread.c"
    src.write_text(MODEL_SHAPES_C.split("#define POISON")[0] +
                   "int main(int argc, char **argv) { (void)argv; volatile uint8_t *p = guarded(64);\n"
                   "  printf(\"%d\\n\", p[63 + argc]); return 0; }\n")
    exe = tmp_path / "overread"
    build = build_static(CROSS_GCC, ["-Wno-unused-function"], src, exe)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([QEMU, str(exe)], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and run.stdout == "", "a read past the guarded buffer did not fault"
