"""atheris harness: arbitrary bytes as a Hugging Face model folder through edgec's public loader,
then the loaded chat template through chat_format_from_template (which renders under its budget).

An input is up to six length-prefixed files, in the order of FILES: each is a little-endian u32
length and that many bytes (a length past the end takes the rest; an empty file is not written).
A custom mutator edits half of the inputs structurally (one value of a JSON file, or of the
safetensors header, replaced by a hostile one), since byte flips rarely keep JSON valid.
A finding is any exception other than EdgecError, a hang over 10 s or memory over 2 GB.
Run from the repo root:
  python tests/fuzz/py/fuzz_hf.py -max_total_time=20 -timeout=10 -rss_limit_mb=2048 tests/fuzz/corpus/fuzz_hf
"""
from __future__ import annotations

import json
import os
import random
import struct
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "compiler"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))   # tests/: tiny_models
import numpy  # noqa: E402,F401  (imported before instrumentation: only edgec is instrumented)

with atheris.instrument_imports():
    import edgec.frontends.hf_reader  # noqa: F401  (load_model imports it lazily: instrument it here)
    from edgec.frontends.chat_template import chat_format_from_template
    from edgec.errors import EdgecError
    from edgec.frontends.load_model import load_model

FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
         "model.safetensors.index.json", "chat_template.jinja")
WORK = tempfile.mkdtemp(prefix="fuzz_hf-")
MODEL = os.path.join(WORK, "model")
os.makedirs(MODEL)


def split(data: bytes) -> dict:
    """file name -> bytes of one input (only the non-empty files)."""
    files, at = {}, 0
    for name in FILES:
        if at + 4 > len(data):
            break
        n = struct.unpack_from("<I", data, at)[0]
        files[name], at = data[at + 4:at + 4 + n], at + 4 + n
    return {name: blob for name, blob in files.items() if blob}


def join(files: dict) -> bytes:
    return b"".join(struct.pack("<I", len(files.get(n, b""))) + files.get(n, b"") for n in FILES)


def test_one_input(data: bytes) -> None:
    files = split(data)
    for name in FILES:
        path = os.path.join(MODEL, name)
        if name in files:
            with open(path, "wb") as f:
                f.write(files[name])
        elif os.path.exists(path):
            os.remove(path)
    try:
        tok = load_model(MODEL).tokenizer
        if tok is not None and tok.chat_template:
            chat_format_from_template(tok.chat_template, tok.tokens[tok.bos_id] if tok.bos_id >= 0 else "",
                                      tok.tokens[tok.eos_id] if tok.eos_id >= 0 else "")
    except EdgecError:
        pass


# Values a structural mutation puts in place of a JSON value: every JSON type, edge numbers, paths.
HOSTILE_VALUES = (None, True, False, 0, -1, 1, 2, 3, 64, 2 ** 31, 2 ** 63, 10 ** 12, 10 ** 40, -(10 ** 9), 0.5, -0.0,
                  1e308, 1e-320, "", "abc", "../outside.safetensors", "/etc/passwd", "model.safetensors", "\u2581",
                  "<|im_end|>", "{{ messages[0]['content'] * 100000 }}", "{% for i in range(100000) %}{% endfor %}",
                  [], [1], ["a", "b"], [[1, 2]], {}, {"a": 1}, {"rope_type": "llama3", "factor": 8.0},
                  {"type": "linear", "factor": 0}, "F32", "BF16", "U8", "I64", [0, 0], [2, 1], [-1, 4], [0, 2 ** 40])


def _json_paths(node, path=()):
    """Every (path, value) inside a JSON document, the document itself first."""
    yield path, node
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _json_paths(child, path + (key,))


def _mutate_json(doc, rng: random.Random):
    """doc with one value replaced by a hostile one, one key dropped, or a list emptied or duplicated."""
    paths = list(_json_paths(doc))
    path, value = rng.choice(paths[1:] or paths)
    if not path:
        return rng.choice(HOSTILE_VALUES)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    choice = rng.random()
    if choice < 0.15 and isinstance(parent, dict):
        del parent[path[-1]]
    elif choice < 0.3 and isinstance(value, list) and value:
        parent[path[-1]] = value * 2 if rng.random() < 0.5 else []
    else:
        parent[path[-1]] = rng.choice(HOSTILE_VALUES)
    return doc


def _mutate_safetensors_header(blob: bytes, rng: random.Random):
    """The safetensors file with one value of its JSON header mutated (data section unchanged)."""
    n = struct.unpack_from("<Q", blob)[0]
    header = _mutate_json(json.loads(blob[8:8 + n]), rng)
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + blob[8 + n:]


def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    if rng.random() < 0.5:
        return atheris.Mutate(data, max_size)
    files = split(data)
    candidates = [n for n in files if n.endswith(".json") or n == "model.safetensors"]
    if not candidates:
        return atheris.Mutate(data, max_size)
    name = rng.choice(candidates)
    try:
        if name == "model.safetensors":
            files[name] = _mutate_safetensors_header(files[name], rng)
        else:
            files[name] = json.dumps(_mutate_json(json.loads(files[name]), rng)).encode()
    except (ValueError, struct.error, RecursionError):   # not JSON (any more): mutate the bytes instead
        return atheris.Mutate(data, max_size)
    return join(files)[:max_size]


def _spm_tokenizer_json() -> dict:
    """A SentencePiece-style (byte_fallback, \u2581 pieces) tokenizer.json for edgec's tiny 300-token vocab."""
    from tiny_models import tiny_tokenizer_sentencepiece
    tok = tiny_tokenizer_sentencepiece()
    return {"added_tokens": [{"id": i, "content": t, "special": True} for i, t in enumerate(tok.tokens[:3])],
            "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                               {"type": "Replace", "pattern": {"String": " "},
                                                                "content": "\u2581"}]},
            "pre_tokenizer": None,
            "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>"}},
                                                                        {"Sequence": {"id": "A"}}]},
            "decoder": {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]},
            "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>",
                      "vocab": {t: i for i, t in enumerate(tok.tokens)}, "merges": ["\u2581 t", "h e"]}}


def _folder_files(path: str) -> dict:
    return {name: Path(path, name).read_bytes() for name in FILES if os.path.isfile(os.path.join(path, name))}


def _compact(files: dict) -> dict:
    """JSON files re-serialised without indentation (smaller seeds)."""
    return {n: json.dumps(json.loads(b), separators=(",", ":"), ensure_ascii=False).encode()
            if n.endswith(".json") else b for n, b in files.items()}


def seeds() -> dict:
    """Valid tiny folders written by tiny_models: a llama (f16, byte-level BPE, ChatML template in
    tokenizer_config), the same with a shard index and the template in chat_template.jinja, a qwen2
    (bf16, SentencePiece-style tokenizer.json) and a packed BitNet without tokenizer; each < 64 KiB."""
    from tiny_models import (bitnet_make_config, hf_tokenizer_config, make_tiny_config, random_weights,
                             tiny_tokenizer_gpt2, write_bitnet_hf_folder, write_hf_folder)
    tok, tokenizer_json = tiny_tokenizer_gpt2()
    small = dict(dim=32, hidden_dim=64, n_layers=1, n_heads=2, n_kv_heads=1, tied_embeddings=True, max_seq_len=64)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        llama = os.path.join(tmp, "llama")
        cfg = make_tiny_config(**small)
        write_hf_folder(llama, cfg, random_weights(cfg, seed=0), "f16", tokenizer_json,
                        tokenizer_config=hf_tokenizer_config(tok))
        files = _compact(_folder_files(llama))
        out["llama_f16_bpe_chatml"] = join(files)
        blob = files["model.safetensors"]
        names = [n for n in json.loads(blob[8:8 + struct.unpack_from("<Q", blob)[0]]) if n != "__metadata__"]
        config = json.loads(files["tokenizer_config.json"])
        weight_map = {n: "model.safetensors" for n in names}
        sharded = dict(files, **{
            "model.safetensors.index.json": json.dumps({"weight_map": weight_map}).encode(),
            "chat_template.jinja": config.pop("chat_template").encode(),
            "tokenizer_config.json": json.dumps(config).encode()})
        out["llama_index_jinja_file"] = join(sharded)

        qwen = os.path.join(tmp, "qwen")
        cfg = make_tiny_config(arch="qwen2", **small)
        write_hf_folder(qwen, cfg, random_weights(cfg, seed=1), "bf16", _spm_tokenizer_json(),
                        tokenizer_config={"bos_token": "<s>", "eos_token": "</s>"})
        out["qwen2_bf16_spm"] = join(_compact(_folder_files(qwen)))

        bitnet = os.path.join(tmp, "bitnet")
        cfg = bitnet_make_config(dim=64, hidden_dim=128, n_layers=1, n_heads=2, n_kv_heads=1, vocab_size=32,
                                 tied_embeddings=True)
        write_bitnet_hf_folder(bitnet, cfg, random_weights(cfg, seed=2))
        out["bitnet_packed"] = join(_compact(_folder_files(bitnet)))
    return out


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()
