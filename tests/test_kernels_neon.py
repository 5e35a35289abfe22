"""Cross-compiles tests/c/test_kernels.c for AArch64 and runs it under qemu-aarch64.

Each build must pass all its checks and must really have used the kernel path its flags
select: the printed EDGEC_KERNELS_ISA is compared with the compiler's own predefined macros,
and the disassembly must contain the dot-product instruction (sdot) exactly when the path is
"neon-dotprod" (so the ARMv8.0 builds can run on a Cortex-A53).  qemu is slow (about 30 s a
build), so the builds and runs go in parallel, up to one per CPU core.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "c" / "test_kernels.c"
COMMON = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-static", f"-I{ROOT / 'runtime' / 'core'}"]
CROSS_GCC = "aarch64-linux-gnu-gcc"
OBJDUMP = "aarch64-linux-gnu-objdump"
QEMU = "qemu-aarch64"
CLANG_TARGET = ["--target=aarch64-linux-gnu"]
SETUP_HINT = "run examples/setup.sh (it apt-installs gcc-aarch64-linux-gnu and qemu-user)"

# id -> (compiler, flags, qemu -cpu, expected EDGEC_KERNELS_ISA)
BUILDS = {
    "gcc-neon-a53": (CROSS_GCC, ["-march=armv8-a", "-mtune=cortex-a53"], "cortex-a53", "neon"),
    "gcc-neon-dotprod": (CROSS_GCC, ["-march=armv8.2-a+dotprod"], "max", "neon-dotprod"),
    "gcc-scalar": (CROSS_GCC, ["-DEDGEC_SCALAR"], "cortex-a53", "scalar"),
    "clang-neon-a53": ("clang", CLANG_TARGET + ["-march=armv8-a", "-mtune=cortex-a53"], "cortex-a53", "neon"),
    "clang-neon-dotprod": ("clang", CLANG_TARGET + ["-march=armv8.2-a+dotprod"], "max", "neon-dotprod"),
}


def _require_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: {SETUP_HINT}")


def expected_isa(compiler: str, flags: list[str]) -> str:
    """The kernel path kernels.h must pick, from the compiler's predefined macros."""
    out = subprocess.run([compiler, *flags, "-dM", "-E", "-x", "c", "/dev/null"],
                         capture_output=True, text=True, check=True).stdout
    macros = set(re.findall(r"#define (\w+)", out))
    if "EDGEC_SCALAR" in macros or not {"__ARM_NEON", "__aarch64__"} <= macros:
        return "scalar"
    return "neon-dotprod" if "__ARM_FEATURE_DOTPROD" in macros else "neon"


def _build_and_run(exe: Path, compiler: str, flags: list[str], cpu: str, *args: str, timeout: int = 300):
    """(build, run) CompletedProcesses; run is None when the build failed."""
    build = subprocess.run([compiler, *COMMON, *flags, str(SOURCE), "-o", str(exe), "-lm"],
                           capture_output=True, text=True)
    if build.returncode != 0:
        return build, None
    return build, subprocess.run([QEMU, "-cpu", cpu, str(exe), *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory) -> dict[str, Future]:
    """Starts every selected build in parallel; tests wait on their own result."""
    selected = [item.callspec.params["build_id"] for item in request.session.items
                if getattr(item, "originalname", "") == "test_kernels_neon_build_and_pass" and hasattr(item, "callspec")]
    out_dir = tmp_path_factory.mktemp("neon")
    pool = ThreadPoolExecutor(max_workers=max(1, min(len(selected), os.cpu_count() or 1)))
    futures = {}
    for build_id in selected:
        compiler, flags, cpu, _ = BUILDS[build_id]
        if all(shutil.which(t) for t in (compiler, CROSS_GCC, QEMU)):  # else the test itself fails with SETUP_HINT
            futures[build_id] = pool.submit(_build_and_run, out_dir / f"test_kernels_{build_id}", compiler, flags, cpu)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("build_id", list(BUILDS))
def test_kernels_neon_build_and_pass(runs, build_id, tmp_path):
    compiler, flags, cpu, isa_want = BUILDS[build_id]
    _require_tools(compiler, CROSS_GCC, QEMU, OBJDUMP)  # clang links against the cross gcc sysroot
    assert expected_isa(compiler, flags) == isa_want, f"{compiler} {flags} no longer defines the macros of {isa_want}"
    build, run = runs[build_id].result()
    assert build.returncode == 0, f"build failed:\n{build.stderr[-3000:]}"
    assert build.stderr == "", f"unexpected compiler output:\n{build.stderr[-3000:]}"

    out = run.stdout + run.stderr
    isa = re.search(r"^EDGEC_KERNELS_ISA=([\w-]+)$", run.stdout, re.M)
    assert isa, f"no ISA line in the output:\n{out[-3000:]}"
    assert isa.group(1) == isa_want, f"flags {flags} built the {isa.group(1)} path"
    summary = re.search(r"^(\d+) passed, (\d+) failed$", run.stdout, re.M)
    assert summary, f"no summary line (crash or illegal instruction under -cpu {cpu}?):\n{out[-3000:]}"
    passed, failed = map(int, summary.groups())
    assert failed == 0 and run.returncode == 0, f"{failed} checks failed:\n{out[-3000:]}"
    assert passed > 3000, f"only {passed} checks ran"

    # sdot (ARMv8.2 dot product) must appear exactly in the dot-product builds
    exe = Path(build.args[build.args.index("-o") + 1])
    disasm = subprocess.run([OBJDUMP, "-d", str(exe)], capture_output=True, text=True, check=True).stdout
    has_sdot = re.search(r"\bsdot\b", disasm) is not None
    assert has_sdot == (isa_want == "neon-dotprod"), f"sdot in the {isa_want} build: {has_sdot}"


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


@pytest.mark.parametrize("build_id", ["gcc-neon-a53", "gcc-neon-dotprod"])
def test_quantized_matmul_chunk_tails(tmp_path, build_id):
    compiler, flags, cpu, isa_want = BUILDS[build_id]
    _require_tools(compiler, QEMU)
    src = tmp_path / "tails.c"
    src.write_text(TAILS_C)
    exe = tmp_path / "tails"
    build = subprocess.run([compiler, *COMMON, *flags, str(src), "-o", str(exe), "-lm"], capture_output=True, text=True)
    assert build.returncode == 0 and build.stderr == "", f"build failed:\n{build.stderr[-3000:]}"
    run = subprocess.run([QEMU, "-cpu", cpu, str(exe)], capture_output=True, text=True, timeout=300)
    assert f"EDGEC_KERNELS_ISA={isa_want}\n" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    summary = re.search(r"^(\d+) passed, (\d+) failed$", run.stdout, re.M)
    assert summary and summary.group(2) == "0" and run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert int(summary.group(1)) == 3 * 4 * (1 + 2 + 3 + 5) * (1 + 2 + 3 + 4 + 5 + 6 + 9), "not every output was checked"


def test_dotprod_build_needs_dotprod_cpu(tmp_path):
    """The emulated Cortex-A53 really lacks sdot, so the ARMv8.0 runs above prove A53-safety."""
    _require_tools(CROSS_GCC, QEMU)
    probe = tmp_path / "sdot.c"
    probe.write_text(
        "#include <arm_neon.h>\n#include <stdio.h>\n"
        "int main(int argc, char **argv) { (void)argv; int8x16_t a = vdupq_n_s8((int8_t)argc);\n"
        "  printf(\"%d\\n\", vaddvq_s32(vdotq_s32(vdupq_n_s32(0), a, a))); return 0; }\n")
    exe = tmp_path / "sdot"
    subprocess.run([CROSS_GCC, "-O2", "-static", "-march=armv8.2-a+dotprod", str(probe), "-o", str(exe)], check=True)
    assert subprocess.run([QEMU, "-cpu", "max", str(exe)], capture_output=True, text=True).stdout.strip() == "16"
    a53 = subprocess.run([QEMU, "-cpu", "cortex-a53", str(exe)], capture_output=True, text=True)
    assert a53.returncode != 0, "qemu's cortex-a53 executed sdot: the ARMv8.0 runs would not prove A53-safety"
