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

/* Byte-level pairs merge by the rank of their merge rule. */
static int merge_by_rank(const edgec_tokenizer *t, const char *text, const tok_symbol *l, const tok_symbol *r,
                         float *key, int32_t *result)
{
    (void)text;
    int rank = tok_lookup_merge(t, l->id, r->id);
    if (rank < 0) return 0;
    *key = (float)rank;
    *result = t->merges[rank].result;
    return 1;
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
    if (tok_merge_symbols(t, (const char *)s, w->symbols, n, &w->heap, merge_by_rank) != 0) return -1;
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
