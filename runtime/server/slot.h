/* slot.h - one of the model's KV caches and the conversation it holds: the token ids its cache
 * holds (kept after a request, for prefix reuse), the job it runs, how much of the prompt is in, and
 * the sampling and reply state.  The engine thread alone touches a slot, except its job pointer,
 * which it sets and clears under the engine's lock. */
#ifndef EDGEC_SRV_SLOT_H
#define EDGEC_SRV_SLOT_H

#include <stdint.h>

#include "byte_buf.h"
#include "edgec_model_api.h"
#include "job.h"
#include "metrics.h"
#include "reply_text.h"
#include "sampler.h"
#include "tokenizer.h"

/* What every slot shares: the model, the tokenizer, and scratch used by one slot at a time. */
typedef struct {
    edgec_model *model;
    const edgec_tokenizer *tok;
    srv_metrics *metrics;
    int n_vocab, max_ctx;
    float *logits;              /* n_vocab: the row being penalised and sampled */
    int *counts;                /* n_vocab, all 0 between uses: presence/frequency counts */
    void *sampler_scratch;      /* edgec_sampler_scratch_bytes(n_vocab), shared by the slots' samplers */
    size_t sampler_scratch_bytes;
} srv_slot_env;

typedef struct {
    int index;                  /* the model's slot number */
    srv_job *job;               /* the request it runs, NULL when free */
    int32_t *cache;             /* max_ctx ids: the first n_cache are in its KV cache, the next one is to feed */
    int n_cache;
    int fed;                    /* prompt tokens in the KV cache; generation starts once all are */
    unsigned long long last_used;

    edgec_sampler sampler;
    srv_reply_text text;
    edgec_buf out;              /* what one step releases */
    int n_gen, prev;
    double t_prev_ms;
    const char *error;
} srv_slot;

int srv_slot_init(srv_slot *s, int index, int max_ctx);   /* 0 or -1 (no memory) */
void srv_slot_free(srv_slot *s);

/* Tokens of j's prompt this slot's cache already holds and a new request may reuse (at most all but
 * the last: its logits are needed). */
int srv_slot_reusable(const srv_slot *s, const srv_job *j);

/* Takes j: keeps the reusable prefix of the cache and sets up sampling.  Returns 0, or -1 after
 * finishing j with the reason (the slot stays free). */
int srv_slot_start(srv_slot *s, const srv_slot_env *env, srv_job *j);

/* The tokens to feed next, at most budget: a chunk of the prompt or the last sampled token. */
edgec_slot_feed srv_slot_next_feed(const srv_slot *s, int budget);

/* After the model took f (and gave the logits of its last token): advances, and once the prompt is
 * in, samples the next token and sends its text.  Returns SRV_FINISH_NONE to go on, else how the
 * generation ended (finish the slot with it). */
srv_finish srv_slot_fed(srv_slot *s, const srv_slot_env *env, const edgec_slot_feed *f, const float *logits);

/* Ends the slot's job with finish: the rest of its text, its token counts, the job's end state.
 * The caller then drops the slot's job reference. */
void srv_slot_finish(srv_slot *s, const srv_slot_env *env, srv_finish finish);

#endif
