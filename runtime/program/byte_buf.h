/* byte_buf.h - a growable byte buffer, NUL-terminated for convenience (chat text, the server's text and JSON). */
#ifndef EDGEC_BYTE_BUF_H
#define EDGEC_BYTE_BUF_H

#include <stddef.h>

typedef struct {
    char *p;       /* NULL until the first append; then p[len] == '\0' */
    size_t len, cap;
} edgec_buf;

/* Each returns 0, or -1 when memory runs out (the buffer is then unchanged). */
int edgec_buf_append(edgec_buf *b, const void *data, size_t n);
int edgec_buf_puts(edgec_buf *b, const char *s);
int edgec_buf_printf(edgec_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void edgec_buf_clear(edgec_buf *b); /* empty, memory kept */
void edgec_buf_free(edgec_buf *b);

#endif
