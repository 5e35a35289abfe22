/* Walking a compiled grammar's tables: see edgec_grammar.h.  No allocation, no stdio. */
#include "edgec_grammar.h"

#include <math.h>

static int valid_state(const edgec_grammar *g, int32_t state) {
    return state >= 0 && (uint32_t)state < g->n_states;
}

int32_t edgec_grammar_start(const edgec_grammar *g) {
    return (int32_t)g->initial_state;
}

int edgec_grammar_accepting(const edgec_grammar *g, int32_t state) {
    if (!valid_state(g, state)) return 0;
    return (g->accepting[(uint32_t)state / 8] >> ((uint32_t)state % 8)) & 1;
}

/* Set logits[from..to-1] to -INFINITY, clipped to n_vocab. */
static void forbid(float *logits, uint32_t from, uint32_t to, uint32_t n_vocab) {
    if (to > n_vocab) to = n_vocab;
    for (uint32_t t = from; t < to; t++) logits[t] = -INFINITY;
}

void edgec_grammar_mask(const edgec_grammar *g, int32_t state, float *logits, uint32_t n_vocab) {
    if (!valid_state(g, state)) {
        forbid(logits, 0, n_vocab, n_vocab);
        return;
    }
    /* EOS is in no run: keep its logit aside and put it back only where the state accepts */
    int eos_in_vocab = g->eos_id >= 0 && (uint32_t)g->eos_id < n_vocab;
    float eos_logit = eos_in_vocab ? logits[g->eos_id] : 0.0f;
    uint32_t row = g->state_row[state];
    uint32_t allowed_from = 0;   /* every token below this one has been decided */
    for (uint32_t r = g->row_start[row]; r < g->row_start[row + 1]; r++) {
        forbid(logits, allowed_from, g->runs[r].first, n_vocab);
        allowed_from = g->runs[r].first + g->runs[r].count;
    }
    forbid(logits, allowed_from, n_vocab, n_vocab);
    if (eos_in_vocab) logits[g->eos_id] = edgec_grammar_accepting(g, state) ? eos_logit : -INFINITY;
}

int32_t edgec_grammar_advance(const edgec_grammar *g, int32_t state, int32_t token) {
    if (!valid_state(g, state) || token < 0) return -1;
    if (token == g->eos_id) return edgec_grammar_accepting(g, state) ? state : -1;
    uint32_t row = g->state_row[state];
    uint32_t lo = g->row_start[row], hi = g->row_start[row + 1];   /* search runs[lo..hi-1] */
    while (lo < hi) {   /* find the last run whose first <= token */
        uint32_t mid = lo + (hi - lo) / 2;
        if (g->runs[mid].first <= (uint32_t)token) lo = mid + 1;
        else hi = mid;
    }
    if (lo == g->row_start[row]) return -1;
    const edgec_grammar_run *run = &g->runs[lo - 1];
    return (uint32_t)token - run->first < run->count ? (int32_t)run->next : -1;
}
