/* prompt.c - a request's prompt as token ids (see prompt.h). */
#ifdef EDGEC_WITH_SERVER
#include "prompt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_text.h"

/* ---- one message ---- */

typedef enum { ROLE_SYSTEM, ROLE_USER, ROLE_ASSISTANT } role;

static int message_role(const cJSON *m, int i, role *out, srv_error *err) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m, "role");
    char param[48];
    snprintf(param, sizeof(param), "messages[%d].role", i);
    if (!cJSON_IsString(r)) return srv_bad_field(err, param, "'%s' must be a string", param);
    const char *s = r->valuestring;
    if (!strcmp(s, "system") || !strcmp(s, "developer")) *out = ROLE_SYSTEM;
    else if (!strcmp(s, "user")) *out = ROLE_USER;
    else if (!strcmp(s, "assistant")) *out = ROLE_ASSISTANT;
    else return srv_bad_field(err, param, "'%s' is '%.40s'; the roles are system, user and assistant", param, s);
    return 0;
}

/* A message's text into out: a string, or a list of {"type": "text", "text": ...} parts. */
static int message_text(const cJSON *m, int i, role r, edgec_buf *out, srv_error *err) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "content");
    char param[48];
    snprintf(param, sizeof(param), "messages[%d].content", i);
    if (cJSON_IsString(c)) return edgec_buf_puts(out, c->valuestring);
    if ((!c || cJSON_IsNull(c)) && r == ROLE_ASSISTANT) return 0; /* a reply with no text */
    if (!cJSON_IsArray(c)) return srv_bad_field(err, param, "'%s' must be a string or a list of text parts", param);
    for (const cJSON *part = c->child; part; part = part->next) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "text") != 0 || !cJSON_IsString(text))
            return srv_bad_field(err, param, "'%s' may hold only {\"type\": \"text\", \"text\": ...} parts", param);
        if (edgec_buf_puts(out, text->valuestring) != 0) return -1;
    }
    return 0;
}

/* ---- the conversation ---- */

static int out_of_memory(srv_error *err) {
    return srv_fail(err, 500, "server_error", NULL, NULL, "out of memory for the prompt");
}

/* The leading system messages, joined by newlines; returns the index of the first other message. */
static int system_text(const cJSON *messages, edgec_buf *sys, int *has_system, srv_error *err) {
    int i = 0;
    for (const cJSON *m = messages->child; m && cJSON_IsObject(m); m = m->next, i++) {
        role r;
        if (message_role(m, i, &r, err) != 0) return -1;
        if (r != ROLE_SYSTEM) break;
        if ((*has_system && edgec_buf_puts(sys, "\n") != 0) || message_text(m, i, r, sys, err) != 0)
            return err->status ? -1 : out_of_memory(err);
        *has_system = 1;
    }
    return i;
}

/* Renders the messages from index first on (user turns and replies), then opens the reply. */
static int render_turns(const srv_api *api, const cJSON *messages, int first, edgec_chat_text *t, srv_error *err) {
    edgec_buf text = {0};
    int i = 0, rc = 0;
    for (const cJSON *m = messages->child; m && rc == 0; m = m->next, i++) {
        if (i < first) continue;
        role r;
        char param[48];
        snprintf(param, sizeof(param), "messages[%d]", i);
        edgec_buf_clear(&text);
        if (!cJSON_IsObject(m)) rc = srv_bad_field(err, param, "'%s' must be an object with role and content", param);
        else if (message_role(m, i, &r, err) != 0 || message_text(m, i, r, &text, err) != 0) rc = -1;
        else if (r == ROLE_SYSTEM)
            rc = srv_bad_field(err, param, "'%s' is a system message after the conversation began; this model's "
                                           "chat format has one system prompt, first", param);
        else if (r == ROLE_USER) rc = edgec_chat_user(t, api->chat, text.p ? text.p : "", text.len);
        else rc = edgec_chat_reply_open(t, api->chat) || edgec_chat_content(t, text.p ? text.p : "", text.len) ||
                  edgec_chat_reply_close(t, api->chat);
    }
    if (rc == 0) rc = edgec_chat_reply_open(t, api->chat);
    edgec_buf_free(&text);
    return rc == 0 ? 0 : err->status ? -1 : out_of_memory(err);
}

/* Encodes text after the n_before ids already in j->prompt (special tokens only inside spans). */
static int encode(const srv_api *api, const char *text, size_t len, const edgec_text_span *spans, int n_spans,
                  int n_before, srv_job *j, const char *param, srv_error *err) {
    int room = api->max_ctx - 1 - n_before; /* at least one position stays free for the reply */
    int need = edgec_tokenizer_encode_spans(api->tok, text, len, spans, n_spans, j->prompt + n_before,
                                            room > 0 ? room : 0, NULL);
    if (need < 0) return srv_bad_field(err, param, "the tokenizer cannot encode '%s'", param);
    if (n_before + need > api->max_ctx - 1)
        return srv_fail(err, 400, "invalid_request_error", "context_length_exceeded", param,
                        "the prompt is %d tokens but this model's context holds %d, and at least one must be left "
                        "for the reply; shorten '%s' or recompile the model with a larger --ctx",
                        n_before + need, api->max_ctx, param);
    j->n_prompt = n_before + need;
    if (j->n_prompt == 0) return srv_bad_field(err, param, "'%s' encodes to no tokens", param);
    return 0;
}

static int alloc_prompt(const srv_api *api, srv_job *j, srv_error *err) {
    j->prompt = malloc(sizeof(int32_t) * (size_t)api->max_ctx);
    return j->prompt ? 0 : out_of_memory(err);
}

int srv_chat_prompt(const srv_api *api, const cJSON *messages, srv_job *j, srv_error *err) {
    if (!cJSON_IsArray(messages)) return srv_bad_field(err, "messages", "'messages' must be a list of messages");
    if (cJSON_GetArraySize(messages) == 0) return srv_bad_field(err, "messages", "'messages' must not be empty");
    if (alloc_prompt(api, j, err) != 0) return -1;
    edgec_buf sys = {0};
    edgec_chat_text t;
    edgec_chat_text_init(&t);
    int has_system = 0, n_before = 0;
    int first = system_text(messages, &sys, &has_system, err);
    int rc = first < 0 ? -1 : 0;
    if (rc == 0 && edgec_chat_begin(&t, api->chat, has_system ? (sys.p ? sys.p : "") : NULL, sys.len) != 0)
        rc = out_of_memory(err);
    if (rc == 0) rc = render_turns(api, messages, first, &t, err);
    if (rc == 0 && edgec_chat_starts_with_bos_id(api->chat, api->tok))
        j->prompt[n_before++] = edgec_tokenizer_bos(api->tok);
    if (rc == 0) rc = encode(api, t.text.p, t.text.len, t.markers, t.n_markers, n_before, j, "messages", err);
    edgec_buf_free(&sys);
    edgec_chat_text_free(&t);
    return rc;
}

int srv_text_prompt(const srv_api *api, const cJSON *prompt, srv_job *j, srv_error *err) {
    if (cJSON_IsArray(prompt) && cJSON_GetArraySize(prompt) == 1) prompt = prompt->child;
    if (!cJSON_IsString(prompt))
        return srv_bad_field(err, "prompt", "'prompt' must be a string (or a list holding one string)");
    if (alloc_prompt(api, j, err) != 0) return -1;
    const char *text = prompt->valuestring;
    size_t len = strlen(text);
    int bos = edgec_tokenizer_bos(api->tok), n_before = 0;
    if (bos >= 0 && (len == 0 || edgec_tokenizer_add_bos(api->tok))) j->prompt[n_before++] = bos; /* as the CLI's -p */
    return encode(api, text, len, NULL, 0, n_before, j, "prompt", err);
}
#endif
