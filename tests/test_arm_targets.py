"""Raspberry Pi targets: whole programs cross-compiled with aarch64-linux-gnu-gcc (static) and run
under qemu-aarch64 as a Cortex-A53 (Pi Zero 2 W, ARMv8.0: no sdot) and as an ARMv8.2 CPU (Pi 5)."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from conftest import STORIES, STORIES_TEXT, compile_artifact
from edgec.load_model import load_model
from edgec.reference import Reference
from edgec.tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf

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
    assert subprocess.run(["file", str(res.binary)], capture_output=True, text=True).stdout.count("aarch64") == 1
    r = qemu_run(target, res.binary, "-n", 90, "-t", 0)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().startswith(STORIES_TEXT)


@pytest.mark.parametrize("fmt", ["q4_0", "q4_1", "q8_0"])
def test_quantized_model_on_pi_zero_matches_reference(tmp_path, fmt):
    cfg = make_tiny_config()
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / "m.gguf"
    write_gguf(path, cfg, random_weights(cfg, seed=21), fmt, tok)
    res = compile_artifact(path, tmp_path / "a", target="pi-zero", ctx=64)
    prompt = [5, 17, 42, 99, 3, 250, 7, 120]
    dump = tmp_path / "logits.bin"
    r = qemu_run("pi-zero", res.binary, "--prompt-ids", ",".join(map(str, prompt)), "-n", 0, "--dump-logits", dump)
    assert r.returncode == 0, r.stderr.decode()
    got = np.fromfile(dump, dtype=np.float32).reshape(-1, cfg.vocab_size)[:len(prompt)]
    want = Reference(load_model(str(path)), mimic_kernels=True).forward(prompt)
    err = np.abs(got - want).max(axis=1) / np.abs(want).max()
    assert (err <= 1e-4).mean() >= 0.75 and err.max() <= 1.5e-2, err
