/* utf8.h - UTF-8 checks for the server: request bodies must be valid UTF-8 (JSON is), and reply text
 * is sent as valid UTF-8 (a token may end mid-character; a model may emit bytes that never form one). */
#ifndef EDGEC_SRV_UTF8_H
#define EDGEC_SRV_UTF8_H

#include <stddef.h>

#include "byte_buf.h"

/* The sequence at s[0..n): 1 = a valid character of *len bytes; 0 = valid so far but cut off at n;
 * -1 = invalid, *len = the bytes of its maximal invalid subpart (what one U+FFFD replaces, as
 * Unicode recommends and Python's errors="replace" does). */
int srv_utf8_next(const unsigned char *s, size_t n, size_t *len);

/* The offset of the first byte of s[0..n) that is not part of a valid character (n if all are). */
size_t srv_utf8_valid_prefix(const char *s, size_t n);

/* Appends s[0..n) to out with each invalid subpart (and each NUL) replaced by U+FFFD; a character cut off at the end
 * is left for later unless final.  Returns the bytes of s consumed, or (size_t)-1 when memory runs out. */
size_t srv_utf8_append_fixed(edgec_buf *out, const char *s, size_t n, int final);

#endif
