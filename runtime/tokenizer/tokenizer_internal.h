/* tokenizer_internal.h - what the tokenizer's source files share; not part of the public API. */
#ifndef EDGEC_TOKENIZER_INTERNAL_H
#define EDGEC_TOKENIZER_INTERNAL_H

#include "tokenizer.h"

/* Blob kinds and pre-tokenizers (the numbers are the blob format's; see docs/tokenizer.md). */
enum { TOK_KIND_BYTE_BPE = 1, TOK_KIND_SENTENCEPIECE = 2 };
enum { TOK_PRE_NONE = 0, TOK_PRE_GPT2 = 1, TOK_PRE_SMOLLM = 2, TOK_PRE_LLAMA3 = 3, TOK_PRE_QWEN2 = 4 };
enum { TOK_FLAG_ADD_BOS = 1, TOK_FLAG_ADD_SPACE_PREFIX = 2, TOK_FLAG_IGNORE_MERGES = 4, TOK_FLAG_HAS_CHAT = 8 };
/* GGUF token types. */
enum { TOK_NORMAL = 1, TOK_UNKNOWN = 2, TOK_CONTROL = 3, TOK_USER_DEFINED = 4, TOK_UNUSED = 5, TOK_BYTE = 6 };

typedef struct {
    uint32_t offset; /* into edgec_tokenizer.text */
    uint32_t len;
    float score;
    int type;
} tok_entry;

typedef struct {
    int32_t left, right, result;
} tok_merge;

struct edgec_tokenizer {
    int kind, pre, flags;
    int bos, eos, eot, unk;
    int n_vocab, n_merges;
    char *text;            /* every token's bytes and the chat strings, each NUL-terminated */
    tok_entry *tokens;
    tok_merge *merges;     /* rank = index */
    int32_t *text_slots;   /* hash: token bytes -> id (normal and user-defined tokens), -1 empty */
    uint32_t text_mask;
    int32_t *merge_slots;  /* hash: (left id, right id) -> merge rank, -1 empty */
    uint32_t merge_mask;
    int32_t byte_token[256]; /* byte-level: the token of one byte; sentencepiece: its <0xNN> token */
    int32_t *specials;     /* control and user-defined token ids, sorted by first byte */
    int n_specials;
    int special_start[257]; /* specials[special_start[b] .. special_start[b+1]) start with byte b */
    edgec_chat_format chat;
};

/* Token id whose bytes are exactly s[0..len) (normal or user-defined), or -1. */
int tok_lookup_text(const edgec_tokenizer *t, const char *s, size_t len);
/* Rank of the merge (left, right), or -1. */
int tok_lookup_merge(const edgec_tokenizer *t, int left, int right);

/* Collects the ids an encoding produces; counts past cap so the caller learns the size. */
typedef struct {
    int32_t *out;
    int cap;
    long n;
    size_t dropped; /* input bytes with no token, left out */
} tok_sink;

static inline void tok_emit(tok_sink *sink, int id)
{
    if (sink->n < sink->cap) sink->out[sink->n] = id;
    sink->n++;
}

/* One UTF-8 character at s[i] (i < end): sets *cp and returns its byte length. A byte that
 * does not start a valid, complete, shortest-form sequence is one character of its own with
 * *cp = TOK_INVALID_CP. */
#define TOK_INVALID_CP 0xFFFFFFFFu
size_t tok_utf8_next(const unsigned char *s, size_t end, size_t i, uint32_t *cp);

/* Walks the pre-tokenizer pieces of s[0..len): the regex splits of the blob's `pre`. */
typedef struct {
    int pre;
    const unsigned char *s;
    size_t len;
    size_t pos;     /* start of the next piece */
    size_t seg_end; /* TOK_PRE_SMOLLM: end of the current digit-split segment */
} tok_pretok_iter;

void tok_pretok_init(tok_pretok_iter *it, int pre, const unsigned char *s, size_t len);
/* Sets [*start, *end) to the next piece and returns 1, or returns 0 at the end of the text. */
int tok_pretok_next(tok_pretok_iter *it, size_t *start, size_t *end);

/* Byte-level BPE of text (no special tokens inside): pre-tokenize, then merge by rank.
 * Returns 0, or -1 if out of memory. */
int tok_encode_byte_bpe(const edgec_tokenizer *t, const unsigned char *s, size_t len, tok_sink *sink);

/* SentencePiece BPE by score with byte fallback; prepends the dummy-prefix space when the
 * blob says so (text runs start the input or follow a special token, as in llama.cpp).
 * Returns 0, or -1 if out of memory. */
int tok_encode_sentencepiece(const edgec_tokenizer *t, const unsigned char *s, size_t len, tok_sink *sink);

/* Pre-tokenizes text as tok_encode_byte_bpe does and writes each piece's end offset; returns
 * the number of pieces (may exceed cap). A test hook for the pre-tokenizer regexes. */
long edgec_tokenizer_pretokenize(const edgec_tokenizer *t, const char *text, size_t len, size_t *ends, long cap);

/* A binary min-heap of merge candidates, ordered by key then by the left symbol's start. */
typedef struct {
    float key;      /* merge rank, or minus the score of the merged token */
    int32_t left, right; /* symbol indices */
    int32_t start;  /* byte offset of the left symbol: leftmost wins ties */
    int32_t size;   /* bytes the merged pair spans when pushed: stale if it changed */
    int32_t result; /* token the merge makes */
} tok_candidate;

typedef struct {
    tok_candidate *items;
    size_t n, cap;
} tok_heap;

int tok_heap_push(tok_heap *h, tok_candidate c); /* 0, or -1 if out of memory */
tok_candidate tok_heap_pop(tok_heap *h);         /* h->n must be > 0 */

/* A symbol of a word being merged: a byte span with its current token, in a linked list. */
typedef struct {
    int32_t start, len; /* len 0: merged into its left neighbour */
    int32_t id;
    int32_t prev, next; /* -1 at the ends */
} tok_symbol;

/* How an encoder merges two adjacent symbols whose bytes are text[l->start .. r->start + r->len):
 * sets *key (the lowest merges first) and *result (the token made), returns 1; or returns 0 if
 * the pair does not merge. */
typedef int (*tok_pair_rule)(const edgec_tokenizer *t, const char *text, const tok_symbol *l,
                             const tok_symbol *r, float *key, int32_t *result);

/* Merges the linked symbols[0..n) of text pair by pair, best candidate first (leftmost on ties),
 * until no adjacent pair merges; heap is scratch space the caller frees. Returns 0, or -1 if out
 * of memory. */
int tok_merge_symbols(const edgec_tokenizer *t, const char *text, tok_symbol *symbols, int n,
                      tok_heap *heap, tok_pair_rule rule);

#endif
