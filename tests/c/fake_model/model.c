/* model.c - the fake model core: see model.h for the rule it follows. */
#include "model.h"

#include <stdint.h>
#include <string.h>

static const edgec_model_info fake_info = {
    EDGEC_MODEL_NAME, EDGEC_TARGET_NAME, EDGEC_N_VOCAB, EDGEC_MAX_CTX, EDGEC_MAX_BATCH, EDGEC_N_SLOTS,
    EDGEC_ARENA_BYTES, EDGEC_WEIGHTS_BYTES, EDGEC_KERNELS_ISA,
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
    edgec_model_reset(m);
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

void edgec_model_reset(edgec_model *m) {
    for (int s = 0; s < EDGEC_N_SLOTS; s++) m->pos[s] = 0;
}

int edgec_model_slot_pos(const edgec_model *m, int slot) {
    return slot < 0 || slot >= EDGEC_N_SLOTS ? -1 : m->pos[slot];
}

int edgec_model_pos(const edgec_model *m) { return m->pos[0]; }

/* Keeps the first pos tokens: later feeds continue from there. */
int edgec_model_slot_rewind(edgec_model *m, int slot, int pos) {
    if (slot < 0 || slot >= EDGEC_N_SLOTS || pos < 0 || pos > m->pos[slot]) return -1;
    m->pos[slot] = pos;
    return 0;
}

int edgec_model_rewind(edgec_model *m, int pos) { return edgec_model_slot_rewind(m, 0, pos); }

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
    if (n <= 0 || m->pos[0] + n > EDGEC_MAX_CTX) return NULL;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= EDGEC_N_VOCAB) return NULL;
    int last = 0;
    for (int done = 0; done < n; done += last) {
        last = n - done < EDGEC_MAX_BATCH ? n - done : EDGEC_MAX_BATCH;
        if (feed_batch(m, tokens + done, last) != 0) return NULL;
        if (all_logits)
            memcpy(all_logits + (size_t)done * EDGEC_N_VOCAB, m->logits, (size_t)last * EDGEC_N_VOCAB * sizeof(float));
        m->pos[0] += last;
    }
    return m->logits + (size_t)(last - 1) * EDGEC_N_VOCAB;
}

/* Each feed's last token decides its logits row, as edgec_model_feed would. */
int edgec_model_feed_slots(edgec_model *m, const edgec_slot_feed *feeds, int n_feeds, float *logits) {
    int32_t last[EDGEC_MAX_BATCH];
    int total = 0;
    if (n_feeds <= 0 || n_feeds > EDGEC_MAX_BATCH || !logits) return -1;
    for (int i = 0; i < n_feeds; i++) {
        const edgec_slot_feed *f = &feeds[i];
        if (f->slot < 0 || f->slot >= EDGEC_N_SLOTS || f->n <= 0 || m->pos[f->slot] + f->n > EDGEC_MAX_CTX) return -1;
        for (int j = 0; j < i; j++)
            if (feeds[j].slot == f->slot) return -1;
        for (int t = 0; t < f->n; t++)
            if (f->tokens[t] < 0 || f->tokens[t] >= EDGEC_N_VOCAB) return -1;
        total += f->n;
        last[i] = f->tokens[f->n - 1];
    }
    if (total > EDGEC_MAX_BATCH || feed_batch(m, last, n_feeds) != 0) return -1;
    memcpy(logits, m->logits, (size_t)n_feeds * EDGEC_N_VOCAB * sizeof(float));
    for (int i = 0; i < n_feeds; i++) m->pos[feeds[i].slot] += feeds[i].n;
    return 0;
}
