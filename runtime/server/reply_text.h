/* reply_text.h - the text of one reply as tokens arrive: stop strings are found in it and never shown,
 * and only what can no longer change is released (whole UTF-8 characters, not the start of a stop string). */
#ifndef EDGEC_SRV_REPLY_TEXT_H
#define EDGEC_SRV_REPLY_TEXT_H

#include <stddef.h>

#include "byte_buf.h"

#define SRV_MAX_STOPS 8           /* stop strings per request (OpenAI allows 4) */
#define SRV_MAX_STOP_BYTES 256    /* bytes per stop string */

typedef struct {
    char *s[SRV_MAX_STOPS];
    size_t len[SRV_MAX_STOPS];
    int n;
    size_t longest;
} srv_stops;

typedef struct {
    const srv_stops *stops;
    edgec_buf raw;        /* the token pieces so far, cut before a stop string once one is found */
    size_t released;    /* bytes of raw already given out */
    size_t scan_from;   /* where the next stop-string search starts */
} srv_reply_text;

void srv_reply_text_init(srv_reply_text *r, const srv_stops *stops);
void srv_reply_text_free(srv_reply_text *r);

/* Adds a token's bytes.  Returns 1 if a stop string now appears (the text is cut where it starts),
 * 0 if not, -1 when memory runs out. */
int srv_reply_text_add(srv_reply_text *r, const char *piece, size_t n);

/* Appends to out what can be shown now, as valid UTF-8; with final, everything left.
 * Returns 0, or -1 when memory runs out. */
int srv_reply_text_release(srv_reply_text *r, edgec_buf *out, int final);

#endif
