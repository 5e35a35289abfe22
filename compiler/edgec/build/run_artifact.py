"""One way to run a compiled artifact: natively, or under the emulator its target profile names.

`edgec run`, `edgec serve`, `edgec bench`, `edgec eval` and `edgec tokenize ARTIFACT` all open the artifact here
and build the program's command line with Artifact.command(), so a cross-compiled artifact
(pi-zero, pi5) runs under qemu-user on this machine instead of failing with "Exec format error".
"""
from __future__ import annotations

import errno
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from edgec.errors import EdgecError
from edgec.escaping import shell_word
from edgec.targets import load_target, target_names

EMULATOR_PACKAGE = "qemu-user"   # the Debian/Ubuntu package with qemu-aarch64 and friends
PROGRAM_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")   # what compile.sanitize_name produces

# platform.machine() spellings of the architectures target profiles name
_MACHINE_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "armv8l": "armv7l"}   # armv8l: a 32-bit userland on a 64-bit ARM kernel, which runs armhf programs


@dataclass
class Artifact:
    folder: Path
    manifest: dict
    binary: Path
    emulator: list = field(default_factory=list)   # command prefix that runs the binary here; [] = natively

    @property
    def target(self) -> str:
        return self.manifest["target"]["name"]

    @property
    def emulated(self) -> str | None:
        """The emulator command line ("qemu-aarch64 -cpu cortex-a53"), or None for a native run."""
        return " ".join(self.emulator) or None

    def command(self, *args) -> list:
        """The program's command line with args, under the emulator when one is needed."""
        return [*emulator_command(self.emulator), str(self.binary), *map(str, args)]


def emulator_command(run_prefix: list) -> list:
    """run_prefix with what qemu-user needs for a dynamically linked program: `-L /` makes it take the
    loader and libraries from this machine's root, where Debian multiarch installs the target's
    (libc6:arm64, libmicrohttpd12:arm64, ...), whatever QEMU_LD_PREFIX or qemu's built-in prefix says.
    A static program opens no library, so this changes nothing for it."""
    if run_prefix and Path(run_prefix[0]).name.startswith("qemu-") and "-L" not in run_prefix:
        return [run_prefix[0], "-L", "/", *run_prefix[1:]]
    return list(run_prefix)


def host_arch() -> str:
    m = platform.machine().lower()
    return _MACHINE_ALIASES.get(m, m)


def looks_like_artifact(path: Path) -> bool:
    """A folder edgec compile wrote (or one it half wrote), rather than a model folder."""
    return path.is_dir() and any((path / p).exists() for p in ("manifest.json", "bin", "firmware/model.c"))


def open_artifact(path, command: str = "run") -> Artifact:
    """The artifact folder at path, its manifest, program and emulator; one-line errors for anything else.
    command: the edgec command that opens it (only `run` runs a microcontroller's firmware image)."""
    folder = Path(path)
    manifest = read_manifest(folder)
    from edgec.build.run_firmware import is_firmware, open_firmware   # it imports this module
    if is_firmware(manifest):   # a microcontroller's image, run on its emulated board
        if command != "run":
            raise EdgecError(f"{folder} is a firmware image for {manifest['target']['name']}, which `edgec {command}` "
                             "cannot drive (it needs the Linux program); use `edgec run` on it, or compile the "
                             "model for a Linux target (host, pi-zero) for this")
        return open_firmware(folder, manifest)
    name = manifest["name"]
    binary = folder / "bin" / name
    if not binary.is_file():
        raise EdgecError(f"{folder} has no bin/{name} (compiled with --no-build?); build it with "
                         f"`cmake -S {folder} -B {folder}/build && cmake --build {folder}/build` "
                         "or recompile it with `edgec compile`")
    return Artifact(folder, manifest, binary, emulator_for(folder, manifest))


def read_manifest(folder: Path) -> dict:
    """manifest.json of an artifact folder, checked to be edgec's (a dict with a plain program name)."""
    hint = "pass an artifact folder written by `edgec compile` (out/<name>-<target>)"
    if not folder.exists():
        raise EdgecError(f"artifact folder {folder} does not exist; {hint}")
    if not folder.is_dir():
        raise EdgecError(f"{folder} is a file, not an artifact folder; {hint}")
    path = folder / "manifest.json"
    if not path.is_file():
        raise EdgecError(f"{folder} is not an edgec artifact (it has no manifest.json); {hint}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise EdgecError(f"cannot read {path} ({e.strerror}); check its permissions") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EdgecError(f"{path} is not valid JSON; recompile the artifact with `edgec compile`") from None
    name = manifest.get("name") if isinstance(manifest, dict) else None
    # the name becomes a path under bin/: only what edgec itself writes there is accepted
    if not isinstance(name, str) or not PROGRAM_NAME.fullmatch(name):
        raise EdgecError(f"{path} is not an edgec manifest (no valid program name); "
                         "recompile the artifact with `edgec compile`")
    bad = bad_manifest_field(manifest)
    if bad:
        raise EdgecError(f"{path} is not an edgec manifest ({bad} is missing or invalid); "
                         "recompile the artifact with `edgec compile`")
    return manifest


# the manifest fields run, bench and eval read: (path of keys, type, must be positive)
MANIFEST_FIELDS = [(("max_ctx",), int, True), (("model", "vocab_size"), int, True), (("target", "name"), str, False),
                   (("sizes", "weights_bytes"), int, False), (("sizes", "kv_cache_bytes"), int, False),
                   (("tensors",), list, False)]
TENSOR_FIELDS = [("name", str), ("bytes", int), ("shape", list)]


def bad_manifest_field(manifest: dict) -> str | None:
    """The first field of MANIFEST_FIELDS (or of a tensor entry) that is absent or of the wrong type."""
    for keys, kind, positive in MANIFEST_FIELDS:
        value = manifest
        for k in keys:
            value = value.get(k) if isinstance(value, dict) else None
        if not isinstance(value, kind) or isinstance(value, bool) or (positive and value <= 0):
            return ".".join(keys)
    for t in manifest["tensors"]:
        if not isinstance(t, dict) or any(not isinstance(t.get(k), kind) for k, kind in TENSOR_FIELDS):
            return "a tensors entry"
    return None


def cross_profile(target: str):
    """The target profile of an artifact this machine cannot run natively, or None when it can (or when
    this edgec has no such profile: then the program is tried natively and the OS says if it cannot).
    An x86-64 profile that names an emulator (x86-64-v2: qemu-x86_64 as a CPU without AVX) is for an older
    box than this x86-64 machine: it runs under that emulator where it is installed, so a run proves the
    program uses nothing that CPU lacks, and natively where it is not (the box itself).  An ARM profile
    runs natively on an ARM machine of its architecture: there this machine is the board."""
    if target not in target_names():
        return None
    profile = load_target(target)
    if profile.arch in ("native", "any"):
        return None
    if profile.arch == host_arch():
        older_x86 = profile.arch == "x86_64" and bool(profile.run_prefix) and shutil.which(profile.run_prefix[0]) is not None
        return profile if older_x86 else None
    return profile


def emulator_for(folder: Path, manifest: dict) -> list:
    """[] when this machine runs the program natively, else the target profile's run_prefix (qemu-user),
    checked to be installed."""
    target = manifest["target"]["name"]
    profile = cross_profile(target)
    if profile is None:
        return []
    if not profile.run_prefix:
        raise EdgecError(f"{folder} is built for {target} ({profile.arch}) and this machine is {host_arch()}; "
                         f"copy bin/{manifest['name']} to the device and run it there")
    if shutil.which(profile.run_prefix[0]) is None:
        raise EdgecError(f"{folder} is built for {target} ({profile.arch}) and runs here only under "
                         f"{profile.run_prefix[0]}, which is not installed; install it with "
                         f"`sudo apt-get install {EMULATOR_PACKAGE}` or run it on the device")
    return list(profile.run_prefix)


def run_instructions(out_dir: Path, name: str, target: str, example: str) -> list:
    """The "run it:" lines `edgec compile` prints: the program itself for a native artifact; for a
    cross-compiled one, `edgec run` (emulated here) and how to copy it to the device and run it there."""
    profile = cross_profile(target)
    if profile is None:
        return [f"run it:   {shell_word(f'{out_dir}/bin/{name}')} {example}"]
    if profile.kind == "mcu":
        from edgec.build.run_firmware import firmware_run_instructions   # it imports this module
        return firmware_run_instructions(out_dir, name, profile, example)
    login, folder = profile.device_login, shell_word(out_dir)
    here = f"   (here under {profile.run_prefix[0]})" if profile.run_prefix else ""
    return [f"run it:   edgec run {folder} {example}{here}",
            f"          on the device: scp {shell_word(f'{out_dir}/bin/{name}')} {login}: "
            f"&& ssh {login} {shlex.quote(f'./{name} {example}')}"]


def explain_start_failure(art: Artifact, e: OSError) -> EdgecError:
    """A one-line error for a program that could not be started at all."""
    what = art.emulator[0] if art.emulator else str(art.binary)
    if e.errno == errno.ENOEXEC:
        return EdgecError(f"{art.binary} is not a program for this machine ({host_arch()}, target "
                          f"{art.target}); run it on the device it was compiled for")
    if e.errno == errno.EACCES:
        return EdgecError(f"{what} is not executable; `chmod +x {what}` or recompile the artifact")
    return EdgecError(f"cannot start {what} ({e.strerror}); recompile the artifact with `edgec compile`")


def exec_program(art: Artifact, args: list) -> NoReturn:
    """Replaces this process with the program: its stdin, stdout, stderr, signals and exit code."""
    cmd = art.command(*args)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvp(cmd[0], cmd) if art.emulator else os.execv(cmd[0], cmd)
    except OSError as e:
        raise explain_start_failure(art, e) from None


def run_captured(art: Artifact, args: list, text: bool = False) -> subprocess.CompletedProcess:
    """Runs the program with args to completion, capturing its output."""
    try:
        return subprocess.run(art.command(*args), capture_output=True, text=text)
    except OSError as e:
        raise explain_start_failure(art, e) from None
