"""Bad model inputs give one-line EdgecErrors that name the problem, never tracebacks."""
import json
import os
import struct

import numpy as np
import pytest

from edgec.errors import EdgecError
from edgec.load_model import load_model
from edgec.tiny_models import (make_tiny_config, random_weights, tiny_tokenizer_sentencepiece, write_gguf,
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
    message = load_error(str(tiny_gguf), quant="q3_k")
    assert "q3_k" in message and "q4_0" in message
