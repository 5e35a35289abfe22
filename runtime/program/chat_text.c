/* chat_text.c - a conversation in the model's chat format (see chat_text.h). */
#include "chat_text.h"

#include <stdlib.h>
#include <string.h>

/* For models without a chat template: a plain transcript a base model can continue. */
static const edgec_chat_format plain_chat = {
    .has_chat = 1, .bos_text = "",
    .system_prefix = "", .system_suffix = "\n\n",
    .user_prefix = "User: ", .user_suffix = "\n",
    .assistant_prefix = "Assistant:", .assistant_suffix = "\n",
    .default_system = "",
};

const edgec_chat_format *edgec_chat_format_or_plain(const edgec_tokenizer *tok) {
    const edgec_chat_format *fmt = edgec_tokenizer_chat(tok);
    return fmt && fmt->has_chat ? fmt : &plain_chat;
}

int edgec_chat_starts_with_bos_id(const edgec_chat_format *fmt, const edgec_tokenizer *tok) {
    if (fmt->bos_text && fmt->bos_text[0]) return 0;
    return edgec_tokenizer_bos(tok) >= 0 && edgec_tokenizer_add_bos(tok);
}

void edgec_chat_text_init(edgec_chat_text *t) { memset(t, 0, sizeof(*t)); }

void edgec_chat_text_clear(edgec_chat_text *t) {
    edgec_buf_clear(&t->text);
    t->n_markers = 0;
}

void edgec_chat_text_free(edgec_chat_text *t) {
    edgec_buf_free(&t->text);
    free(t->markers);
    edgec_chat_text_init(t);
}

int edgec_chat_content(edgec_chat_text *t, const char *s, size_t n) { return edgec_buf_append(&t->text, s, n); }

int edgec_chat_marker(edgec_chat_text *t, const char *s) {
    if (!s || !s[0]) return 0;
    if (t->n_markers == t->markers_cap) {
        int cap = t->markers_cap ? t->markers_cap * 2 : 8;
        edgec_text_span *p = realloc(t->markers, sizeof(*p) * (size_t)cap);
        if (!p) return -1;
        t->markers = p;
        t->markers_cap = cap;
    }
    size_t start = t->text.len;
    if (edgec_chat_content(t, s, strlen(s)) != 0) return -1;
    t->markers[t->n_markers++] = (edgec_text_span){start, t->text.len};
    return 0;
}

int edgec_chat_begin(edgec_chat_text *t, const edgec_chat_format *fmt, const char *system, size_t system_len) {
    if (!system) {
        system = fmt->default_system ? fmt->default_system : "";
        system_len = strlen(system);
    }
    if (edgec_chat_marker(t, fmt->bos_text) != 0) return -1;
    if (system_len == 0) return 0;
    if (edgec_chat_marker(t, fmt->system_prefix) != 0 || edgec_chat_content(t, system, system_len) != 0) return -1;
    return edgec_chat_marker(t, fmt->system_suffix);
}

int edgec_chat_user(edgec_chat_text *t, const edgec_chat_format *fmt, const char *msg, size_t len) {
    if (edgec_chat_marker(t, fmt->user_prefix) != 0 || edgec_chat_content(t, msg, len) != 0) return -1;
    return edgec_chat_marker(t, fmt->user_suffix);
}

int edgec_chat_reply_open(edgec_chat_text *t, const edgec_chat_format *fmt) {
    return edgec_chat_marker(t, fmt->assistant_prefix);
}

int edgec_chat_reply_close(edgec_chat_text *t, const edgec_chat_format *fmt) {
    return edgec_chat_marker(t, fmt->assistant_suffix);
}
