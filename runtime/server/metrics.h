/* metrics.h - the server's counters, gauges and histograms, rendered for GET /metrics in the
 * Prometheus text format (names in docs/server.md).  Every function is safe from any thread. */
#ifndef EDGEC_SRV_METRICS_H
#define EDGEC_SRV_METRICS_H

#include <pthread.h>
#include <stdint.h>

#include "byte_buf.h"
#include "keys.h"

typedef enum {
    SRV_EP_CHAT, SRV_EP_COMPLETIONS, SRV_EP_MODELS, SRV_EP_HEALTH, SRV_EP_METRICS, SRV_EP_OTHER, SRV_EP_COUNT
} srv_endpoint;

#define SRV_N_STATUS 11   /* the statuses the server answers with (499: the client left first), and "other" */
#define SRV_N_BUCKETS 12  /* histogram buckets, +Inf included */

typedef struct {
    uint64_t count[SRV_N_BUCKETS];
    double sum;
    uint64_t n;
} srv_histogram;

typedef struct {
    uint64_t requests, prompt_tokens, generated_tokens;
} srv_key_counts;

typedef struct {
    pthread_mutex_t mu;
    uint64_t requests[SRV_EP_COUNT][SRV_N_STATUS];
    uint64_t disconnects;                       /* clients gone before their reply ended */
    uint64_t prompt_tokens, cached_tokens, generated_tokens;
    uint64_t passes, pass_slots, pass_tokens;   /* forward passes, and the slots and tokens they fed */
    int queue_depth, busy_slots, n_slots;
    srv_histogram ttft, token_latency;
    const srv_keys *keys;
    srv_key_counts *per_key;                    /* keys->n of them */
} srv_metrics;

int srv_metrics_init(srv_metrics *m, const srv_keys *keys);   /* 0 or -1 (no memory) */
void srv_metrics_free(srv_metrics *m);

const char *srv_endpoint_path(srv_endpoint ep);

/* One answered request; key is an index into the keys or -1. */
void srv_metrics_request(srv_metrics *m, srv_endpoint ep, int status, int key, int disconnected);
/* The tokens of one finished generation. */
void srv_metrics_tokens(srv_metrics *m, int key, int prompt, int cached, int generated);
void srv_metrics_ttft(srv_metrics *m, double seconds);
void srv_metrics_token_latency(srv_metrics *m, double seconds);
/* One forward pass that fed slots slots, tokens tokens in all. */
void srv_metrics_pass(srv_metrics *m, int slots, int tokens);
void srv_metrics_load(srv_metrics *m, int queue_depth, int busy_slots, int n_slots);

/* Appends the whole exposition to out; 0 or -1 (no memory). */
int srv_metrics_render(srv_metrics *m, edgec_buf *out);

#endif
