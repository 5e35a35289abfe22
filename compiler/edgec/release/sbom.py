"""sbom.cdx.json: a CycloneDX 1.6 SBOM of an artifact, written with cyclonedx-python-lib (docs/artifacts.md).

It names what went into the program: the model (file name, sha256, the license it declares), edgec (version),
each runtime source copied into the artifact (path, sha256), the C toolchain (its `--version` line) and the
target profile (name, sha256 of its file). It is deterministic: the serial number is a UUID5 of manifest.json's
sha256 (so it also ties the SBOM to that manifest: `edgec verify` checks it), and the only date is
SOURCE_DATE_EPOCH when the caller set it."""
from __future__ import annotations

import hashlib
import re
import shlex
import subprocess
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentScope, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

try:   # its home from cyclonedx-python-lib 11 on; the old one warns there
    from cyclonedx.contrib.license.factories import LicenseFactory
except ImportError:
    from cyclonedx.factory.license import LicenseFactory

from edgec.build.reproducible import epoch_is_set, source_date_epoch
from edgec.paths import targets_dir

SBOM_FILE = "sbom.cdx.json"
RUNTIME_PREFIXES = ("runtime/", "firmware/kernels/")   # the runtime sources an artifact carries, copied verbatim
SERIAL_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://edgec/sbom/manifest-sha256")   # any fixed UUID


def sbom_serial(manifest_sha256: str) -> uuid.UUID:
    """The SBOM's serial number: the same manifest gives the same SBOM."""
    return uuid.uuid5(SERIAL_NAMESPACE, manifest_sha256)


def toolchain_version(cc: str) -> str:
    """The first line of `cc --version` ("unknown" when it does not answer)."""
    try:
        out = subprocess.run([*shlex.split(cc), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, ValueError, subprocess.SubprocessError):
        return "unknown"
    return (out.strip().splitlines() or ["unknown"])[0].strip()


def write_sbom(art: Path, manifest: dict, manifest_bytes: bytes, model_license: str) -> Path:
    """Writes art/sbom.cdx.json for the artifact whose manifest.json holds manifest_bytes."""
    bom = build_bom(manifest, hashlib.sha256(manifest_bytes).hexdigest(), model_license)
    with warnings.catch_warnings():   # the library warns about optional graph details it cannot infer
        warnings.simplefilter("ignore")
        text = JsonV1Dot6(bom).output_as_string(indent=2)
    path = art / SBOM_FILE
    path.write_text(text + "\n", encoding="utf-8")
    return path


def build_bom(manifest: dict, manifest_sha256: str, model_license: str) -> Bom:
    target = manifest["target"]["name"]
    bom = Bom(serial_number=sbom_serial(manifest_sha256))
    bom.metadata.timestamp = (datetime.fromtimestamp(source_date_epoch(), tz=timezone.utc)
                              if epoch_is_set() else None)   # else no date: the same inputs, the same file
    root = Component(name=manifest["name"], type=ComponentType.APPLICATION, bom_ref="artifact",
                     description=f"edgec artifact {manifest['name']}-{target}",
                     properties=[Property(name="edgec:target", value=target),
                                 Property(name="edgec:isa", value=str(manifest["target"]["isa"]))])
    bom.metadata.component = root
    parts = [_model(manifest["source"], model_license), _edgec(manifest["edgec_version"]),
             _toolchain(manifest["target"]["cc"]), _target_profile(target)]
    parts += [_runtime_file(path, sha) for path, sha in sorted(manifest["files"].items())
              if path.startswith(RUNTIME_PREFIXES)]
    for part in parts:
        bom.components.add(part)
    bom.register_dependency(root, parts)
    return bom


def _sha256(hexdigest: str) -> list:
    return [HashType(alg=HashAlgorithm.SHA_256, content=hexdigest)]


def _model(source: dict, license_text: str) -> Component:
    return Component(name=source["file"], type=ComponentType.MACHINE_LEARNING_MODEL, bom_ref="model",
                     hashes=_sha256(source["sha256"]), licenses=[LicenseFactory().make_from_string(license_text)],
                     properties=[Property(name="edgec:format", value=source["format"])])


def _edgec(version: str) -> Component:
    return Component(name="edgec", version=version, type=ComponentType.APPLICATION, bom_ref="edgec",
                     scope=ComponentScope.EXCLUDED, description="the compiler that generated the sources",
                     purl=PackageURL(type="pypi", name="edgec", version=version))


def _toolchain(cc: str) -> Component:
    line = toolchain_version(cc)
    number = re.search(r"\d+\.\d+(\.\d+)?", line)
    return Component(name=cc, version=number.group(0) if number else None, type=ComponentType.APPLICATION,
                     bom_ref="toolchain", scope=ComponentScope.EXCLUDED, description=line,
                     properties=[Property(name="edgec:role", value="C compiler")])


def _target_profile(name: str) -> Component:
    path = targets_dir() / f"{name}.toml"
    return Component(name=name, type=ComponentType.DATA, bom_ref="target", scope=ComponentScope.EXCLUDED,
                     description=f"edgec target profile targets/{name}.toml",
                     hashes=_sha256(hashlib.sha256(path.read_bytes()).hexdigest()),
                     properties=[Property(name="edgec:role", value="target profile")])


def _runtime_file(path: str, sha: str) -> Component:
    return Component(name=path, type=ComponentType.FILE, bom_ref=f"file:{path}", hashes=_sha256(sha),
                     properties=[Property(name="edgec:role", value="runtime source")])
