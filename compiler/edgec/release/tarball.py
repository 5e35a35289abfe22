"""<name>-<target>.tar.gz beside an artifact folder: the file a release pipeline uploads (docs/artifacts.md).

Byte-identical for the same artifact wherever it was built: entries sorted by path under one top folder
<name>-<target>/ (not the --out folder's name, which may differ), owner 0:0 with empty names, modes 0644 /
0755, every mtime SOURCE_DATE_EPOCH (default 1980-01-01), gzip with no file name and mtime 0. Written to a
temporary file and renamed, and never over a file edgec did not write."""
from __future__ import annotations

import gzip
import json
import os
import stat
import tarfile
import zlib
from pathlib import Path

from edgec.errors import EdgecError
from edgec.escaping import display_text
from edgec.build.reproducible import source_date_epoch

MANIFEST_LIMIT = 64 << 20   # a manifest.json larger than this is not one edgec wrote
# Quantized weights, most of an artifact, hardly compress (~4% at any level): level 1 keeps that gain and the
# text's at a fraction of level 6's time (3.5 s against 4.6 s for SmolLM2-135M's 100 MB on this machine).
GZIP_LEVEL = 1


def top_folder(manifest: dict) -> str:
    """The tarball's one top folder, and its name without .tar.gz."""
    return f"{manifest['name']}-{manifest['target']['name']}"


def tarball_path(out_dir: Path, manifest: dict) -> Path:
    return out_dir.parent / f"{top_folder(manifest)}.tar.gz"


def check_tarball_destination(path: Path, top: str) -> None:
    """Refuses to go on when path exists and is not a tarball edgec wrote (one holding top/manifest.json by edgec)."""
    if path.is_symlink() or (path.exists() and not is_edgec_tarball(path, top)):
        raise EdgecError(f"{display_text(path)} exists and is not a tarball edgec wrote (no {top}/manifest.json "
                         "naming edgec); edgec writes the artifact's tarball there: move that file away or choose "
                         "another --out folder")


def is_edgec_tarball(path: Path, top: str) -> bool:
    """Whether path is a gzip tar holding top/manifest.json with edgec_version (read, never extracted)."""
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                if member.name == f"{top}/manifest.json" and member.isfile() and member.size <= MANIFEST_LIMIT:
                    manifest = json.loads(tar.extractfile(member).read())
                    return isinstance(manifest, dict) and "edgec_version" in manifest
    except (OSError, EOFError, tarfile.TarError, zlib.error, ValueError):
        return False
    return False


def write_tarball(art: Path, path: Path, top: str) -> Path:
    """Packs the folder art as top/ into path atomically (temporary file beside it, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    _add_tree(tar, art, top, source_date_epoch())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise EdgecError(f"cannot write {display_text(path)} ({e.strerror or e}); the artifact folder "
                         f"{display_text(art)} is complete: free some space and compile again") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _add_tree(tar: tarfile.TarFile, art: Path, top: str, mtime: int) -> None:
    tar.addfile(_entry(top, tarfile.DIRTYPE, 0o755, 0, mtime))
    for p in sorted(art.rglob("*"), key=lambda q: q.relative_to(art).as_posix()):
        name = f"{top}/{p.relative_to(art).as_posix()}"
        st = p.lstat()
        if stat.S_ISDIR(st.st_mode):
            tar.addfile(_entry(name, tarfile.DIRTYPE, 0o755, 0, mtime))
        elif stat.S_ISREG(st.st_mode):
            mode = 0o755 if st.st_mode & 0o111 else 0o644
            with open(p, "rb") as f:
                tar.addfile(_entry(name, tarfile.REGTYPE, mode, st.st_size, mtime), f)
        else:
            raise EdgecError(f"{display_text(p)} is not a file or folder; an artifact holds only files edgec wrote")


def _entry(name: str, kind: bytes, mode: int, size: int, mtime: int) -> tarfile.TarInfo:
    """A tar header that says nothing about who built it or when."""
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info

