"""The artifact folder: edgec replaces only what it made, and a crash never loses the previous one.

An existing --out folder is replaced only when its manifest.json says edgec wrote it, every file
in it is one the manifest lists (unchanged) or a build output (bin/, build/).  The new artifact
is built in a temporary folder beside the destination and swapped in with one atomic rename.
"""
from __future__ import annotations

import ctypes
import glob
import hashlib
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

from edgec.errors import EdgecError
from edgec.escaping import display_text

BUILD_FOLDER = "build"        # the cmake build folder the artifact's CMakeLists.txt documents
OLD_TOP_LEVEL = {"src", "firmware", "runtime", "bin", "build", "CMakeLists.txt", "manifest.json"}   # artifacts without "files"
RECORD_FILES = ("manifest.json", "sbom.cdx.json")   # written after "files" is taken, so not in it (release/seal.py)


def file_hashes(root: Path) -> dict:
    """relative path -> sha256 of every file under root but the records and a cmake build/ folder, in sorted
    path order (the manifest's "files")."""
    out = {}
    for p in sorted(root.rglob("*"), key=lambda q: q.relative_to(root).as_posix()):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not p.is_symlink() and rel not in RECORD_FILES and rel.split("/")[0] != BUILD_FOLDER:
            out[rel] = _sha256(p)
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_destination(dest: Path) -> None:
    """Refuses a destination edgec may not write: an existing file, a folder that is not an unchanged
    edgec artifact, the working folder or one holding it, a parent that is a file."""
    shown = display_text(dest)
    here = Path.cwd().resolve()
    resolved = dest.resolve()
    if resolved == here or resolved in here.parents:
        raise EdgecError(f"--out {shown} is the current folder or holds it; give a new folder such as out/mymodel")
    for parent in dest.parents:
        if parent.exists() and not parent.is_dir():
            raise EdgecError(f"--out {shown}: {display_text(parent)} is a file, not a folder; choose another --out")
    if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
        raise EdgecError(f"--out {shown} is an existing file; give a folder name that does not exist "
                         "(or an earlier edgec artifact to replace)")
    if dest.is_dir():
        problem = _not_replaceable(dest)
        if problem:
            raise EdgecError(f"--out {shown} {problem}; edgec replaces only artifacts it wrote: move your files "
                             "out or choose another --out")


def _not_replaceable(dest: Path):
    """Why dest is not an unchanged edgec artifact, or None when edgec may replace it."""
    try:
        manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "exists and is not an edgec artifact (no manifest.json written by edgec)"
    if not isinstance(manifest, dict) or "edgec_version" not in manifest:
        return "exists and its manifest.json was not written by edgec"
    listed = manifest.get("files")
    outputs = {*RECORD_FILES, f"bin/{manifest.get('name')}"}   # written after the file list
    for p in sorted(dest.rglob("*")):
        rel = p.relative_to(dest).as_posix()
        if rel.split("/")[0] == BUILD_FOLDER or rel in outputs or (p.is_dir() and not p.is_symlink()):
            continue
        if not isinstance(listed, dict):
            if rel.split("/")[0] not in OLD_TOP_LEVEL:
                return f"holds {display_text(rel)}, which edgec did not write"
        elif rel not in listed:
            return f"holds {display_text(rel)}, which edgec did not write"
        elif p.is_symlink() or not p.is_file() or _sha256(p) != listed[rel]:
            return f"has {display_text(rel)} changed since edgec wrote it"
    return None


def make_staging_dir(dest: Path) -> tuple:
    """A new temporary folder beside dest (creating dest's missing parents); returns (tmp, created parents)."""
    created = [p for p in reversed(dest.parents) if not p.exists()]
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_staging(dest)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-{os.getpid()}-", dir=dest.parent))
        umask = os.umask(0o022)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)   # mkdtemp's 0700 would make the artifact private
        return tmp, created
    except OSError as e:
        remove_created(created)
        raise EdgecError(f"cannot write into {display_text(dest.parent)} ({e.strerror}); choose an --out "
                         "in a folder you can write to") from None


def _remove_stale_staging(dest: Path) -> None:
    """Removes staging folders of earlier compiles into dest whose process is gone (killed mid-compile)."""
    for p in dest.parent.glob(f".{glob.escape(dest.name)}.tmp-*-*"):
        pid = p.name[len(dest.name) + 6:].split("-")[0]
        if pid.isdigit() and p.is_dir() and not p.is_symlink() and not _alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def remove_created(created: list) -> None:
    """Removes the parent folders make_staging_dir created, deepest first, if still empty."""
    for p in reversed(created):
        try:
            p.rmdir()
        except OSError:
            break


def replace_artifact(tmp: Path, dest: Path) -> None:
    """Puts tmp at dest atomically; an existing dest (already checked replaceable) is removed after.
    Ctrl-C is held off for the few system calls of the swap."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        check_destination(dest)   # again: the folder may have changed while we compiled
        if not dest.exists():
            os.rename(tmp, dest)
            return
        if _exchange(tmp, dest):
            shutil.rmtree(tmp, ignore_errors=True)   # tmp now holds the previous artifact
            return
        aside = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.rename(dest, aside)
        try:
            os.rename(tmp, dest)
        except OSError:
            os.rename(aside, dest)
            raise
        shutil.rmtree(aside, ignore_errors=True)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _exchange(a: Path, b: Path) -> bool:
    """Swaps two folders in one step with Linux's renameat2(RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
