/* model.h - a fake model core for testing the runtime (CLI, pool, sampler wiring).
 *
 * It implements the model API with a rule anyone can check: after feeding
 * token t the logits are logits[v] = -|v - (7 t + 3) mod 512|, so greedy decoding
 * from t gives (7 t + 3) mod 512.  Logits are computed in vocabulary slices
 * through the caller's parallel-for, so a slice the pool skips is caught.
 *
 * It declares the API the way a generated model.h does, with the prefix "edgec" (so the program's
 * generic names need no mapping); it leaves out the step API, which the program does not call.
 */
#ifndef EDGEC_MODEL_H
#define EDGEC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define EDGEC_MODEL_NAME    "fake"
#define EDGEC_TARGET_NAME   "test"
#define EDGEC_KERNELS_ISA   "scalar"

#define EDGEC_N_VOCAB       512
#define EDGEC_MAX_CTX       64
#define EDGEC_MAX_BATCH     8
#ifdef EDGEC_FAKE_SLOTS /* a test builds the fake with several KV caches */
#define EDGEC_N_SLOTS       EDGEC_FAKE_SLOTS
#else
#define EDGEC_N_SLOTS       1
#endif

#define EDGEC_WEIGHTS_BYTES 64u
#ifdef EDGEC_FAKE_ARENA_BYTES /* a test asks for an arena no machine has */
#define EDGEC_ARENA_BYTES   EDGEC_FAKE_ARENA_BYTES
#else
#define EDGEC_ARENA_BYTES   (EDGEC_MAX_BATCH * EDGEC_N_VOCAB * 4u)   /* one batch of logit rows */
#endif
#define EDGEC_ARENA_ALIGN   64

#define EDGEC_FAKE_SIGNATURE "EDGEC-FAKE-WEIGHTS"

typedef void (*edgec_task_fn)(void *arg, int ith, int nth);
typedef void (*edgec_parallel_fn)(void *pool, edgec_task_fn fn, void *arg);

typedef struct {
    const char *name, *target;
    int n_vocab, max_ctx, max_batch, n_slots;
    size_t arena_bytes, weights_bytes;
    const char *kernels;
} edgec_model_info;

typedef struct {
    int slot;
    const int32_t *tokens;
    int n;
} edgec_slot_feed;

typedef struct edgec_model {
    const unsigned char *w;
    float *logits;              /* EDGEC_MAX_BATCH rows of EDGEC_N_VOCAB, in the arena */
    int pos[EDGEC_N_SLOTS];     /* each slot's KV cache is just its position here */
    edgec_parallel_fn parallel;
    void *pool;
    int n_threads;
} edgec_model;

const edgec_model_info *edgec_model_get_info(void);
int edgec_model_init(edgec_model *m, void *arena, size_t arena_bytes, const void *weights, size_t weights_bytes);
void edgec_model_set_parallel(edgec_model *m, edgec_parallel_fn fn, void *pool, int n_threads);
void edgec_model_reset(edgec_model *m);
int edgec_model_rewind(edgec_model *m, int pos);
int edgec_model_pos(const edgec_model *m);
const float *edgec_model_feed(edgec_model *m, const int32_t *tokens, int n, float *all_logits);
int edgec_model_slot_pos(const edgec_model *m, int slot);
int edgec_model_slot_rewind(edgec_model *m, int slot, int pos);
int edgec_model_feed_slots(edgec_model *m, const edgec_slot_feed *feeds, int n_feeds, float *logits);

extern const unsigned char edgec_weights[];
extern const size_t edgec_weights_size;
extern const unsigned char edgec_tokenizer_blob[];
extern const size_t edgec_tokenizer_blob_size;

#endif
