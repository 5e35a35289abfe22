"""atheris harness: arbitrary bytes as a llama2.c checkpoint + tokenizer.bin through edgec's public loader.

The input is split in two: its first 4 bytes (little-endian) give the checkpoint's length, the
checkpoint follows, the rest is the tokenizer.  A finding is any exception other than EdgecError,
a hang over 10 s or memory over 2 GB.  Run from the repo root:
  python tests/fuzz/py/fuzz_llama2c.py -max_total_time=20 -timeout=10 -rss_limit_mb=2048 tests/fuzz/corpus/fuzz_llama2c
"""
from __future__ import annotations

import os
import struct
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "compiler"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # tests/: tiny_models
import numpy  # noqa: E402,F401  (imported before instrumentation: only edgec is instrumented)

with atheris.instrument_imports():
    from edgec.errors import EdgecError
    from edgec.frontends.load_model import load_model

WORK = tempfile.mkdtemp(prefix="fuzz_llama2c-")
MODEL, TOKENIZER = os.path.join(WORK, "model.bin"), os.path.join(WORK, "tokenizer.bin")


def split(data: bytes) -> tuple:
    """(checkpoint, tokenizer) bytes of one input."""
    if len(data) < 4:
        return data, b""
    n = struct.unpack_from("<I", data)[0] % (len(data) - 3)
    return data[4:4 + n], data[4 + n:]


def join(checkpoint: bytes, tokenizer: bytes) -> bytes:
    return struct.pack("<I", len(checkpoint)) + checkpoint + tokenizer


def test_one_input(data: bytes) -> None:
    checkpoint, tokenizer = split(data)
    with open(MODEL, "wb") as f:
        f.write(checkpoint)
    with open(TOKENIZER, "wb") as f:
        f.write(tokenizer)
    try:
        load_model(MODEL, tokenizer_path=TOKENIZER)
    except EdgecError:
        pass


def seeds() -> dict:
    """A tiny llama2.c model (dim 16, one layer, 270-token vocab) as legacy v0 (untied) and version 1
    (tied), each with its tokenizer.bin."""
    from tiny_models import (make_tiny_config, random_weights, tiny_tokenizer_sentencepiece, write_llama2c,
                             write_llama2c_tokenizer)
    tok = tiny_tokenizer_sentencepiece()
    tok.tokens, tok.token_types, tok.scores = tok.tokens[:270], tok.token_types[:270], tok.scores[:270]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tok_path = os.path.join(tmp, "tok.bin")
        write_llama2c_tokenizer(tok_path, tok)
        for version, tied in ((0, False), (1, True)):
            cfg = make_tiny_config(dim=16, hidden_dim=32, n_layers=1, n_heads=1, n_kv_heads=1, vocab_size=270,
                                   tied_embeddings=tied, max_seq_len=16)
            path = os.path.join(tmp, "m.bin")
            write_llama2c(path, cfg, random_weights(cfg, seed=0), version)
            out[f"v{version}_{'tied' if tied else 'untied'}"] = join(Path(path).read_bytes(), Path(tok_path).read_bytes())
    return out


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
