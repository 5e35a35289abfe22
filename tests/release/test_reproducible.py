"""Reproducible artifacts: stories260K compiled for host and for pi-zero (cross, gcc) from two checkouts in
different folders into two different --out paths (so also from two different staging folders) gives the same
bytes in every file, and the same tarball; no file holds a path of the machine that built it."""
import shutil

import pytest

from conftest import REPO
from release_helpers import at_once, compile_stories, ok, tree_hashes

TARGETS = ["host", "pi-zero"]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """target -> (folder built from this checkout, folder built from a copy of it elsewhere), and the root."""
    root = tmp_path_factory.mktemp("repro")
    checkout = root / "another" / "checkout"
    for folder in ("compiler", "runtime", "templates", "targets"):
        shutil.copytree(REPO / folder, checkout / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    first = {t: root / "one" / t / "art" for t in TARGETS}
    second = {t: root / "two" / "deeper" / t / "other-name" for t in TARGETS}
    jobs = [lambda t=t: compile_stories(t, first[t], cwd=root) for t in TARGETS]
    jobs += [lambda t=t: compile_stories(t, second[t], cwd=checkout, checkout=checkout) for t in TARGETS]
    for r in at_once(*jobs):
        ok(r)
    return {t: (first[t], second[t]) for t in TARGETS}, root


@pytest.mark.parametrize("target", TARGETS)
def test_every_file_is_the_same_from_another_checkout_and_out_path(builds, target):
    a, b = builds[0][target]
    ha, hb = tree_hashes(a), tree_hashes(b)
    assert "bin/stories260k" in ha and "sbom.cdx.json" in ha and "manifest.json" in ha
    assert sorted(ha) == sorted(hb)
    assert [p for p in ha if ha[p] != hb[p]] == []


@pytest.mark.parametrize("target", TARGETS)
def test_tarballs_are_the_same(builds, target):
    a, b = builds[0][target]
    ta, tb = a.parent / f"stories260k-{target}.tar.gz", b.parent / f"stories260k-{target}.tar.gz"
    assert ta.read_bytes() == tb.read_bytes()


@pytest.mark.parametrize("target", TARGETS)
def test_no_file_holds_a_build_path(builds, target):
    """The staging folder, the --out folders and both checkouts are all under root; REPO is this checkout."""
    (a, _), root = builds[0][target], builds[1]
    leaks = [p.relative_to(a).as_posix() for p in sorted(a.rglob("*")) if p.is_file()
             and any(s in p.read_bytes() for s in (str(root).encode(), str(REPO).encode()))]
    assert leaks == []
