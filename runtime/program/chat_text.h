/* chat_text.h - a conversation rendered in the model's chat format, as text plus the spans of
 * the template's markers, shared by the CLI's --chat and the HTTP server.
 *
 * Special-token text is matched only inside the marker spans (edgec_tokenizer_encode_spans), so
 * what a user or a system prompt writes is always plain text, however it reads.  A conversation
 * is: edgec_chat_begin (BOS text, system block), then per user message edgec_chat_user and per
 * reply edgec_chat_reply_open + the reply + edgec_chat_reply_close; a prompt for the next reply
 * ends with edgec_chat_reply_open.
 */
#ifndef EDGEC_CHAT_TEXT_H
#define EDGEC_CHAT_TEXT_H

#include <stddef.h>

#include "byte_buf.h"
#include "tokenizer.h"

typedef struct {
    edgec_buf text;
    edgec_text_span *markers;   /* sorted, not overlapping, within text */
    int n_markers, markers_cap;
} edgec_chat_text;

/* The model's chat format, or a plain "User: ...\nAssistant:" transcript for a model without one. */
const edgec_chat_format *edgec_chat_format_or_plain(const edgec_tokenizer *tok);

/* 1 if a conversation starts with the BOS token id (the format has no BOS text of its own). */
int edgec_chat_starts_with_bos_id(const edgec_chat_format *fmt, const edgec_tokenizer *tok);

void edgec_chat_text_init(edgec_chat_text *t);
void edgec_chat_text_clear(edgec_chat_text *t); /* empty again, memory kept */
void edgec_chat_text_free(edgec_chat_text *t);

/* Each returns 0, or -1 when memory runs out (the text is then unchanged or partly appended). */
int edgec_chat_content(edgec_chat_text *t, const char *s, size_t n);   /* plain text */
int edgec_chat_marker(edgec_chat_text *t, const char *s);              /* template text ("" adds nothing) */
int edgec_chat_begin(edgec_chat_text *t, const edgec_chat_format *fmt, const char *system, size_t system_len);
int edgec_chat_user(edgec_chat_text *t, const edgec_chat_format *fmt, const char *msg, size_t len);
int edgec_chat_reply_open(edgec_chat_text *t, const edgec_chat_format *fmt);
int edgec_chat_reply_close(edgec_chat_text *t, const edgec_chat_format *fmt);

#endif
