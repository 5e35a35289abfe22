/* slot.c - one conversation on one KV cache: prefix reuse, prompt progress, sampling (see slot.h). */
#ifdef EDGEC_WITH_SERVER
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "slot.h"

#include <stdlib.h>
#include <string.h>

#include "timing.h"

int srv_slot_init(srv_slot *s, int index, int max_ctx) {
    memset(s, 0, sizeof(*s));
    s->index = index;
    s->cache = calloc((size_t)max_ctx, sizeof(*s->cache));
    return s->cache ? 0 : -1;
}

void srv_slot_free(srv_slot *s) {
    edgec_buf_free(&s->out);
    free(s->cache);
    s->cache = NULL;
}

int srv_slot_reusable(const srv_slot *s, const srv_job *j) {
    int n = s->n_cache < j->n_prompt - 1 ? s->n_cache : j->n_prompt - 1, i = 0;
    while (i < n && s->cache[i] == j->prompt[i]) i++;
    return i;
}

static int start_sampler(srv_slot *s, const srv_slot_env *env, const srv_params *p) {
    int top_k = p->top_k > env->n_vocab ? 0 : p->top_k; /* keeping more than the vocabulary is keeping all */
    return edgec_sampler_init(&s->sampler, env->n_vocab, p->temperature, top_k, p->top_p, p->min_p,
                              p->repeat_penalty, p->repeat_last_n, p->seed, env->sampler_scratch,
                              env->sampler_scratch_bytes);
}

int srv_slot_start(srv_slot *s, const srv_slot_env *env, srv_job *j) {
    if (start_sampler(s, env, &j->p) != 0) {
        srv_job_finish(j, SRV_FINISH_ERROR, "the sampling settings are out of range");
        return -1;
    }
    int reuse = srv_slot_reusable(s, j);
    edgec_model_slot_rewind(env->model, s->index, reuse);
    memcpy(s->cache + reuse, j->prompt + reuse, sizeof(int32_t) * (size_t)(j->n_prompt - reuse));
    s->n_cache = s->fed = reuse;
    s->n_gen = 0;
    s->prev = j->prompt[j->n_prompt - 1];
    s->error = NULL;
    srv_reply_text_init(&s->text, &j->p.stops);
    edgec_buf_clear(&s->out);
    s->job = j;
    srv_job_started(j, reuse);
    return 0;
}

edgec_slot_feed srv_slot_next_feed(const srv_slot *s, int budget) {
    edgec_slot_feed f = {s->index, s->cache + s->n_cache, 1};
    if (s->fed < s->job->n_prompt) f.n = s->job->n_prompt - s->fed < budget ? s->job->n_prompt - s->fed : budget;
    return f;
}

/* OpenAI's presence and frequency penalties over the tokens generated so far (cache[from, to)). */
static void apply_penalties(const srv_slot *s, const srv_slot_env *env, const srv_params *p, int from, int to) {
    if (p->presence_penalty == 0.0f && p->frequency_penalty == 0.0f) return;
    for (int i = from; i < to; i++) env->counts[s->cache[i]]++;
    for (int i = from; i < to; i++) {
        int id = s->cache[i], c = env->counts[id];
        if (c == 0) continue; /* already applied */
        env->logits[id] -= (float)c * p->frequency_penalty + p->presence_penalty;
        env->counts[id] = 0;
    }
}

/* The bytes token id adds to the reply (SentencePiece's space after BOS is not part of the text). */
static const char *token_text(const srv_slot_env *env, int id, int prev, size_t *len) {
    const char *piece = edgec_tokenizer_piece(env->tok, id, len);
    if (piece && *len > 0 && piece[0] == ' ' && prev >= 0 && prev == edgec_tokenizer_bos(env->tok)) {
        piece++;
        (*len)--;
    }
    return piece ? piece : "";
}

/* Timing of the token just sampled: time to first token, then the gaps between tokens. */
static void time_token(srv_slot *s, const srv_slot_env *env) {
    double now = edgec_now_ms();
    if (s->n_gen == 1) srv_metrics_ttft(env->metrics, (now - s->job->t_arrival_ms) / 1e3);
    else srv_metrics_token_latency(env->metrics, (now - s->t_prev_ms) / 1e3);
    s->t_prev_ms = now;
}

/* Adds token id to the reply and sends what is safe to send; returns 1 at a stop string. */
static int add_token(srv_slot *s, const srv_slot_env *env, int id) {
    size_t len = 0;
    const char *piece = token_text(env, id, s->prev, &len);
    s->prev = id;
    int hit = srv_reply_text_add(&s->text, piece, len);
    edgec_buf_clear(&s->out);
    if (hit < 0 || srv_reply_text_release(&s->text, &s->out, hit == 1) != 0 ||
        srv_job_push_text(s->job, s->out.p, s->out.len, s->n_gen) != 0) {
        s->error = "out of memory for the reply";
        return 1;
    }
    return hit;
}

/* Samples the next token from logits into cache[n_cache]; returns the finish reason, SRV_FINISH_NONE to go on. */
static srv_finish sample(srv_slot *s, const srv_slot_env *env, const float *logits) {
    const srv_params *p = &s->job->p;
    int pos = s->n_cache;
    if (s->n_gen >= p->max_tokens || pos >= env->max_ctx) return SRV_FINISH_LENGTH;
    memcpy(env->logits, logits, sizeof(float) * (size_t)env->n_vocab);
    apply_penalties(s, env, p, s->job->n_prompt, pos);
    int id = edgec_sample(&s->sampler, env->logits, s->cache, pos);
    if (id == EDGEC_SAMPLE_NONFINITE) {
        s->error = "the model produced non-finite logits; its weights are likely corrupt";
        return SRV_FINISH_ERROR;
    }
    if (!p->ignore_eos && edgec_tokenizer_is_stop(env->tok, id)) return SRV_FINISH_STOP;
    s->n_gen++;
    time_token(s, env);
    if (add_token(s, env, id)) return s->error ? SRV_FINISH_ERROR : SRV_FINISH_STOP;
    s->cache[pos] = id;
    return s->n_gen >= p->max_tokens ? SRV_FINISH_LENGTH : SRV_FINISH_NONE; /* the last token need not be fed */
}

srv_finish srv_slot_fed(srv_slot *s, const srv_slot_env *env, const edgec_slot_feed *f, const float *logits) {
    s->n_cache += f->n;
    if (s->fed < s->job->n_prompt) {
        s->fed += f->n;
        if (s->fed < s->job->n_prompt) return SRV_FINISH_NONE; /* more of the prompt to come */
    }
    return sample(s, env, logits);
}

void srv_slot_finish(srv_slot *s, const srv_slot_env *env, srv_finish finish) {
    srv_job *j = s->job;
    if (s->fed == j->n_prompt && finish != SRV_FINISH_ERROR) {
        edgec_buf_clear(&s->out);
        if (srv_reply_text_release(&s->text, &s->out, 1) == 0) srv_job_push_text(j, s->out.p, s->out.len, s->n_gen);
    }
    srv_metrics_tokens(env->metrics, j->key, j->n_prompt, j->n_cached, s->n_gen);
    srv_job_finish(j, finish, s->error);
    srv_reply_text_free(&s->text);
}
#endif
