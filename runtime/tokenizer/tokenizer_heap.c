/* tokenizer_heap.c - the priority queue and the merge loop both BPE encoders share. */
#include "tokenizer_internal.h"

#include <stdlib.h>

/* 1 if a should be merged before b: smaller key, then the leftmost pair. */
static int comes_first(const tok_candidate *a, const tok_candidate *b)
{
    if (a->key != b->key) return a->key < b->key;
    return a->start < b->start;
}

int tok_heap_push(tok_heap *h, tok_candidate c)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        tok_candidate *items = realloc(h->items, cap * sizeof *items);
        if (!items) return -1;
        h->items = items;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) { /* sift up */
        size_t parent = (i - 1) / 2;
        if (!comes_first(&c, &h->items[parent])) break;
        h->items[i] = h->items[parent];
        i = parent;
    }
    h->items[i] = c;
    return 0;
}

tok_candidate tok_heap_pop(tok_heap *h)
{
    tok_candidate top = h->items[0];
    tok_candidate last = h->items[--h->n];
    size_t i = 0;
    for (;;) { /* sift the last item down from the root */
        size_t child = 2 * i + 1;
        if (child >= h->n) break;
        if (child + 1 < h->n && comes_first(&h->items[child + 1], &h->items[child])) child++;
        if (!comes_first(&h->items[child], &last)) break;
        h->items[i] = h->items[child];
        i = child;
    }
    if (h->n > 0) h->items[i] = last;
    return top;
}

/* Pushes the merge of symbols[left] with its right neighbour, if the rule has one. */
static int push_pair(const edgec_tokenizer *t, const char *text, const tok_symbol *symbols, int left,
                     tok_heap *heap, tok_pair_rule rule)
{
    const tok_symbol *l = &symbols[left];
    if (l->next < 0) return 0;
    const tok_symbol *r = &symbols[l->next];
    tok_candidate c = {0.0f, left, l->next, l->start, l->len + r->len, -1};
    if (!rule(t, text, l, r, &c.key, &c.result)) return 0;
    return tok_heap_push(heap, c);
}

/* A candidate is stale if either symbol was merged away or grew since it was pushed. */
static int still_valid(const tok_symbol *symbols, const tok_candidate *c)
{
    const tok_symbol *l = &symbols[c->left], *r = &symbols[c->right];
    return l->len > 0 && r->len > 0 && l->next == c->right && l->len + r->len == c->size;
}

int tok_merge_symbols(const edgec_tokenizer *t, const char *text, tok_symbol *symbols, int n,
                      tok_heap *heap, tok_pair_rule rule)
{
    heap->n = 0;
    for (int i = 0; i + 1 < n; i++)
        if (push_pair(t, text, symbols, i, heap, rule) != 0) return -1;
    while (heap->n > 0) {
        tok_candidate c = tok_heap_pop(heap);
        if (!still_valid(symbols, &c)) continue;
        tok_symbol *l = &symbols[c.left], *r = &symbols[c.right];
        l->id = c.result;
        l->len += r->len;
        l->next = r->next;
        if (r->next >= 0) symbols[r->next].prev = c.left;
        r->len = 0;
        if (l->prev >= 0 && push_pair(t, text, symbols, l->prev, heap, rule) != 0) return -1;
        if (push_pair(t, text, symbols, c.left, heap, rule) != 0) return -1;
    }
    return 0;
}
