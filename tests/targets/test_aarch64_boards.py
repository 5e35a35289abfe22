"""pi4 (Cortex-A72) and jetson-cpu (Cortex-A57): ARMv8.0 NEON programs run through `edgec run` under
qemu-aarch64 as the profile's CPU, proven to use the NEON kernels (smlal tiles, tbl tables) and to
match the numpy reference and the host's greedy text."""
from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import STORIES, STORIES_TEXT, compile_artifact, load_ir
from edgec.ir.reference import Reference
from edgec.targets import load_target
from kernel_builds import OBJDUMP, SETUP_HINT
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf

BOARDS = ["pi4", "jetson-cpu"]


def edgec_run(artifact, *args):
    """The program's output as text (a random tiny model's tokens need not be valid UTF-8)."""
    return subprocess.run([sys.executable, "-m", "edgec.cli", "run", str(artifact), *map(str, args)],
                          capture_output=True, text=True, errors="replace", timeout=300)


def disassembly(binary) -> str:
    return subprocess.run([OBJDUMP, "-d", str(binary)], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("target", BOARDS)
def test_stories260k_greedy_text_and_kernels(tmp_path, target):
    assert load_target(target).run_prefix[0] == "qemu-aarch64", SETUP_HINT
    res = compile_artifact(STORIES / "stories260K.bin", tmp_path / "a", target=target, ctx=256,
                           tokenizer=str(STORIES / "tok512.bin"))
    info = edgec_run(res.out_dir, "--info")
    assert info.returncode == 0, info.stderr
    assert re.search(r"^kernels: neon$", info.stdout, re.M), info.stdout   # ARMv8.0: no sdot path
    r = edgec_run(res.out_dir, "-n", 90, "-t", 0)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(STORIES_TEXT)   # the host's greedy text, token for token
    assert not re.search(r"\bsdot\b", disassembly(res.binary))


@pytest.mark.parametrize("target", BOARDS)
def test_lut_model_matches_reference(tmp_path, target):
    """--quant q2: the tbl table-lookup kernels in a whole program, logits against the numpy reference."""
    cfg = make_tiny_config()
    tok, _ = tiny_tokenizer_gpt2()
    path = tmp_path / "m.gguf"
    write_gguf(path, cfg, random_weights(cfg, seed=31), "f32", tok)
    res = compile_artifact(path, tmp_path / "a", target=target, ctx=64, quant="q2")
    assert {t["layout"] for t in res.manifest["tensors"] if t["format"] == "q2"} == {"lut"}
    assert re.search(r"\btbl\b", disassembly(res.binary))
    prompt, n_gen = [5, 17, 42, 99, 3, 250, 7, 120], 4
    dump = tmp_path / "logits.bin"
    r = edgec_run(res.out_dir, "--prompt-ids", ",".join(map(str, prompt)), "-n", n_gen, "-t", 0, "--ignore-eos",
                  "--dump-logits", dump)
    assert r.returncode == 0, r.stderr
    got = np.fromfile(dump, dtype=np.float32).reshape(-1, cfg.vocab_size)[:len(prompt) + n_gen - 1]
    ids = [int(i) for i in got[len(prompt) - 1:].argmax(axis=1)]
    want = Reference(load_ir(str(path), quant="q2"), mimic_kernels=True).forward(prompt + ids[:-1])
    err = np.abs(got - want).max(axis=1) / np.abs(want).max()
    assert (err <= 1e-4).mean() >= 0.75 and err.max() <= 1.5e-2, err
