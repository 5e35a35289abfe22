"""Which files of an artifact are the firmware core, and with what compiler and flags it is built."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from edgec.errors import EdgecError


@dataclass(frozen=True)
class CoreFiles:
    root: Path                 # the artifact folder: messages name files relative to it
    sources: tuple             # the core's C units (Paths)
    include_dirs: tuple        # the bundle's folders: a header found outside them is not the bundle's

    def display(self, path) -> str:
        """path relative to the artifact when it is inside it, else as it is."""
        p = Path(path)
        try:
            return str(p.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(p)


def core_files(artifact: Path) -> CoreFiles:
    """The core's sources and include folders: the firmware bundle (firmware/*.c, firmware/ on the path),
    or an artifact from before the bundle (src/model.c with src/ and runtime/core/)."""
    artifact = Path(artifact)
    firmware = artifact / "firmware"
    if firmware.is_dir():
        sources = tuple(sorted(firmware.glob("*.c")))
        if not any(s.name == "model.c" for s in sources):
            raise EdgecError(f"{firmware} has no model.c; recompile the artifact with `edgec compile`")
        return CoreFiles(artifact, sources, (firmware,))
    model_c = artifact / "src" / "model.c"
    if model_c.is_file():
        return CoreFiles(artifact, (model_c,), (artifact / "src", artifact / "runtime" / "core"))
    raise EdgecError(f"{artifact} has no firmware/model.c: give an artifact folder written by `edgec compile --out`")


@dataclass(frozen=True)
class BuildFlags:
    cc: str                    # the compiler command the artifact was built with
    cflags: tuple              # its flags (the target profile's, as the manifest records them)
    target: str


def artifact_build_flags(artifact: Path) -> BuildFlags:
    """The compiler and flags manifest.json records for the artifact's target."""
    path = Path(artifact) / "manifest.json"
    try:
        target = json.loads(path.read_text())["target"]
        return BuildFlags(str(target["cc"]), tuple(str(f) for f in target["cflags"]), str(target["name"]))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EdgecError(f"cannot read the target's compiler and flags from {path} ({e}); "
                         "recompile the artifact with `edgec compile`") from None
