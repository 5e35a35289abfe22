"""`edgec verify ARTIFACT|TARBALL`: every file re-hashed against manifest.json and sbom.cdx.json.

One line per difference (missing, extra, changed file; an SBOM that does not belong to the manifest or
disagrees with a file). A tarball is read as a stream and never extracted. The cmake `build/` folder of a
rebuild by hand is not part of an artifact folder and is ignored."""
from __future__ import annotations

import hashlib
import json
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from edgec.build.artifact_dir import BUILD_FOLDER
from edgec.errors import EdgecError
from edgec.escaping import display_text
from edgec.release.sbom import RUNTIME_PREFIXES, SBOM_FILE, sbom_serial

MANIFEST = "manifest.json"
RECORDS = (MANIFEST, SBOM_FILE)   # the two files whose bytes verify reads, not just hashes
RECORD_LIMIT = 64 << 20


@dataclass
class Contents:
    """What an artifact folder or tarball holds: sha256 per file, the records' bytes, entries that are not files."""
    hashes: dict = field(default_factory=dict)
    records: dict = field(default_factory=dict)
    odd: list = field(default_factory=list)


@dataclass
class VerifyReport:
    shown: str
    n_files: int = 0
    problems: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list:
        if self.ok:
            return [f"ok: {self.shown}: {self.n_files} files match {MANIFEST} and {SBOM_FILE}"]
        return self.problems + [f"FAILED: {self.shown}: {len(self.problems)} difference(s)"]


def verify_artifact(path: Path) -> VerifyReport:
    if path.is_dir():
        contents = folder_contents(path)
    elif path.is_file():
        contents = tarball_contents(path)
    else:
        raise EdgecError(f"{display_text(path)} does not exist; give an artifact folder (out/<name>-<target>) "
                         "or its .tar.gz")
    report = VerifyReport(display_text(path))
    check_contents(contents, report)
    return report


def _sha256_stream(f) -> str:
    h = hashlib.sha256()
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()


def _take(contents: Contents, rel: str, f) -> None:
    """Hashes one file; the records are kept whole (they are small) and hashed from their bytes."""
    if rel in RECORDS:
        data = f.read(RECORD_LIMIT + 1)
        contents.records[rel] = data
        contents.hashes[rel] = hashlib.sha256(data).hexdigest()
    else:
        contents.hashes[rel] = _sha256_stream(f)


def folder_contents(art: Path) -> Contents:
    contents = Contents()
    for p in sorted(art.rglob("*")):
        rel = p.relative_to(art).as_posix()
        if rel.split("/")[0] == BUILD_FOLDER or (p.is_dir() and not p.is_symlink()):
            continue
        if p.is_symlink() or not p.is_file():
            contents.odd.append(rel)
            continue
        with open(p, "rb") as f:
            _take(contents, rel, f)
    return contents


def tarball_contents(path: Path) -> Contents:
    """Streams the members of a .tar.gz (or .tar): all under one top folder, regular files and folders only."""
    contents, top = Contents(), None
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                head, _, rel = member.name.partition("/")
                top = top or head
                if head != top or ".." in rel.split("/") or (not rel and not member.isdir()):
                    contents.odd.append(member.name)
                elif member.isfile():
                    _take(contents, rel, tar.extractfile(member))
                elif not member.isdir():
                    contents.odd.append(rel)
    except (OSError, EOFError, tarfile.TarError, zlib.error) as e:
        raise EdgecError(f"{display_text(path)} is not a readable tarball ({display_text(e)}); give an artifact "
                         "folder or the .tar.gz edgec compile wrote") from None
    return contents


def check_contents(contents: Contents, report: VerifyReport) -> None:
    problems = report.problems
    problems += [f"not a regular file: {display_text(rel)}" for rel in contents.odd]
    manifest = _record_json(contents, MANIFEST, problems)
    if manifest is None:
        return
    listed = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(listed, dict):
        problems.append(f"{MANIFEST} has no \"files\" list (not written by this edgec): compile again")
        return
    present = {k: v for k, v in contents.hashes.items() if k not in RECORDS}
    report.n_files = len(present) + sum(r in contents.records for r in RECORDS)
    reported = _compare_files({k: v for k, v in listed.items() if k not in RECORDS}, present, problems)
    sbom = _record_json(contents, SBOM_FILE, problems)
    if sbom is not None:
        _check_sbom(sbom, manifest, contents, reported, problems)


def _record_json(contents: Contents, name: str, problems: list):
    if name not in contents.records:
        problems.append(f"missing: {name}")
        return None
    try:
        return json.loads(contents.records[name])
    except ValueError:
        problems.append(f"changed: {name} (not valid JSON)")
        return None


def _compare_files(listed: dict, present: dict, problems: list) -> set:
    """missing / extra / changed lines, in path order; returns the paths reported."""
    reported = set(listed) ^ set(present)
    for rel in sorted(set(listed) | set(present)):
        shown = display_text(rel)
        if rel not in present:
            problems.append(f"missing: {shown}")
        elif rel not in listed:
            problems.append(f"extra: {shown} (not in {MANIFEST})")
        elif present[rel] != listed[rel]:
            problems.append(f"changed: {shown} (sha256 {present[rel][:16]}..., {MANIFEST} says {str(listed[rel])[:16]}...)")
            reported.add(rel)
    return reported


def _check_sbom(sbom, manifest: dict, contents: Contents, reported: set, problems: list) -> None:
    """The SBOM belongs to this manifest (serial number), names the same model and every runtime file the
    manifest lists, and its files' hashes hold."""
    if not isinstance(sbom, dict):
        problems.append(f"changed: {SBOM_FILE} (not a CycloneDX document)")
        return
    if sbom.get("serialNumber") != sbom_serial(contents.hashes[MANIFEST]).urn:
        problems.append(f"changed: {SBOM_FILE} or {MANIFEST} (the SBOM's serial number is not the one of this "
                        "manifest: one of the two was edited)")
    source = manifest.get("source")
    model_sha = source.get("sha256") if isinstance(source, dict) else None
    named = set()
    for comp in sbom.get("components") or []:
        if not isinstance(comp, dict):
            continue
        sha = next((h.get("content") for h in comp.get("hashes") or [] if isinstance(h, dict)
                    and h.get("alg") == "SHA-256"), None)
        name = str(comp.get("name"))
        if comp.get("type") == "machine-learning-model" and sha != model_sha:
            problems.append(f"changed: {SBOM_FILE} (the model's sha256 differs from {MANIFEST}'s)")
        elif comp.get("type") == "file":
            named.add(name)
            actual = contents.hashes.get(name) if name not in reported else sha
            if actual is None:
                problems.append(f"missing: {display_text(name)} (named in {SBOM_FILE})")
            elif actual != sha:
                problems.append(f"changed: {display_text(name)} (sha256 differs from {SBOM_FILE})")
    unnamed = sorted(p for p in manifest["files"] if p.startswith(RUNTIME_PREFIXES) and p not in named)
    problems += [f"changed: {SBOM_FILE} (does not name {display_text(p)})" for p in unnamed]
