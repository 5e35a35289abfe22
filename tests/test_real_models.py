"""Real models end to end: stories260K (host and generic) and SmolLM2-135M-Instruct Q4_1 (host).

SmolLM2 tolerance: at each of the first 8 positions the logits are within 6e-2 of max |logit| and
1.5e-1 relative L2 of the plain float reference, with the same top-1 token.  The gap is the int8
activation quantization of 30 layers; it is not tighter in kernel-mimicking mode because SmolLM2's
outlier activations make int8 rounding flips chaotic (a 1e-6 nudge of the input moves logits by
~3e-2).  The exactness of the kernels is proved on the tiny models (2e-3) and stories260K (1e-4).
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import STORIES, STORIES_TEXT, greedy_logits, run_binary, smollm2_path
from edgec.frontends.load_model import load_model
from edgec.ir.reference import Reference


def test_stories260k_default_f16_kv_cache(tmp_path):
    """What a user gets by default (--kv-cache f16) still tells the known story."""
    from conftest import compile_artifact
    res = compile_artifact(STORIES / "stories260K.bin", tmp_path / "a", tokenizer=str(STORIES / "tok512.bin"),
                           ctx=256, kv_cache="f16")
    r = run_binary(res.binary, "-n", 90, "-t", 0)
    assert r.stdout.decode().startswith(STORIES_TEXT), r.stdout.decode()[:200]


@pytest.mark.parametrize("target", ["host", "generic"])
def test_stories260k_greedy_from_bos(stories_artifacts, target):
    r = run_binary(stories_artifacts[target].binary, "-n", 90, "-t", 0)
    assert r.returncode == 0, r.stderr.decode()
    text = r.stdout.decode()
    assert text.startswith(STORIES_TEXT), text[:200]


def test_stories260k_logits_match_reference(stories_artifacts, tmp_path):
    ir = load_model(str(STORIES / "stories260K.bin"), tokenizer_path=str(STORIES / "tok512.bin"))
    prompt = [1, 403, 407, 261, 378, 29892]
    prompt = [t % ir.config.vocab_size for t in prompt]
    want = Reference(ir).forward(prompt)
    for target in ("host", "generic"):
        got = greedy_logits(stories_artifacts[target].binary, prompt, 0, ir.config.vocab_size, tmp_path)
        assert np.abs(got[:len(prompt)] - want).max() <= 1e-4 * np.abs(want).max()


def test_smollm2_paris(smollm2_artifact):
    r = run_binary(smollm2_artifact.binary, "-p", "The capital of France is", "-n", 24, "-t", 0)
    assert r.returncode == 0, r.stderr.decode()
    assert "Paris" in r.stdout.decode(), r.stdout.decode()
    err = r.stderr.decode()
    assert "prefill" in err and "decode" in err and "ttft" in err


def test_smollm2_logits_match_reference(smollm2_artifact, tmp_path):
    ir = load_model(str(smollm2_path()))
    r = run_binary(smollm2_artifact.binary, "--tokenize", "-f", _write(tmp_path, "The capital of France is"))
    prompt = [int(x) for x in r.stdout.decode().split()]
    assert len(prompt) >= 5
    got = greedy_logits(smollm2_artifact.binary, prompt, 4, ir.config.vocab_size, tmp_path)[:8]
    ids = prompt + [int(i) for i in got[len(prompt) - 1:7].argmax(axis=1)]
    want = Reference(ir).forward(ids[:8])
    for p in range(8):
        max_err = np.abs(got[p] - want[p]).max() / np.abs(want[p]).max()
        l2_err = np.linalg.norm(got[p] - want[p]) / np.linalg.norm(want[p])
        assert max_err <= 6e-2 and l2_err <= 1.5e-1, f"position {p}: max {max_err:.2e}, L2 {l2_err:.2e}"
        assert got[p].argmax() == want[p].argmax(), f"position {p}: top-1 differs"


def _write(tmp_path, text):
    p = tmp_path / "prompt.txt"
    p.write_text(text + "\n")
    return p


def test_smollm2_chat_two_turns(smollm2_artifact):
    """--chat reads one user turn per stdin line and answers each (ChatML from the GGUF's template)."""
    r = run_binary(smollm2_artifact.binary, "--chat", "-t", 0, "-n", 48, input=b"Hi!\nWhat is 2+2?\n")
    assert r.returncode == 0, r.stderr.decode()
    replies = [line for line in r.stdout.decode().splitlines() if line.strip()]
    assert len(replies) >= 2, r.stdout.decode()
    assert "4" in r.stdout.decode().split("\n", 1)[1]


def test_smollm2_prompt_too_long(smollm2_artifact, tmp_path):
    p = tmp_path / "long.txt"
    p.write_text("word " * 700)
    r = run_binary(smollm2_artifact.binary, "-f", p, "-n", 4)
    assert r.returncode != 0
    assert "--ctx" in r.stderr.decode()


def test_host_minimal_example_equals_cli(smollm2_artifact, tmp_path):
    """examples/firmware/host-minimal: the bundle built by a plain Makefile gives the CLI's greedy tokens."""
    import shutil
    import subprocess
    from conftest import REPO
    example = tmp_path / "host-minimal"
    shutil.copytree(REPO / "examples" / "firmware" / "host-minimal", example)
    flags = " ".join(smollm2_artifact.manifest["target"]["cflags"])
    r = subprocess.run(["make", "-C", str(example), f"BUNDLE={smollm2_artifact.out_dir / 'firmware'}",
                        f"CFLAGS={flags}"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    prompt = [1, 504, 3458, 282, 4649, 314]
    out = subprocess.run([str(example / "host-minimal"), "12", *map(str, prompt)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    cli = run_binary(smollm2_artifact.binary, "--prompt-ids", ",".join(map(str, prompt)), "-n", 12, "-t", 0,
                     "--ignore-eos", "--print-ids")
    assert len(out.stdout.split()) == 12 and out.stdout.split() == cli.stdout.decode().split()
