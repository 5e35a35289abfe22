"""Where edgec's non-Python parts live: templates/, runtime/ and targets/ at the repository root in a source
checkout (an editable install), else in the package's _data/ folder, where the wheel carries them (setup.py)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from edgec.errors import EdgecError

DATA_FOLDERS = ("templates", "runtime", "targets")
PACKAGE_DATA = "_data"   # edgec/_data/<folder> in an installed wheel


@lru_cache(maxsize=None)
def repo_root() -> Path:
    """The folder holding templates/, runtime/ and targets/: the source tree first, else the installed data."""
    package = Path(__file__).resolve().parent
    for root in (package.parents[1], package / PACKAGE_DATA):
        if all((root / f).is_dir() for f in DATA_FOLDERS):
            return root
    raise EdgecError(f"edgec's {', '.join(DATA_FOLDERS)} folders are neither in a source tree above {package} "
                     "nor installed in it; install edgec from its wheel or from its source tree (`pip install -e .`)")


def runtime_dir() -> Path:
    return repo_root() / "runtime"


# runtime/ by what each part is (docs/architecture.md): core = the model API and kernels a generated
# model.c needs (a firmware build takes only this), then the program's parts; server = the program's
# HTTP server (--serve), compiled in only where libmicrohttpd and cJSON are found (see CMakeLists.txt.j2).
RUNTIME_GROUPS = ("core", "tokenizer", "sampler", "program", "server")


def runtime_include_dirs() -> list:
    """The runtime folders a C build puts on its include path, core first."""
    return [runtime_dir() / g for g in RUNTIME_GROUPS]


def kernels_dir() -> Path:
    return runtime_dir() / "core" / "kernels"


def templates_dir() -> Path:
    return repo_root() / "templates"


def targets_dir() -> Path:
    return repo_root() / "targets"
