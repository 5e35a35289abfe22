"""Hostile Hugging Face folders: every corruption of config.json, the safetensors files, the shard
index, the tokenizer files and BitNet weights is one EdgecError line naming the file and the fix
(never a traceback, never an unbounded allocation, never a file outside the model folder)."""
from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

from edgec.errors import EdgecError
from edgec.frontends.hf_reader import _safetensors_header
from edgec.frontends.load_model import load_model
from tiny_models import (bitnet_make_config, hf_tokenizer_config, make_tiny_config, random_weights,
                         tiny_tokenizer_gpt2, write_bitnet_hf_folder, write_hf_folder)


def tiny_folder(path, shards=1):
    """A valid llama folder (2 layers, vocab 300) with a byte-level tokenizer and a ChatML template."""
    cfg = make_tiny_config()
    tok, tokenizer_json = tiny_tokenizer_gpt2()
    write_hf_folder(str(path), cfg, random_weights(cfg, seed=11), tokenizer_json=tokenizer_json,
                    tokenizer_config=hf_tokenizer_config(tok), shards=shards)
    return path


def load_error(path) -> str:
    with pytest.raises(EdgecError) as err:
        load_model(str(path))
    message = str(err.value)
    assert "\n" not in message and message
    return message


class Replace:
    """A JSON edit that replaces the whole document by make(obj)."""

    def __init__(self, make):
        self.make = make


def edit_json(file, change):
    """Rewrite a JSON file with change(obj) applied in place (or replaced, for a Replace)."""
    obj = json.loads(file.read_text())
    if isinstance(change, Replace):
        obj = change.make(obj)
    else:
        change(obj)
    file.write_text(json.dumps(obj))


def test_the_untouched_folder_loads(tmp_path):
    ir = load_model(str(tiny_folder(tmp_path)))
    assert ir.config.vocab_size == 300 and len(ir.tokenizer.tokens) == 300 and ir.tokenizer.chat_template


# ---- config.json ----

CONFIG_CHANGES = {
    # name: (key, value, text the message holds)
    "hidden_size a string": ("hidden_size", "abc", "hidden_size is a string, expected a whole number"),
    "hidden_size fractional": ("hidden_size", 64.5, "hidden_size is the number 64.5, expected a whole number"),
    "hidden_size integral float": ("hidden_size", 64.0, "expected a whole number"),
    "hidden_size a bool": ("hidden_size", True, "hidden_size is true"),
    "hidden_size a list": ("hidden_size", [64], "hidden_size is a list"),
    "hidden_size null": ("hidden_size", None, "hidden_size is missing"),
    "zero heads": ("num_attention_heads", 0, "num_attention_heads is 0, expected at least 1"),
    "negative heads": ("num_attention_heads", -4, "num_attention_heads is -4"),
    "zero kv heads": ("num_key_value_heads", 0, "num_key_value_heads is 0"),
    "kv heads an object": ("num_key_value_heads", {"a": 1}, "num_key_value_heads is an object"),
    "intermediate_size a string": ("intermediate_size", "128", "intermediate_size is a string"),
    "10^12 layers": ("num_hidden_layers", 10 ** 12, "num_hidden_layers is 1000000000000 but the weight files hold"),
    "zero layers": ("num_hidden_layers", 0, "num_hidden_layers is 0"),
    "10^9 vocab": ("vocab_size", 10 ** 9, "vocab_size is 1000000000, more than the"),
    "vocab unlike the embedding": ("vocab_size", 299, "vocab_size is 299 but model.embed_tokens.weight has 300 rows"),
    "head_dim 10^12": ("head_dim", 10 ** 12, "head_dim is 1000000000000, more than the"),
    "head_dim zero": ("head_dim", 0, "head_dim is 0"),
    "huge integer": ("hidden_size", 10 ** 40, "hidden_size is a huge integer, more than"),
    "rope_theta a string": ("rope_theta", "1e4", "rope_theta is a string, expected a finite number"),
    "rope_theta zero": ("rope_theta", 0, "rope_theta is 0, expected a number above 0"),
    "rope_theta negative": ("rope_theta", -10000.0, "rope_theta is -10000.0"),
    "rms_norm_eps a list": ("rms_norm_eps", [1e-5], "rms_norm_eps is a list"),
    "rope_scaling a list": ("rope_scaling", [1, 2], "rope_scaling is a list, expected an object"),
    "rope_scaling a string": ("rope_scaling", "linear", "rope_scaling is a string, expected an object"),
    "rope_type a number": ("rope_scaling", {"rope_type": 3}, "rope_type is 3, expected a string"),
    "linear without factor": ("rope_scaling", {"rope_type": "linear"}, "rope_scaling: factor is missing"),
    "linear factor a string": ("rope_scaling", {"type": "linear", "factor": "4"}, "factor is a string"),
    "linear factor zero": ("rope_scaling", {"type": "linear", "factor": 0}, "factor is 0, expected a number above 0"),
    "llama3 without low_freq_factor": ("rope_scaling", {"rope_type": "llama3", "factor": 8.0, "high_freq_factor": 4.0,
                                                        "original_max_position_embeddings": 8192},
                                       "low_freq_factor is missing"),
    "llama3 low == high": ("rope_scaling", {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 4.0,
                                            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                           "low_freq_factor 4.0 is not below high_freq_factor 4.0"),
    "llama3 original length a list": ("rope_scaling", {"rope_type": "llama3", "factor": 8.0,
                                                       "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                       "original_max_position_embeddings": [1]},
                                      "original_max_position_embeddings is a list"),
    "tie_word_embeddings a string": ("tie_word_embeddings", "yes", "tie_word_embeddings is a string, expected true"),
    "max_position_embeddings fractional": ("max_position_embeddings", 1.5, "max_position_embeddings is the number 1.5"),
    "model_type a number": ("model_type", 5, "model_type is 5, expected a string"),
    "architectures a string": ("architectures", "LlamaForCausalLM", "architectures is a string, expected a list"),
    "hidden_act a list": ("hidden_act", ["silu"], "hidden_act is a list"),
    "bos_token_id a string": ("bos_token_id", "1", "bos_token_id has id a string"),
    "eos_token_id negative": ("eos_token_id", -1, "eos_token_id has id -1"),
    "eos_token_id beyond the vocab": ("eos_token_id", [10 ** 9], "eos_token_id has id 1000000000, beyond"),
}


@pytest.mark.parametrize("name", sorted(CONFIG_CHANGES))
def test_bad_config_values(tmp_path, name):
    key, value, expected = CONFIG_CHANGES[name]
    tiny_folder(tmp_path)
    if key in ("bos_token_id", "eos_token_id"):   # only read when tokenizer_config does not name the token
        edit_json(tmp_path / "tokenizer_config.json", lambda c: c.pop(key.replace("_id", "")))
    edit_json(tmp_path / "config.json", lambda c: c.__setitem__(key, value))
    message = load_error(tmp_path)
    assert expected in message and "config.json" in message


@pytest.mark.parametrize("text, expected", [
    ("[1, 2, 3]", "expected a JSON object at the top level, found a list"),
    ('"a config"', "found a string"),
    ("[" * 100000 + "]" * 100000, "is nested too deeply"),
    ('{"hidden_size": NaN}', "holds NaN, which is not a JSON number"),
    ('{"rope_theta": Infinity}', "holds Infinity"),
    ('{"hidden_size": ' + "9" * 5000 + "}", "holds a number too long to read"),
    ('{"hidden_size": 64', "is not valid JSON (Expecting ',' delimiter at line 1 column 19)"),
])
def test_malformed_config_files(tmp_path, text, expected):
    tiny_folder(tmp_path)
    (tmp_path / "config.json").write_text(text)
    message = load_error(tmp_path)
    assert expected in message and "config.json" in message


def test_number_that_overflows_to_infinity(tmp_path):
    tiny_folder(tmp_path)
    text = (tmp_path / "config.json").read_text()
    (tmp_path / "config.json").write_text(text.replace('"rope_theta": 10000.0', '"rope_theta": 1e400'))
    assert "rope_theta is the number inf, expected a finite number" in load_error(tmp_path)


def test_config_that_is_not_utf8(tmp_path):
    tiny_folder(tmp_path)
    (tmp_path / "config.json").write_bytes(b'{"model_type": "\xff\xfe"}')
    assert "config.json is not valid UTF-8" in load_error(tmp_path)


# ---- safetensors headers ----

def read_raw(file) -> dict:
    """name -> [dtype, shape list, bytes] of a valid safetensors file."""
    entries, start = _safetensors_header(str(file))
    blob = file.read_bytes()
    return {n: [d, list(s), blob[start + b:start + e]] for n, (d, s, b, e) in entries.items()}


def write_raw(file, entries: dict) -> None:
    """entries written back with consecutive offsets."""
    header, data = {}, b""
    for name, (dtype, shape, raw) in entries.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    write_header(file, header, data)


def write_header(file, header, data: bytes) -> None:
    head = json.dumps(header).encode() if not isinstance(header, bytes) else header
    file.write_bytes(struct.pack("<Q", len(head)) + head + data)


NORM = "model.norm.weight"


def corrupt_header(change):
    """A function writing model.safetensors with change(header dict) applied to its header (in place,
    or replacing it for a Replace)."""
    def apply(file):
        entries = read_raw(file)
        header, data = {}, b""
        for name, (dtype, shape, raw) in entries.items():
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
            data += raw
        if isinstance(change, Replace):
            header = change.make(header)
        else:
            change(header)
        write_header(file, header, data)
    return apply


SAFETENSORS_CORRUPTIONS = {
    "header a list": (corrupt_header(Replace(lambda h: [1, 2])),
                      "the safetensors header is a list, expected an object"),
    "header a string": (corrupt_header(Replace(lambda h: "x")), "the safetensors header is a string"),
    "entry not an object": (corrupt_header(lambda h: h.__setitem__(NORM, [1, 2])),
                            f"tensor '{NORM}' is described by a list"),
    "unknown dtype": (corrupt_header(lambda h: h[NORM].__setitem__("dtype", "Q7")), "has dtype 'Q7', which is not"),
    "dtype a number": (corrupt_header(lambda h: h[NORM].__setitem__("dtype", 7)), "has dtype 7, which is not"),
    "negative dim": (corrupt_header(lambda h: h[NORM].__setitem__("shape", [-64])), "shape that is not a list"),
    "string dim": (corrupt_header(lambda h: h[NORM].__setitem__("shape", ["64"])), "shape that is not a list"),
    "float dim": (corrupt_header(lambda h: h[NORM].__setitem__("shape", [64.0])), "shape that is not a list"),
    "shape not a list": (corrupt_header(lambda h: h[NORM].__setitem__("shape", 64)), "shape that is not a list"),
    "negative offset": (corrupt_header(lambda h: h[NORM].__setitem__("data_offsets", [-4, 252])),
                        "data_offsets that are not [begin, end]"),
    "inverted offsets": (corrupt_header(lambda h: h[NORM].__setitem__("data_offsets", h[NORM]["data_offsets"][::-1])),
                         "data_offsets that are not [begin, end]"),
    "three offsets": (corrupt_header(lambda h: h[NORM].__setitem__("data_offsets", [0, 1, 2])),
                      "data_offsets that are not [begin, end]"),
    "offsets missing": (corrupt_header(lambda h: h[NORM].pop("data_offsets")), "data_offsets that are not"),
    "bytes unlike dtype x shape": (corrupt_header(lambda h: h[NORM].__setitem__("shape", [128])),
                                   "spans 256 bytes but F32 (128,) needs 512"),
    "overlapping tensors": (corrupt_header(lambda h: h["model.embed_tokens.weight"].__setitem__(
        "data_offsets", h[NORM]["data_offsets"]) or h[NORM].__setitem__("shape", [64])), "spans"),
    "huge dims with no bytes": (corrupt_header(lambda h: h[NORM].__setitem__("shape", [10 ** 12, 10 ** 12])),
                                "needs"),
}


@pytest.mark.parametrize("name", sorted(SAFETENSORS_CORRUPTIONS))
def test_bad_safetensors_headers(tmp_path, name):
    corrupt, expected = SAFETENSORS_CORRUPTIONS[name]
    tiny_folder(tmp_path)
    corrupt(tmp_path / "model.safetensors")
    message = load_error(tmp_path)
    assert expected in message and "model.safetensors" in message


def test_overlapping_and_gapped_ranges(tmp_path):
    tiny_folder(tmp_path)
    file = tmp_path / "model.safetensors"
    entries = read_raw(file)
    header, data = {}, b""
    for name, (dtype, shape, raw) in entries.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    first, second = sorted(header, key=lambda n: header[n]["data_offsets"][0])[:2]
    size = header[first]["data_offsets"][1]
    # the second tensor starts 4 bytes early: an overlap (same byte count, same file size)
    header[second]["data_offsets"] = [size - 4, header[second]["data_offsets"][1] - 4]
    write_header(file, header, data)
    assert "where" in load_error(tmp_path) and "tensors overlap or leave a gap" in load_error(tmp_path)
    header[second]["data_offsets"] = [size + 4, header[second]["data_offsets"][1] + 8]
    write_header(file, header, data + b"\0" * 4)
    assert "tensors overlap or leave a gap" in load_error(tmp_path)


def test_bytes_after_the_last_tensor(tmp_path):
    tiny_folder(tmp_path)
    file = tmp_path / "model.safetensors"
    file.write_bytes(file.read_bytes() + b"\0" * 16)
    assert "16 bytes follow the last tensor" in load_error(tmp_path)


@pytest.mark.parametrize("blob, expected", [
    (b"\x01\x02", "truncated safetensors file (2 bytes)"),
    (struct.pack("<Q", 2 ** 63) + b"{}", "larger than the format allows"),
    (struct.pack("<Q", 1000) + b"{}", "header of 1000 bytes in a 10-byte file"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "the safetensors header is not valid UTF-8"),
    (struct.pack("<Q", 20000) + b"[" * 10000 + b"]" * 10000, "the safetensors header is nested too deeply"),
    (struct.pack("<Q", 2) + b"{]", "the safetensors header is not valid JSON"),
])
def test_unreadable_safetensors_files(tmp_path, blob, expected):
    tiny_folder(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(blob)
    assert expected in load_error(tmp_path)


# ---- shards: only files inside the model folder, errors never quote a file ----

SECRET = "root:x:0:0:secret-content"


def index_folder(tmp_path, weight_map_change):
    model = tiny_folder(tmp_path / "model", shards=2)
    edit_json(model / "model.safetensors.index.json", weight_map_change)
    return model


def test_index_naming_a_parent_folder_file_is_refused(tmp_path):
    (tmp_path / "outside.safetensors").write_text(SECRET)
    model = index_folder(tmp_path, lambda i: i["weight_map"].__setitem__(NORM, "../outside.safetensors"))
    message = load_error(model)
    assert "'../outside.safetensors' lies outside the model folder" in message and SECRET not in message


def test_index_naming_an_absolute_path_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    model = index_folder(tmp_path, lambda i: i["weight_map"].__setitem__(NORM, str(secret)))
    message = load_error(model)
    assert "lies outside the model folder" in message and SECRET not in message


def test_symlink_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.txt").write_text(SECRET)
    model = tiny_folder(tmp_path / "model")
    os.remove(model / "model.safetensors")
    os.symlink(tmp_path / "secret.txt", model / "model.safetensors")
    message = load_error(model)
    assert "lies outside the model folder" in message and SECRET not in message


def test_shard_that_is_not_safetensors_never_has_its_bytes_quoted(tmp_path):
    model = tiny_folder(tmp_path / "model", shards=2)
    (model / "model-00002-of-00002.safetensors").write_text(SECRET * 100)
    message = load_error(model)
    assert "model-00002-of-00002.safetensors" in message and "secret" not in message


def test_hugging_face_cache_snapshot_links_into_blobs(tmp_path):
    """The hub cache keeps files in models--ORG--NAME/blobs and links them from snapshots/REV: allowed."""
    repo = tmp_path / "models--org--tiny"
    snapshot = repo / "snapshots" / "0123abcd"
    tiny_folder(tmp_path / "download", shards=2)
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for n, file in enumerate(sorted((tmp_path / "download").iterdir())):
        os.rename(file, repo / "blobs" / f"blob{n}")
        os.symlink(f"../../blobs/blob{n}", snapshot / file.name)
    assert load_model(str(snapshot)).config.n_layers == 2


@pytest.mark.parametrize("index, expected", [
    ({"weight_map": [1, 2]}, "weight_map is a list, expected an object"),
    ({"metadata": {}}, "weight_map is null, expected an object"),
    ({"weight_map": {NORM: 5}}, f"weight_map['{NORM}'] is 5, expected a shard file name"),
    ({"weight_map": {NORM: ""}}, "is a string, expected a shard file name"),
    ({"weight_map": {NORM: "a\u0000b"}}, "expected a shard file name"),
    ([1], "expected a JSON object at the top level"),
])
def test_bad_index_files(tmp_path, index, expected):
    model = tiny_folder(tmp_path, shards=2)
    (model / "model.safetensors.index.json").write_text(json.dumps(index))
    message = load_error(model)
    assert expected in message and "model.safetensors.index.json" in message


# ---- tokenizer.json / tokenizer_config.json / chat_template.jinja ----

def set_model(key, value):
    return lambda tj: tj["model"].__setitem__(key, value)


TOKENIZER_CHANGES = {
    "merges as integers": (set_model("merges", [1, 2]), "merge 0 is 1, expected"),
    "merges nested wrongly": (set_model("merges", [["a", ["b"]]]), "merge 0 is a list, expected"),
    "merges an object": (set_model("merges", {"a": "b"}), "model.merges is an object, expected a list"),
    "vocab a list": (set_model("vocab", ["a", "b"]), "vocab is a list, expected an object"),
    "vocab id a string": (set_model("vocab", {"a": "1"}), "vocab token 'a' has id a string"),
    "vocab id negative": (set_model("vocab", {"a": -1}), "vocab token 'a' has id -1"),
    "vocab id 10^9": (set_model("vocab", {"a": 10 ** 9}), "has id 1000000000, beyond the model's 300 embedding rows"),
    "added token without content": (lambda tj: tj["added_tokens"][0].pop("content"),
                                    "added token 0 is not an object with a string content"),
    "added token content a number": (lambda tj: tj["added_tokens"][0].__setitem__("content", 7),
                                     "added token 0 is not an object"),
    "added token id 2x10^8": (lambda tj: tj["added_tokens"][0].__setitem__("id", 2 * 10 ** 8),
                              "added token '<|endoftext|>' has id 200000000, beyond the model's 300"),
    "added token id a float": (lambda tj: tj["added_tokens"][0].__setitem__("id", 1.5), "has id the number 1.5"),
    "added_tokens an object": (lambda tj: tj.__setitem__("added_tokens", {"a": 1}), "added_tokens is an object"),
    "model a string": (lambda tj: tj.__setitem__("model", "BPE"), "model is a string, expected an object"),
    "model type a list": (set_model("type", ["BPE"]), "tokenizer model type a list is not supported"),
    "unk_token a list": (set_model("unk_token", ["<unk>"]), "unk_token is a list, expected a string"),
    "tokenizer.json a list": (Replace(lambda tj: [tj]), "tokenizer.json: expected a JSON object"),
}


@pytest.mark.parametrize("name", sorted(TOKENIZER_CHANGES))
def test_bad_tokenizer_json(tmp_path, name):
    change, expected = TOKENIZER_CHANGES[name]
    tiny_folder(tmp_path)
    edit_json(tmp_path / "tokenizer.json", change)
    message = load_error(tmp_path)
    assert expected in message and "tokenizer.json" in message


def test_odd_pre_tokenizer_shapes_load(tmp_path):
    """Unknown shapes inside pre_tokenizer / post_processor are not ours to refuse: they are skipped."""
    tiny_folder(tmp_path)
    edit_json(tmp_path / "tokenizer.json", lambda tj: tj.update(
        pre_tokenizer={"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": "x"}, 5,
                                                             {"type": "ByteLevel"}]},
        post_processor={"type": "TemplateProcessing", "single": [7]}, normalizer={"normalizers": 3}))
    assert load_model(str(tmp_path)).tokenizer.kind == "gpt2"


TOKENIZER_CONFIG_CHANGES = {
    "bos_token a number": ({"bos_token": 5}, "bos_token is 5, expected a token text"),
    "eos_token content a number": ({"eos_token": {"content": 3}}, "eos_token is 3"),
    "add_bos_token a string": ({"add_bos_token": "yes"}, "add_bos_token is a string, expected true or false"),
    "chat_template a number": ({"chat_template": 5}, "chat_template is 5, expected a Jinja2 template text"),
    "chat_template a list of numbers": ({"chat_template": [1]}, "chat_template is a list whose entries are not"),
    "chat_template entry without text": ({"chat_template": [{"name": "default"}]}, "entries are not"),
}


@pytest.mark.parametrize("name", sorted(TOKENIZER_CONFIG_CHANGES))
def test_bad_tokenizer_config(tmp_path, name):
    change, expected = TOKENIZER_CONFIG_CHANGES[name]
    tiny_folder(tmp_path)
    edit_json(tmp_path / "tokenizer_config.json", lambda c: c.update(change))
    message = load_error(tmp_path)
    assert expected in message and "tokenizer_config.json" in message


def test_chat_template_file_with_invalid_utf8(tmp_path):
    tiny_folder(tmp_path)
    edit_json(tmp_path / "tokenizer_config.json", lambda c: c.pop("chat_template"))
    (tmp_path / "chat_template.jinja").write_bytes(b"{{ bos_token }}\xff\xfe")
    assert "chat_template.jinja is not valid UTF-8" in load_error(tmp_path)


def test_chat_template_entry_named_by_a_list_is_just_unnamed(tmp_path):
    tiny_folder(tmp_path)
    edit_json(tmp_path / "tokenizer_config.json", lambda c: c.update(chat_template=[{"name": ["x"], "template": "T"}]))
    assert load_model(str(tmp_path)).tokenizer.chat_template == "T"


def test_chat_template_list_picks_default(tmp_path):
    tiny_folder(tmp_path)
    edit_json(tmp_path / "tokenizer_config.json", lambda c: c.update(
        chat_template=[{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]))
    assert load_model(str(tmp_path)).tokenizer.chat_template == "D"


# ---- BitNet packed weights and scales ----

Q = "model.layers.0.self_attn.q_proj.weight"


def bitnet_folder(path, packed=True, linear_class="autobitlinear"):
    cfg = bitnet_make_config(n_layers=1)
    write_bitnet_hf_folder(str(path), cfg, random_weights(cfg, seed=12), packed=packed, linear_class=linear_class)
    return path


def bf16_bytes(values) -> bytes:
    return (np.asarray(values, np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes()


def change_entry(name, dtype=None, shape=None, raw=None):
    def apply(entries):
        old = entries[name]
        entries[name] = [dtype or old[0], shape if shape is not None else old[1], raw if raw is not None else old[2]]
    return apply


BITNET_CHANGES = {
    "packed weight 1-D": (change_entry(Q, shape=[32 * 128]), "expected a matrix"),
    "packed weight 3-D": (change_entry(Q, shape=[2, 16, 128]), "expected a matrix"),
    "packed weight I8": (change_entry(Q, dtype="I8"), "BitNet weight has dtype I8; expected packed U8"),
    "scale NaN": (change_entry(Q + "_scale", raw=bf16_bytes([np.nan])), "_scale must be one finite number"),
    "scale inf": (change_entry(Q + "_scale", raw=bf16_bytes([np.inf])), "_scale must be one finite number"),
    "two scales": (change_entry(Q + "_scale", shape=[2], raw=bf16_bytes([1.0, 2.0])), "must be one finite number"),
    "no scale values": (change_entry(Q + "_scale", shape=[0], raw=b""), "must be one finite number"),
    "scale an integer": (change_entry(Q + "_scale", dtype="I16"), "_scale has dtype I16; expected F32"),
    "scale missing": (lambda e: e.pop(Q + "_scale"), "has no " + Q + "_scale tensor"),
}


@pytest.mark.parametrize("name", sorted(BITNET_CHANGES))
def test_bad_bitnet_weights(tmp_path, name):
    change, expected = BITNET_CHANGES[name]
    bitnet_folder(tmp_path)
    entries = read_raw(tmp_path / "model.safetensors")
    change(entries)
    write_raw(tmp_path / "model.safetensors", entries)
    assert expected in load_error(tmp_path)


def test_zero_scale_that_divides(tmp_path):
    bitnet_folder(tmp_path, linear_class="bitlinear")
    entries = read_raw(tmp_path / "model.safetensors")
    change_entry(Q + "_scale", raw=bf16_bytes([0.0]))(entries)
    write_raw(tmp_path / "model.safetensors", entries)
    assert "non-zero for bitlinear" in load_error(tmp_path)


def test_nan_in_float_master_weights(tmp_path):
    bitnet_folder(tmp_path, packed=False)
    entries = read_raw(tmp_path / "model.safetensors")
    raw = bytearray(entries[Q][2])
    raw[0:2] = bf16_bytes([np.nan])
    entries[Q][2] = bytes(raw)
    write_raw(tmp_path / "model.safetensors", entries)
    assert "holds NaN or infinite values" in load_error(tmp_path)


@pytest.mark.parametrize("quantization_config, expected", [
    ({"linear_class": "fancylinear"}, "linear_class must be autobitlinear or bitlinear"),
    ([1], "linear_class must be autobitlinear or bitlinear"),
    ({"linear_class": ["bitlinear"]}, "linear_class must be autobitlinear or bitlinear"),
])
def test_bad_bitnet_quantization_config(tmp_path, quantization_config, expected):
    bitnet_folder(tmp_path)
    edit_json(tmp_path / "config.json", lambda c: c.__setitem__("quantization_config", quantization_config))
    assert expected in load_error(tmp_path)


def test_write_safetensors_round_trip_is_what_read_raw_sees(tmp_path):
    """The helpers above rely on read_raw/write_raw reproducing a file the reader accepts."""
    bitnet_folder(tmp_path)
    write_raw(tmp_path / "model.safetensors", read_raw(tmp_path / "model.safetensors"))
    assert load_model(str(tmp_path)).tensors["blk.0.attn_q.weight"].fmt == "tq2"
