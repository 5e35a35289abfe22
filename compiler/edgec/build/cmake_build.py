"""Build an artifact folder with its own CMakeLists.txt (the same one a user rebuilds with)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from edgec.errors import EdgecError


def build_artifact(art: Path, cc: str, progress=None, jobs: int = 2) -> Path:
    """Configure and build art/ with cmake; returns the binary's folder. progress(percent, 100) as make reports it."""
    if not shutil.which("cmake"):
        raise EdgecError("cmake is not installed; install it (apt-get install cmake) or pass --no-build")
    build = art / "build"
    cfg = subprocess.run(["cmake", "-S", str(art), "-B", str(build), f"-DCMAKE_C_COMPILER={cc}",
                          "-DCMAKE_BUILD_TYPE=", "-G", "Unix Makefiles"], capture_output=True, text=True)
    if cfg.returncode != 0:
        raise EdgecError(f"cmake could not configure the build: {_last_error(cfg.stdout + cfg.stderr)}")
    proc = subprocess.Popen(["cmake", "--build", str(build), "-j", str(jobs)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    log = []
    for line in proc.stdout:
        log.append(line)
        m = re.match(r"\[\s*(\d+)%\]", line)
        if m and progress:
            progress(int(m.group(1)), 100)
    if proc.wait() != 0:
        raise EdgecError(f"the C build failed: {_last_error(''.join(log))}")
    shutil.rmtree(build, ignore_errors=True)   # it holds absolute paths of this temporary folder
    return art / "bin"


def _last_error(log: str) -> str:
    """The first compiler error line of a build log, for a one-line message."""
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("CMake Error") or ": error" in line:
            detail = " ".join(l.strip() for l in lines[i:i + 3] if l.strip())
            return detail[:300]
    return log.strip().splitlines()[-1][:300] if log.strip() else "no output"


def cc_workarounds(cc: str) -> list:
    """gcc 12's IPA pure/const analysis has deleted calls in generated kernels; turn it off for gcc."""
    try:
        ver = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [] if "clang" in ver else ["-fno-ipa-pure-const", "-fno-ipa-modref"]


def verify_binary(binary: Path, run_prefix: list) -> str:
    """The artifact starts, finds its weights and tokenizer, and reports its info (under qemu-user for a
    cross target).  Returns a note when it cannot be run here."""
    if run_prefix and not shutil.which(run_prefix[0]):
        return f"not run: {run_prefix[0]} is not installed (examples/setup.sh installs it)"
    r = subprocess.run([*run_prefix, str(binary), "--info"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise EdgecError(f"the built program failed its self-check ({r.stderr.strip() or r.returncode}); "
                         "this is an edgec bug, please report it")
    return "under " + run_prefix[0] if run_prefix else ""
