"""What `edgec compile` writes for a release, on one host build of stories260K: manifest.json's "files" (every
file's sha256, bin/ included), sbom.cdx.json (valid CycloneDX naming the model, edgec, the toolchain, the target
and the runtime files), <name>-<target>.tar.gz (layout, owner, dates, gzip header), `edgec verify` on the folder
and the tarball, and the refusal to overwrite a tarball edgec did not write."""
import hashlib
import json
import shutil
import subprocess
import tarfile

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from conftest import REPO, STORIES
from edgec import __version__
from edgec.build.reproducible import source_date_epoch
from edgec.release.sbom import sbom_serial
from edgec.release.seal import write_release_tarball
from edgec.release.tarball import write_tarball
from release_helpers import at_once, compile_stories, edgec, ok, tree_hashes

TOP = "stories260k-host"
RECORDS = {"manifest.json", "sbom.cdx.json"}


FOREIGN = b"my own backup, not a tarball\n"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """Two compiles at once: the artifact most tests read, and one whose tarball name holds a user's file."""
    root = tmp_path_factory.mktemp("records")
    (root / "foreign").mkdir()
    (root / "foreign" / f"{TOP}.tar.gz").write_bytes(FOREIGN)
    good, refused = at_once(lambda: compile_stories("host", root / "out" / "art", cwd=root),
                            lambda: compile_stories("host", root / "foreign" / "art", cwd=root))
    ok(good)
    return root / "out" / "art", refused, root / "foreign"


@pytest.fixture(scope="module")
def art(compiled):
    return compiled[0]


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_manifest_hashes_every_file_but_the_records(art):
    manifest = json.loads((art / "manifest.json").read_text())
    on_disk = {k: v for k, v in tree_hashes(art).items() if k not in RECORDS}
    assert manifest["files"] == on_disk
    assert "bin/stories260k" in manifest["files"] and "firmware/weights.bin" in manifest["files"]
    assert list(manifest["files"]) == sorted(manifest["files"])


def test_tarball_layout(art):
    path = art.parent / f"{TOP}.tar.gz"
    raw = path.read_bytes()
    assert raw[:3] == b"\x1f\x8b\x08" and raw[3] & 0x08 == 0, "gzip header holds a file name"
    assert raw[4:8] == b"\0\0\0\0", "gzip header holds a date"
    with tarfile.open(path) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == sorted(m.name for m in members)
        assert members[0].name == TOP and members[0].isdir()
        assert all(m.name.startswith(f"{TOP}/") for m in members[1:])
        assert {(m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, "", "")}
        assert {m.mtime for m in members} == {source_date_epoch()}
        assert {m.mode for m in members if m.isfile()} == {0o644, 0o755}
        assert tar.getmember(f"{TOP}/bin/stories260k").mode == 0o755
        packed = {m.name[len(TOP) + 1:]: hashlib.sha256(tar.extractfile(m).read()).hexdigest()
                  for m in members if m.isfile()}
    assert packed == tree_hashes(art)


def test_sbom_is_valid_cyclonedx_naming_what_went_in(art):
    text = (art / "sbom.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    sbom, manifest = json.loads(text), json.loads((art / "manifest.json").read_text())
    assert sbom["serialNumber"] == sbom_serial(sha256(art / "manifest.json")).urn
    assert "timestamp" not in sbom["metadata"]   # SOURCE_DATE_EPOCH unset: no date at all
    by_ref = {c["bom-ref"]: c for c in sbom["components"]}
    model = by_ref["model"]
    assert model["name"] == "stories260K.bin" and model["type"] == "machine-learning-model"
    assert model["hashes"] == [{"alg": "SHA-256", "content": sha256(STORIES / "stories260K.bin")}]
    assert model["licenses"] == [{"license": {"name": "unknown"}}]   # llama2.c checkpoints declare none
    assert by_ref["edgec"]["version"] == __version__ == manifest["edgec_version"]
    cc = manifest["target"]["cc"]
    first_line = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout.splitlines()[0].strip()
    assert (by_ref["toolchain"]["name"], by_ref["toolchain"]["description"]) == (cc, first_line)
    assert by_ref["target"]["name"] == "host"
    assert by_ref["target"]["hashes"][0]["content"] == sha256(REPO / "targets" / "host.toml")
    files = {c["name"]: c["hashes"][0]["content"] for c in sbom["components"] if c["type"] == "file"}
    runtime = {k: v for k, v in manifest["files"].items() if k.startswith(("runtime/", "firmware/kernels/"))}
    assert files == runtime and "runtime/program/cli_main.c" in files and "firmware/kernels/isa.h" in files
    assert files["runtime/program/cli_main.c"] == sha256(REPO / "runtime" / "program" / "cli_main.c")


def verify(path, cwd):
    return edgec("verify", path, cwd=cwd)


def test_verify_passes_on_the_folder_and_the_tarball(art):
    for path in (art, art.parent / f"{TOP}.tar.gz"):
        r = verify(path, art.parent)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stdout.startswith("ok: ") and "files match manifest.json and sbom.cdx.json" in r.stdout


def flip_byte(path, offset):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


CHANGES = {
    "weight byte": (lambda a: flip_byte(a / "firmware" / "weights.bin", 1000), ["changed: firmware/weights.bin"]),
    "binary byte": (lambda a: flip_byte(a / "bin" / "stories260k", 4096), ["changed: bin/stories260k"]),
    "file removed": (lambda a: (a / "runtime" / "program" / "cli_main.c").unlink(),
                     ["missing: runtime/program/cli_main.c"]),   # the SBOM names it too: still one line
    "file added": (lambda a: (a / "notes.txt").write_text("mine\n"), ["extra: notes.txt (not in manifest.json)"]),
    "manifest edited": (lambda a: (a / "manifest.json").write_text((a / "manifest.json").read_text() + " "),
                        ["changed: sbom.cdx.json or manifest.json"]),
    "sbom drops a file": (lambda a: drop_sbom_component(a, "runtime/program/cli_args.c"),
                          ["changed: sbom.cdx.json (does not name runtime/program/cli_args.c)"]),
}


def drop_sbom_component(art, name):
    sbom = json.loads((art / "sbom.cdx.json").read_text())
    sbom["components"] = [c for c in sbom["components"] if c["name"] != name]
    (art / "sbom.cdx.json").write_text(json.dumps(sbom))


@pytest.mark.parametrize("change", CHANGES)
def test_verify_names_each_difference_in_one_line(art, tmp_path, change):
    edit, expected = CHANGES[change]
    copy = tmp_path / "copy"
    shutil.copytree(art, copy)
    edit(copy)
    r = verify(copy, tmp_path)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == len(expected) + 1 and lines[-1].startswith("FAILED: "), r.stdout
    for line, words in zip(lines, expected):
        assert line.startswith(words), r.stdout


def test_verify_reads_a_changed_tarball(art, tmp_path):
    copy = tmp_path / TOP
    shutil.copytree(art, copy)
    flip_byte(copy / "firmware" / "weights.bin", 1000)
    tarball = write_tarball(copy, tmp_path / f"{TOP}.tar.gz", TOP)
    shutil.rmtree(copy)
    r = verify(tarball, tmp_path)
    assert r.returncode == 1 and r.stdout.splitlines()[0].startswith("changed: firmware/weights.bin"), r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [tarball.name], "verify wrote files"


def test_verify_of_nothing_is_one_line(tmp_path):
    r = verify(tmp_path / "nope", tmp_path)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "does not exist" in r.stderr


def test_a_foreign_tarball_is_never_overwritten(compiled):
    """The name edgec would write its tarball under holds the user's file: the compile stops in one line before
    the artifact folder is put in place, and the file is untouched."""
    _, r, out = compiled
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgec: error:") and "not a tarball edgec wrote" in lines[0], r.stderr
    assert (out / f"{TOP}.tar.gz").read_bytes() == FOREIGN
    assert sorted(p.name for p in out.iterdir()) == [f"{TOP}.tar.gz"], "the artifact or a staging folder was left"


def test_edgec_own_tarball_is_replaced(art, tmp_path):
    """A second write over edgec's own tarball succeeds (the refusal is for other files only)."""
    path = tmp_path / f"{TOP}.tar.gz"
    write_tarball(art, path, TOP)
    manifest = json.loads((art / "manifest.json").read_text())
    copy = tmp_path / "art"
    shutil.copytree(art, copy)
    assert write_release_tarball(copy, manifest) == path
    assert path.read_bytes() == (art.parent / f"{TOP}.tar.gz").read_bytes()

