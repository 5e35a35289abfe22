/* model.c - the fake model core: see model.h for the rule it follows. */
#include "model.h"

#include <stdint.h>
#include <string.h>

static const edgec_model_info fake_info = {
    EDGEC_MODEL_NAME, EDGEC_TARGET_NAME, EDGEC_N_VOCAB, EDGEC_MAX_CTX, EDGEC_MAX_BATCH,
    EDGEC_ARENA_BYTES, EDGEC_WEIGHTS_BYTES,
};

/* Marks a logit no slice has written yet; the fake's real logits are all <= 0. */
static const float UNWRITTEN = 1.0e9f;

const edgec_model_info *edgec_model_get_info(void) { return &fake_info; }

int edgec_model_init(edgec_model *m, void *arena, size_t arena_bytes, const void *weights, size_t weights_bytes) {
    if (!arena || arena_bytes < EDGEC_ARENA_BYTES || (uintptr_t)arena % EDGEC_ARENA_ALIGN) return -1;
    if (!weights || weights_bytes != EDGEC_WEIGHTS_BYTES ||
        memcmp(weights, EDGEC_FAKE_SIGNATURE, sizeof(EDGEC_FAKE_SIGNATURE) - 1) != 0) return -2;
    m->w = weights;
    m->logits = arena;
    m->pos = 0;
    m->parallel = NULL;
    m->pool = NULL;
    m->n_threads = 1;
    return 0;
}

void edgec_model_set_parallel(edgec_model *m, edgec_parallel_fn fn, void *pool, int n_threads) {
    m->parallel = fn;
    m->pool = pool;
    m->n_threads = fn && n_threads > 0 ? n_threads : 1;
}

void edgec_model_reset(edgec_model *m) { m->pos = 0; }

int edgec_model_pos(const edgec_model *m) { return m->pos; }

/* Keeps the first pos tokens: later feeds continue from there (the KV cache is just the position here). */
int edgec_model_rewind(edgec_model *m, int pos)
{
    if (pos < 0 || pos > m->pos) return -1;
    m->pos = pos;
    return 0;
}

typedef struct {
    float *rows;
    const int32_t *tokens;
    int n;
} logits_job;

/* Slice ith of nth of the vocabulary, for every token of the batch. */
static void logits_slice(void *arg, int ith, int nth) {
    const logits_job *job = arg;
    int v0 = (int)((long)EDGEC_N_VOCAB * ith / nth), v1 = (int)((long)EDGEC_N_VOCAB * (ith + 1) / nth);
    for (int b = 0; b < job->n; b++) {
        int target = (job->tokens[b] * 7 + 3) % EDGEC_N_VOCAB;
        float *row = job->rows + (size_t)b * EDGEC_N_VOCAB;
        for (int v = v0; v < v1; v++) row[v] = -(float)(v > target ? v - target : target - v);
    }
}

/* One batch of up to EDGEC_MAX_BATCH tokens; returns 0, or -1 if some slice never ran. */
static int feed_batch(edgec_model *m, const int32_t *tokens, int n) {
    for (int i = 0; i < n * EDGEC_N_VOCAB; i++) m->logits[i] = UNWRITTEN;
    logits_job job = {m->logits, tokens, n};
    if (m->parallel) m->parallel(m->pool, logits_slice, &job);
    else logits_slice(&job, 0, 1);
    for (int i = 0; i < n * EDGEC_N_VOCAB; i++)
        if (m->logits[i] == UNWRITTEN) return -1;
    return 0;
}

const float *edgec_model_feed(edgec_model *m, const int32_t *tokens, int n, float *all_logits) {
    if (n <= 0 || m->pos + n > EDGEC_MAX_CTX) return NULL;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= EDGEC_N_VOCAB) return NULL;
    int last = 0;
    for (int done = 0; done < n; done += last) {
        last = n - done < EDGEC_MAX_BATCH ? n - done : EDGEC_MAX_BATCH;
        if (feed_batch(m, tokens + done, last) != 0) return NULL;
        if (all_logits)
            memcpy(all_logits + (size_t)done * EDGEC_N_VOCAB, m->logits, (size_t)last * EDGEC_N_VOCAB * sizeof(float));
        m->pos += last;
    }
    return m->logits + (size_t)(last - 1) * EDGEC_N_VOCAB;
}
