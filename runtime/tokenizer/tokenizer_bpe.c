/* tokenizer_bpe.c - byte-level BPE (GPT-2 style): each pre-tokenizer piece starts as one
 * token per byte and the adjacent pair with the lowest merge rank is merged first (leftmost
 * on ties) until no pair has a merge, as the HF tokenizers library does. */
#include "tokenizer_internal.h"

#include <stdlib.h>

/* Scratch memory for one encode call, sized for its longest piece. */
typedef struct {
    tok_symbol *symbols;
    size_t cap;
    tok_heap heap;
} bpe_scratch;

static int push_pair(const edgec_tokenizer *t, bpe_scratch *w, int left)
{
    int right = w->symbols[left].next;
    if (right < 0) return 0;
    int rank = tok_lookup_merge(t, w->symbols[left].id, w->symbols[right].id);
    if (rank < 0) return 0;
    tok_candidate c = {(float)rank, left, right, w->symbols[left].start,
                       w->symbols[left].len + w->symbols[right].len, t->merges[rank].result};
    return tok_heap_push(&w->heap, c);
}

/* A candidate is stale if either symbol was merged away or grew since it was pushed. */
static int still_valid(const bpe_scratch *w, const tok_candidate *c)
{
    const tok_symbol *l = &w->symbols[c->left], *r = &w->symbols[c->right];
    return l->len > 0 && r->len > 0 && l->next == c->right && l->len + r->len == c->size;
}

/* Merges one piece s[0..len) and emits its tokens. */
static int bpe_piece(const edgec_tokenizer *t, const unsigned char *s, size_t len, bpe_scratch *w, tok_sink *sink)
{
    if ((t->flags & TOK_FLAG_IGNORE_MERGES)) { /* a piece that is a whole token is taken as is */
        int id = tok_lookup_text(t, (const char *)s, len);
        if (id >= 0) {
            tok_emit(sink, id);
            return 0;
        }
    }
    if (len > w->cap) {
        tok_symbol *symbols = realloc(w->symbols, len * sizeof *symbols);
        if (!symbols) return -1;
        w->symbols = symbols;
        w->cap = len;
    }
    /* A byte the vocabulary has no token for is dropped, and its neighbours may merge, as in
     * HF tokenizers (BPE without unk) and llama.cpp. */
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        int id = t->byte_token[s[i]];
        if (id >= 0) {
            w->symbols[n] = (tok_symbol){(int32_t)i, 1, id, n - 1, n + 1};
            n++;
        } else {
            sink->dropped++;
        }
    }
    if (n == 0) return 0;
    w->symbols[n - 1].next = -1;
    w->heap.n = 0;
    for (int i = 0; i + 1 < n; i++)
        if (push_pair(t, w, i) != 0) return -1;
    while (w->heap.n > 0) {
        tok_candidate c = tok_heap_pop(&w->heap);
        if (!still_valid(w, &c)) continue;
        tok_symbol *l = &w->symbols[c.left], *r = &w->symbols[c.right];
        l->id = c.result;
        l->len += r->len;
        l->next = r->next;
        if (r->next >= 0) w->symbols[r->next].prev = c.left;
        r->len = 0;
        if (l->prev >= 0 && push_pair(t, w, l->prev) != 0) return -1;
        if (push_pair(t, w, c.left) != 0) return -1;
    }
    for (int i = 0; i >= 0; i = w->symbols[i].next) tok_emit(sink, w->symbols[i].id);
    return 0;
}

int tok_encode_byte_bpe(const edgec_tokenizer *t, const unsigned char *s, size_t len, tok_sink *sink)
{
    if (len > INT32_MAX) return -1;
    bpe_scratch w = {0};
    tok_pretok_iter it;
    size_t start, end;
    int rc = 0;
    tok_pretok_init(&it, t->pre, s, len);
    while (rc == 0 && tok_pretok_next(&it, &start, &end)) rc = bpe_piece(t, s + start, end - start, &w, sink);
    free(w.symbols);
    free(w.heap.items);
    return rc;
}
