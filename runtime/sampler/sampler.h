/* sampler.h - picks the next token from a row of logits.
 *
 * Order of the steps (llama.cpp's default chain, minus the exotic ones):
 *   repeat penalty -> top-k -> temperature -> softmax -> min-p -> top-p -> draw.
 * Temperature 0 means greedy argmax (lowest id on ties).  The sampler never
 * allocates: the caller gives it scratch of edgec_sampler_scratch_bytes(n_vocab)
 * once, and every call is O(V + K log K) (no full sort of the vocabulary).
 * The random numbers come from our own xorshift64* generator, so a seed gives
 * the same draws on every platform.
 */
#ifndef EDGEC_SAMPLER_H
#define EDGEC_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

/* One candidate token: its (scaled) logit, then its probability once known. */
typedef struct {
    float logit;
    float prob;
    int32_t id;
} edgec_candidate;

typedef struct {
    int n_vocab;
    float temperature;     /* 0 = greedy */
    int top_k;             /* 0 = off */
    float top_p;           /* 1 = off */
    float min_p;           /* 0 = off */
    float repeat_penalty;  /* 1 = off */
    int repeat_last_n;     /* how many recent tokens the penalty looks at */
    uint64_t rng;          /* xorshift64* state, never 0 */
    edgec_candidate *cand; /* scratch: n_vocab candidates */
    unsigned char *seen;   /* scratch: n_vocab flags, all 0 between calls */
} edgec_sampler;

/* Bytes of scratch edgec_sampler_init needs for a vocabulary of n_vocab. */
size_t edgec_sampler_scratch_bytes(int n_vocab);

/* Sets up s; scratch must be scratch_bytes >= edgec_sampler_scratch_bytes(n_vocab)
 * bytes aligned for a float.  Returns 0, or -1 on a bad argument (n_vocab <= 0,
 * too little scratch, temperature negative or not finite, negative top_k, top_p
 * outside (0, 1], min_p outside [0, 1], repeat_penalty <= 0 or not finite,
 * negative repeat_last_n; NaN is never accepted). */
int edgec_sampler_init(edgec_sampler *s, int n_vocab, float temperature, int top_k,
                       float top_p, float min_p, float repeat_penalty, int repeat_last_n,
                       uint64_t seed, void *scratch, size_t scratch_bytes);

/* What edgec_sample returns when a logit is NaN or +-inf: a model never makes those
 * unless its weights are broken, so there is nothing sensible to draw from. */
#define EDGEC_SAMPLE_NONFINITE (-1)

/* Returns the next token, or EDGEC_SAMPLE_NONFINITE if any logit is NaN or infinite.
 * logits (n_vocab floats) may be modified.  history holds the tokens so far (oldest
 * first); the last repeat_last_n of them are penalised.  Finite logits of any size
 * (up to +-FLT_MAX) with any valid settings give a token in [0, n_vocab). */
int edgec_sample(edgec_sampler *s, float *logits, const int32_t *history, int n_history);

/* Index of the first NaN or infinite value of x, or -1 if all are finite. */
int edgec_first_nonfinite(const float *x, int n);

/* Index of the largest value, lowest index on ties. */
int edgec_argmax(const float *x, int n);

/* Divides positive / multiplies negative logits of each distinct token among the
 * last last_n of history by penalty (llama.cpp's rule), clamped to +-FLT_MAX so a
 * finite logit stays finite.  seen: n flags, all 0, left all 0. */
void edgec_apply_repeat_penalty(float *logits, int n, const int32_t *history, int n_history,
                                int last_n, float penalty, unsigned char *seen);

/* The generator: next 32 random bits, and a float uniform in [0, 1). */
uint32_t edgec_rng_u32(uint64_t *state);
float edgec_rng_f32(uint64_t *state);
/* A non-zero generator state from any seed (splitmix64). */
uint64_t edgec_rng_seed(uint64_t seed);

#endif
