"""Serialize a TokenizerIR into the binary blob the C runtime's tokenizer loads.

Format (little-endian; docs/tokenizer.md has the full description):
    "EDTK" u32 version=1 u32 kind u32 pre u32 flags i32 bos i32 eos i32 eot i32 unk
    u32 n_vocab u32 n_merges
    8 chat strings, each u32 len + bytes: bos_text system_prefix system_suffix user_prefix
        user_suffix assistant_prefix assistant_suffix default_system
    n_vocab tokens, each u32 type, f32 score, u32 len + the raw bytes the token stands for
    n_merges merges, each u32 left id, u32 right id, u32 result id (rank = position)
Tokens are stored as raw bytes (GPT-2 byte-to-unicode and "▁"/<0xNN> already undone), so the
C side decodes by concatenation and encodes by looking byte strings up.
"""
from __future__ import annotations

import struct
from typing import Optional

from edgec.errors import EdgecError
from edgec.frontends.chat_template import ChatFormat, chat_format_from_template
from edgec.ir.model_ir import ModelIR, TokenizerIR
from edgec.ir.token_bytes import token_bytes

MAGIC = b"EDTK"
VERSION = 1
KINDS = {"gpt2": 1, "sentencepiece": 2}
# Pre-tokenizer names (GGUF tokenizer.ggml.pre) -> the C matcher that implements them.
PRE_TOKENIZERS = {"gpt2": 1, "default": 1, "smollm": 2, "llama3": 3, "llama-bpe": 3, "qwen2": 4}
PRE_IGNORE_MERGES = {"llama3", "llama-bpe"}  # HF's ignore_merges: a whole-token piece is not merged
FLAG_ADD_BOS, FLAG_ADD_SPACE_PREFIX, FLAG_IGNORE_MERGES, FLAG_HAS_CHAT = 1, 2, 4, 8
CHAT_FIELDS = ("bos_text", "system_prefix", "system_suffix", "user_prefix", "user_suffix",
               "assistant_prefix", "assistant_suffix", "default_system")
def _merge_triples(tok: TokenizerIR) -> list:
    ids = {}
    for i, t in enumerate(tok.tokens):
        ids.setdefault(t, i)
    triples = []
    for rank, merge in enumerate(tok.merges or []):
        parts = merge.split(" ")
        if len(parts) != 2:
            raise EdgecError(f"tokenizer merge {rank} {merge!r} is not two tokens separated by a space; "
                             "re-export the tokenizer")
        left, right = parts
        missing = [t for t in (left, right, left + right) if t not in ids]
        if missing:
            raise EdgecError(f"tokenizer merge {rank} {merge!r} uses {missing[0]!r}, which is not in the "
                             "vocabulary; re-export the tokenizer")
        triples.append((ids[left], ids[right], ids[left + right]))
    return triples


def _check(tok: TokenizerIR) -> None:
    if tok.kind not in KINDS:
        raise EdgecError(f"tokenizer kind {tok.kind!r} is not supported; edgec supports "
                         f"{', '.join(sorted(KINDS))}")
    if tok.kind == "gpt2" and tok.pre not in PRE_TOKENIZERS:
        raise EdgecError(f"pre-tokenizer {tok.pre!r} is not supported; edgec supports "
                         f"{', '.join(sorted(PRE_TOKENIZERS))} (add a matcher to runtime/tokenizer/tokenizer_pretok.c)")
    n = len(tok.tokens)
    if n == 0 or len(tok.token_types) != n or (tok.scores is not None and len(tok.scores) != n):
        raise EdgecError(f"tokenizer has {n} tokens but {len(tok.token_types)} token types"
                         f"{'' if tok.scores is None else f' and {len(tok.scores)} scores'}; re-export it")
    for name in ("bos_id", "eos_id", "eot_id", "unk_id"):
        value = getattr(tok, name)
        if not -1 <= value < n:
            raise EdgecError(f"tokenizer {name} {value} is outside the vocabulary of {n}; re-export it")


def _string(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def build_tokenizer_blob(tok: TokenizerIR, chat: Optional[ChatFormat] = None) -> bytes:
    """The tokenizer blob for tok.  chat None derives the chat format from tok.chat_template
    (raising EdgecError if it cannot be decomposed); pass ChatFormat() to build without chat."""
    _check(tok)
    if chat is None:
        text_of = lambda i: tok.tokens[i] if i >= 0 else ""  # noqa: E731
        chat = chat_format_from_template(tok.chat_template, text_of(tok.bos_id), text_of(tok.eos_id))
    merges = _merge_triples(tok) if tok.kind == "gpt2" else []
    pre = PRE_TOKENIZERS[tok.pre] if tok.kind == "gpt2" else 0
    flags = (FLAG_ADD_BOS if tok.add_bos else 0) | \
        (FLAG_ADD_SPACE_PREFIX if tok.add_space_prefix and tok.kind == "sentencepiece" else 0) | \
        (FLAG_IGNORE_MERGES if tok.kind == "gpt2" and tok.pre in PRE_IGNORE_MERGES else 0) | \
        (FLAG_HAS_CHAT if chat.has_chat else 0)

    out = [MAGIC, struct.pack("<IIIIiiiiII", VERSION, KINDS[tok.kind], pre, flags, tok.bos_id, tok.eos_id,
                              tok.eot_id, tok.unk_id, len(tok.tokens), len(merges))]
    out += [_string(getattr(chat, f).encode("utf-8")) for f in CHAT_FIELDS]
    scores = tok.scores if tok.scores is not None else [0.0] * len(tok.tokens)
    for text, ttype, score in zip(tok.tokens, tok.token_types, scores):
        out.append(struct.pack("<If", int(ttype), float(score)) + _string(token_bytes(tok.kind, text, int(ttype))))
    out += [struct.pack("<III", *m) for m in merges]
    return b"".join(out)


def chat_format_or_none(ir: ModelIR) -> ChatFormat:
    """The model's chat format; a template edgec cannot decompose gives a warning and a program without --chat."""
    tok = ir.tokenizer
    bos = tok.tokens[tok.bos_id] if 0 <= tok.bos_id < len(tok.tokens) else ""
    eos = tok.tokens[tok.eos_id] if 0 <= tok.eos_id < len(tok.tokens) else ""
    try:
        return chat_format_from_template(tok.chat_template, bos, eos)
    except EdgecError as e:
        ir.metadata.setdefault("warnings", []).append(f"--chat falls back to a plain transcript: {e}")
        return ChatFormat()


def model_tokenizer_blob(ir: ModelIR) -> bytes:
    """The tokenizer blob an artifact embeds for ir: its tokenizer and chat format."""
    return build_tokenizer_blob(ir.tokenizer, chat=chat_format_or_none(ir))
