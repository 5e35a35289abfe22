"""A token automaton laid out as compact read-only tables (runtime/core/grammar/edgec_grammar.h).

Each state's allowed tokens become runs: (first token, count, next state) for consecutive token ids
with the same next state, sorted by first token so the device finds a token by binary search.
States with identical runs share one row.  All fields are uint32 (vocabularies pass 65536 ids).
"""
from __future__ import annotations

from dataclasses import dataclass

from edgec.errors import EdgecError
from edgec.grammar.token_automaton import TokenAutomaton

RUN_BYTES = 12          # edgec_grammar_run: uint32 first, count, next
INDEX_BYTES = 4         # one uint32 of state_row or row_start
HEADER_BYTES = 64       # the edgec_grammar struct itself (pointers and counts), an upper bound


@dataclass
class GrammarTables:
    n_states: int
    initial: int
    eos_id: int
    n_vocab: int
    state_row: list      # [n_states] the row of each state
    row_start: list      # [n_rows + 1] the first run of each row; row r is runs[row_start[r]:row_start[r+1]]
    runs: list           # [(first, count, next)]
    accepting: bytes     # bitmap, bit s of byte s/8: EOS allowed in state s
    n_transitions: int   # allowed (state, token) pairs, EOS excluded

    @property
    def n_rows(self) -> int:
        return len(self.row_start) - 1

    @property
    def size_bytes(self) -> int:
        return (HEADER_BYTES + RUN_BYTES * len(self.runs) + INDEX_BYTES * (len(self.state_row) + len(self.row_start))
                + len(self.accepting))

    def allowed(self, state: int) -> dict:
        """token -> next state of one state, from the tables (EOS excluded); for tests and tools."""
        row = self.state_row[state]
        return {first + k: nxt for first, count, nxt in self.runs[self.row_start[row]:self.row_start[row + 1]]
                for k in range(count)}


def row_runs(row: list) -> tuple:
    """Runs (first, count, next) of a sorted [(token, next)] row."""
    runs = []
    for token, nxt in row:
        if runs and runs[-1][0] + runs[-1][1] == token and runs[-1][2] == nxt:
            runs[-1][1] += 1
        else:
            runs.append([token, 1, nxt])
    return tuple(tuple(r) for r in runs)


def lay_out(automaton: TokenAutomaton) -> GrammarTables:
    row_of_runs, state_row, row_start, runs = {}, [], [0], []
    for row in automaton.rows:
        key = row_runs(row)
        if key not in row_of_runs:
            row_of_runs[key] = len(row_of_runs)
            runs.extend(key)
            row_start.append(len(runs))
        state_row.append(row_of_runs[key])
    accepting = bytearray((automaton.n_states + 7) // 8)
    for s in automaton.accepting:
        accepting[s // 8] |= 1 << (s % 8)
    return GrammarTables(automaton.n_states, automaton.initial, automaton.eos_id, automaton.n_vocab, state_row,
                         row_start, runs, bytes(accepting), sum(len(r) for r in automaton.rows))


def check_budget(name: str, tables: GrammarTables, budget_bytes: int) -> None:
    """Refuse tables bigger than the budget, with the numbers that make them so."""
    if tables.size_bytes > budget_bytes:
        raise EdgecError(f"grammar '{name}' needs {tables.size_bytes} bytes of tables ({tables.n_states} states, "
                         f"{tables.n_transitions} transitions, {len(tables.runs)} runs in {tables.n_rows} rows), "
                         f"over the budget of {budget_bytes} bytes; simplify the grammar (fewer enum values, "
                         "shorter maxLength) or raise the budget")
