/* engine.c - the model's thread: a bounded queue, slots, and one batched forward pass per step (see engine.h). */
#ifdef EDGEC_WITH_SERVER
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slot.h"

struct srv_engine {
    srv_slot_env env;
    int max_batch, n_slots;

    /* the queue: a ring of waiting jobs */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_job **ring;             /* max_queue + n_slots: jobs for free slots may sit here while the engine wakes */
    int max_queue, cap, head, count;
    int stopping, ready;
    int n_busy;                 /* slots running a job */
    pthread_t thread;

    /* the slots, and what one step feeds */
    srv_slot *slots;
    edgec_slot_feed *feeds;     /* n_slots */
    srv_slot **fed;             /* n_slots: the slot of each feed */
    float *step_logits;         /* n_slots * n_vocab: the logits of each feed's last token */
    unsigned long long clock;   /* ticks once per step: slots remember when they were last used */
    int first;                  /* the slot the next step serves first, so none always comes last */
};

/* ---- the queue ---- */

int srv_engine_submit(srv_engine *e, srv_job *j) {
    pthread_mutex_lock(&e->mu);
    int room = e->max_queue + (e->n_slots - e->n_busy); /* free slots take a job each besides the waiting ones */
    int rc = e->stopping ? SRV_STOPPING : e->count >= room ? SRV_QUEUE_FULL : SRV_QUEUED;
    if (rc == SRV_QUEUED) {
        srv_job_retain(j);
        e->ring[(e->head + e->count) % e->cap] = j;
        e->count++;
        srv_metrics_load(e->env.metrics, e->count, e->n_busy, e->n_slots);
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

/* ---- slots ---- */

/* The free slot for j: the one whose cache shares the longest prefix with j's prompt (the system
 * prompt, or the earlier turns of the same conversation), else the one unused longest. */
static srv_slot *pick_slot(srv_engine *e, const srv_job *j) {
    srv_slot *best = NULL;
    int best_reuse = -1;
    for (int i = 0; i < e->n_slots; i++) {
        srv_slot *s = &e->slots[i];
        if (s->job) continue;
        int reuse = srv_slot_reusable(s, j);
        if (reuse > best_reuse || (reuse == best_reuse && s->last_used < best->last_used)) {
            best = s;
            best_reuse = reuse;
        }
    }
    return best;
}

/* Moves waiting jobs onto free slots (mu held).  A job cancelled while it waited, or one the slot
 * cannot start, is finished here. */
static void admit_jobs(srv_engine *e) {
    while (e->count > 0 && e->n_busy < e->n_slots) {
        srv_job *j = e->ring[e->head];
        e->head = (e->head + 1) % e->cap;
        e->count--;
        if (atomic_load(&j->cancel)) {
            srv_job_finish(j, e->stopping ? SRV_FINISH_SHUTDOWN : SRV_FINISH_CANCELLED, NULL);
            srv_job_release(j);
            continue;
        }
        srv_slot *s = pick_slot(e, j);
        if (srv_slot_start(s, &e->env, j) != 0) {
            srv_job_release(j);
            continue;
        }
        e->n_busy++;
    }
    srv_metrics_load(e->env.metrics, e->count, e->n_busy, e->n_slots);
}

/* Ends slot s's job and frees the slot. */
static void end_job(srv_engine *e, srv_slot *s, srv_finish finish) {
    pthread_mutex_lock(&e->mu);
    if (finish == SRV_FINISH_CANCELLED && e->stopping) finish = SRV_FINISH_SHUTDOWN;
    srv_job *j = s->job;
    e->n_busy--;   /* before the reply ends: a client that saw its last byte finds the slot free in /metrics */
    srv_metrics_load(e->env.metrics, e->count, e->n_busy, e->n_slots);
    srv_slot_finish(s, &e->env, finish);
    s->job = NULL;
    s->last_used = e->clock;
    pthread_mutex_unlock(&e->mu);
    srv_job_release(j);
}

/* Waits until some slot has work; returns 0, or -1 once the engine stops with nothing running. */
static int wait_for_work(srv_engine *e) {
    pthread_mutex_lock(&e->mu);
    for (;;) {
        if (!e->stopping) admit_jobs(e);
        if (e->n_busy > 0 || e->stopping) break;
        pthread_cond_wait(&e->cv, &e->mu);
    }
    int rc = e->n_busy > 0 ? 0 : -1;
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* ---- one step: every busy slot's next tokens in one forward pass ---- */

/* Frees the slots whose client left (or all of them when stopping) before any work is spent on them. */
static void drop_cancelled(srv_engine *e) {
    for (int i = 0; i < e->n_slots; i++)
        if (e->slots[i].job && atomic_load(&e->slots[i].job->cancel)) end_job(e, &e->slots[i], SRV_FINISH_CANCELLED);
}

/* What this step feeds: one token for each slot generating, then prompt chunks in what is left of
 * max_batch (so running streams keep flowing while a new prompt goes in).  Returns the feed count. */
static int plan_step(srv_engine *e) {
    int n = 0, budget = e->max_batch;
    for (int pass = 0; pass < 2; pass++)
        for (int k = 0; k < e->n_slots && budget > 0; k++) {
            srv_slot *s = &e->slots[(e->first + k) % e->n_slots];
            if (!s->job || (s->fed < s->job->n_prompt) != pass) continue; /* pass 0: decoding, 1: prefilling */
            e->feeds[n] = srv_slot_next_feed(s, budget);
            e->fed[n++] = s;
            budget -= e->feeds[n - 1].n;
        }
    e->first = (e->first + 1) % e->n_slots;
    return n;
}

static void run_step(srv_engine *e) {
    int n = plan_step(e), tokens = 0;
    for (int i = 0; i < n; i++) tokens += e->feeds[i].n;
    srv_metrics_pass(e->env.metrics, n, tokens);
    e->clock++;
    if (edgec_model_feed_slots(e->env.model, e->feeds, n, e->step_logits) != 0) {
        for (int i = 0; i < n; i++) {
            e->fed[i]->error = "the model refused the tokens fed to it";
            end_job(e, e->fed[i], SRV_FINISH_ERROR);
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        srv_slot *s = e->fed[i];
        srv_finish f = srv_slot_fed(s, &e->env, &e->feeds[i], e->step_logits + (size_t)i * e->env.n_vocab);
        if (f != SRV_FINISH_NONE) end_job(e, s, f);
    }
}

static void *engine_main(void *arg) {
    srv_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    e->ready = 1;
    pthread_cond_broadcast(&e->cv); /* srv_engine_start waits for this */
    pthread_mutex_unlock(&e->mu);
    while (wait_for_work(e) == 0) {
        drop_cancelled(e);
        if (e->n_busy > 0) run_step(e);
    }
    return NULL;
}

/* ---- start and stop ---- */

static void free_engine(srv_engine *e) {
    if (e->slots)
        for (int i = 0; i < e->n_slots; i++) srv_slot_free(&e->slots[i]);
    free(e->slots);
    free(e->feeds);
    free(e->fed);
    free(e->step_logits);
    free(e->ring);
    free(e->env.logits);
    free(e->env.counts);
    free(e->env.sampler_scratch);
    free(e);
}

static int alloc_engine(srv_engine *e) {
    srv_slot_env *env = &e->env;
    e->ring = calloc((size_t)e->cap, sizeof(*e->ring));
    e->slots = calloc((size_t)e->n_slots, sizeof(*e->slots));
    e->feeds = calloc((size_t)e->n_slots, sizeof(*e->feeds));
    e->fed = calloc((size_t)e->n_slots, sizeof(*e->fed));
    e->step_logits = calloc((size_t)e->n_slots * (size_t)env->n_vocab, sizeof(float));
    env->logits = calloc((size_t)env->n_vocab, sizeof(*env->logits));
    env->counts = calloc((size_t)env->n_vocab, sizeof(*env->counts));
    env->sampler_scratch_bytes = edgec_sampler_scratch_bytes(env->n_vocab);
    env->sampler_scratch = calloc(1, env->sampler_scratch_bytes);
    if (!e->ring || !e->slots || !e->feeds || !e->fed || !e->step_logits || !env->logits || !env->counts ||
        !env->sampler_scratch)
        return -1;
    for (int i = 0; i < e->n_slots; i++)
        if (srv_slot_init(&e->slots[i], i, env->max_ctx) != 0) return -1;
    return 0;
}

srv_engine *srv_engine_start(edgec_model *model, const edgec_tokenizer *tok, srv_metrics *metrics, int max_queue,
                             char *err, size_t err_len) {
    srv_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, err_len, "out of memory for the server's engine");
        return NULL;
    }
    const edgec_model_info *info = edgec_model_get_info();
    e->env = (srv_slot_env){.model = model, .tok = tok, .metrics = metrics, .n_vocab = info->n_vocab,
                            .max_ctx = info->max_ctx};
    e->max_batch = info->max_batch > 0 ? info->max_batch : 1;
    e->n_slots = info->n_slots > 0 ? info->n_slots : 1;
    e->max_queue = max_queue > 0 ? max_queue : 0;
    e->cap = e->max_queue + e->n_slots;
    if (alloc_engine(e) != 0) {
        snprintf(err, err_len, "out of memory for the server's engine");
        free_engine(e);
        return NULL;
    }
    edgec_model_reset(model);
    srv_metrics_load(metrics, 0, 0, e->n_slots);
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

int srv_engine_slots(const srv_engine *e) { return e->n_slots; }

void srv_engine_stop(srv_engine *e) {
    pthread_mutex_lock(&e->mu);
    if (e->stopping) {
        pthread_mutex_unlock(&e->mu);
        return;
    }
    e->stopping = 1;
    for (int i = 0; i < e->n_slots; i++)
        if (e->slots[i].job) atomic_store(&e->slots[i].job->cancel, 1);
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
