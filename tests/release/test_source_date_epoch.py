"""SOURCE_DATE_EPOCH: unset, every date is edgec's fixed 1980-01-01 (and the SBOM has none); set, the tarball's
dates and the SBOM's timestamp are that time, and the C build gets it; not a number: one line saying so."""
import json
import tarfile

import pytest
from cyclonedx.output.json import JsonV1Dot6

from edgec.build.reproducible import DEFAULT_SOURCE_DATE_EPOCH, build_environment, source_date_epoch
from edgec.errors import EdgecError
from edgec.release.sbom import build_bom
from edgec.release.tarball import write_tarball
from release_helpers import MANIFEST


def small_tree(root):
    (root / "art" / "bin").mkdir(parents=True)
    (root / "art" / "bin" / "prog").write_bytes(b"\x7fELF")
    (root / "art" / "bin" / "prog").chmod(0o700)   # a private umask: the tarball still says 0755
    (root / "art" / "a.txt").write_text("x")
    return root / "art"


def test_unset_means_the_fixed_default(monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert source_date_epoch() == DEFAULT_SOURCE_DATE_EPOCH == 315532800
    assert build_environment()["SOURCE_DATE_EPOCH"] == "315532800"
    bom = json.loads(JsonV1Dot6(build_bom(MANIFEST, "1" * 64, "mit")).output_as_string())
    assert "timestamp" not in bom["metadata"]


def test_set_is_used_for_tarball_and_sbom(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    path = write_tarball(small_tree(tmp_path), tmp_path / "t.tar.gz", "top")
    with tarfile.open(path) as tar:
        assert {m.mtime for m in tar.getmembers()} == {1700000000}
        assert [(m.name, m.mode) for m in tar.getmembers()] == [
            ("top", 0o755), ("top/a.txt", 0o644), ("top/bin", 0o755), ("top/bin/prog", 0o755)]
    bom = json.loads(JsonV1Dot6(build_bom(MANIFEST, "1" * 64, "mit")).output_as_string())
    assert bom["metadata"]["timestamp"].startswith("2023-11-14T22:13:20")
    assert build_environment()["SOURCE_DATE_EPOCH"] == "1700000000"


def test_not_a_number_is_one_line(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(EdgecError) as e:
        source_date_epoch()
    assert "SOURCE_DATE_EPOCH" in str(e.value) and "\n" not in str(e.value)
