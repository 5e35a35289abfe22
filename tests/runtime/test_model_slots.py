"""Several conversations at once (`edgec compile --slots N`): edgec_model_feed_slots on the generated core.

The rule: a token's logits do not depend on what else is in its forward pass.  Every matmul kernel
computes each (row, token) dot with the same float operations in the same order whatever the batch
width (tiled_matmul.h: "the results do not depend on R or T"), norms and RoPE are per token, and
attention reads only the token's own slot.  So each slot fed in a batch with other slots' decode
steps and prompt chunks gets logits bit-identical to the same conversation fed alone, which
tests/c/slots_check.c checks, for the host's SIMD kernels, the scalar ones and NEON under qemu.
"""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from conftest import compile_artifact
from kernel_builds import CROSS_GCC, QEMU, SETUP_HINT
from tiny_models import make_tiny_config, write_tiny_gguf

from edgec.errors import EdgecError

HARNESS = "tests/c/slots_check.c"
PROMPT = [5, 17, 42, 99, 3, 250, 7, 120, 33, 64, 1, 2, 77, 8, 19, 230, 41, 11, 6, 90, 100, 150, 31, 14, 27]


def build_harness(repo, art, exe):
    """slots_check.c linked with the artifact's core and weights, with the target's compiler and flags."""
    m = json.loads((art / "manifest.json").read_text())
    cc, static = m["target"]["cc"], ["-static"] if m["target"]["name"] == "pi-zero" else []
    if not shutil.which(cc):
        pytest.fail(f"{cc} not found: {SETUP_HINT}")
    cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", *m["target"]["cflags"], *static, "-DEDGEC_GENERIC_NAMES",
           f"-I{art / 'firmware'}", str(art / "firmware" / "model.c"),
           str(art / "firmware" / "weights.c"), str(repo / HARNESS), "-o", str(exe), "-lm", "-lpthread"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return [QEMU, "-cpu", "cortex-a53", str(exe)] if static else [str(exe)]


def check_slots(repo, tmp_path, target, fmt, quant=None, n_slots=4, threads=1, n_gen=12):
    cfg = make_tiny_config(hidden_dim=160, vocab_size=317)
    path = write_tiny_gguf(tmp_path / "m.gguf", cfg, fmt, seed=21)
    res = compile_artifact(path, tmp_path / "out", target=target, ctx=64, slots=n_slots, quant=quant, build=False)
    art = res.out_dir
    assert f"#define {res.manifest['prefix'].upper()}_N_SLOTS      {n_slots} " in (art / "firmware" / "model.h").read_text()
    cmd = build_harness(repo, art, tmp_path / "slots_check")
    r = subprocess.run([*cmd, str(n_slots), str(n_gen), str(threads), *map(str, PROMPT)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == f"ok {n_slots * n_gen}"


@pytest.mark.parametrize("fmt", ["f16", "q8_0", "q4_0", "q4_1"])
def test_batched_slots_equal_alone_host(repo, tmp_path, fmt):
    check_slots(repo, tmp_path, "host", fmt)


@pytest.mark.parametrize("quant", ["tq2", "q2", "q3"])
def test_batched_slots_equal_alone_low_bit(repo, tmp_path, quant):
    check_slots(repo, tmp_path, "host", "f32", quant=quant)


def test_batched_slots_equal_alone_scalar_two_threads(repo, tmp_path):
    check_slots(repo, tmp_path, "generic", "q4_1", threads=2)


@pytest.mark.parametrize("quant", [None, "q2"])
def test_batched_slots_equal_alone_neon(repo, tmp_path, quant):
    if not shutil.which(CROSS_GCC) or not shutil.which(QEMU):
        pytest.fail(f"{CROSS_GCC} or {QEMU} not found: {SETUP_HINT}")
    check_slots(repo, tmp_path, "pi-zero", "q4_1", quant=quant, n_slots=3, n_gen=6)


def test_slots_size_the_kv_cache(tmp_path):
    cfg = make_tiny_config()
    path = write_tiny_gguf(tmp_path / "m.gguf", cfg, "q8_0", seed=3)
    one = compile_artifact(path, tmp_path / "one", ctx=64, build=False).manifest
    four = compile_artifact(path, tmp_path / "four", ctx=64, slots=4, build=False).manifest
    assert four["n_slots"] == 4 and one["n_slots"] == 1
    assert four["sizes"]["kv_cache_bytes"] == 4 * one["sizes"]["kv_cache_bytes"]
    assert four["sizes"]["arena_bytes"] - one["sizes"]["arena_bytes"] == 3 * one["sizes"]["kv_cache_bytes"]


@pytest.mark.parametrize("slots", [0, -1, 65])
def test_slots_out_of_range_refused(tmp_path, slots):
    path = write_tiny_gguf(tmp_path / "m.gguf", make_tiny_config(), "q8_0", seed=3)
    with pytest.raises(EdgecError, match="--slots"):
        compile_artifact(path, tmp_path / "o", ctx=64, slots=slots, build=False)
    assert not (tmp_path / "o").exists()
