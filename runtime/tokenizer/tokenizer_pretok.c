/* tokenizer_pretok.c - the pre-tokenizer regexes of byte-level BPE models, as hand-written
 * matchers that give the same splits as the HF tokenizers library (Oniguruma semantics).
 *
 *  gpt2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *  smollm: every \p{N} character is a piece of its own, then gpt2 on the text between
 *  llama3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 *          ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 *  qwen2:  llama3 with \p{N} instead of \p{N}{1,3}
 * Bytes that are not valid UTF-8 are characters of class "other", one byte each.
 */
#include "tokenizer_internal.h"
#include "unicode_tables.h"

static int is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

size_t tok_utf8_next(const unsigned char *s, size_t end, size_t i, uint32_t *cp)
{
    unsigned char b = s[i];
    size_t n;
    uint32_t min, c;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if (b >= 0xC2 && b <= 0xDF) {
        n = 2, min = 0x80, c = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3, min = 0x800, c = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4, min = 0x10000, c = b & 0x07;
    } else {
        *cp = TOK_INVALID_CP;
        return 1;
    }
    if (end - i < n) {
        *cp = TOK_INVALID_CP;
        return 1;
    }
    for (size_t k = 1; k < n; k++) {
        if (!is_continuation(s[i + k])) {
            *cp = TOK_INVALID_CP;
            return 1;
        }
        c = c << 6 | (s[i + k] & 0x3F);
    }
    /* overlong forms, UTF-16 surrogates and code points past U+10FFFF are not characters */
    if (c < min || (c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF) {
        *cp = TOK_INVALID_CP;
        return 1;
    }
    *cp = c;
    return n;
}

/* Class of the character at s[i] (i < end); its byte length goes to *n. */
static int class_at(const unsigned char *s, size_t end, size_t i, size_t *n)
{
    uint32_t cp;
    *n = tok_utf8_next(s, end, i, &cp);
    return cp == TOK_INVALID_CP ? EDGEC_UC_OTHER : edgec_unicode_class(cp);
}

/* End of the run of characters of class cls that starts at i; at most max_chars of them
 * (0: no limit). *last_start is set to the start of the run's last character. */
static size_t run_end(const unsigned char *s, size_t end, size_t i, int cls, size_t max_chars, size_t *last_start)
{
    size_t count = 0, n;
    *last_start = i;
    while (i < end && (max_chars == 0 || count < max_chars) && class_at(s, end, i, &n) == cls) {
        *last_start = i;
        i += n;
        count++;
    }
    return i;
}

static int ascii_lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

/* Length of a contraction 's 't 're 've 'm 'll 'd at s[i], or 0. */
static size_t contraction_len(const unsigned char *s, size_t end, size_t i, int ignore_case)
{
    if (s[i] != '\'' || end - i < 2) return 0;
    int c1 = ignore_case ? ascii_lower(s[i + 1]) : s[i + 1];
    if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
    if (end - i < 3) return 0;
    int c2 = ignore_case ? ascii_lower(s[i + 2]) : s[i + 2];
    if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) return 3;
    return 0;
}

/* \s+(?!\S)|\s+ at i, where s[i] is whitespace: the run, less its last character if a
 * non-space follows and the run has more than one character. */
static size_t whitespace_end(const unsigned char *s, size_t end, size_t i)
{
    size_t last;
    size_t j = run_end(s, end, i, EDGEC_UC_SPACE, 0, &last);
    return j < end && last > i ? last : j;
}

static size_t gpt2_piece_end(const unsigned char *s, size_t end, size_t i)
{
    size_t n = contraction_len(s, end, i, 0), n0, n1, last;
    if (n) return i + n;
    int cls = class_at(s, end, i, &n0);
    if (s[i] == ' ' && i + 1 < end) { /* " ?" before a letter, number or other run */
        int next = class_at(s, end, i + 1, &n1);
        if (next != EDGEC_UC_SPACE) return run_end(s, end, i + 1, next, 0, &last);
    }
    if (cls != EDGEC_UC_SPACE) return run_end(s, end, i, cls, 0, &last);
    return whitespace_end(s, end, i);
}

static int is_newline(unsigned char c) { return c == '\r' || c == '\n'; }

static size_t llama3_piece_end(const unsigned char *s, size_t end, size_t i, size_t max_digits)
{
    size_t n = contraction_len(s, end, i, 1), n0, n1, last;
    if (n) return i + n;
    int cls = class_at(s, end, i, &n0);
    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (cls == EDGEC_UC_LETTER) return run_end(s, end, i, EDGEC_UC_LETTER, 0, &last);
    if (cls != EDGEC_UC_NUMBER && !is_newline(s[i]) && i + n0 < end &&
        class_at(s, end, i + n0, &n1) == EDGEC_UC_LETTER)
        return run_end(s, end, i + n0, EDGEC_UC_LETTER, 0, &last);
    /* \p{N}{1,3} */
    if (cls == EDGEC_UC_NUMBER) return run_end(s, end, i, EDGEC_UC_NUMBER, max_digits, &last);
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    size_t k = i;
    if (s[i] == ' ' && i + 1 < end && class_at(s, end, i + 1, &n1) == EDGEC_UC_OTHER) k = i + 1;
    if (class_at(s, end, k, &n1) == EDGEC_UC_OTHER) {
        size_t j = run_end(s, end, k, EDGEC_UC_OTHER, 0, &last);
        while (j < end && is_newline(s[j])) j++;
        return j;
    }
    /* \s*[\r\n]+ : the whitespace run up to and including its last newline */
    size_t j = run_end(s, end, i, EDGEC_UC_SPACE, 0, &last), newline_end = 0;
    for (size_t p = i; p < j; p++)
        if (is_newline(s[p])) newline_end = p + 1;
    if (newline_end) return newline_end;
    return whitespace_end(s, end, i);
}

void tok_pretok_init(tok_pretok_iter *it, int pre, const unsigned char *s, size_t len)
{
    it->pre = pre;
    it->s = s;
    it->len = len;
    it->pos = 0;
    it->seg_end = 0;
}

/* TOK_PRE_SMOLLM: the segment at pos is one \p{N} character or the run up to the next one. */
static size_t digit_segment_end(const unsigned char *s, size_t len, size_t pos)
{
    size_t n;
    if (class_at(s, len, pos, &n) == EDGEC_UC_NUMBER) return pos + n;
    size_t i = pos + n;
    while (i < len && class_at(s, len, i, &n) != EDGEC_UC_NUMBER) i += n;
    return i;
}

int tok_pretok_next(tok_pretok_iter *it, size_t *start, size_t *end)
{
    if (it->pos >= it->len) return 0;
    size_t i = it->pos, j;
    switch (it->pre) {
    case TOK_PRE_SMOLLM:
        if (i >= it->seg_end) it->seg_end = digit_segment_end(it->s, it->len, i);
        j = gpt2_piece_end(it->s, it->seg_end, i);
        break;
    case TOK_PRE_LLAMA3: j = llama3_piece_end(it->s, it->len, i, 3); break;
    case TOK_PRE_QWEN2: j = llama3_piece_end(it->s, it->len, i, 1); break;
    case TOK_PRE_GPT2: j = gpt2_piece_end(it->s, it->len, i); break;
    default: j = it->len; break; /* no pre-tokenizer: the text is one piece */
    }
    *start = i;
    *end = j;
    it->pos = j;
    return 1;
}

long edgec_tokenizer_pretokenize(const edgec_tokenizer *t, const char *text, size_t len, size_t *ends, long cap)
{
    tok_pretok_iter it;
    size_t start, end;
    long n = 0;
    tok_pretok_init(&it, t->pre, (const unsigned char *)text, len);
    while (tok_pretok_next(&it, &start, &end)) {
        if (n < cap) ends[n] = end;
        n++;
    }
    return n;
}
