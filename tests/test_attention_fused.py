"""The fused (online softmax) attention kernels of runtime/core/kernels/attention.h and their use.

Builds tests/c/test_attention.c (a double-precision softmax attention as the reference, odd
lengths, 1-7 query heads per KV head, f16 and f32 K/V, extreme score ranges) once per compiler /
ISA path in parallel: scalar, AVX2, AVX-512 with gcc and clang, a sanitizer build, and NEON (and
the scalar path) cross-compiled for AArch64 and run under qemu's Cortex-A53.  Each run must pass
every check on the path its flags select.  Then the generated code: attention calls the fused
kernel, says its block size, and the arena holds no score buffer (it grows with the context only
through the KV cache).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import compile_artifact
from edgec.plan.memory_plan import plan_arena
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf
from kernel_builds import AVX2_FLAGS, SANITIZE, kernel_isa, runnable_builds
from neon_runs import build_static, check_output, require_tools
from test_kernels_neon import CROSS_GCC, QEMU

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "tests" / "c" / "test_attention.c"
HEADER = ROOT / "runtime" / "core" / "kernels" / "attention.h"
COMMON = ["-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'runtime' / 'core'}"]
MIN_CHECKS = 5000   # 2 formats x (3 hd x 4 n_q x 7 n_pos + extra shapes) x 7 patterns x 3 checks, + exact checks

# id -> (compiler, flags, run prefix, ISA the flags select)
X86_BUILDS = {
    "gcc-avx512": ("gcc", ["-O2", "-march=native"], [], "avx512"),
    "clang-avx512": ("clang", ["-O2", "-march=native"], [], "avx512"),
    "gcc-avx2": ("gcc", ["-O2", *AVX2_FLAGS], [], "avx2"),
    "clang-avx2": ("clang", ["-O2", *AVX2_FLAGS], [], "avx2"),
    "gcc-scalar": ("gcc", ["-O2", "-DEDGEC_SCALAR"], [], "scalar"),
    "clang-scalar": ("clang", ["-O2", "-DEDGEC_SCALAR"], [], "scalar"),
    "clang-asan-ubsan-avx512": ("clang", SANITIZE + ["-march=native"], [], "avx512"),
}
A53 = [QEMU, "-cpu", "cortex-a53"]
NEON_BUILDS = {
    "gcc-neon-a53": (CROSS_GCC, ["-march=armv8-a", "-mtune=cortex-a53"], A53, "neon"),
    "clang-neon-a53": ("clang", ["--target=aarch64-linux-gnu", "-march=armv8-a", "-mtune=cortex-a53"], A53, "neon"),
    "gcc-aarch64-scalar": (CROSS_GCC, ["-DEDGEC_SCALAR"], A53, "scalar"),
}


BUILDS = runnable_builds(X86_BUILDS, NEON_BUILDS)


def _build_and_run(exe: Path, compiler: str, flags: list[str], prefix: list[str]):
    """(build, run) CompletedProcesses; run is None when the build failed."""
    if prefix:
        build = build_static(compiler, flags, SOURCE, exe)
    else:
        build = subprocess.run([compiler, *COMMON, *flags, str(SOURCE), "-o", str(exe), "-lm"], capture_output=True, text=True)
    if build.returncode != 0:
        return build, None
    return build, subprocess.run([*prefix, str(exe)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Future]:
    """Builds and runs every test program in parallel; tests wait on theirs."""
    out_dir = tmp_path_factory.mktemp("attention")
    pool = ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1))
    futures = {}
    for build_id, (compiler, flags, prefix, _) in BUILDS.items():
        if all(shutil.which(t) for t in [compiler, *prefix[:1]] + ([CROSS_GCC] if prefix else [])):
            futures[build_id] = pool.submit(_build_and_run, out_dir / f"test_attention_{build_id}", compiler, flags, prefix)
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("build_id", list(BUILDS))
def test_fused_attention_matches_double_softmax(runs, build_id):
    compiler, flags, prefix, isa_want = BUILDS[build_id]
    if prefix:
        require_tools(compiler)
    else:
        assert shutil.which(compiler), f"{compiler} is needed to build the attention test"
    assert kernel_isa(compiler, flags, vnni=False, dotprod=False) == isa_want, \
        f"{compiler} {flags} no longer defines the macros of {isa_want}"
    build, run = runs[build_id].result()
    assert build.returncode == 0, f"build failed:\n{build.stderr[-3000:]}"
    assert build.stderr == "", f"unexpected compiler output:\n{build.stderr[-3000:]}"
    passed = check_output(run.stdout, run.stderr, run.returncode, "EDGEC_KERNELS_ISA", kernel_isa(compiler, flags))
    assert passed >= MIN_CHECKS, f"only {passed} checks ran"


# ---- the generated code ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    d = tmp_path_factory.mktemp("attn_cg")
    cfg = make_tiny_config()
    weights = random_weights(cfg, seed=5)
    fmts = {n: ("f32" if a.ndim == 1 else "q8_0") for n, a in weights.items()}
    tok, _ = tiny_tokenizer_gpt2()
    write_gguf(d / "tiny.gguf", cfg, weights, fmts, tok)
    return d / "tiny.gguf"


@pytest.mark.parametrize("kv_cache", ["f32", "f16"])
def test_generated_attention_is_fused(tiny_gguf, tmp_path, kv_cache):
    art = compile_artifact(tiny_gguf, tmp_path / "a", ctx=64, build=False, kv_cache=kv_cache).out_dir
    source = (art / "src" / "model.c").read_text()
    header = (art / "src" / "model.h").read_text()
    assert f"edgec_attn_fused_gqa_{kv_cache}(" in source
    assert "edgec_softmax(" not in source and "scores" not in header and "m->scores" not in source
    block = int(re.search(r"#define EDGEC_ATTN_BLOCK\s+(\d+)", HEADER.read_text()).group(1))
    said = re.search(r"online softmax over blocks of\s+EDGEC_ATTN_BLOCK = (\d+) positions", source)
    assert said and int(said.group(1)) == block, "the generated comment names another block size than the kernel's"


def test_arena_grows_with_context_only_by_the_kv_cache():
    cfg = make_tiny_config()
    for kv in ("f32", "f16"):
        small, big = plan_arena(cfg, 64, 32, kv), plan_arena(cfg, 1024, 32, kv)
        assert "scores" not in {b.name for b in big.buffers}
        assert big.total_bytes - small.total_bytes == big.kv_cache_bytes - small.kv_cache_bytes
