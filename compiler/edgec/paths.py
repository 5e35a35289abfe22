"""Where edgec's non-Python parts live: templates/, runtime/ and targets/ at the repository root."""
from __future__ import annotations

from pathlib import Path

from edgec.errors import EdgecError


def repo_root() -> Path:
    root = Path(__file__).resolve().parents[2]
    if not (root / "runtime").is_dir() or not (root / "templates").is_dir():
        raise EdgecError(f"edgec's runtime/ and templates/ are not beside the package at {root}; "
                         "install edgec from its source tree with `pip install -e .`")
    return root


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
