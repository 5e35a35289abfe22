"""The edgec command line: subcommands work, and bad input gives one line, a non-zero exit, and no half-written output."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import STORIES
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf


def edgec(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "edgec.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.fixture
def good_gguf(tmp_path):
    cfg = make_tiny_config()
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / "good.gguf"
    write_gguf(path, cfg, random_weights(cfg, seed=3), "q8_0", tok)
    return path


def assert_one_line_error(r, out_dir, *words):
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    errors = [line for line in lines if "error" in line.lower()]
    assert len(errors) == 1 and lines[-1] == errors[0] and errors[0].startswith("edgec: error: "), r.stderr
    for w in words:
        assert w.lower() in errors[0].lower(), (w, errors[0])
    assert not out_dir.exists(), "a failed compile left an output folder"
    assert not [p for p in out_dir.parent.iterdir() if p.name.startswith(f".{out_dir.name}.tmp")], "temp left behind"


def test_truncated_gguf(good_gguf, tmp_path):
    bad = tmp_path / "trunc.gguf"
    bad.write_bytes(good_gguf.read_bytes()[: good_gguf.stat().st_size // 2])
    assert_one_line_error(edgec("compile", bad, "--out", tmp_path / "o"), tmp_path / "o")


def test_wrong_magic(good_gguf, tmp_path):
    bad = tmp_path / "magic.gguf"
    bad.write_bytes(b"GGUX" + good_gguf.read_bytes()[4:])
    assert_one_line_error(edgec("compile", bad, "--out", tmp_path / "o"), tmp_path / "o")


def test_unsupported_tensor_type(tmp_path):
    cfg = make_tiny_config()
    tok, _ = tiny_tokenizer_gpt2()
    weights = random_weights(cfg, seed=3)
    fmts = {n: ("q5_0" if n == "blk.0.attn_q.weight" else "f32") for n in weights}
    write_gguf(tmp_path / "q5b.gguf", cfg, weights, fmts, tok)
    assert_one_line_error(edgec("compile", tmp_path / "q5b.gguf", "--out", tmp_path / "o"), tmp_path / "o",
                          "blk.0.attn_q.weight", "Q5_0")


def test_missing_tensor(tmp_path):
    cfg = make_tiny_config()
    tok, _ = tiny_tokenizer_gpt2()
    weights = random_weights(cfg, seed=3)
    del weights["blk.1.ffn_up.weight"]
    write_gguf(tmp_path / "m.gguf", cfg, weights, "f32", tok)
    assert_one_line_error(edgec("compile", tmp_path / "m.gguf", "--out", tmp_path / "o"), tmp_path / "o",
                          "blk.1.ffn_up.weight")


def test_shape_mismatch(tmp_path):
    cfg = make_tiny_config()
    tok, _ = tiny_tokenizer_gpt2()
    weights = random_weights(cfg, seed=3)
    weights["blk.0.attn_k.weight"] = np.zeros((cfg.n_kv_heads * cfg.head_dim + 32, cfg.dim), np.float32)
    write_gguf(tmp_path / "m.gguf", cfg, weights, "f32", tok)
    assert_one_line_error(edgec("compile", tmp_path / "m.gguf", "--out", tmp_path / "o"), tmp_path / "o",
                          "blk.0.attn_k.weight")


def test_unknown_target(good_gguf, tmp_path):
    assert_one_line_error(edgec("compile", good_gguf, "--target", "toaster", "--out", tmp_path / "o"),
                          tmp_path / "o", "toaster", "host")


def test_model_too_big_for_target(tmp_path):
    r = edgec("compile", "smollm2-135m", "--ctx", 1 << 20, "--kv-cache", "f32", "--out", tmp_path / "o")
    assert_one_line_error(r, tmp_path / "o", "--ctx")


def test_llama2c_without_tokenizer(tmp_path):
    assert_one_line_error(edgec("compile", STORIES / "stories260K.bin", "--out", tmp_path / "o"), tmp_path / "o",
                          "--tokenizer")


def test_failed_recompile_keeps_previous_artifact(good_gguf, tmp_path):
    out = tmp_path / "o"
    assert edgec("compile", good_gguf, "--out", out, "--ctx", 64, "--no-build").returncode == 0
    before = (out / "manifest.json").read_text()
    r = edgec("compile", good_gguf, "--out", out, "--target", "nope")
    assert r.returncode != 0 and (out / "manifest.json").read_text() == before


def test_targets_and_inspect(good_gguf):
    r = edgec("targets")
    assert r.returncode == 0 and "host" in r.stdout and "generic" in r.stdout
    r = edgec("inspect", good_gguf, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    cfg = make_tiny_config()
    assert info["shapes"]["dim"] == cfg.dim and info["shapes"]["n_layers"] == cfg.n_layers
    assert info["formats"]["q8_0"]["tensors"] == 2 + 7 * cfg.n_layers
    r = edgec("inspect", good_gguf)
    assert r.returncode == 0 and "memory" in r.stdout


def test_compile_prints_progress_and_summary(good_gguf, tmp_path):
    r = edgec("compile", good_gguf, "--out", tmp_path / "o", "--ctx", 64)
    assert r.returncode == 0, r.stderr
    assert "[1/7]" in r.stderr and "[7/7]" in r.stderr and "autotuning" in r.stderr
    assert "building" in r.stderr and "device memory needed" in r.stderr


def test_tokenize_model_and_artifact_agree(good_gguf, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("hello world\n\nabc 123 <|im_start|>\n")
    a = edgec("tokenize", good_gguf, "--file", text)
    assert a.returncode == 0, a.stderr
    assert edgec("compile", good_gguf, "--out", tmp_path / "o", "--ctx", 64).returncode == 0
    b = edgec("tokenize", tmp_path / "o", "--file", text)
    assert b.returncode == 0, b.stderr
    assert a.stdout == b.stdout and len(a.stdout.splitlines()) == 3 and a.stdout.splitlines()[1] == ""


def test_autotune_is_recorded_and_cached(tmp_path):
    """A host compile of a model that streams from memory measures its kernel choices once."""
    import os
    env_cache = tmp_path / "cache"
    from edgec.plan.autotune import autotune
    from edgec.frontends.load_model import load_model
    from conftest import smollm2_path
    os.environ["XDG_CACHE_HOME"] = str(env_cache)
    try:
        ir = load_model(str(smollm2_path()))
        first = autotune(ir, "clang", ["-O2", "-march=native"], reps=2)
        second = autotune(ir, "clang", ["-O2", "-march=native"], reps=2)
    finally:
        del os.environ["XDG_CACHE_HOME"]
    assert first and not first["cached"] and second["cached"]
    assert set(first["gbs"]) == {"rowmajor:0", "i16:0", "i16:256", "i16:512", "i16:1024"}   # q4_1: no LUT candidate
    assert first["lut_formats"] is None and second["lut_formats"] is None
    assert first["layout"] in ("rowmajor", "i16") and all(v > 0 for v in first["gbs"].values())
    assert (first["layout"], first["prefetch_bytes"]) == (second["layout"], second["prefetch_bytes"])
    assert (env_cache / "edgec" / "autotune.json").is_file()


@pytest.mark.parametrize("target,ctx,kv_cache", [("host", 64, "f16"), ("host", 200, "f32"), ("pi-zero", 96, "f16"),
                                                 ("generic", 128, "f32")])
def test_inspect_memory_is_what_compile_records(good_gguf, tmp_path, target, ctx, kv_cache):
    opts = ["--target", target, "--ctx", ctx, "--kv-cache", kv_cache]
    r = edgec("inspect", good_gguf, *opts, "--json")
    assert r.returncode == 0, r.stderr
    memory = json.loads(r.stdout)["memory"]
    out = tmp_path / "o"
    assert edgec("compile", good_gguf, *opts, "--out", out, "--no-build", "-q").returncode == 0
    sizes = json.loads((out / "manifest.json").read_text())["sizes"]
    assert memory["memory_needed_bytes"] == sizes["memory_needed_bytes"]
    for key in ("weights_bytes", "kv_cache_bytes", "arena_bytes", "tokenizer_bytes"):
        assert memory[key] == sizes[key], key
    assert (memory["target"], memory["ctx"], memory["kv_cache"]) == (target, ctx, kv_cache)
    r = edgec("inspect", good_gguf, *opts)
    assert f"= {sizes['memory_needed_bytes'] / 2**20:.1f} MiB on {target}" in r.stdout


def test_inspect_memory_of_smollm2_is_what_compile_records(tmp_path):
    r = edgec("inspect", "smollm2-135m", "--ctx", 512, "--json")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "o"
    assert edgec("compile", "smollm2-135m", "--ctx", 512, "--out", out, "--no-build", "-q").returncode == 0
    sizes = json.loads((out / "manifest.json").read_text())["sizes"]
    assert json.loads(r.stdout)["memory"]["memory_needed_bytes"] == sizes["memory_needed_bytes"]


def test_inspect_checks_its_options(good_gguf):
    for ctx in (0, -5, (1 << 20) + 1):
        r = edgec("inspect", good_gguf, "--ctx", ctx)
        assert r.returncode == 1 and r.stderr.strip().splitlines() == [
            f"edgec: error: --ctx {ctx} is out of range; give a context length between 1 and 1048576"]
    r = edgec("inspect", good_gguf, "--target", "../../etc/passwd")
    assert r.returncode == 1 and "unknown target" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = edgec("inspect", "smollm2-135m", "--target", "pi-zero", "--ctx", 1 << 20)
    assert r.returncode == 0 and "does NOT fit" in r.stdout and "use --ctx" in r.stdout   # reported, not refused


def test_ctx_beyond_trained_context_warns(tmp_path):
    """stories260K was trained on 512 tokens: --ctx 1024 compiles, with a warning on stderr and in the manifest."""
    r = edgec("compile", STORIES / "stories260K.bin", "--tokenizer", STORIES / "tok512.bin", "--ctx", 1024,
              "--no-build", "--out", tmp_path / "o")
    assert r.returncode == 0, r.stderr
    assert "warning: --ctx 1024 is beyond the 512 tokens the model was trained on" in r.stderr
    assert any("--ctx 1024" in w for w in json.loads((tmp_path / "o" / "manifest.json").read_text())["warnings"])
    r = edgec("compile", STORIES / "stories260K.bin", "--tokenizer", STORIES / "tok512.bin", "--ctx", 512,
              "--no-build", "--out", tmp_path / "o2")
    assert r.returncode == 0 and "--ctx" not in r.stderr, r.stderr
