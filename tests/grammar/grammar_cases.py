"""Shared fixtures of tests/grammar: the tokenizers grammars are compiled over and the schemas used."""
from functools import lru_cache

from conftest import smollm2_path
from tiny_models import tiny_tokenizer_gpt2, tiny_tokenizer_sentencepiece

INTENT = {"type": "object", "required": ["device", "room", "action"], "properties": {
    "device": {"enum": ["light", "fan", "tv"]}, "room": {"enum": ["bedroom", "kitchen", "living room"]},
    "action": {"enum": ["on", "off"]}, "level": {"type": "integer", "minimum": 0, "maximum": 100}}}
TICKET = {"type": "object", "required": ["title", "priority"], "properties": {
    "title": {"type": "string", "maxLength": 6}, "priority": {"enum": ["low", "high"]},
    "tags": {"type": "array", "items": {"type": "string", "pattern": "[a-z]{1,3}"}, "maxItems": 2},
    "eta": {"anyOf": [{"type": "null"}, {"type": "number"}, {"type": "boolean"}]}}}


def tiny_gpt2():
    return tiny_tokenizer_gpt2()[0]


@lru_cache(maxsize=1)
def smollm2_tokenizer():
    from edgec.frontends.gguf_reader import read_gguf
    return read_gguf(str(smollm2_path())).tokenizer
