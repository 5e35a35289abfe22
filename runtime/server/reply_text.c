/* reply_text.c - stop strings and safe release of a reply's text (see reply_text.h). */
#include "reply_text.h"

#include <string.h>

#include "utf8.h"

void srv_reply_text_init(srv_reply_text *r, const srv_stops *stops) {
    memset(r, 0, sizeof(*r));
    r->stops = stops;
}

void srv_reply_text_free(srv_reply_text *r) { edgec_buf_free(&r->raw); }

/* The first offset >= from where some stop string starts, or (size_t)-1. */
static size_t find_stop(const srv_reply_text *r, size_t from) {
    size_t best = (size_t)-1;
    for (int k = 0; k < r->stops->n; k++) {
        size_t n = r->stops->len[k];
        for (size_t i = from; i + n <= r->raw.len && i < best; i++)
            if (memcmp(r->raw.p + i, r->stops->s[k], n) == 0) {
                best = i;
                break;
            }
    }
    return best;
}

int srv_reply_text_add(srv_reply_text *r, const char *piece, size_t n) {
    if (edgec_buf_append(&r->raw, piece, n) != 0) return -1;
    if (!r->stops || r->stops->n == 0) return 0;
    size_t at = find_stop(r, r->scan_from);
    if (at != (size_t)-1) {
        r->raw.len = at;
        r->raw.p[at] = '\0';
        return 1;
    }
    /* a stop string not found now can only start in its last longest-1 bytes */
    size_t keep = r->stops->longest - 1;
    r->scan_from = r->raw.len > keep ? r->raw.len - keep : 0;
    return 0;
}

/* 1 if the last k bytes of the text are the start of some stop string. */
static int ends_with_stop_start(const srv_reply_text *r, size_t k) {
    const char *tail = r->raw.p + r->raw.len - k;
    for (int i = 0; i < r->stops->n; i++)
        if (r->stops->len[i] > k && memcmp(tail, r->stops->s[i], k) == 0) return 1;
    return 0;
}

/* Where the text that may still turn into a stop string begins. */
static size_t held_back_from(const srv_reply_text *r) {
    if (!r->stops || r->stops->n == 0) return r->raw.len;
    size_t open = r->raw.len - r->released;
    size_t k = r->stops->longest - 1 < open ? r->stops->longest - 1 : open;
    for (; k > 0; k--)
        if (ends_with_stop_start(r, k)) return r->raw.len - k;
    return r->raw.len;
}

int srv_reply_text_release(srv_reply_text *r, edgec_buf *out, int final) {
    size_t end = final ? r->raw.len : held_back_from(r);
    if (end <= r->released) return 0;
    size_t used = srv_utf8_append_fixed(out, r->raw.p + r->released, end - r->released, final);
    if (used == (size_t)-1) return -1;
    r->released += used;
    return 0;
}
