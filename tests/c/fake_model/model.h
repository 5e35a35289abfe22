/* model.h - a fake model core for testing the runtime (CLI, pool, sampler wiring).
 *
 * It implements edgec_model_api.h with a rule anyone can check: after feeding
 * token t the logits are logits[v] = -|v - (7 t + 3) mod 512|, so greedy decoding
 * from t gives (7 t + 3) mod 512.  Logits are computed in vocabulary slices
 * through the caller's parallel-for, so a slice the pool skips is caught.
 */
#ifndef EDGEC_MODEL_H
#define EDGEC_MODEL_H

#include "edgec_model_api.h"

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

struct edgec_model {
    const unsigned char *w;
    float *logits;              /* EDGEC_MAX_BATCH rows of EDGEC_N_VOCAB, in the arena */
    int pos[EDGEC_N_SLOTS];     /* each slot's KV cache is just its position here */
    edgec_parallel_fn parallel;
    void *pool;
    int n_threads;
};

#endif
