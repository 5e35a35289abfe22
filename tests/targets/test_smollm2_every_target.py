"""SmolLM2-135M (the default model) compiles for every Linux target and, run under the profile's
emulator through `edgec run`, completes the README prompt with "Paris"."""
from __future__ import annotations

import subprocess
import sys

import pytest

from edgec.compile_many import ALL_LINUX, expand_targets
from edgec.targets import load_target

LINUX_TARGETS = expand_targets(ALL_LINUX)


@pytest.mark.timeout(900)
@pytest.mark.parametrize("target", LINUX_TARGETS)
def test_smollm2_says_paris(tmp_path, target):
    out = tmp_path / "a"
    c = subprocess.run([sys.executable, "-m", "edgec.cli", "compile", "smollm2-135m", "--target", target, "--ctx", "64",
                        "--out", str(out), "-q"], capture_output=True, text=True, timeout=900)
    assert c.returncode == 0, c.stderr[-2000:]
    r = subprocess.run([sys.executable, "-m", "edgec.cli", "run", str(out), "-p", "The capital of France is",
                        "-n", "2", "-t", "0"], capture_output=True, text=True, errors="replace", timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Paris" in r.stdout, (target, r.stdout)
    info = subprocess.run([sys.executable, "-m", "edgec.cli", "run", str(out), "--info"], capture_output=True, text=True,
                          timeout=300)
    assert f"target: {target}" in info.stdout and f"kernels: {expected_kernels(target)}" in info.stdout, info.stdout


def expected_kernels(target: str) -> str:
    """The kernel path each profile's flags select (kernels/isa.h)."""
    isa = load_target(target).isa
    return {"avx512vnni": "avx512vnni", "neon-dotprod": "neon-dotprod"}.get(isa, isa)
