/* api_request.c - checking a request body and its fields (see api_request.h). */
#ifdef EDGEC_WITH_SERVER
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "api_request.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "prompt.h"
#include "utf8.h"

/* ---- the body as a whole ---- */

/* 1 if the JSON text holds the escape \u0000 (a NUL no C string can carry). */
static int has_escaped_nul(const char *s, size_t n) {
    for (size_t i = 0; i + 5 < n; i++) {
        if (s[i] != '\\') continue;
        if (s[i + 1] == 'u' && !memcmp(s + i + 2, "0000", 4)) return 1;
        i++; /* skip the escaped character, so "\\\\u0000" is not one */
    }
    return 0;
}

/* The body parsed into a JSON object, or NULL with err set. */
static cJSON *parse_body(const char *body, size_t len, srv_error *err) {
    if (len == 0) return srv_bad_field(err, NULL, "the request has no body; send a JSON object"), NULL;
    if (memchr(body, '\0', len))
        return srv_bad_field(err, NULL, "the request body contains a NUL byte; JSON text cannot"), NULL;
    size_t valid = srv_utf8_valid_prefix(body, len);
    if (valid != len)
        return srv_bad_field(err, NULL, "the request body is not valid UTF-8 (byte %zu); JSON must be UTF-8", valid),
               NULL;
    if (has_escaped_nul(body, len))
        return srv_bad_field(err, NULL, "the request contains the character \\u0000, which a prompt cannot hold; "
                                        "remove it"), NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!root) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        return srv_bad_field(err, NULL, "the request body is not valid JSON (near byte %zu)", at), NULL;
    }
    while (end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) end++;
    if (end != body + len) {
        cJSON_Delete(root);
        return srv_bad_field(err, NULL, "the request body is not valid JSON (text after the value at byte %zu)",
                             (size_t)(end - body)), NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return srv_bad_field(err, NULL, "the request body must be a JSON object"), NULL;
    }
    return root;
}

/* ---- single fields ---- */

/* The field, or NULL when it is absent or null (then the default applies). */
static const cJSON *field(const cJSON *root, const char *name) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, name);
    return f && !cJSON_IsNull(f) ? f : NULL;
}

/* A number in [lo, hi] into *out (unchanged when absent); 0 or -1 with err set. */
static int number_field(const cJSON *root, const char *name, double lo, double hi, float *out, srv_error *err) {
    const cJSON *f = field(root, name);
    if (!f) return 0;
    if (!cJSON_IsNumber(f) || !(f->valuedouble >= lo && f->valuedouble <= hi))
        return srv_bad_field(err, name, "'%s' must be a number from %g to %g", name, lo, hi);
    *out = (float)f->valuedouble;
    return 0;
}

/* An integer in [lo, hi]; *given says whether the field was there. */
static int integer_field(const cJSON *root, const char *name, double lo, double hi, double *out, int *given,
                         srv_error *err) {
    const cJSON *f = field(root, name);
    *given = f != NULL;
    if (!f) return 0;
    double v = cJSON_IsNumber(f) ? f->valuedouble : NAN;
    if (!(v >= lo && v <= hi) || v != floor(v))
        return srv_bad_field(err, name, "'%s' must be an integer from %.0f to %.0f", name, lo, hi);
    *out = v;
    return 0;
}

static int int_field(const cJSON *root, const char *name, int lo, int hi, int *out, srv_error *err) {
    double v = 0;
    int given = 0;
    if (integer_field(root, name, lo, hi, &v, &given, err) != 0) return -1;
    if (given) *out = (int)v;
    return 0;
}

static int bool_field(const cJSON *root, const char *name, int *out, srv_error *err) {
    const cJSON *f = field(root, name);
    if (!f) return 0;
    if (!cJSON_IsBool(f)) return srv_bad_field(err, name, "'%s' must be true or false", name);
    *out = cJSON_IsTrue(f);
    return 0;
}

/* ---- fields with rules of their own ---- */

static int check_model(const srv_api *api, const cJSON *root, srv_error *err) {
    const cJSON *f = field(root, "model");
    if (!f) return 0; /* this server has one model: it is the default */
    if (!cJSON_IsString(f)) return srv_bad_field(err, "model", "'model' must be a string");
    if (strcmp(f->valuestring, api->model_name) != 0)
        return srv_fail(err, 404, "invalid_request_error", "model_not_found", "model",
                        "the model '%.100s' does not exist here; this server has '%s' (GET /v1/models)",
                        f->valuestring, api->model_name);
    return 0;
}

/* Fields this server does not do, when set to anything but their "off" value. */
static int check_refused(const cJSON *root, srv_error *err) {
    /* tool_choice and function_call mean nothing without tools: ignored */
    static const char *const lists[] = {"tools", "functions", "logit_bias"};
    static const char *const flags[] = {"logprobs", "echo"};
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        const cJSON *f = field(root, lists[i]);
        if (f && !((cJSON_IsArray(f) || cJSON_IsObject(f)) && cJSON_GetArraySize(f) == 0))
            return srv_bad_field(err, lists[i], "'%s' is not supported by this server", lists[i]);
    }
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        const cJSON *f = field(root, flags[i]);
        if (f && !cJSON_IsFalse(f) && !(cJSON_IsNumber(f) && f->valuedouble == 0))
            return srv_bad_field(err, flags[i], "'%s' is not supported by this server", flags[i]);
    }
    const cJSON *f = field(root, "top_logprobs");
    if (f && !(cJSON_IsNumber(f) && f->valuedouble == 0))
        return srv_bad_field(err, "top_logprobs", "'top_logprobs' is not supported by this server");
    f = field(root, "suffix");
    if (f && !(cJSON_IsString(f) && f->valuestring[0] == '\0'))
        return srv_bad_field(err, "suffix", "'suffix' is not supported by this server");
    f = field(root, "response_format");
    const cJSON *type = f ? cJSON_GetObjectItemCaseSensitive(f, "type") : NULL;
    if (f && !(cJSON_IsString(type) && !strcmp(type->valuestring, "text")))
        return srv_bad_field(err, "response_format", "'response_format' other than {\"type\": \"text\"} is not "
                                                     "supported by this server");
    return 0;
}

/* n and best_of: one choice per request. */
static int check_one_choice(const cJSON *root, srv_error *err) {
    static const char *const names[] = {"n", "best_of"};
    for (int i = 0; i < 2; i++) {
        const cJSON *f = field(root, names[i]);
        if (f && !(cJSON_IsNumber(f) && f->valuedouble == 1))
            return srv_bad_field(err, names[i], "'%s' must be 1: this server makes one choice per request", names[i]);
    }
    return 0;
}

static int add_stop(srv_stops *st, const cJSON *s, const char *param, srv_error *err) {
    if (!cJSON_IsString(s)) return srv_bad_field(err, param, "'%s' must be a string", param);
    size_t n = strlen(s->valuestring);
    if (n == 0) return srv_bad_field(err, param, "'%s' must not be empty", param);
    if (n > SRV_MAX_STOP_BYTES)
        return srv_bad_field(err, param, "'%s' is longer than %d bytes", param, SRV_MAX_STOP_BYTES);
    if (st->n == SRV_MAX_STOPS) return srv_bad_field(err, "stop", "'stop' holds more than %d strings", SRV_MAX_STOPS);
    st->s[st->n] = malloc(n + 1);
    if (!st->s[st->n]) return srv_fail(err, 500, "server_error", NULL, NULL, "out of memory");
    memcpy(st->s[st->n], s->valuestring, n + 1);
    st->len[st->n++] = n;
    if (n > st->longest) st->longest = n;
    return 0;
}

static int parse_stop(const cJSON *root, srv_stops *st, srv_error *err) {
    const cJSON *f = field(root, "stop");
    if (!f) return 0;
    if (cJSON_IsString(f)) return add_stop(st, f, "stop", err);
    if (!cJSON_IsArray(f)) return srv_bad_field(err, "stop", "'stop' must be a string or a list of strings");
    int i = 0;
    for (const cJSON *s = f->child; s; s = s->next, i++) {
        char param[32];
        snprintf(param, sizeof(param), "stop[%d]", i);
        if (add_stop(st, s, param, err) != 0) return -1;
    }
    return 0;
}

static int parse_lengths(const cJSON *root, srv_params *p, srv_error *err) {
    if (int_field(root, "max_tokens", 0, 1 << 30, &p->max_tokens, err) != 0) return -1;
    if (int_field(root, "max_completion_tokens", 0, 1 << 30, &p->max_tokens, err) != 0) return -1;
    double seed = 0;
    int given = 0;
    if (integer_field(root, "seed", -9007199254740992.0, 18446744073709549568.0, &seed, &given, err) != 0) return -1;
    if (given) p->seed = seed < 0 ? (uint64_t)(int64_t)seed : (uint64_t)seed;
    return 0;
}

static int parse_sampling(const cJSON *root, srv_params *p, srv_error *err) {
    if (number_field(root, "temperature", 0, 100, &p->temperature, err) ||
        number_field(root, "top_p", 0, 1, &p->top_p, err) || number_field(root, "min_p", 0, 1, &p->min_p, err) ||
        number_field(root, "presence_penalty", -2, 2, &p->presence_penalty, err) ||
        number_field(root, "frequency_penalty", -2, 2, &p->frequency_penalty, err) ||
        number_field(root, "repeat_penalty", 0.001, 1000, &p->repeat_penalty, err) ||
        int_field(root, "top_k", 0, 1 << 30, &p->top_k, err) ||
        int_field(root, "repeat_last_n", 0, 1 << 30, &p->repeat_last_n, err) ||
        bool_field(root, "ignore_eos", &p->ignore_eos, err))
        return -1;
    if (p->top_p < 1e-6f) p->top_p = 1e-6f; /* top_p 0 means "only the most likely token" */
    return 0;
}

static int parse_stream(const cJSON *root, srv_params *p, srv_error *err) {
    if (bool_field(root, "stream", &p->stream, err) != 0) return -1;
    const cJSON *opts = field(root, "stream_options");
    if (!opts) return 0;
    if (!cJSON_IsObject(opts)) return srv_bad_field(err, "stream_options", "'stream_options' must be an object");
    const cJSON *usage = field(opts, "include_usage");
    if (usage && !cJSON_IsBool(usage))
        return srv_bad_field(err, "stream_options.include_usage",
                             "'stream_options.include_usage' must be true or false");
    p->include_usage = usage && cJSON_IsTrue(usage);
    return 0;
}

static uint64_t fresh_seed(void) {
    static uint64_t counter; /* only the HTTP thread parses requests */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^ (++counter * 0x9E3779B97F4A7C15ull);
}

static int parse_fields(const srv_api *api, const cJSON *root, srv_job *j, srv_error *err) {
    j->p = api->defaults;
    memset(&j->p.stops, 0, sizeof(j->p.stops));
    j->p.seed = fresh_seed();
    if (check_model(api, root, err) || check_refused(root, err) || check_one_choice(root, err) ||
        parse_stream(root, &j->p, err) || parse_sampling(root, &j->p, err) || parse_lengths(root, &j->p, err) ||
        parse_stop(root, &j->p.stops, err))
        return -1;
    return 0;
}

int srv_parse_job(const srv_api *api, srv_kind kind, const char *body, size_t len, srv_job *j, srv_error *err) {
    memset(err, 0, sizeof(*err));
    cJSON *root = parse_body(body, len, err);
    if (!root) return -1;
    j->kind = kind;
    int rc = parse_fields(api, root, j, err);
    if (rc == 0) {
        const char *name = kind == SRV_KIND_CHAT ? "messages" : "prompt";
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(root, name);
        if (!f) rc = srv_bad_field(err, name, "'%s' is required", name);
        else if (kind == SRV_KIND_CHAT) rc = srv_chat_prompt(api, f, j, err);
        else rc = srv_text_prompt(api, f, j, err);
    }
    cJSON_Delete(root);
    return rc;
}
#endif
