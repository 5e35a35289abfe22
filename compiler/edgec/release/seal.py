"""The release steps `edgec compile` runs last: seal the staging folder after the build (every file's sha256 in
manifest.json, the SBOM), then, once the folder is in place, write its tarball beside it."""
from __future__ import annotations

import json
from pathlib import Path

from edgec.build.artifact_dir import file_hashes
from edgec.release.model_license import model_license
from edgec.release.sbom import write_sbom
from edgec.release.tarball import check_tarball_destination, tarball_path, top_folder, write_tarball


def seal_artifact(folder: Path, out_dir: Path, model_path: str, tarball: bool) -> dict:
    """Rewrites folder/manifest.json with "files" over every file but itself and the SBOM (bin/ included, so
    after the build), writes sbom.cdx.json, and when a tarball will follow checks that its name beside out_dir
    is free or edgec's (before the folder replaces the previous artifact). Returns the manifest."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"] = file_hashes(folder)
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    (folder / "manifest.json").write_bytes(manifest_bytes)
    write_sbom(folder, manifest, manifest_bytes, model_license(model_path, manifest["source"]["format"]))
    if tarball:
        check_tarball_destination(tarball_path(out_dir, manifest), top_folder(manifest))
    return manifest


def write_release_tarball(out_dir: Path, manifest: dict) -> Path:
    """out_dir's <name>-<target>.tar.gz beside it."""
    path = tarball_path(out_dir, manifest)
    check_tarball_destination(path, top_folder(manifest))   # again: it may have appeared while we built
    return write_tarball(out_dir, path, top_folder(manifest))
