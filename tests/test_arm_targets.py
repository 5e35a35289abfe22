"""Raspberry Pi targets: whole programs cross-compiled with aarch64-linux-gnu-gcc (static) and run
under qemu-aarch64 as a Cortex-A53 (Pi Zero 2 W, ARMv8.0: no sdot) and as an ARMv8.2 CPU (Pi 5)."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from conftest import STORIES, STORIES_TEXT, compile_artifact, load_ir
from edgec.ir.reference import Reference
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf

QEMU_CPU = {"pi-zero": "cortex-a53", "pi5": "max"}


def qemu_run(target, binary, *args):
    for tool in ("qemu-aarch64", "aarch64-linux-gnu-gcc"):
        assert shutil.which(tool), f"{tool} is missing: run examples/setup.sh"
    return subprocess.run(["qemu-aarch64", "-cpu", QEMU_CPU[target], str(binary), *map(str, args)],
                          capture_output=True, timeout=300)


@pytest.mark.parametrize("target", ["pi-zero", "pi5"])
def test_stories260k_on_pi(tmp_path, target):
    res = compile_artifact(STORIES / "stories260K.bin", tmp_path / "a", target=target, ctx=256,
                           tokenizer=str(STORIES / "tok512.bin"))
    assert res.manifest["target"]["cc"] == "aarch64-linux-gnu-gcc"
    assert subprocess.run(["file", str(res.binary)], capture_output=True, text=True).stdout.count("ARM aarch64") == 1
    r = qemu_run(target, res.binary, "-n", 90, "-t", 0)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().startswith(STORIES_TEXT)


def qemu_logits_vs_reference(target, binary, model_path, tmp_path, vocab, quant=None, n_gen=4):
    """Runs the program under qemu on a prompt (one batched prefill) and n_gen greedy steps (one
    token at a time); returns the per-position logit errors vs the reference teacher-forced on the
    program's own tokens, relative to max |logit|."""
    prompt = [5, 17, 42, 99, 3, 250, 7, 120]
    dump = tmp_path / "logits.bin"
    r = qemu_run(target, binary, "--prompt-ids", ",".join(map(str, prompt)), "-n", n_gen, "-t", 0, "--ignore-eos",
                 "--dump-logits", dump)
    assert r.returncode == 0, r.stderr.decode()
    got = np.fromfile(dump, dtype=np.float32).reshape(-1, vocab)
    assert got.shape[0] >= len(prompt) + n_gen - 1, got.shape
    got = got[:len(prompt) + n_gen - 1]
    c_ids = [int(i) for i in got[len(prompt) - 1:].argmax(axis=1)]
    want = Reference(load_ir(str(model_path), quant=quant), mimic_kernels=True).forward(prompt + c_ids[:-1])
    return np.abs(got - want).max(axis=1) / np.abs(want).max()


def assert_i16_layout(manifest, fmt):
    """Every matrix of format fmt but the untied token embedding (a row lookup) is in 16-row tiles."""
    layouts = {t["name"]: t["layout"] for t in manifest["tensors"] if t["format"] == fmt and len(t["shape"]) == 2}
    assert layouts.pop("token_embd.weight", "rowmajor") == "rowmajor"
    assert layouts and set(layouts.values()) == {"i16"}, layouts


@pytest.mark.parametrize("target,fmt", [("pi-zero", "q4_0"), ("pi-zero", "q4_1"), ("pi-zero", "q8_0"), ("pi5", "q4_1")])
def test_quantized_model_on_pi_matches_reference(tmp_path, target, fmt):
    """The i16 NEON kernels in a whole program: ARMv8.0 smlal (pi-zero) and sdot (pi5)."""
    cfg = make_tiny_config()
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / "m.gguf"
    write_gguf(path, cfg, random_weights(cfg, seed=21), fmt, tok)
    res = compile_artifact(path, tmp_path / "a", target=target, ctx=64)
    assert_i16_layout(res.manifest, fmt)
    err = qemu_logits_vs_reference(target, res.binary, path, tmp_path, cfg.vocab_size)
    assert (err <= 1e-4).mean() >= 0.75 and err.max() <= 1.5e-2, err


@pytest.mark.parametrize("target", ["pi-zero", "pi5"])
def test_tq2_model_on_pi_matches_reference(tmp_path, target):
    """--quant tq2 through the same path: the LUT (tbl) kernels for the matrices, the row-major
    ternary row lookup for the untied embedding, in a whole program."""
    cfg = make_tiny_config()   # rows of 64 and 128: every matrix splits into tq2 blocks
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / "m.gguf"
    write_gguf(path, cfg, random_weights(cfg, seed=22), "f32", tok)
    res = compile_artifact(path, tmp_path / "a", target=target, ctx=64, quant="tq2")
    assert set(res.manifest["formats"]) == {"tq2", "f32"}
    layouts = {t["name"]: t["layout"] for t in res.manifest["tensors"] if t["format"] == "tq2"}
    assert layouts.pop("token_embd.weight") == "rowmajor" and set(layouts.values()) == {"lut"}
    err = qemu_logits_vs_reference(target, res.binary, path, tmp_path, cfg.vocab_size, quant="tq2")
    assert (err <= 1e-4).mean() >= 0.75 and err.max() <= 1.5e-2, err
