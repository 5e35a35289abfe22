/* byte_buf.c - a growable byte buffer (see byte_buf.h). */
#include "byte_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Room for n more bytes and the NUL. */
static int reserve(edgec_buf *b, size_t n) {
    if (n > ((size_t)-1) / 4 - b->len) return -1;
    size_t need = b->len + n + 1;
    if (need <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int edgec_buf_append(edgec_buf *b, const void *data, size_t n) {
    if (reserve(b, n) != 0) return -1;
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

int edgec_buf_puts(edgec_buf *b, const char *s) { return edgec_buf_append(b, s, strlen(s)); }

int edgec_buf_printf(edgec_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) != 0) return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void edgec_buf_clear(edgec_buf *b) {
    b->len = 0;
    if (b->p) b->p[0] = '\0';
}

void edgec_buf_free(edgec_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
