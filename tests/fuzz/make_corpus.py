"""Writes the committed seed corpora: tests/fuzz/corpus/<harness>/<seed name>, from each Python
harness's seeds() and the functions in c/seeds.py.  Run it from anywhere; it replaces only the
seed files it names (inputs a campaign added are kept)."""
from __future__ import annotations

import importlib.util
import sys

from harnesses import CORPUS, FUZZ, REPO, python_harnesses


def _load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def all_seeds() -> dict:
    """harness name -> {seed name: bytes}."""
    sys.path[:0] = [str(REPO / "compiler"), str(REPO / "tests")]   # edgec and tiny_models
    seeds = {p.stem: _load(p).seeds() for p in python_harnesses()}
    c_seeds = FUZZ / "c" / "seeds.py"
    if c_seeds.is_file():
        seeds.update({name: fn() for name, fn in _load(c_seeds).SEEDS.items()})
    return seeds


def main() -> None:
    for harness, files in sorted(all_seeds().items()):
        folder = CORPUS / harness
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in sorted(files.items()):
            (folder / name).write_bytes(data)
        print(f"{harness}: {len(files)} seeds, {sum(map(len, files.values()))} bytes")


if __name__ == "__main__":
    sys.path.insert(0, str(FUZZ))
    main()
