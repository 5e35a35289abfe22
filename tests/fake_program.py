"""The inference program around the fake model core (tests/c/fake_model): paths, compile flags and
builders shared by the runtime and server tests (tests/runtime/, tests/server/)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from edgec.paths import runtime_include_dirs

REPO = Path(__file__).resolve().parents[1]
RUNTIME = REPO / "runtime"
GROUPS = runtime_include_dirs()
C_TESTS = REPO / "tests" / "c"
FAKE = C_TESTS / "fake_model"
TOK512 = REPO / "tests" / "fixtures" / "stories260K" / "tok512.bin"

VOCAB, MAX_CTX, MAX_BATCH = 512, 64, 8            # tests/c/fake_model/model.h
CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pthread"]
SANITIZE = ["-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def compile_c(cc: str, sources: list, out: Path, flags: list, includes: list = ()) -> Path:
    cmd = [cc, *CFLAGS, *flags, *[f"-I{d}" for d in includes], *map(str, sources), "-o", str(out), "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stderr}"
    return out


def tokenizer_ir():
    from edgec.frontends.llama2c_reader import read_llama2c_tokenizer
    return read_llama2c_tokenizer(str(TOK512), VOCAB)


def write_blob_inc(blob: bytes, folder: Path) -> Path:
    """The tokenizer blob as the comma-separated bytes tests/c/fake_model/blobs.c includes."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [",".join(str(b) for b in blob[i:i + 32]) for i in range(0, len(blob), 32)]
    (folder / "tokenizer_blob.inc").write_text(",\n".join(rows) + "\n")
    return folder


def build_cli(cc: str, flags: list, out: Path, blob_dir: Path) -> Path:
    sources = sorted(p for g in GROUPS for p in g.glob("*.c")) + [FAKE / "model.c", FAKE / "blobs.c"]
    return compile_c(cc, sources, out, flags, [*GROUPS, FAKE, blob_dir])


def tokenizer_blob() -> bytes:
    from edgec.codegen.tokenizer_blob import build_tokenizer_blob
    return build_tokenizer_blob(tokenizer_ir())
