"""What a vocabulary entry stands for as raw bytes: the tokenizer blob (codegen) stores these bytes and
the grammar stage matches them, so both take them from here.

Byte-level BPE (GPT-2 style) vocabularies spell each byte as a printable character (GPT-2's byte table);
SentencePiece ones spell a space as U+2581 and raw bytes as <0xNN> byte tokens.
"""
from __future__ import annotations

import re

# GGUF tokenizer.ggml.token_type values
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def gpt2_byte_to_unicode() -> dict:
    """GPT-2's map from each byte to the printable character that stands for it in a vocab."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


_UNICODE_TO_BYTE = {c: b for b, c in gpt2_byte_to_unicode().items()}


def token_bytes(kind: str, text: str, token_type: int) -> bytes:
    """The raw bytes a vocabulary entry stands for (kind: the tokenizer's "gpt2" or "sentencepiece")."""
    if token_type == BYTE:
        m = BYTE_TOKEN.fullmatch(text)
        if m:
            return bytes([int(m.group(1), 16)])
    if kind == "gpt2":
        if token_type != NORMAL:
            return text.encode("utf-8")  # added tokens are stored as plain text
        # a character outside GPT-2's byte alphabet stands for its own UTF-8 bytes
        return b"".join(bytes([_UNICODE_TO_BYTE[c]]) if c in _UNICODE_TO_BYTE else c.encode("utf-8")
                        for c in text)
    if token_type in (NORMAL, USER_DEFINED, UNUSED):
        return text.replace("\u2581", " ").encode("utf-8")
    return text.encode("utf-8")
