/* tokenizer_spm.c - SentencePiece-style BPE with byte fallback (Llama-2, llama2.c).
 * The text (with a leading dummy-prefix space if the model wants one) starts as one symbol
 * per UTF-8 character; the adjacent pair whose concatenation is a token with the highest
 * score is merged first (leftmost on ties) until no pair forms a token.  Characters that are
 * not tokens become their <0xNN> byte tokens and never merge. */
#include "tokenizer_internal.h"

#include <stdlib.h>
#include <string.h>

/* SentencePiece pairs merge when their bytes are a token, the highest score first; byte-fallback
 * symbols (id -1) never merge. */
static int merge_by_score(const edgec_tokenizer *t, const char *text, const tok_symbol *l, const tok_symbol *r,
                          float *key, int32_t *result)
{
    if (l->id < 0 || r->id < 0) return 0;
    int id = tok_lookup_text(t, text + l->start, (size_t)(l->len + r->len));
    if (id < 0) return 0;
    *key = -t->tokens[id].score;
    *result = id;
    return 1;
}

static void emit_symbol(const edgec_tokenizer *t, const char *text, const tok_symbol *sym, tok_sink *sink)
{
    if (sym->id >= 0) {
        tok_emit(sink, sym->id);
        return;
    }
    for (int k = 0; k < sym->len; k++) { /* byte fallback */
        int id = t->byte_token[(unsigned char)text[sym->start + k]];
        if (id < 0) id = t->unk;
        if (id >= 0) tok_emit(sink, id);
        else sink->dropped++;
    }
}

int tok_encode_sentencepiece(const edgec_tokenizer *t, const unsigned char *s, size_t len, tok_sink *sink)
{
    size_t prefix = (t->flags & TOK_FLAG_ADD_SPACE_PREFIX) ? 1 : 0;
    size_t total = prefix + len;
    if (total > INT32_MAX) return -1;
    char *text = malloc(total);
    tok_symbol *symbols = malloc(total * sizeof *symbols);
    tok_heap heap = {0};
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
    if (tok_merge_symbols(t, text, symbols, n, &heap, merge_by_score) != 0) goto done;
    for (int i = 0; i >= 0; i = symbols[i].next) emit_symbol(t, text, &symbols[i], sink);
    rc = 0;
done:
    free(text);
    free(symbols);
    free(heap.items);
    return rc;
}
