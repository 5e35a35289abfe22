"""Token automata and their table layout agree with outlines-core's own Index on every state, for a tiny
byte-level BPE, a tiny SentencePiece and SmolLM2's vocabulary; the budget refuses with the numbers."""
import time

import pytest

from edgec.ir.token_bytes import token_bytes
from edgec.errors import EdgecError
from edgec.grammar.schema_to_regex import schema_to_regex
from edgec.grammar.table_layout import check_budget, lay_out
from edgec.grammar.token_automaton import (BYTE, NORMAL, TokenAutomaton, automaton_from_index, build_index, end_token,
                                           text_token_bytes)
from grammar_cases import INTENT, TICKET, smollm2_tokenizer, tiny_gpt2
from tiny_models import tiny_tokenizer_sentencepiece


def assert_tables_match_index(regex, tok):
    """Every state: the library's allowed set (EOS included) and next state of every token equal the tables'."""
    index = build_index(regex, tok)
    automaton = automaton_from_index(index, regex, tok)
    tables = lay_out(automaton)
    eos = end_token(tok)
    assert automaton.library_states[tables.initial] == index.get_initial_state()
    for state, library_state in enumerate(automaton.library_states):
        allowed = tables.allowed(state)
        accepting = bool(tables.accepting[state // 8] >> (state % 8) & 1)
        assert accepting == index.is_final_state(library_state)
        expected = set(index.get_allowed_tokens(library_state) or [])
        assert set(allowed) | ({eos} if accepting else set()) == expected, f"state {state}"
        for token, nxt in allowed.items():
            assert automaton.library_states[nxt] == index.get_next_state(library_state, token)
        special = [t for t in allowed if tok.token_types[t] not in (NORMAL, BYTE)]
        assert not special, f"state {state} allows special tokens {special}"
    return tables


CASES = [("intent", INTENT), ("ticket", TICKET), ("regex", r"(yes|no|[0-9]{1,3} (on|off)!)")]


@pytest.mark.parametrize("name,grammar", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("tokenizer", [tiny_gpt2, tiny_tokenizer_sentencepiece], ids=["gpt2", "spm"])
def test_tables_agree_with_library_index_on_tiny_vocabularies(name, grammar, tokenizer):
    regex = grammar if isinstance(grammar, str) else schema_to_regex(grammar)
    tables = assert_tables_match_index(regex, tokenizer())
    assert tables.n_rows <= tables.n_states and tables.n_transitions >= tables.n_states - 1


def test_tables_agree_with_library_index_on_smollm2():
    tok = smollm2_tokenizer()
    start = time.monotonic()
    tables = assert_tables_match_index(schema_to_regex(INTENT), tok)
    assert time.monotonic() - start < 30, "SmolLM2's index for the intent schema should take seconds"
    assert tables.n_transitions > tables.n_states   # a real vocabulary has several ways to spell a key
    assert len(tables.runs) < tables.n_transitions   # and runs compress them


def test_token_bytes_of_each_vocabulary_kind():
    """The bytes the grammar matches are the ones the device prints (one function, ir/token_bytes.py, feeds
    the tokenizer blob and the grammar): GPT-2's byte alphabet, SentencePiece's space and byte tokens."""
    assert token_bytes("gpt2", "\u0120Paris", NORMAL) == b" Paris" and token_bytes("gpt2", "\u010a", NORMAL) == b"\n"
    assert token_bytes("gpt2", "\u00c3\u00a9", NORMAL) == "é".encode()   # UTF-8 split over byte characters
    assert token_bytes("sentencepiece", "\u2581Paris", NORMAL) == b" Paris"
    assert token_bytes("sentencepiece", "<0x0A>", BYTE) == b"\n"
    tok = smollm2_tokenizer()
    paris = tok.tokens.index("\u0120Paris")
    assert text_token_bytes(tok, paris) == b" Paris"


def test_runs_and_shared_rows():
    """Consecutive ids with one next state make one run; states with identical runs share one row."""
    rows = [[(5, 1), (6, 1), (7, 2), (9, 2)], [(5, 3)], [(5, 3)], []]
    tables = lay_out(TokenAutomaton(4, 0, [3], rows, 0, 10, "", [0, 1, 2, 3]))
    assert tables.runs == [(5, 2, 1), (7, 1, 2), (9, 1, 2), (5, 1, 3)]
    assert tables.state_row == [0, 1, 1, 2] and tables.row_start == [0, 3, 4, 4]
    assert tables.accepting == bytes([0b1000]) and tables.n_transitions == 6
    assert tables.allowed(0) == {5: 1, 6: 1, 7: 2, 9: 2} and tables.allowed(3) == {}


def test_budget_refuses_with_the_numbers():
    tables = lay_out(automaton_from_index(build_index(schema_to_regex(INTENT), tiny_gpt2()), "", tiny_gpt2()))
    check_budget("intent", tables, tables.size_bytes)   # exactly at the budget is fine
    with pytest.raises(EdgecError) as e:
        check_budget("intent", tables, tables.size_bytes - 1)
    message = str(e.value)
    for number in (tables.size_bytes, tables.n_states, tables.n_transitions, tables.size_bytes - 1):
        assert str(number) in message, message
    assert "grammar 'intent'" in message and "\n" not in message
