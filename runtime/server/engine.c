/* engine.c - the model's thread: a bounded queue, prefix reuse, prefill and sampling (see engine.h). */
#ifdef EDGEC_WITH_SERVER
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"
#include "timing.h"

struct srv_engine {
    edgec_model *model;
    const edgec_tokenizer *tok;
    srv_metrics *metrics;
    int n_vocab, max_ctx, max_batch;

    /* the queue: a ring of max_queue waiting jobs */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_job **ring;             /* max_queue + 1: a job may sit here while the idle engine wakes */
    int max_queue, cap, head, count;
    int stopping, ready;
    srv_job *running;
    pthread_t thread;

    /* the slot: what its KV cache holds, and scratch the token loop reuses */
    int32_t *cache;             /* max_ctx token ids; the first edgec_model_pos() are in the KV cache */
    float *logits;              /* n_vocab */
    int *counts;                /* n_vocab: how often each token was generated (presence/frequency) */
    void *sampler_scratch;
    size_t sampler_scratch_bytes;
};

/* ---- the queue ---- */

int srv_engine_submit(srv_engine *e, srv_job *j) {
    pthread_mutex_lock(&e->mu);
    int room = e->max_queue + (e->running == NULL); /* an idle slot takes one job besides the waiting ones */
    int rc = e->stopping ? SRV_STOPPING : e->count >= room ? SRV_QUEUE_FULL : SRV_QUEUED;
    if (rc == SRV_QUEUED) {
        srv_job_retain(j);
        e->ring[(e->head + e->count) % e->cap] = j;
        e->count++;
        srv_metrics_load(e->metrics, e->count, e->running != NULL);
        pthread_cond_signal(&e->cv);
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

int srv_engine_ready(srv_engine *e) {
    pthread_mutex_lock(&e->mu);
    int ready = e->ready && !e->stopping;
    pthread_mutex_unlock(&e->mu);
    return ready;
}

/* The next job, or NULL once the engine stops; it becomes the running one. */
static srv_job *next_job(srv_engine *e) {
    pthread_mutex_lock(&e->mu);
    while (!e->stopping && e->count == 0) pthread_cond_wait(&e->cv, &e->mu);
    srv_job *j = NULL;
    if (!e->stopping) {
        j = e->ring[e->head];
        e->head = (e->head + 1) % e->cap;
        e->count--;
    }
    e->running = j;
    srv_metrics_load(e->metrics, e->count, j != NULL);
    pthread_mutex_unlock(&e->mu);
    return j;
}

/* Why a job that was cancelled ended: its client left, or the server is stopping. */
static srv_finish cancel_reason(srv_engine *e) {
    pthread_mutex_lock(&e->mu);
    int stopping = e->stopping;
    pthread_mutex_unlock(&e->mu);
    return stopping ? SRV_FINISH_SHUTDOWN : SRV_FINISH_CANCELLED;
}

static void job_done(srv_engine *e, srv_job *j) {
    pthread_mutex_lock(&e->mu);
    e->running = NULL;
    srv_metrics_load(e->metrics, e->count, 0);
    pthread_mutex_unlock(&e->mu);
    srv_job_release(j);
}

/* ---- prefill with prefix reuse ---- */

static int common_prefix(const int32_t *a, int na, const int32_t *b, int nb) {
    int n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

static int cancelled(srv_job *j) { return atomic_load(&j->cancel); }

/* Feeds the prompt after the prefix the cache already holds (at least its last token, for logits).
 * Returns the last logits, or NULL if the job was cancelled or the model refused (*failed set). */
static const float *prefill(srv_engine *e, srv_job *j, int *failed) {
    int reuse = common_prefix(e->cache, edgec_model_pos(e->model), j->prompt, j->n_prompt);
    if (reuse > j->n_prompt - 1) reuse = j->n_prompt - 1;
    edgec_model_rewind(e->model, reuse);
    srv_job_started(j, reuse);
    memcpy(e->cache + reuse, j->prompt + reuse, sizeof(int32_t) * (size_t)(j->n_prompt - reuse));
    const float *logits = NULL;
    for (int i = reuse; i < j->n_prompt; i += e->max_batch) {
        if (cancelled(j)) return NULL; /* stop between chunks: a long prompt frees the slot quickly */
        int n = j->n_prompt - i < e->max_batch ? j->n_prompt - i : e->max_batch;
        logits = edgec_model_feed(e->model, e->cache + i, n, NULL);
        if (!logits) {
            *failed = 1;
            return NULL;
        }
    }
    return logits;
}

/* ---- sampling ---- */

/* OpenAI's presence and frequency penalties over the tokens generated so far (cache[from, to)). */
static void apply_penalties(srv_engine *e, const srv_params *p, int from, int to) {
    if (p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f) return;
    for (int i = from; i < to; i++) e->counts[e->cache[i]]++;
    for (int i = from; i < to; i++) {
        int id = e->cache[i], c = e->counts[id];
        if (c == 0) continue; /* already applied */
        e->logits[id] -= (float)c * p->frequency_penalty + p->presence_penalty;
        e->counts[id] = 0;
    }
}

static int start_sampler(srv_engine *e, const srv_params *p, edgec_sampler *s) {
    int top_k = p->top_k > e->n_vocab ? 0 : p->top_k; /* keeping more than the vocabulary is keeping all */
    return edgec_sampler_init(s, e->n_vocab, p->temperature, top_k, p->top_p, p->min_p, p->repeat_penalty,
                              p->repeat_last_n, p->seed, e->sampler_scratch, e->sampler_scratch_bytes);
}

/* The bytes token id adds to the reply (SentencePiece's space after BOS is not part of the text). */
static const char *token_text(srv_engine *e, int id, int prev, size_t *len) {
    const char *piece = edgec_tokenizer_piece(e->tok, id, len);
    if (piece && *len > 0 && piece[0] == ' ' && prev >= 0 && prev == edgec_tokenizer_bos(e->tok)) {
        piece++;
        (*len)--;
    }
    return piece ? piece : "";
}

/* The state of one generation. */
typedef struct {
    edgec_sampler sampler;
    srv_reply_text text;
    edgec_buf out;          /* what one step releases */
    int n_gen, gen_start, prev;
    double t_prev_ms;
    const char *error;
} generation;

/* Timing of the token just sampled: time to first token, then the gaps between tokens. */
static void time_token(srv_engine *e, srv_job *j, generation *g) {
    double now = edgec_now_ms();
    if (g->n_gen == 1) srv_metrics_ttft(e->metrics, (now - j->t_arrival_ms) / 1e3);
    else srv_metrics_token_latency(e->metrics, (now - g->t_prev_ms) / 1e3);
    g->t_prev_ms = now;
}

/* Adds token id to the reply and sends what is safe to send; returns 1 at a stop string. */
static int add_token(srv_engine *e, srv_job *j, generation *g, int id) {
    size_t len = 0;
    const char *piece = token_text(e, id, g->prev, &len);
    g->prev = id;
    int hit = srv_reply_text_add(&g->text, piece, len);
    edgec_buf_clear(&g->out);
    if (hit < 0 || srv_reply_text_release(&g->text, &g->out, hit == 1) != 0 ||
        srv_job_push_text(j, g->out.p, g->out.len, g->n_gen) != 0) {
        g->error = "out of memory for the reply";
        return 1;
    }
    return hit;
}

/* One step: sample the next token from logits; returns the finish reason, SRV_FINISH_NONE to go on. */
static srv_finish step(srv_engine *e, srv_job *j, generation *g, const float *logits) {
    int pos = edgec_model_pos(e->model);
    if (g->n_gen >= j->p.max_tokens || pos >= e->max_ctx) return SRV_FINISH_LENGTH;
    memcpy(e->logits, logits, sizeof(float) * (size_t)e->n_vocab);
    apply_penalties(e, &j->p, g->gen_start, pos);
    int id = edgec_sample(&g->sampler, e->logits, e->cache, pos);
    if (id == EDGEC_SAMPLE_NONFINITE) {
        g->error = "the model produced non-finite logits; its weights are likely corrupt";
        return SRV_FINISH_ERROR;
    }
    if (!j->p.ignore_eos && edgec_tokenizer_is_stop(e->tok, id)) return SRV_FINISH_STOP;
    g->n_gen++;
    time_token(e, j, g);
    if (add_token(e, j, g, id)) return g->error ? SRV_FINISH_ERROR : SRV_FINISH_STOP;
    e->cache[pos] = id;
    return SRV_FINISH_NONE;
}

/* Samples until a stop, the length limit, cancellation or an error. */
static srv_finish generate(srv_engine *e, srv_job *j, generation *g, const float *logits) {
    for (;;) {
        srv_finish f = step(e, j, g, logits);
        if (f != SRV_FINISH_NONE) return f;
        if (g->n_gen >= j->p.max_tokens) return SRV_FINISH_LENGTH; /* the last token need not be fed */
        int pos = edgec_model_pos(e->model);
        logits = edgec_model_feed(e->model, e->cache + pos, 1, NULL);
        if (!logits) {
            g->error = "the model refused a generated token";
            return SRV_FINISH_ERROR;
        }
        if (cancelled(j)) return SRV_FINISH_CANCELLED;
    }
}

static void run_job(srv_engine *e, srv_job *j) {
    if (cancelled(j)) {
        srv_job_finish(j, cancel_reason(e), NULL);
        return;
    }
    int failed = 0;
    const float *logits = prefill(e, j, &failed);
    if (!logits) {
        srv_job_finish(j, failed ? SRV_FINISH_ERROR : cancel_reason(e),
                       failed ? "the model refused the prompt tokens" : NULL);
        return;
    }
    generation g;
    memset(&g, 0, sizeof(g));
    g.gen_start = edgec_model_pos(e->model);
    g.prev = j->prompt[j->n_prompt - 1];
    srv_reply_text_init(&g.text, &j->p.stops);
    srv_finish f = SRV_FINISH_ERROR;
    if (start_sampler(e, &j->p, &g.sampler) != 0) g.error = "the sampling settings are out of range";
    else f = generate(e, j, &g, logits);
    if (f == SRV_FINISH_CANCELLED) f = cancel_reason(e);
    edgec_buf_clear(&g.out);
    if (f != SRV_FINISH_ERROR && srv_reply_text_release(&g.text, &g.out, 1) == 0)
        srv_job_push_text(j, g.out.p, g.out.len, g.n_gen);
    srv_metrics_tokens(e->metrics, j->key, j->n_prompt, j->n_cached, g.n_gen);
    srv_job_finish(j, f, g.error);
    srv_reply_text_free(&g.text);
    edgec_buf_free(&g.out);
}

static void *engine_main(void *arg) {
    srv_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    e->ready = 1;
    pthread_cond_broadcast(&e->cv); /* srv_engine_start waits for this */
    pthread_mutex_unlock(&e->mu);
    srv_job *j;
    while ((j = next_job(e)) != NULL) {
        run_job(e, j);
        job_done(e, j);
    }
    return NULL;
}

/* ---- start and stop ---- */

static void free_engine(srv_engine *e) {
    free(e->ring);
    free(e->cache);
    free(e->logits);
    free(e->counts);
    free(e->sampler_scratch);
    free(e);
}

static int alloc_scratch(srv_engine *e) {
    e->ring = calloc((size_t)e->cap, sizeof(*e->ring));
    e->cache = calloc((size_t)e->max_ctx, sizeof(*e->cache));
    e->logits = calloc((size_t)e->n_vocab, sizeof(*e->logits));
    e->counts = calloc((size_t)e->n_vocab, sizeof(*e->counts));
    e->sampler_scratch_bytes = edgec_sampler_scratch_bytes(e->n_vocab);
    e->sampler_scratch = malloc(e->sampler_scratch_bytes);
    return e->ring && e->cache && e->logits && e->counts && e->sampler_scratch ? 0 : -1;
}

srv_engine *srv_engine_start(edgec_model *model, const edgec_tokenizer *tok, srv_metrics *metrics, int max_queue,
                             char *err, size_t err_len) {
    srv_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, err_len, "out of memory for the server's engine");
        return NULL;
    }
    const edgec_model_info *info = edgec_model_get_info();
    e->model = model;
    e->tok = tok;
    e->metrics = metrics;
    e->n_vocab = info->n_vocab;
    e->max_ctx = info->max_ctx;
    e->max_batch = info->max_batch > 0 ? info->max_batch : 1;
    e->max_queue = max_queue > 0 ? max_queue : 0;
    e->cap = e->max_queue + 1;
    if (alloc_scratch(e) != 0) {
        snprintf(err, err_len, "out of memory for the server's engine");
        free_engine(e);
        return NULL;
    }
    edgec_model_reset(model);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    if (pthread_create(&e->thread, NULL, engine_main, e) != 0) {
        snprintf(err, err_len, "cannot start the server's engine thread");
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->cv);
        free_engine(e);
        return NULL;
    }
    pthread_mutex_lock(&e->mu);
    while (!e->ready) pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
    return e;
}

void srv_engine_stop(srv_engine *e) {
    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        pthread_mutex_unlock(&e->mu);
        return;
    }
    e->stopping = 1;
    if (e->running) atomic_store(&e->running->cancel, 1);
    while (e->count > 0) { /* queued jobs never run: finish them so their connections answer */
        srv_job *j = e->ring[e->head];
        e->head = (e->head + 1) % e->cap;
        e->count--;
        srv_job_finish(j, SRV_FINISH_SHUTDOWN, NULL);
        srv_job_release(j);
    }
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
}

void srv_engine_free(srv_engine *e) {
    if (!e) return;
    srv_engine_stop(e);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free_engine(e);
}
#endif
