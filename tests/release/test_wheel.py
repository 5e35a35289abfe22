"""edgec as a release: the wheel carries templates/, runtime/ and targets/, builds reproducibly (two source trees
in different folders give the same bytes), installs into a clean venv (its dependencies from pip's index or
cache), and from a folder outside the repository compiles stories260K for host (the program runs) and for
pi-zero (cross-compiled, built, self-checked under qemu-aarch64 by the compile)."""
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO
from edgec import __version__
from release_helpers import at_once, clean_env, compile_stories, ok, tree_hashes

SOURCE = ["pyproject.toml", "setup.py", "MANIFEST.in", "compiler", "runtime", "templates", "targets"]
WHEEL = f"edgec-{__version__}-py3-none-any.whl"


def copy_source(dest):
    """The files a wheel is built from, outside the repository (its build/ and egg-info stay clean)."""
    dest.mkdir(parents=True)
    for name in SOURCE:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dest / name)


def build_wheel(source, out):
    """pip wheel without build isolation: setuptools and wheel from this environment (the test extras), no network."""
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                        "--disable-pip-version-check", "-q", "-w", str(out), str(source)],
                       capture_output=True, text=True, env=clean_env(None), timeout=300)
    assert r.returncode == 0, f"the wheel did not build (examples/setup.sh installs `wheel`):\n{r.stderr}"
    return out / WHEEL


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    root = tmp_path_factory.mktemp("wheel")
    copy_source(root / "tree-a")
    copy_source(root / "elsewhere" / "tree-b")
    return at_once(lambda: build_wheel(root / "tree-a", root / "dist-a"),
                   lambda: build_wheel(root / "elsewhere" / "tree-b", root / "dist-b"))


@pytest.fixture(scope="module")
def venv(wheels, tmp_path_factory):
    """A clean venv (no system site-packages) with the wheel and its dependencies installed."""
    path = tmp_path_factory.mktemp("venv") / "v"
    ok(subprocess.run([sys.executable, "-m", "venv", str(path)], capture_output=True, text=True, timeout=120))
    python = path / "bin" / "python"
    r = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheels[0])],
                       capture_output=True, text=True, env=clean_env(None), timeout=300)
    assert r.returncode == 0, f"pip could not install the wheel's dependencies (needs PyPI or pip's cache):\n{r.stderr}"
    return python


def test_wheel_build_is_reproducible(wheels):
    a, b = wheels
    assert a.read_bytes() == b.read_bytes()


def test_wheel_carries_the_data_folders(wheels):
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    for folder in ("templates", "runtime", "targets"):
        for f in sorted((REPO / folder).rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts:
                assert f"edgec/_data/{f.relative_to(REPO).as_posix()}" in names
    assert "edgec/release/sbom.py" in names and "edgec/paths.py" in names


def test_installed_edgec_compiles_from_any_folder(venv, tmp_path):
    """Run from a folder outside the repository, with no PYTHONPATH: the venv's edgec and its packaged data."""
    where = subprocess.run([str(venv), "-c", "import edgec.paths as p; print(p.repo_root())"], cwd=tmp_path,
                           capture_output=True, text=True, env=clean_env(None))
    assert where.stdout.strip() == str(venv.parents[1] / "lib" / f"python{sys.version_info.major}."
                                       f"{sys.version_info.minor}" / "site-packages" / "edgec" / "_data"), where
    version = subprocess.run([str(venv.parent / "edgec"), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert version.stdout.strip() == f"edgec {__version__}"
    host, pi = at_once(lambda: compile_stories("host", tmp_path / "out" / "h", cwd=tmp_path, checkout=None,
                                               python=str(venv)),
                       lambda: compile_stories("pi-zero", tmp_path / "out" / "p", cwd=tmp_path, checkout=None,
                                               python=str(venv)))
    ok(host), ok(pi)
    run = subprocess.run([str(tmp_path / "out" / "h" / "bin" / "stories260k"), "-p", "Once upon a time", "-n", "8",
                          "-t", "0"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.strip(), run.stderr   # the story's continuation
    files = tree_hashes(tmp_path / "out" / "p")
    assert {"bin/stories260k", "firmware/model.c", "CMakeLists.txt", "sbom.cdx.json"} <= set(files)
    assert (tmp_path / "out" / "stories260k-pi-zero.tar.gz").is_file()
    assert b"ARM aarch64" in subprocess.run(["file", str(tmp_path / "out" / "p" / "bin" / "stories260k")],
                                            capture_output=True).stdout
    assert ok(subprocess.run([str(venv.parent / "edgec"), "verify", "out/stories260k-pi-zero.tar.gz"], cwd=tmp_path,
                             capture_output=True, text=True, env=clean_env(None))).stdout.startswith("ok: ")
