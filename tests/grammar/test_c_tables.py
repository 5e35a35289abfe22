"""The emitted C tables and runtime/core/grammar/edgec_grammar.c agree with the Python automaton on random
walks (mask, advance, accepting), and every walk that ends in EOS spells JSON the schema validates."""
import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest

from edgec.grammar.c_tables import c_prefix, emit_c
from edgec.grammar.schema_to_regex import schema_to_regex
from edgec.grammar.table_layout import lay_out
from edgec.grammar.token_automaton import build_automaton, text_token_bytes
from grammar_cases import INTENT, TICKET, smollm2_tokenizer, tiny_gpt2

GRAMMAR_DIR = Path(__file__).resolve().parents[2] / "runtime" / "core" / "grammar"
FLAGS = ["-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-pedantic"]

# Reads walks from stdin ("n_steps token probe token probe ..."); for each step prints the state, how many
# tokens the mask leaves, an FNV-1a hash of their ids, whether the state accepts, and what advancing by
# the token and by the probe (a token tried but not taken) give.
HARNESS = r"""
#include <math.h>
#include <stdio.h>
#include "edgec_grammar.h"
extern const edgec_grammar GRAMMAR;
static float logits[1 << 17];

int main(void) {
    int n;
    while (scanf("%d", &n) == 1) {
        int32_t state = edgec_grammar_start(&GRAMMAR);
        for (int i = 0; i < n; i++) {
            int token, probe;
            if (scanf("%d %d", &token, &probe) != 2) return 2;
            for (uint32_t t = 0; t < GRAMMAR.n_vocab; t++) logits[t] = 1.0f;
            edgec_grammar_mask(&GRAMMAR, state, logits, GRAMMAR.n_vocab);
            uint32_t hash = 2166136261u, allowed = 0;
            for (uint32_t t = 0; t < GRAMMAR.n_vocab; t++)
                if (!isinf(logits[t])) { allowed++; hash = (hash ^ t) * 16777619u; }
            int32_t next = edgec_grammar_advance(&GRAMMAR, state, token);
            printf("%d %u %u %d %d %d\n", state, allowed, hash, edgec_grammar_accepting(&GRAMMAR, state), next,
                   edgec_grammar_advance(&GRAMMAR, state, probe));
            state = next < 0 ? state : next;
        }
        printf("end\n");
    }
    return 0;
}
"""


def build_harness(tmp: Path, name: str, tables, regex: str, compiler: str) -> Path:
    assert shutil.which(compiler), f"{compiler} is not installed: run examples/setup.sh"
    (tmp / f"{name}.c").write_text(emit_c(name, tables, regex))
    (tmp / "harness.c").write_text(HARNESS)
    exe = tmp / f"{name}_{compiler}"
    subprocess.run([compiler, *FLAGS, f"-DGRAMMAR={c_prefix(name)}", f"-I{GRAMMAR_DIR}", "-o", str(exe),
                    str(tmp / "harness.c"), str(tmp / f"{name}.c"), str(GRAMMAR_DIR / "edgec_grammar.c"), "-lm"],
                   check=True)
    return exe


def random_walk(automaton, rng: random.Random, max_steps: int = 80) -> list:
    """Tokens of a walk from the start: an allowed token each step (EOS, ending it, half the time a state
    accepts)."""
    state, tokens = automaton.initial, []
    for _ in range(max_steps):
        row = automaton.rows[state]
        if state in automaton.accepting and (not row or rng.random() < 0.5):
            return tokens + [automaton.eos_id]
        if not row:
            break
        token, state = rng.choice(row)
        tokens.append(token)
    return tokens


def probe_token(automaton, state: int, rng: random.Random) -> int:
    """A token to try in state: mostly one just outside an allowed run (where an off-by-one would show)."""
    allowed = [t for t, _ in automaton.rows[state]]
    near = [t + d for t in allowed for d in (-1, 1) if 0 <= t + d < automaton.n_vocab]
    return rng.choice(near) if near and rng.random() < 0.8 else rng.randrange(automaton.n_vocab)


def advance(automaton, state: int, token: int) -> int:
    if token == automaton.eos_id:
        return state if state in automaton.accepting else -1
    return dict(automaton.rows[state]).get(token, -1)


def expected_steps(automaton, tokens: list, probes: list) -> list:
    """What the harness should print for one walk, from the Python automaton."""
    lines, state = [], automaton.initial
    for token, probe in zip(tokens, probes):
        row = dict(automaton.rows[state])
        accepting = state in automaton.accepting
        allowed = sorted(set(row) | ({automaton.eos_id} if accepting else set()))
        h = 2166136261
        for t in allowed:
            h = ((h ^ t) * 16777619) & 0xFFFFFFFF
        nxt = advance(automaton, state, token)
        lines.append(f"{state} {len(allowed)} {h} {int(accepting)} {nxt} {advance(automaton, state, probe)}")
        state = state if nxt < 0 else nxt
    return lines + ["end"]


def walk_states(automaton, tokens: list) -> list:
    """The state before each token of a walk."""
    states = [automaton.initial]
    for token in tokens[:-1]:
        states.append(advance(automaton, states[-1], token))
    return states


def check_walks(tmp, name, grammar, tok, n_walks, compilers=("gcc",)):
    regex = grammar if isinstance(grammar, str) else schema_to_regex(grammar)
    automaton = build_automaton(regex, tok)
    tables = lay_out(automaton)
    rng = random.Random(13)
    walks = [random_walk(automaton, rng) for _ in range(n_walks)]
    probes = [[probe_token(automaton, s, rng) for s in walk_states(automaton, w)] for w in walks]
    stdin = "".join(f"{len(w)} {' '.join(f'{t} {p}' for t, p in zip(w, ps))}\n" for w, ps in zip(walks, probes))
    expected = [line for w, ps in zip(walks, probes) for line in expected_steps(automaton, w, ps)]
    for compiler in compilers:
        exe = build_harness(tmp, name, tables, regex, compiler)
        out = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, check=True).stdout
        assert out.splitlines() == expected, f"{compiler}: C tables disagree with the automaton"
    finished = [w[:-1] for w in walks if w and w[-1] == automaton.eos_id]
    assert len(finished) >= n_walks // 3, "too few walks reached EOS to check the output"
    for w in finished:
        text = b"".join(text_token_bytes(tok, t) for t in w).decode("utf-8")
        assert re.fullmatch(regex, text), (text, regex)
        if not isinstance(grammar, str):
            jsonschema.validate(json.loads(text), grammar)
    return tables


@pytest.mark.parametrize("name,grammar", [("intent", INTENT), ("ticket", TICKET),
                                          ("yes-no", r"(yes|no|[0-9]{1,3} (on|off)!)")])
def test_c_tables_walks_on_tiny_vocabulary(tmp_path, name, grammar):
    check_walks(tmp_path, name, grammar, tiny_gpt2(), 60, compilers=("gcc", "clang"))


def test_c_tables_walks_on_smollm2(tmp_path):
    tables = check_walks(tmp_path, "intent", INTENT, smollm2_tokenizer(), 30)
    assert tables.n_vocab == 49152 and tables.eos_id == 2
