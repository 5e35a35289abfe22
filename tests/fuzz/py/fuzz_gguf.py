"""atheris harness: arbitrary bytes as a .gguf file through edgec's public loader (and `edgec inspect`).

A finding is any exception other than EdgecError, a hang over 10 s or memory over 2 GB.
Seeds: a tiny llama (SentencePiece tokenizer) and a tiny qwen2 (byte-level BPE, Q/K/V biases)
GGUF, each under 64 KiB.  Run from the repo root:
  python tests/fuzz/py/fuzz_gguf.py -max_total_time=20 -timeout=10 -rss_limit_mb=2048 tests/fuzz/corpus/fuzz_gguf
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "compiler"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # tests/: tiny_models
import numpy  # noqa: E402,F401  (imported before instrumentation: only edgec and gguf are instrumented)

with atheris.instrument_imports():
    import gguf  # noqa: F401
    from edgec.errors import EdgecError
    from edgec.tools.inspect_model import inspect_model
    from edgec.frontends.load_model import load_model

WORK = tempfile.mkdtemp(prefix="fuzz_gguf-")
PATH = os.path.join(WORK, "model.gguf")


def test_one_input(data: bytes) -> None:
    with open(PATH, "wb") as f:
        f.write(data)
    try:
        load_model(PATH)
        inspect_model(PATH, ctx=64)   # only for files that load: it plans memory from the IR
    except EdgecError:
        pass


def seeds() -> dict:
    """Valid tiny GGUFs written by tiny_models: dim 32, one layer, with 300-token tokenizers, and a
    5 KiB one without a tokenizer (vocab 32) whose header is a larger share of the bytes mutated."""
    from tiny_models import (make_tiny_config, random_weights, tiny_tokenizer_gpt2,
                             tiny_tokenizer_sentencepiece, write_gguf)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, arch, tok, fmt in (("llama_spm_q8_0.gguf", "llama", tiny_tokenizer_sentencepiece(), "q8_0"),
                                     ("qwen2_bpe_q4_0.gguf", "qwen2", tiny_tokenizer_gpt2()[0], "q4_0")):
            cfg = make_tiny_config(arch=arch, dim=32, hidden_dim=64, n_layers=1, n_heads=2, n_kv_heads=1,
                                   tied_embeddings=True, max_seq_len=64)
            weights = {n: w for n, w in random_weights(cfg, seed=0).items() if n != "output.weight"}
            path = os.path.join(tmp, name)
            write_gguf(path, cfg, weights, fmt, tok)
            out[name] = Path(path).read_bytes()
        cfg = make_tiny_config(dim=32, hidden_dim=32, n_layers=1, n_heads=2, n_kv_heads=1, vocab_size=32,
                               tied_embeddings=True, max_seq_len=64)
        path = os.path.join(tmp, "small.gguf")
        write_gguf(path, cfg, {n: w for n, w in random_weights(cfg, seed=0).items() if n != "output.weight"}, "q4_0")
        out["llama_no_tokenizer_q4_0.gguf"] = Path(path).read_bytes()
    return out


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
