/* tokenizer_spm.c - SentencePiece-style BPE with byte fallback (Llama-2, llama2.c).
 * The text (with a leading dummy-prefix space if the model wants one) starts as one symbol
 * per UTF-8 character; the adjacent pair whose concatenation is a token with the highest
 * score is merged first (leftmost on ties) until no pair forms a token.  Characters that are
 * not tokens become their <0xNN> byte tokens and never merge. */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *text;
    tok_symbol *symbols;
    tok_heap heap;
} spm_work;

static int push_pair(const edgec_tokenizer *t, spm_work *w, int left)
{
    const tok_symbol *l = &w->symbols[left];
    if (l->next < 0 || l->id < 0 || w->symbols[l->next].id < 0) return 0;
    int size = l->len + w->symbols[l->next].len;
    int id = tok_lookup_text(t, w->text + l->start, (size_t)size);
    if (id < 0) return 0;
    tok_candidate c = {-t->tokens[id].score, left, l->next, l->start, size, id};
    return tok_heap_push(&w->heap, c);
}

static int still_valid(const spm_work *w, const tok_candidate *c)
{
    const tok_symbol *l = &w->symbols[c->left], *r = &w->symbols[c->right];
    return l->len > 0 && r->len > 0 && l->next == c->right && l->len + r->len == c->size;
}

static void emit_symbol(const edgec_tokenizer *t, const spm_work *w, const tok_symbol *sym, tok_sink *sink)
{
    if (sym->id >= 0) {
        tok_emit(sink, sym->id);
        return;
    }
    for (int k = 0; k < sym->len; k++) { /* byte fallback */
        int id = t->byte_token[(unsigned char)w->text[sym->start + k]];
        if (id < 0) id = t->unk;
        if (id >= 0) tok_emit(sink, id);
        else sink->dropped++;
    }
}

static int merge_all(const edgec_tokenizer *t, spm_work *w, int n)
{
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
    return 0;
}

int tok_encode_sentencepiece(const edgec_tokenizer *t, const unsigned char *s, size_t len, tok_sink *sink)
{
    size_t prefix = (t->flags & TOK_FLAG_ADD_SPACE_PREFIX) ? 1 : 0;
    size_t total = prefix + len;
    if (total > INT32_MAX) return -1;
    char *text = malloc(total);
    tok_symbol *symbols = malloc(total * sizeof *symbols);
    spm_work w = {text, symbols, {0}};
    int rc = -1;
    if (!text || !symbols) goto done;
    if (prefix) text[0] = ' ';
    memcpy(text + prefix, s, len);

    int n = 0;
    for (size_t i = 0; i < total;) {
        uint32_t cp;
        size_t clen = tok_utf8_next((const unsigned char *)text, total, i, &cp);
        int id = cp == TOK_INVALID_CP ? -1 : tok_lookup_text(t, text + i, clen);
        symbols[n] = (tok_symbol){(int32_t)i, (int32_t)clen, id, n - 1, -1};
        if (n > 0) symbols[n - 1].next = n;
        n++;
        i += clen;
    }
    if (merge_all(t, &w, n) != 0) goto done;
    for (int i = 0; i >= 0; i = symbols[i].next) emit_symbol(t, &w, &symbols[i], sink);
    rc = 0;
done:
    free(text);
    free(symbols);
    free(w.heap.items);
    return rc;
}
