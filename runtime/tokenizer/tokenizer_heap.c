/* tokenizer_heap.c - the priority queue both BPE encoders merge from. */
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
