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


def templates_dir() -> Path:
    return repo_root() / "templates"


def targets_dir() -> Path:
    return repo_root() / "targets"
