"""Build an artifact folder with its own CMakeLists.txt (the same one a user rebuilds with)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from edgec.build.reproducible import build_environment
from edgec.build.run_artifact import emulator_command
from edgec.errors import EdgecError

# The Debian / Raspberry Pi OS packages a program linked dynamically with the server's libraries needs on its device
SERVER_RUNTIME_PACKAGES = ["libmicrohttpd12", "libcjson1"]


def build_artifact(art: Path, cc: str, progress=None, jobs: int = 2) -> Path:
    """Configure and build art/ with cmake; returns the binary's folder. progress(percent, 100) as make reports it."""
    if not shutil.which("cmake"):
        raise EdgecError("cmake is not installed; install it (apt-get install cmake) or pass --no-build")
    build = art / "build"
    env = build_environment()   # SOURCE_DATE_EPOCH: the same sources give the same binary (docs/artifacts.md)
    cfg = subprocess.run(["cmake", "-S", str(art), "-B", str(build), f"-DCMAKE_C_COMPILER={cc}",
                          "-DCMAKE_BUILD_TYPE=", "-G", "Unix Makefiles"], capture_output=True, text=True, env=env)
    if cfg.returncode != 0:
        raise EdgecError(f"cmake could not configure the build: {_last_error(cfg.stdout + cfg.stderr)}")
    proc = subprocess.Popen(["cmake", "--build", str(build), "-j", str(jobs)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    log = []
    for line in proc.stdout:
        log.append(line)
        m = re.match(r"\[\s*(\d+)%\]", line)
        if m and progress:
            progress(int(m.group(1)), 100)
    if proc.wait() != 0:
        raise EdgecError(f"the C build failed: {_last_error(''.join(log))}")
    record_program(art, build / "edgec_program.json")
    shutil.rmtree(build, ignore_errors=True)   # it holds absolute paths of this temporary folder
    return art / "bin"


def record_program(art: Path, facts_file: Path) -> None:
    """Adds what the build decided (server built in or not, static or dynamic linking, the packages the device
    then needs) to art/manifest.json as "program"; the CMakeLists.txt writes those facts at configure time."""
    manifest_path = art / "manifest.json"
    if not (facts_file.is_file() and manifest_path.is_file()):
        return
    program = json.loads(facts_file.read_text())
    program["device_packages"] = SERVER_RUNTIME_PACKAGES if program["server"] and program["linking"] == "dynamic" else []
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["program"] = program
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


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
    r = subprocess.run([*emulator_command(run_prefix), str(binary), "--info"], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        raise EdgecError(f"the built program failed its self-check ({r.stderr.strip() or r.returncode}); "
                         "this is an edgec bug, please report it")
    return "under " + run_prefix[0] + device_packages_note(binary.parent.parent) if run_prefix else ""


def device_packages_note(art: Path) -> str:
    """For a cross-compiled program linked dynamically for its server: the packages its device needs."""
    try:
        packages = json.loads((art / "manifest.json").read_text(encoding="utf-8"))["program"]["device_packages"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return f"; linked dynamically for --serve: the device needs `apt install {' '.join(packages)}`" if packages else ""
