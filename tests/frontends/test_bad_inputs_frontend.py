"""Bad model inputs give one-line EdgecErrors that name the problem, never tracebacks."""
import json
import os
import struct

import numpy as np
import pytest

from edgec.errors import EdgecError
from edgec.frontends.load_model import load_model
from tiny_models import (make_tiny_config, random_weights, tiny_tokenizer_sentencepiece, write_gguf,
                         write_hf_folder, write_llama2c, write_llama2c_tokenizer)


def load_error(*args, **kwargs) -> str:
    with pytest.raises(EdgecError) as info:
        load_model(*args, **kwargs)
    message = str(info.value)
    assert message and "\n" not in message
    return message


@pytest.fixture
def tiny_gguf(tmp_path):
    cfg = make_tiny_config()
    path = tmp_path / "tiny.gguf"
    write_gguf(str(path), cfg, random_weights(cfg, seed=0), "q8_0")
    return path


@pytest.mark.parametrize("keep", [0.5, 0.999, 100])
def test_truncated_gguf(tmp_path, tiny_gguf, keep):
    blob = tiny_gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(blob[:int(len(blob) * keep)] if keep < 1 else blob[:keep])
    assert "truncated" in load_error(str(cut))


def test_empty_gguf(tmp_path):
    (tmp_path / "empty.gguf").write_bytes(b"")
    assert "not a GGUF file" in load_error(str(tmp_path / "empty.gguf"))


def test_wrong_gguf_magic(tmp_path, tiny_gguf):
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUX" + tiny_gguf.read_bytes()[4:])
    message = load_error(str(bad))
    assert "magic" in message and "GGUX" in message


@pytest.mark.parametrize("qtype", ["q5_0", "q6_k"])
def test_unsupported_gguf_tensor_type(tmp_path, qtype):
    cfg = make_tiny_config(dim=256, hidden_dim=256, n_heads=4)  # rows of 256 fit Q6_K's super-blocks
    w = random_weights(cfg, seed=1)
    path = str(tmp_path / "odd.gguf")
    write_gguf(path, cfg, w, {"blk.1.ffn_up.weight": qtype})
    message = load_error(path)
    assert "blk.1.ffn_up.weight" in message and qtype.upper() in message and "Q4_0" in message


def test_unsupported_gguf_architecture(tmp_path):
    cfg = make_tiny_config(arch="gpt2")
    write_gguf(str(tmp_path / "g.gguf"), cfg, random_weights(cfg, seed=2))
    message = load_error(str(tmp_path / "g.gguf"))
    assert "'gpt2'" in message and "llama" in message


def test_missing_tensor(tmp_path):
    cfg = make_tiny_config()
    w = random_weights(cfg, seed=3)
    del w["blk.1.ffn_gate.weight"]
    write_gguf(str(tmp_path / "m.gguf"), cfg, w)
    message = load_error(str(tmp_path / "m.gguf"))
    assert "blk.1.ffn_gate.weight" in message and "missing" in message


def test_shape_mismatch(tmp_path):
    cfg = make_tiny_config()
    w = random_weights(cfg, seed=4)
    w["blk.0.ffn_up.weight"] = np.zeros((96, 64), np.float32)
    write_gguf(str(tmp_path / "s.gguf"), cfg, w)
    message = load_error(str(tmp_path / "s.gguf"))
    assert "blk.0.ffn_up.weight" in message and "(96, 64)" in message and "(128, 64)" in message


@pytest.fixture
def llama2c_files(tmp_path):
    cfg = make_tiny_config()
    write_llama2c(str(tmp_path / "m.bin"), cfg, random_weights(cfg, seed=5), 0)
    write_llama2c_tokenizer(str(tmp_path / "tok.bin"), tiny_tokenizer_sentencepiece())
    return tmp_path / "m.bin", tmp_path / "tok.bin"


def test_truncated_llama2c(llama2c_files):
    model, tok = llama2c_files
    blob = model.read_bytes()
    model.write_bytes(blob[:-100])
    message = load_error(str(model), tokenizer_path=str(tok))
    assert str(len(blob)) in message and str(len(blob) - 100) in message


def test_llama2c_without_tokenizer(llama2c_files):
    model, _ = llama2c_files
    assert "--tokenizer" in load_error(str(model))


def test_llama2c_tokenizer_of_another_model(tmp_path, llama2c_files):
    model, _ = llama2c_files
    small = tiny_tokenizer_sentencepiece()
    small.tokens, small.scores = small.tokens[:290], small.scores[:290]
    write_llama2c_tokenizer(str(tmp_path / "small.bin"), small)
    message = load_error(str(model), tokenizer_path=str(tmp_path / "small.bin"))
    assert "290" in message and "300" in message


def test_llama2c_version_2_is_unsupported(tmp_path, llama2c_files):
    _, tok = llama2c_files
    header = struct.pack("<Ii7iB", 0x616B3432, 2, 64, 128, 2, 4, 2, 300, 256, 1).ljust(256, b"\0")
    (tmp_path / "q80.bin").write_bytes(header + bytes(4096))
    message = load_error(str(tmp_path / "q80.bin"), tokenizer_path=str(tok))
    assert "version 2" in message and "unsupported" in message


def test_unrecognised_file(tmp_path):
    (tmp_path / "notes.txt").write_bytes(b"hello, this is not a model at all" * 10)
    assert "not a GGUF file" in load_error(str(tmp_path / "notes.txt"), tokenizer_path="tok.bin")


def test_missing_path(tmp_path):
    assert "does not exist" in load_error(str(tmp_path / "nope.gguf"))


def test_hf_folder_without_config(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    assert "config.json" in load_error(str(tmp_path))


def tiny_hf(folder, **config_changes):
    cfg = make_tiny_config()
    write_hf_folder(str(folder), cfg, random_weights(cfg, seed=6))
    config = json.loads((folder / "config.json").read_text())
    config.update(config_changes)
    (folder / "config.json").write_text(json.dumps(config))


def test_unsupported_hf_model_type(tmp_path):
    tiny_hf(tmp_path, model_type="gemma", architectures=["GemmaForCausalLM"])
    message = load_error(str(tmp_path))
    assert "'gemma'" in message and "GemmaForCausalLM" in message


def test_unsupported_hf_rope_scaling(tmp_path):
    tiny_hf(tmp_path, rope_scaling={"rope_type": "yarn", "factor": 4.0})
    assert "'yarn'" in load_error(str(tmp_path))


def test_unsupported_safetensors_dtype(tmp_path):
    tiny_hf(tmp_path)
    from safetensors.numpy import save_file
    save_file({"model.norm.weight": np.ones(64, np.float64)}, str(tmp_path / "model.safetensors"))
    message = load_error(str(tmp_path))
    assert "model.norm.weight" in message and "F64" in message


def test_truncated_safetensors(tmp_path):
    tiny_hf(tmp_path)
    blob = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(blob[:len(blob) // 2])
    assert "truncated" in load_error(str(tmp_path))


def test_missing_shard(tmp_path):
    cfg = make_tiny_config()
    write_hf_folder(str(tmp_path), cfg, random_weights(cfg, seed=7), shards=2)
    os.remove(tmp_path / "model-00002-of-00002.safetensors")
    assert "model-00002-of-00002.safetensors" in load_error(str(tmp_path))


def test_unknown_quant(tiny_gguf):
    from edgec.plan.quantize_model import quantize_ir
    with pytest.raises(EdgecError) as info:
        quantize_ir(load_model(str(tiny_gguf)), "q3_k")
    message = str(info.value)
    assert "q3_k" in message and "q4_0" in message and "\n" not in message


# ---- llama2.c headers and tokenizers (issue 8) ----

V1_PARAMS = (64, 128, 2, 4, 2, 300, 256)   # dim, hidden, layers, heads, kv heads, vocab, seq_len of make_tiny_config


def v1_checkpoint(params, shared=0, payload=4096) -> bytes:
    header = struct.pack("<Ii7iB", 0x616B3432, 1, *params, shared).ljust(256, b"\0")
    return header + bytes(payload)


@pytest.mark.parametrize("index, value", [(0, 0), (0, -64), (1, 0), (2, 0), (2, -1), (2, 2**31 - 1), (3, 0),
                                          (4, 0), (4, 3), (5, 0), (5, 2**31 - 1), (6, 0), (6, -5), (0, 2**31 - 1)])
def test_llama2c_v1_header_out_of_range(tmp_path, llama2c_files, index, value):
    _, tok = llama2c_files
    params = list(V1_PARAMS)
    params[index] = value
    (tmp_path / "bad.bin").write_bytes(v1_checkpoint(params))
    message = load_error(str(tmp_path / "bad.bin"), tokenizer_path=str(tok))
    assert "out of range" in message and str(value) in message


@pytest.mark.parametrize("index, value", [(0, 2**31 - 1), (2, 2**31 - 1), (5, -(2**31 - 1)), (1, -128)])
def test_llama2c_v0_header_out_of_range(tmp_path, llama2c_files, index, value):
    _, tok = llama2c_files
    params = list(V1_PARAMS)
    params[index] = value
    (tmp_path / "bad.bin").write_bytes(struct.pack("<7i", *params) + bytes(4096))
    assert "not a GGUF file" in load_error(str(tmp_path / "bad.bin"), tokenizer_path=str(tok))


@pytest.mark.parametrize("params", [(64, 128, 1000, 4, 2, 300, 256), (4096, 1 << 20, 1024, 32, 8, 1 << 22, 1 << 24)])
def test_llama2c_header_larger_than_file(tmp_path, llama2c_files, params):
    """Plausible but huge numbers: refused by the file-size check before anything is built from them."""
    _, tok = llama2c_files
    (tmp_path / "big.bin").write_bytes(v1_checkpoint(params))
    message = load_error(str(tmp_path / "big.bin"), tokenizer_path=str(tok))
    assert "should be" in message and str(256 + 4096) in message


@pytest.mark.parametrize("version, tied", [(0, True), (0, False), (1, True), (1, False)])
def test_llama2c_size_formula_matches_layout(version, tied):
    from edgec.frontends.llama2c_reader import checkpoint_floats, llama2c_layout
    for overrides in ({}, {"n_layers": 5, "n_kv_heads": 4}, {"dim": 96, "n_heads": 6, "n_kv_heads": 3, "vocab_size": 77}):
        cfg = make_tiny_config(tied_embeddings=tied, **overrides)
        params = (cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads, cfg.vocab_size, cfg.max_seq_len)
        layout_floats = sum(int(np.prod(shape)) for _, shape in llama2c_layout(cfg, version))
        assert checkpoint_floats(params, version, tied) == layout_floats


def test_llama2c_tokenizer_truncated(tmp_path, llama2c_files):
    model, tok = llama2c_files
    blob = tok.read_bytes()
    for cut in (0, 3, 10, len(blob) // 2, len(blob) - 1):
        (tmp_path / "cut.bin").write_bytes(blob[:cut])
        message = load_error(str(model), tokenizer_path=str(tmp_path / "cut.bin"))
        assert "tokenizer" in message and ("truncated" in message or "corrupt" in message or "tokens" in message)


@pytest.mark.parametrize("length", [2**31 - 1, -1, -(2**31)])
def test_llama2c_tokenizer_huge_or_negative_length(tmp_path, llama2c_files, length):
    model, _ = llama2c_files
    (tmp_path / "t.bin").write_bytes(struct.pack("<ifi", 16, 0.0, length) + b"abc")
    assert "corrupt llama2.c tokenizer at byte 4" in load_error(str(model), tokenizer_path=str(tmp_path / "t.bin"))


def test_llama2c_tokenizer_larger_than_vocab(tmp_path, llama2c_files):
    """A bigger tokenizer (or a model file passed as one) is read only up to vocab_size entries, then refused."""
    model, tok = llama2c_files
    (tmp_path / "t.bin").write_bytes(tok.read_bytes() + struct.pack("<fi", 0.0, 1) + b"x")
    assert "more than 300" in load_error(str(model), tokenizer_path=str(tmp_path / "t.bin"))


def test_llama2c_tokenizer_nan_score(tmp_path, llama2c_files):
    model, _ = llama2c_files
    tok = tiny_tokenizer_sentencepiece()
    tok.scores[100] = float("nan")
    write_llama2c_tokenizer(str(tmp_path / "t.bin"), tok)
    assert "score nan" in load_error(str(model), tokenizer_path=str(tmp_path / "t.bin"))


# ---- IR ranges for every front end (validate_ir) ----

def test_hf_folder_goes_through_validate_ir_ranges(tmp_path):
    """The HF reader's output is range-checked too: a num_hidden_layers of 10^12 is refused at once."""
    import time
    tiny_hf(tmp_path, num_hidden_layers=10**12)
    start = time.monotonic()
    message = load_error(str(tmp_path))
    assert time.monotonic() - start < 2 and "layers" in message


@pytest.mark.parametrize("change, words", [
    ({"norm_eps": float("nan")}, "epsilon"), ({"norm_eps": 0.0}, "epsilon"), ({"norm_eps": float("inf")}, "epsilon"),
    ({"rope_theta": float("nan")}, "frequency base"), ({"rope_theta": -1.0}, "frequency base"),
    ({"rope_freq_factors": [1.0] * 7 + [float("nan")]}, "rope scaling factor"),
    ({"rope_freq_factors": [0.0] * 8}, "rope scaling factor"),
    ({"vocab_size": 10**9}, "vocab_size"), ({"n_layers": 10**12}, "layers"), ({"n_layers": 0}, "n_layers = 0"),
    ({"n_heads": 0}, "n_heads = 0"), ({"n_kv_heads": -2}, "n_kv_heads = -2"), ({"dim": 2**40}, "dim"),
    ({"hidden_dim": "128"}, "hidden_dim = '128'"), ({"max_seq_len": 0}, "max_seq_len = 0"),
    ({"n_heads": True}, "n_heads = True"),
])
def test_validate_ir_ranges_for_every_front_end(tmp_path, change, words):
    """validate_ir's range checks apply to whatever a front end produced (here a valid HF folder's IR)."""
    import dataclasses
    from edgec.frontends.load_model import validate_ir
    tiny_hf(tmp_path)
    ir = load_model(str(tmp_path))
    ir.config = dataclasses.replace(ir.config, **change)
    with pytest.raises(EdgecError) as info:
        validate_ir(ir)
    assert words in str(info.value) and "\n" not in str(info.value)
