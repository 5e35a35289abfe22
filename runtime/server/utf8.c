/* utf8.c - UTF-8 validation and repair (see utf8.h). */
#include "utf8.h"

/* The byte range the first continuation byte after lead c may take (RFC 3629 table 3-7). */
static void first_continuation(unsigned char c, unsigned char *lo, unsigned char *hi) {
    *lo = 0x80;
    *hi = 0xBF;
    if (c == 0xE0) *lo = 0xA0;      /* no overlong 3-byte forms */
    else if (c == 0xED) *hi = 0x9F; /* no surrogates */
    else if (c == 0xF0) *lo = 0x90; /* no overlong 4-byte forms */
    else if (c == 0xF4) *hi = 0x8F; /* nothing above U+10FFFF */
}

/* Bytes of the character lead c starts, or 0 if c cannot start one. */
static size_t sequence_length(unsigned char c) {
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) return 3;
    if (c >= 0xF0 && c <= 0xF4) return 4;
    return 0;
}

int srv_utf8_next(const unsigned char *s, size_t n, size_t *len) {
    size_t need = sequence_length(s[0]);
    if (need == 0) {
        *len = 1;
        return -1;
    }
    unsigned char lo, hi;
    first_continuation(s[0], &lo, &hi);
    for (size_t i = 1; i < need; i++) {
        if (i >= n) {
            *len = n;
            return 0;
        }
        if (s[i] < lo || s[i] > hi) {
            *len = i;
            return -1;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    *len = need;
    return 1;
}

size_t srv_utf8_valid_prefix(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, len = 0;
    while (i < n && srv_utf8_next(u + i, n - i, &len) == 1) i += len;
    return i;
}

size_t srv_utf8_append_fixed(edgec_buf *out, const char *s, size_t n, int final) {
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, len = 0;
    while (i < n) {
        int kind = srv_utf8_next(u + i, n - i, &len);
        if (kind == 0 && !final) break; /* the rest of the character comes with the next token */
        int plain = kind == 1 && s[i] != '\0'; /* a NUL byte is replaced too: JSON strings cannot carry it raw */
        int rc = plain ? edgec_buf_append(out, s + i, len) : edgec_buf_append(out, replacement, 3);
        if (rc != 0) return (size_t)-1;
        i += len;
    }
    return i;
}
