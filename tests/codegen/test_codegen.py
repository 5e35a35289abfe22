"""The generated sources: deterministic and warning-free under gcc and clang (the core's freedom from I/O
and allocation is `edgec check`'s job: tests/verify/)."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from conftest import REPO, STORIES, compile_artifact
from tiny_models import make_tiny_config, random_weights, tiny_tokenizer_gpt2, write_gguf

WARN = ["-std=c11", "-Wall", "-Wextra", "-Werror"]
@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory):
    d = tmp_path_factory.mktemp("cg")
    cfg = make_tiny_config()
    weights = random_weights(cfg, seed=9)
    fmts = {n: ("f32" if a.ndim == 1 else "q8_0" if n == "token_embd.weight" else "q4_1") for n, a in weights.items()}
    tok, _ = tiny_tokenizer_gpt2()
    write_gguf(d / "tiny.gguf", cfg, weights, fmts, tok)
    return d / "tiny.gguf"


def _files(art):
    return {p.relative_to(art): p.read_bytes() for p in sorted(art.rglob("*")) if p.is_file()}


def test_generation_is_deterministic(tiny_gguf, tmp_path):
    a = compile_artifact(tiny_gguf, tmp_path / "a", ctx=64, build=False).out_dir
    b = compile_artifact(tiny_gguf, tmp_path / "b", ctx=64, build=False).out_dir
    fa, fb = _files(a), _files(b)
    assert fa.keys() == fb.keys()
    for k in fa:
        assert fa[k] == fb[k], f"{k} differs between two compiles"
    assert {"firmware/model.c", "firmware/model.h", "firmware/README.md", "manifest.json", "CMakeLists.txt"} <= {str(k) for k in fa}


@pytest.mark.parametrize("cc", ["gcc", "clang"])
@pytest.mark.parametrize("isa", [["-march=native"], ["-DEDGEC_SCALAR"]])
@pytest.mark.parametrize("model", ["tiny", "stories"])
def test_generated_code_compiles_without_warnings(tiny_gguf, tmp_path, cc, isa, model):
    if model == "tiny":
        art = compile_artifact(tiny_gguf, tmp_path / "a", ctx=64, build=False).out_dir
    else:
        art = compile_artifact(STORIES / "stories260K.bin", tmp_path / "a", ctx=64, build=False,
                               tokenizer=str(STORIES / "tok512.bin")).out_dir
    sources = [art / "firmware" / "model.c"] + sorted((art / "runtime").rglob("*.c"))
    # the bundle holds the kernel headers of the target's own ISA; the others come from the repository
    includes = [f"-I{d}" for d in [art / "firmware", *sorted(p for p in (art / "runtime").iterdir() if p.is_dir()),
                                   REPO / "runtime" / "core"]]
    for src in sources:
        r = subprocess.run([cc, *WARN, "-O2", *isa, *includes, "-c", src,
                            "-o", tmp_path / (src.stem + ".o")], capture_output=True, text=True)
        assert r.returncode == 0, f"{cc} {src.name}:\n{r.stderr}"


def test_header_states_exact_sizes(tiny_gguf, tmp_path):
    art = compile_artifact(tiny_gguf, tmp_path / "a", ctx=64, build=False).out_dir
    header = (art / "firmware" / "model.h").read_text()
    manifest = json.loads((art / "manifest.json").read_text())
    P = manifest["prefix"].upper()
    arena = int(re.search(rf"#define {P}_ARENA_BYTES\s+(\d+)u", header).group(1))
    weights = int(re.search(rf"#define {P}_WEIGHTS_BYTES\s+(\d+)u", header).group(1))
    assert arena == manifest["sizes"]["arena_bytes"]
    assert weights == manifest["sizes"]["weights_bytes"] == (art / "firmware" / "weights.bin").stat().st_size
    assert f"#define {P}_MAX_CTX      64" in header
