"""Shared by tests/release: run `edgec` as a user would (a subprocess, from a chosen checkout), hash trees, run
independent compiles at once."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import REPO, STORIES

# the least manifest the SBOM is built from, for tests that need no compile
MANIFEST = {"name": "m", "edgec_version": "0.1.0", "files": {},
            "source": {"file": "m.gguf", "format": "gguf", "sha256": "0" * 64},
            "target": {"name": "pi-zero", "isa": "neon", "cc": "aarch64-linux-gnu-gcc"}}
STORIES_ARGS = [str(STORIES / "stories260K.bin"), "--tokenizer", str(STORIES / "tok512.bin"), "--ctx", "256"]


def clean_env(pythonpath: Path | None) -> dict:
    """This environment without SOURCE_DATE_EPOCH (so runs use edgec's default date) and with only the given
    checkout's compiler on PYTHONPATH (none: the installed edgec)."""
    env = {k: v for k, v in os.environ.items() if k not in ("SOURCE_DATE_EPOCH", "PYTHONPATH")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def edgec(*args, cwd: Path, checkout: Path = REPO, python: str = sys.executable) -> subprocess.CompletedProcess:
    """`python -m edgec.cli ARGS` with checkout's compiler/ (checkout None: the interpreter's installed edgec)."""
    return subprocess.run([python, "-m", "edgec.cli", *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env=clean_env(checkout / "compiler" if checkout else None), timeout=600)


def compile_stories(target: str, out: Path, cwd: Path, checkout: Path = REPO, python: str = sys.executable):
    return edgec("compile", *STORIES_ARGS, "--target", target, "--out", out, "-q", cwd=cwd, checkout=checkout,
                 python=python)


def tree_hashes(root: Path) -> dict:
    """relative path -> sha256 of every file under root."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def at_once(*jobs) -> list:
    """Runs the zero-argument callables in threads (each compile is mostly a child process); their results."""
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return [f.result() for f in [pool.submit(j) for j in jobs]]


def ok(r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert r.returncode == 0, f"exit {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return r
