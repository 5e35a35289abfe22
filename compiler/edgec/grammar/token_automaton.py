"""Regex + a model's vocabulary -> token automaton, with outlines-core's Index doing the work.

The vocabulary is what each token id decodes to as raw bytes (byte-level BPE through the GPT-2
byte table, SentencePiece through "▁" and <0xNN>), so the library matches the bytes the device
will print.  Only normal and byte tokens may appear inside a grammar: control, unknown, unused and
user-defined (added) tokens stand for markup the model emits, never for text.  EOS is allowed
exactly in accepting states.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from edgec.errors import EdgecError
from edgec.ir.model_ir import TokenizerIR
from edgec.ir.token_bytes import BYTE, NORMAL, token_bytes

def text_token_bytes(tok: TokenizerIR, token_id: int) -> bytes:
    """The raw bytes a normal or byte token decodes to, as the device's tokenizer prints them."""
    return token_bytes(tok.kind, tok.tokens[token_id], tok.token_types[token_id])


def end_token(tok: TokenizerIR) -> int:
    """The token that ends a grammar's output: end-of-turn where the model has one, else EOS."""
    eos = tok.eot_id if tok.eot_id >= 0 else tok.eos_id
    if eos < 0:
        raise EdgecError("the model's tokenizer has no EOS token, so a grammar cannot say where output ends; "
                         "use a model whose tokenizer names one")
    return eos


def vocabulary_bytes(tok: TokenizerIR) -> dict:
    """bytes -> sorted token ids, for every text token (several ids may decode to the same bytes)."""
    by_bytes = {}
    for i, kind in enumerate(tok.token_types):
        if kind in (NORMAL, BYTE) and i != end_token(tok):
            text = text_token_bytes(tok, i)
            if text:
                by_bytes.setdefault(text, []).append(i)
    return by_bytes


def build_index(regex: str, tok: TokenizerIR):
    """outlines-core's Index of regex over tok's vocabulary; the reference the tables are tested against."""
    from outlines_core import Index, Vocabulary
    vocab = Vocabulary(end_token(tok), vocabulary_bytes(tok))
    try:
        return Index(regex, vocab)
    except (ValueError, RuntimeError) as e:
        raise EdgecError(f"grammar regex {regex[:60]!r} cannot be compiled over the vocabulary: {e}; "
                         "check the pattern (Rust regex syntax, no look-around)") from None


@dataclass
class TokenAutomaton:
    """States 0..n_states-1 (0 is not necessarily initial); rows[s] is the sorted [(token, next state)] of
    state s, EOS excluded: EOS is allowed exactly in the accepting states and keeps the state."""
    n_states: int
    initial: int
    accepting: list      # sorted state numbers
    rows: list           # list[list[tuple[int, int]]]
    eos_id: int
    n_vocab: int
    regex: str
    library_states: list   # [n_states] the Index's number of each state, to compare with the library


def automaton_from_index(index, regex: str, tok: TokenizerIR) -> TokenAutomaton:
    """The Index's states renumbered 0.. in breadth-first order from the initial state (reproducible)."""
    eos = end_token(tok)
    transitions = index.get_transitions()
    number = {index.get_initial_state(): 0}
    order = deque([index.get_initial_state()])
    rows = []
    while order:
        state = order.popleft()
        row = []
        for token, target in sorted(transitions.get(state, {}).items()):
            if token == eos:
                continue
            if target not in number:
                number[target] = len(number)
                order.append(target)
            row.append((token, number[target]))
        rows.append(row)
    accepting = sorted(number[s] for s in index.get_final_states() if s in number)
    return TokenAutomaton(len(rows), 0, accepting, rows, eos, len(tok.tokens), regex, list(number))


def build_automaton(regex: str, tok: TokenizerIR) -> TokenAutomaton:
    return automaton_from_index(build_index(regex, tok), regex, tok)
