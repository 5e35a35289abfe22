/* api_response.c - the server's JSON answers, built with cJSON (see api_response.h). */
#ifdef EDGEC_WITH_SERVER
#include "api_response.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Prints and frees root. */
static char *print(cJSON *root) {
    char *s = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return s;
}

/* A string item from len bytes (the reply text is not NUL-terminated). */
static cJSON *string_n(const char *s, size_t len) {
    char *copy = malloc(len + 1);
    if (!copy) return NULL;
    if (len) memcpy(copy, s, len);
    copy[len] = '\0';
    cJSON *item = cJSON_CreateString(copy);
    free(copy);
    return item;
}

static void add_string_or_null(cJSON *o, const char *name, const char *s) {
    if (s && s[0]) cJSON_AddStringToObject(o, name, s);
    else cJSON_AddNullToObject(o, name);
}

char *srv_json_error(const srv_error *e) {
    cJSON *root = cJSON_CreateObject(), *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddStringToObject(err, "message", e->message);
    cJSON_AddStringToObject(err, "type", e->type ? e->type : "invalid_request_error");
    add_string_or_null(err, "param", e->param);
    add_string_or_null(err, "code", e->code);
    return print(root);
}

static cJSON *model_object(const char *name, long long created) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)created);
    cJSON_AddStringToObject(m, "owned_by", "edgec");
    return m;
}

char *srv_json_model(const char *name, long long created) { return print(model_object(name, created)); }

char *srv_json_models(const char *name, long long created) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "object", "list");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "data"), model_object(name, created));
    return print(root);
}

char *srv_json_health(int ready) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "status", ready ? "ok" : "loading");
    return print(root);
}

static const char *finish_reason(srv_finish f) {
    return f == SRV_FINISH_STOP ? "stop" : f == SRV_FINISH_LENGTH ? "length" : NULL;
}

static cJSON *usage(const srv_reply_info *info) {
    cJSON *u = cJSON_CreateObject();
    cJSON_AddNumberToObject(u, "prompt_tokens", info->n_prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", info->n_gen);
    cJSON_AddNumberToObject(u, "total_tokens", info->n_prompt + info->n_gen);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(u, "prompt_tokens_details"), "cached_tokens", info->n_cached);
    return u;
}

/* id, object, created, model. */
static cJSON *envelope(const srv_job *j, const srv_reply_info *info, int chunk) {
    cJSON *root = cJSON_CreateObject();
    const char *object = j->kind == SRV_KIND_CHAT ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                                  : "text_completion";
    cJSON_AddStringToObject(root, "id", j->id);
    cJSON_AddStringToObject(root, "object", object);
    cJSON_AddNumberToObject(root, "created", (double)j->created);
    cJSON_AddStringToObject(root, "model", info->model);
    return root;
}

/* choices[0] with its index, logprobs and finish_reason (null unless with_finish). */
static cJSON *choice(cJSON *root, const srv_reply_info *info, int with_finish) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "choices"), c);
    cJSON_AddNumberToObject(c, "index", 0);
    cJSON_AddNullToObject(c, "logprobs");
    add_string_or_null(c, "finish_reason", with_finish ? finish_reason(info->finish) : NULL);
    return c;
}

char *srv_json_reply(const srv_job *j, const srv_reply_info *info, const char *text, size_t len) {
    cJSON *root = envelope(j, info, 0), *c = choice(root, info, 1);
    if (j->kind == SRV_KIND_CHAT) {
        cJSON *msg = cJSON_AddObjectToObject(c, "message");
        cJSON_AddStringToObject(msg, "role", "assistant");
        cJSON_AddItemToObject(msg, "content", string_n(text, len));
    } else {
        cJSON_AddItemToObject(c, "text", string_n(text, len));
    }
    cJSON_AddItemToObject(root, "usage", usage(info));
    return print(root);
}

char *srv_json_chunk(const srv_job *j, const srv_reply_info *info, int with_role, const char *text, size_t len,
                     int with_finish) {
    cJSON *root = envelope(j, info, 1), *c = choice(root, info, with_finish);
    if (j->kind == SRV_KIND_CHAT) {
        cJSON *delta = cJSON_AddObjectToObject(c, "delta");
        if (with_role) cJSON_AddStringToObject(delta, "role", "assistant");
        if (with_role || len) cJSON_AddItemToObject(delta, "content", string_n(text, len));
    } else {
        cJSON_AddItemToObject(c, "text", string_n(text, len));
    }
    if (j->p.include_usage) cJSON_AddNullToObject(root, "usage");
    return print(root);
}

char *srv_json_usage_chunk(const srv_job *j, const srv_reply_info *info) {
    cJSON *root = envelope(j, info, 1);
    cJSON_AddArrayToObject(root, "choices");
    cJSON_AddItemToObject(root, "usage", usage(info));
    return print(root);
}
#endif
