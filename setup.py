"""Only what pyproject.toml cannot say: the wheel carries templates/, runtime/ and targets/ as edgec/_data/
(compiler/edgec/paths.py finds them there), and builds reproducibly (docs/artifacts.md, "edgec as a wheel")."""
import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("templates", "runtime", "targets")   # the same as paths.DATA_FOLDERS
# A wheel is a zip, whose entries hold dates: without SOURCE_DATE_EPOCH they would be the files' mtimes, so
# two builds of one tree would differ. 1980-01-01, the earliest a zip can hold (edgec's tarballs use it too).
os.environ.setdefault("SOURCE_DATE_EPOCH", "315532800")


class BuildPyWithData(build_py):
    """build_py, then a fresh copy of the data folders into the package (not for an editable install, which
    reads them from the source tree)."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        dest = Path(self.build_lib) / "edgec" / "_data"
        shutil.rmtree(dest, ignore_errors=True)   # a file removed from the tree must not linger from a last build
        for folder in DATA_FOLDERS:
            shutil.copytree(Path(__file__).parent / folder, dest / folder,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.o"))


setup(cmdclass={"build_py": BuildPyWithData})
