/* tokenizer.c - loads a tokenizer blob, answers questions about tokens, and decodes.
 * Encoding lives in tokenizer_bpe.c / tokenizer_spm.c; this file splits out special tokens. */
#include "tokenizer_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOB_MAGIC "EDTK"
#define BLOB_VERSION 1
#define N_CHAT_STRINGS 8

/* ---- reading the blob ---------------------------------------------------------------- */

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    int failed;
} blob_reader;

static uint32_t read_u32(blob_reader *r)
{
    if (r->failed || r->len - r->pos < 4) {
        r->failed = 1;
        return 0;
    }
    const unsigned char *b = r->p + r->pos;
    r->pos += 4;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static float read_f32(blob_reader *r)
{
    uint32_t bits = read_u32(r);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Returns the next len bytes, or NULL (and marks failure) if the blob is too short. */
static const unsigned char *read_bytes(blob_reader *r, size_t len)
{
    if (r->failed || r->len - r->pos < len) {
        r->failed = 1;
        return NULL;
    }
    const unsigned char *b = r->p + r->pos;
    r->pos += len;
    return b;
}

static void set_error(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || err_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* ---- hash tables ------------------------------------------------------------------------ */

static uint32_t hash_bytes(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static uint32_t hash_pair(int left, int right)
{
    uint32_t h = (uint32_t)left * 0x9E3779B1u ^ ((uint32_t)right + 0x7F4A7C15u) * 0x85EBCA77u;
    return h ^ (h >> 15);
}

/* Smallest power of two >= 2n (load factor <= 1/2 keeps probes short). */
static uint32_t table_size(int n)
{
    uint32_t size = 16;
    while (size < 2u * (uint32_t)n) size <<= 1;
    return size;
}

int tok_lookup_text(const edgec_tokenizer *t, const char *s, size_t len)
{
    for (uint32_t i = hash_bytes(s, len) & t->text_mask;; i = (i + 1) & t->text_mask) {
        int32_t id = t->text_slots[i];
        if (id < 0) return -1;
        const tok_entry *e = &t->tokens[id];
        if (e->len == len && memcmp(t->text + e->offset, s, len) == 0) return id;
    }
}

int tok_lookup_merge(const edgec_tokenizer *t, int left, int right)
{
    if (left < 0 || right < 0 || t->n_merges == 0) return -1;
    for (uint32_t i = hash_pair(left, right) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
        int32_t rank = t->merge_slots[i];
        if (rank < 0) return -1;
        if (t->merges[rank].left == left && t->merges[rank].right == right) return rank;
    }
}

/* Adds id under its bytes unless a token with the same bytes is already there (first wins). */
static void insert_text(edgec_tokenizer *t, int id)
{
    const tok_entry *e = &t->tokens[id];
    if (tok_lookup_text(t, t->text + e->offset, e->len) >= 0) return;
    uint32_t i = hash_bytes(t->text + e->offset, e->len) & t->text_mask;
    while (t->text_slots[i] >= 0) i = (i + 1) & t->text_mask;
    t->text_slots[i] = id;
}

static void insert_merge(edgec_tokenizer *t, int rank)
{
    const tok_merge *m = &t->merges[rank];
    if (tok_lookup_merge(t, m->left, m->right) >= 0) return; /* a repeated merge keeps its best rank */
    uint32_t i = hash_pair(m->left, m->right) & t->merge_mask;
    while (t->merge_slots[i] >= 0) i = (i + 1) & t->merge_mask;
    t->merge_slots[i] = rank;
}

/* ---- loading ---------------------------------------------------------------------------- */

/* The byte a SentencePiece byte token stands for, or -1 if the token is not one byte. */
static int byte_token_value(const edgec_tokenizer *t, int id)
{
    const tok_entry *e = &t->tokens[id];
    return e->len == 1 ? (unsigned char)t->text[e->offset] : -1;
}

/* Control and user-defined tokens with text: what parse_special matches. */
static int is_special(const edgec_tokenizer *t, int id)
{
    const tok_entry *e = &t->tokens[id];
    return (e->type == TOK_CONTROL || e->type == TOK_USER_DEFINED) && e->len > 0;
}

static int build_indexes(edgec_tokenizer *t)
{
    t->text_mask = table_size(t->n_vocab) - 1;
    t->text_slots = malloc(((size_t)t->text_mask + 1) * sizeof *t->text_slots);
    t->merge_mask = table_size(t->n_merges) - 1;
    t->merge_slots = malloc(((size_t)t->merge_mask + 1) * sizeof *t->merge_slots);
    t->specials = malloc(((size_t)t->n_vocab + 1) * sizeof *t->specials);
    if (!t->text_slots || !t->merge_slots || !t->specials) return -1;
    memset(t->text_slots, 0xff, ((size_t)t->text_mask + 1) * sizeof *t->text_slots);
    memset(t->merge_slots, 0xff, ((size_t)t->merge_mask + 1) * sizeof *t->merge_slots);

    /* Normal tokens take precedence over user-defined ones with the same bytes. */
    for (int id = 0; id < t->n_vocab; id++)
        if (t->tokens[id].type == TOK_NORMAL) insert_text(t, id);
    for (int id = 0; id < t->n_vocab; id++)
        if (t->tokens[id].type == TOK_USER_DEFINED) insert_text(t, id);
    for (int rank = 0; rank < t->n_merges; rank++) insert_merge(t, rank);

    for (int b = 0; b < 256; b++) {
        char c = (char)b;
        t->byte_token[b] = t->kind == TOK_KIND_BYTE_BPE ? tok_lookup_text(t, &c, 1) : -1;
    }
    for (int id = 0; id < t->n_vocab; id++) {
        int b = t->tokens[id].type == TOK_BYTE ? byte_token_value(t, id) : -1;
        if (b >= 0 && t->byte_token[b] < 0) t->byte_token[b] = id;
    }

    /* Specials bucketed by first byte (a counting sort), so matching at a position tries
     * only the ones that can match there. */
    int count[257] = {0};
    for (int id = 0; id < t->n_vocab; id++)
        if (is_special(t, id)) count[(unsigned char)t->text[t->tokens[id].offset] + 1]++;
    for (int b = 0; b < 256; b++) count[b + 1] += count[b];
    memcpy(t->special_start, count, sizeof count);
    t->n_specials = count[256];
    for (int id = 0; id < t->n_vocab; id++)
        if (is_special(t, id)) t->specials[count[(unsigned char)t->text[t->tokens[id].offset]]++] = id;
    return 0;
}

static int valid_id_or_none(int id, int n_vocab)
{
    return id >= -1 && id < n_vocab;
}

edgec_tokenizer *edgec_tokenizer_load(const unsigned char *blob, size_t len, char *err, size_t err_len)
{
    blob_reader r = {blob, len, 0, blob == NULL};
    const unsigned char *magic = read_bytes(&r, 4);
    if (!magic || memcmp(magic, BLOB_MAGIC, 4) != 0) {
        set_error(err, err_len, "not a tokenizer blob (bad magic); rebuild it with edgec compile");
        return NULL;
    }
    uint32_t version = read_u32(&r);
    if (version != BLOB_VERSION) {
        set_error(err, err_len, "tokenizer blob version %u is not %d; rebuild it with this edgec", version,
                  BLOB_VERSION);
        return NULL;
    }
    edgec_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        set_error(err, err_len, "out of memory loading the tokenizer");
        return NULL;
    }
    t->kind = (int)read_u32(&r);
    t->pre = (int)read_u32(&r);
    t->flags = (int)read_u32(&r);
    t->bos = (int32_t)read_u32(&r);
    t->eos = (int32_t)read_u32(&r);
    t->eot = (int32_t)read_u32(&r);
    t->unk = (int32_t)read_u32(&r);
    uint32_t n_vocab = read_u32(&r), n_merges = read_u32(&r);
    if (r.failed || n_vocab == 0 || n_vocab > (1u << 24) || n_merges > (1u << 24) ||
        (t->kind != TOK_KIND_BYTE_BPE && t->kind != TOK_KIND_SENTENCEPIECE) || t->pre < TOK_PRE_NONE ||
        t->pre > TOK_PRE_QWEN2) {
        set_error(err, err_len, "tokenizer blob header is corrupt; rebuild it with edgec compile");
        edgec_tokenizer_free(t);
        return NULL;
    }
    t->n_vocab = (int)n_vocab;
    t->n_merges = (int)n_merges;

    /* First pass: find the strings and their total size; every string gets a NUL. */
    size_t strings_at = r.pos, text_bytes = 0;
    for (int i = 0; i < N_CHAT_STRINGS; i++) {
        uint32_t n = read_u32(&r);
        read_bytes(&r, n);
        text_bytes += (size_t)n + 1;
    }
    for (uint32_t id = 0; id < n_vocab && !r.failed; id++) {
        read_u32(&r); /* type */
        read_u32(&r); /* score */
        uint32_t n = read_u32(&r);
        read_bytes(&r, n);
        text_bytes += (size_t)n + 1;
    }
    if (r.failed || text_bytes > UINT32_MAX || len - r.pos != (size_t)n_merges * 12) {
        set_error(err, err_len, "tokenizer blob is truncated or has trailing bytes; rebuild it with edgec compile");
        edgec_tokenizer_free(t);
        return NULL;
    }

    t->text = malloc(text_bytes);
    t->tokens = malloc(n_vocab * sizeof *t->tokens);
    t->merges = malloc((n_merges ? n_merges : 1) * sizeof *t->merges);
    if (!t->text || !t->tokens || !t->merges) {
        set_error(err, err_len, "out of memory loading the tokenizer");
        edgec_tokenizer_free(t);
        return NULL;
    }

    /* Second pass: copy the strings. */
    r.pos = strings_at;
    size_t at = 0;
    const char **chat_fields[N_CHAT_STRINGS] = {
        &t->chat.bos_text,    &t->chat.system_prefix,    &t->chat.system_suffix,    &t->chat.user_prefix,
        &t->chat.user_suffix, &t->chat.assistant_prefix, &t->chat.assistant_suffix, &t->chat.default_system,
    };
    for (int i = 0; i < N_CHAT_STRINGS; i++) {
        uint32_t n = read_u32(&r);
        memcpy(t->text + at, read_bytes(&r, n), n);
        t->text[at + n] = '\0';
        *chat_fields[i] = t->text + at;
        at += (size_t)n + 1;
    }
    t->chat.has_chat = (t->flags & TOK_FLAG_HAS_CHAT) != 0;
    for (int id = 0; id < t->n_vocab; id++) {
        tok_entry *e = &t->tokens[id];
        e->type = (int)read_u32(&r);
        e->score = read_f32(&r);
        e->len = read_u32(&r);
        e->offset = (uint32_t)at;
        memcpy(t->text + at, read_bytes(&r, e->len), e->len);
        t->text[at + e->len] = '\0';
        at += (size_t)e->len + 1;
    }
    for (int i = 0; i < t->n_merges; i++) {
        tok_merge *m = &t->merges[i];
        m->left = (int32_t)read_u32(&r);
        m->right = (int32_t)read_u32(&r);
        m->result = (int32_t)read_u32(&r);
        if (m->left < 0 || m->left >= t->n_vocab || m->right < 0 || m->right >= t->n_vocab || m->result < 0 ||
            m->result >= t->n_vocab) {
            set_error(err, err_len, "tokenizer blob merge %d names a token outside the vocabulary; rebuild it", i);
            edgec_tokenizer_free(t);
            return NULL;
        }
    }
    if (!valid_id_or_none(t->bos, t->n_vocab) || !valid_id_or_none(t->eos, t->n_vocab) ||
        !valid_id_or_none(t->eot, t->n_vocab) || !valid_id_or_none(t->unk, t->n_vocab)) {
        set_error(err, err_len, "tokenizer blob has a special token id outside the vocabulary; rebuild it");
        edgec_tokenizer_free(t);
        return NULL;
    }
    if (build_indexes(t) != 0) {
        set_error(err, err_len, "out of memory loading the tokenizer");
        edgec_tokenizer_free(t);
        return NULL;
    }
    return t;
}

void edgec_tokenizer_free(edgec_tokenizer *t)
{
    if (!t) return;
    free(t->text);
    free(t->tokens);
    free(t->merges);
    free(t->text_slots);
    free(t->merge_slots);
    free(t->specials);
    free(t);
}

/* ---- questions about tokens ------------------------------------------------------------ */

int edgec_tokenizer_n_vocab(const edgec_tokenizer *t) { return t->n_vocab; }
int edgec_tokenizer_bos(const edgec_tokenizer *t) { return t->bos; }
int edgec_tokenizer_eos(const edgec_tokenizer *t) { return t->eos; }
int edgec_tokenizer_add_bos(const edgec_tokenizer *t) { return (t->flags & TOK_FLAG_ADD_BOS) != 0; }
const edgec_chat_format *edgec_tokenizer_chat(const edgec_tokenizer *t) { return &t->chat; }

int edgec_tokenizer_is_stop(const edgec_tokenizer *t, int id)
{
    if (id < 0 || id >= t->n_vocab) return 0;
    return id == t->eos || id == t->eot || t->tokens[id].type == TOK_CONTROL;
}

const char *edgec_tokenizer_piece(const edgec_tokenizer *t, int id, size_t *len)
{
    if (id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = t->tokens[id].len;
    return t->text + t->tokens[id].offset;
}

size_t edgec_tokenizer_decode(const edgec_tokenizer *t, const int32_t *ids, int n, char *out, size_t cap)
{
    /* The encoder puts a dummy-prefix space before the text at the start and after each
     * special token; the first token of such a run loses it again. */
    int dummy_prefix = t->kind == TOK_KIND_SENTENCEPIECE && (t->flags & TOK_FLAG_ADD_SPACE_PREFIX);
    int strip_space = dummy_prefix;
    size_t need = 0;
    for (int i = 0; i < n; i++) {
        size_t len;
        const char *piece = edgec_tokenizer_piece(t, ids[i], &len);
        int type = ids[i] >= 0 && ids[i] < t->n_vocab ? t->tokens[ids[i]].type : TOK_UNKNOWN;
        if (type == TOK_CONTROL || type == TOK_USER_DEFINED) {
            strip_space = dummy_prefix;
        } else if (strip_space) {
            strip_space = 0;
            if (len > 0 && piece[0] == ' ') {
                piece++;
                len--;
            }
        }
        if (out && need < cap) memcpy(out + need, piece, len < cap - need ? len : cap - need);
        need += len;
    }
    if (out && need < cap) out[need] = '\0';
    return need;
}

/* ---- encoding: special tokens first, then the model's encoder on the text between ----- */

/* Id of the longest special token whose text starts at s[i], or -1. */
static int match_special(const edgec_tokenizer *t, const unsigned char *s, size_t len, size_t i, size_t *match_len)
{
    int best = -1;
    size_t best_len = 0;
    for (int k = t->special_start[s[i]]; k < t->special_start[s[i] + 1]; k++) {
        const tok_entry *e = &t->tokens[t->specials[k]];
        if (e->len > best_len && e->len <= len - i && memcmp(t->text + e->offset, s + i, e->len) == 0) {
            best = t->specials[k];
            best_len = e->len;
        }
    }
    *match_len = best_len;
    return best;
}

/* Encodes text that holds no special token: the whole text, or a run between special tokens. */
static int encode_plain(const edgec_tokenizer *t, const unsigned char *s, size_t len, tok_sink *sink)
{
    if (len == 0) return 0;
    if (t->kind == TOK_KIND_SENTENCEPIECE) return tok_encode_sentencepiece(t, s, len, sink);
    return tok_encode_byte_bpe(t, s, len, sink);
}

/* 1 if the spans are sorted, do not overlap and lie within len. */
static int spans_valid(const edgec_text_span *spans, int n_spans, size_t len)
{
    if (n_spans < 0 || (!spans && n_spans > 0)) return 0;
    size_t prev_end = 0;
    for (int k = 0; k < n_spans; k++) {
        if (spans[k].start < prev_end || spans[k].start > spans[k].end || spans[k].end > len) return 0;
        prev_end = spans[k].end;
    }
    return 1;
}

int edgec_tokenizer_encode_spans(const edgec_tokenizer *t, const char *text, size_t len,
                                 const edgec_text_span *special_spans, int n_spans, int32_t *out, int cap,
                                 size_t *dropped)
{
    if (!t || (!text && len > 0) || cap < 0 || (!out && cap > 0) || !spans_valid(special_spans, n_spans, len))
        return -1;
    const unsigned char *s = (const unsigned char *)text;
    tok_sink sink = {out, cap, 0, 0};
    size_t plain_start = 0;
    for (int k = 0; k < n_spans && t->n_specials > 0; k++) {
        size_t end = special_spans[k].end; /* a match must end inside the span */
        for (size_t i = special_spans[k].start; i < end;) {
            size_t match_len;
            int id = match_special(t, s, end, i, &match_len);
            if (id < 0) {
                i++;
                continue;
            }
            if (encode_plain(t, s + plain_start, i - plain_start, &sink) != 0) return -1;
            tok_emit(&sink, id);
            i += match_len;
            plain_start = i;
        }
    }
    if (encode_plain(t, s + plain_start, len - plain_start, &sink) != 0) return -1;
    if (dropped) *dropped = sink.dropped;
    return sink.n > INT32_MAX ? -1 : (int)sink.n;
}

int edgec_tokenizer_encode(const edgec_tokenizer *t, const char *text, size_t len, int parse_special,
                           int32_t *out, int cap)
{
    edgec_text_span whole = {0, len};
    return edgec_tokenizer_encode_spans(t, text, len, &whole, parse_special ? 1 : 0, out, cap, NULL);
}
