/* metrics.c - counters and histograms for GET /metrics (see metrics.h). */
#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int STATUSES[SRV_N_STATUS - 1] = {200, 400, 401, 404, 405, 413, 429, 499, 500, 503};
static const char *const PATHS[SRV_EP_COUNT] = {"/v1/chat/completions", "/v1/completions", "/v1/models",
                                                "/health", "/metrics", "other"};
/* upper bounds in seconds, the last one +Inf */
static const double TTFT_BOUNDS[SRV_N_BUCKETS - 1] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
static const double TOKEN_BOUNDS[SRV_N_BUCKETS - 1] = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1,
                                                       2.5};

int srv_metrics_init(srv_metrics *m, const srv_keys *keys) {
    memset(m, 0, sizeof(*m));
    m->keys = keys;
    m->per_key = calloc(keys->n > 0 ? (size_t)keys->n : 1, sizeof(*m->per_key));
    if (!m->per_key) return -1;
    return pthread_mutex_init(&m->mu, NULL) == 0 ? 0 : -1;
}

void srv_metrics_free(srv_metrics *m) {
    pthread_mutex_destroy(&m->mu);
    free(m->per_key);
    m->per_key = NULL;
}

const char *srv_endpoint_path(srv_endpoint ep) { return PATHS[ep]; }

static int status_index(int status) {
    for (int i = 0; i < SRV_N_STATUS - 1; i++)
        if (STATUSES[i] == status) return i;
    return SRV_N_STATUS - 1;
}

void srv_metrics_request(srv_metrics *m, srv_endpoint ep, int status, int key, int disconnected) {
    pthread_mutex_lock(&m->mu);
    m->requests[ep][status_index(status)]++;
    m->disconnects += disconnected != 0;
    if (key >= 0 && key < m->keys->n) m->per_key[key].requests++;
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_tokens(srv_metrics *m, int key, int prompt, int cached, int generated) {
    pthread_mutex_lock(&m->mu);
    m->prompt_tokens += (uint64_t)prompt;
    m->cached_tokens += (uint64_t)cached;
    m->generated_tokens += (uint64_t)generated;
    if (key >= 0 && key < m->keys->n) {
        m->per_key[key].prompt_tokens += (uint64_t)prompt;
        m->per_key[key].generated_tokens += (uint64_t)generated;
    }
    pthread_mutex_unlock(&m->mu);
}

static void observe(srv_histogram *h, const double *bounds, double v) {
    int i = 0;
    while (i < SRV_N_BUCKETS - 1 && v > bounds[i]) i++;
    h->count[i]++;
    h->sum += v;
    h->n++;
}

void srv_metrics_ttft(srv_metrics *m, double seconds) {
    pthread_mutex_lock(&m->mu);
    observe(&m->ttft, TTFT_BOUNDS, seconds);
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_token_latency(srv_metrics *m, double seconds) {
    pthread_mutex_lock(&m->mu);
    observe(&m->token_latency, TOKEN_BOUNDS, seconds);
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_pass(srv_metrics *m, int slots, int tokens) {
    pthread_mutex_lock(&m->mu);
    m->passes++;
    m->pass_slots += (uint64_t)slots;
    m->pass_tokens += (uint64_t)tokens;
    pthread_mutex_unlock(&m->mu);
}

void srv_metrics_load(srv_metrics *m, int queue_depth, int busy_slots, int n_slots) {
    pthread_mutex_lock(&m->mu);
    m->queue_depth = queue_depth;
    m->busy_slots = busy_slots;
    m->n_slots = n_slots;
    pthread_mutex_unlock(&m->mu);
}

/* ---- rendering ---- */

static void header(edgec_buf *o, const char *name, const char *type, const char *help) {
    edgec_buf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(edgec_buf *o, const char *name, const char *help, uint64_t v) {
    header(o, name, "counter", help);
    edgec_buf_printf(o, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(edgec_buf *o, const char *name, const char *help, long v) {
    header(o, name, "gauge", help);
    edgec_buf_printf(o, "%s %ld\n", name, v);
}

/* Prometheus buckets are cumulative. */
static void histogram(edgec_buf *o, const char *name, const char *help, const srv_histogram *h, const double *bounds) {
    header(o, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < SRV_N_BUCKETS; i++) {
        cum += h->count[i];
        if (i < SRV_N_BUCKETS - 1)
            edgec_buf_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
        else edgec_buf_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    }
    edgec_buf_printf(o, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->n);
}

static void requests(edgec_buf *o, const srv_metrics *m) {
    header(o, "edgec_requests_total", "counter", "HTTP requests answered, by endpoint and status");
    for (int ep = 0; ep < SRV_EP_COUNT; ep++)
        for (int s = 0; s < SRV_N_STATUS; s++) {
            if (!m->requests[ep][s]) continue;
            char status[8];
            if (s < SRV_N_STATUS - 1) snprintf(status, sizeof(status), "%d", STATUSES[s]);
            else snprintf(status, sizeof(status), "other");
            edgec_buf_printf(o, "edgec_requests_total{endpoint=\"%s\",status=\"%s\"} %llu\n", PATHS[ep], status,
                           (unsigned long long)m->requests[ep][s]);
        }
}

static void per_key(edgec_buf *o, const srv_metrics *m) {
    static const char *const names[3] = {"edgec_key_requests_total", "edgec_key_prompt_tokens_total",
                                         "edgec_key_generated_tokens_total"};
    static const char *const helps[3] = {"requests made with each API key, by key name",
                                         "prompt tokens of each API key's requests, by key name",
                                         "tokens generated for each API key, by key name"};
    for (int c = 0; c < 3; c++) {
        header(o, names[c], "counter", helps[c]);
        for (int k = 0; k < m->keys->n; k++) {
            const srv_key_counts *kc = &m->per_key[k];
            uint64_t v = c == 0 ? kc->requests : c == 1 ? kc->prompt_tokens : kc->generated_tokens;
            edgec_buf_printf(o, "%s{key=\"%s\"} %llu\n", names[c], m->keys->keys[k].name, (unsigned long long)v);
        }
    }
}

int srv_metrics_render(srv_metrics *m, edgec_buf *out) {
    edgec_buf o = {0};
    pthread_mutex_lock(&m->mu);
    requests(&o, m);
    counter(&o, "edgec_client_disconnects_total", "requests whose client left before the reply ended", m->disconnects);
    counter(&o, "edgec_prompt_tokens_total", "prompt tokens of finished generations (cached ones included)",
            m->prompt_tokens);
    counter(&o, "edgec_prompt_cached_tokens_total", "prompt tokens reused from the slot's KV cache (prefix reuse)",
            m->cached_tokens);
    counter(&o, "edgec_generated_tokens_total", "tokens generated", m->generated_tokens);
    counter(&o, "edgec_forward_passes_total", "batched forward passes of the model", m->passes);
    counter(&o, "edgec_forward_pass_slots_total", "slots fed, summed over the passes (over passes: the mean batch)",
            m->pass_slots);
    counter(&o, "edgec_forward_pass_tokens_total", "tokens fed, summed over the passes", m->pass_tokens);
    gauge(&o, "edgec_queue_depth", "requests waiting for a slot", m->queue_depth);
    gauge(&o, "edgec_slots_busy", "slots generating now", m->busy_slots);
    gauge(&o, "edgec_slots_total", "slots (conversations decoded at once)", m->n_slots);
    histogram(&o, "edgec_time_to_first_token_seconds", "time from a request's arrival to its first generated token",
              &m->ttft, TTFT_BOUNDS);
    histogram(&o, "edgec_token_latency_seconds", "time between consecutive generated tokens of a request",
              &m->token_latency, TOKEN_BOUNDS);
    per_key(&o, m);
    pthread_mutex_unlock(&m->mu);
    int rc = o.p && o.len ? edgec_buf_append(out, o.p, o.len) : -1;
    edgec_buf_free(&o);
    return rc;
}
