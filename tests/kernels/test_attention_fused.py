"""The fused (online softmax) attention kernels of runtime/core/kernels/attention.h and their use.

Builds tests/c/test_attention.c (a double-precision softmax attention as the reference, odd
lengths, 1-7 query heads per KV head, f16 and f32 K/V, extreme score ranges) once per compiler /
ISA path in parallel: scalar, AVX2, this CPU's best with gcc and clang, a sanitizer build, and NEON
(and the scalar path) cross-compiled for AArch64 and run under qemu's Cortex-A53.  Each run must pass
every check on the path its flags select.  Then the generated code: attention calls the fused
kernel, says its block size, and the arena holds no score buffer (it grows with the context only
through the KV cache).
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import compile_artifact
from edgec.plan.memory_plan import plan_arena
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf
from kernel_builds import CTest, builds

HEADER = Path(__file__).resolve().parents[2] / "runtime" / "core" / "kernels" / "attention.h"
MIN_CHECKS = 5000   # 2 formats x (3 hd x 4 n_q x 7 n_pos + extra shapes) x 7 patterns x 3 checks, + exact checks
C_TEST = CTest("test_attention.c", "EDGEC_KERNELS_ISA")
runs = C_TEST.fixture()


# the slowest (qemu, the sanitizers) first: they start first
@pytest.mark.parametrize("build", builds("gcc-neon-a53", "clang-neon-a53", "gcc-aarch64-scalar", "clang-asan-ubsan-native", "gcc-native",
                                         "clang-native", "gcc-avx2", "clang-avx2", "gcc-scalar", "clang-scalar"), ids=str)
def test_fused_attention_matches_double_softmax(runs, build):
    passed = C_TEST.passed(runs, build)
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
    source = (art / "firmware" / "model.c").read_text()
    header = (art / "firmware" / "model.h").read_text()
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
