"""The fuzz harnesses in this folder and how to build and run each: shared by make_corpus.py, run.sh
(through `python -m`-free calls) and tests/fuzz/test_fuzz.py."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
REPO = FUZZ.parents[1]
CORPUS = FUZZ / "corpus"
CRASHES = FUZZ / "crashes"
LIBFUZZER_FLAGS = ["-timeout=10", "-rss_limit_mb=2048"]   # a finding: a hang over 10 s or memory over 2 GB
SANITIZE = ["-g", "-O1", "-fsanitize=fuzzer,address,undefined", "-fno-sanitize-recover=all"]


def python_harnesses() -> list:
    return sorted(FUZZ.glob("py/fuzz_*.py"))


def c_harnesses() -> list:
    return sorted(FUZZ.glob("c/fuzz_*.c"))


def all_names() -> list:
    return [p.stem for p in python_harnesses() + c_harnesses()]


RUNTIME_GROUPS = ("core", "tokenizer", "sampler", "program")   # edgec.paths.RUNTIME_GROUPS


def runtime_sources() -> list:
    """Every runtime .c file but the program's main (the harnesses link the library part)."""
    return [p for g in RUNTIME_GROUPS for p in sorted((REPO / "runtime" / g).glob("*.c")) if p.name != "cli_main.c"]


def build_c_harness(source: Path, out_dir: Path, cc: str = "clang") -> Path:
    """Builds one libFuzzer harness with ASan + UBSan; returns the executable."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = out_dir / source.stem
    includes = [f"-I{REPO / 'runtime' / g}" for g in RUNTIME_GROUPS]
    cmd = [cc, *SANITIZE, *includes, "-o", str(exe), str(source),
           *map(str, runtime_sources()), "-lm", "-lpthread"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"building {source.name} failed:\n{r.stderr[-3000:]}")
    return exe


def command(name: str, build_dir: Path) -> list:
    """The command line that runs harness `name` (libFuzzer flags and corpus folders are appended)."""
    py = FUZZ / "py" / f"{name}.py"
    if py.is_file():
        return [sys.executable, str(py)]
    return [str(build_c_harness(FUZZ / "c" / f"{name}.c", build_dir))]
