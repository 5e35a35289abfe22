/* Grammar-constrained decoding over tables compiled ahead of time (docs/grammars.md).
 *
 * A grammar is a token automaton: in each state some token ids are allowed and each leads to a
 * next state; EOS is allowed exactly in accepting states and ends the output.  edgec compiles a
 * JSON Schema or regex into these read-only tables (compiler/edgec/grammar/), so the device only
 * walks them: no allocation, no stdio, cost per token O(log runs) to advance and O(n_vocab) to mask.
 */
#ifndef EDGEC_GRAMMAR_H
#define EDGEC_GRAMMAR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Consecutive token ids first..first+count-1, all allowed and all leading to state next. */
typedef struct {
    uint32_t first;
    uint32_t count;
    uint32_t next;
} edgec_grammar_run;

typedef struct {
    const char *name;                /* the grammar's name as given at compile time */
    uint32_t n_states;
    uint32_t n_rows;                 /* distinct states' rows (identical rows are shared) */
    uint32_t n_runs;
    uint32_t n_vocab;                /* the model's vocabulary size the tables were built for */
    uint32_t initial_state;
    int32_t eos_id;                  /* allowed only in accepting states */
    const uint32_t *state_row;       /* [n_states] the row of each state */
    const uint32_t *row_start;       /* [n_rows + 1] row r is runs[row_start[r] .. row_start[r+1]-1] */
    const edgec_grammar_run *runs;   /* [n_runs] sorted by first within a row */
    const uint8_t *accepting;        /* [(n_states + 7) / 8] bit s % 8 of byte s / 8: state s accepts */
} edgec_grammar;

/* The state a generation starts in. */
int32_t edgec_grammar_start(const edgec_grammar *g);

/* 1 if state accepts (EOS allowed there), else 0; 0 for an invalid state. */
int edgec_grammar_accepting(const edgec_grammar *g, int32_t state);

/* Set logits[t] = -INFINITY for every token t < n_vocab not allowed in state (all of them for an
 * invalid state); allowed logits are left untouched.  Call before temperature/top-k/top-p. */
void edgec_grammar_mask(const edgec_grammar *g, int32_t state, float *logits, uint32_t n_vocab);

/* The state after token in state: -1 if token is not allowed there.  EOS keeps an accepting state. */
int32_t edgec_grammar_advance(const edgec_grammar *g, int32_t state, int32_t token);

#ifdef __cplusplus
}
#endif

#endif /* EDGEC_GRAMMAR_H */
