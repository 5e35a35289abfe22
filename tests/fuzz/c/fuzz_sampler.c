/* fuzz_sampler.c - libFuzzer harness: the sampler with arbitrary logits (NaN and inf included) and
 * arbitrary settings.
 *
 * Input (little-endian, packed; seeds.py writes it): u16 vocabulary size (mod 2048, + 1), f32
 * temperature, u32 top-k, f32 top-p, f32 min-p, f32 repeat penalty, u32 repeat-last-n, u64 seed,
 * u8 history length, that many u16 history ids (any value, out-of-range ones included), then f32
 * logits for as long as the input lasts (repeated to fill the vocabulary).  Settings the sampler
 * refuses end the run; otherwise each draw must be a token in range when every logit is finite and
 * EDGEC_SAMPLE_NONFINITE when one is not, and the scratch flags must be left clear.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"

#define FUZZ_HARNESS "fuzz_sampler"
#include "fuzz_require.h"

#define MAX_VOCAB 2048
#define HEADER_BYTES 35

/* Reads n bytes at *at into out (zeros past the end); advances *at. */
static void take(const uint8_t *data, size_t size, size_t *at, void *out, size_t n) {
    memset(out, 0, n);
    if (*at < size) memcpy(out, data + *at, size - *at < n ? size - *at : n);
    *at += n;
}

typedef struct {
    uint16_t n_vocab;
    float temperature;
    uint32_t top_k;
    float top_p, min_p, penalty;
    uint32_t last_n;
    uint64_t seed;
    uint8_t n_history;
} settings;

static settings read_settings(const uint8_t *data, size_t size, size_t *at) {
    settings s;
    take(data, size, at, &s.n_vocab, 2);
    take(data, size, at, &s.temperature, 4);
    take(data, size, at, &s.top_k, 4);
    take(data, size, at, &s.top_p, 4);
    take(data, size, at, &s.min_p, 4);
    take(data, size, at, &s.penalty, 4);
    take(data, size, at, &s.last_n, 4);
    take(data, size, at, &s.seed, 8);
    take(data, size, at, &s.n_history, 1);
    return s;
}

/* Draws three times from logits with the given settings and checks each draw. */
static void check_draws(const settings *st, int n_vocab, const float *logits, const int32_t *history, float *work,
                        void *scratch, size_t scratch_bytes) {
    int finite = edgec_first_nonfinite(logits, n_vocab) < 0;
    edgec_sampler s;
    if (edgec_sampler_init(&s, n_vocab, st->temperature, (int)st->top_k, st->top_p, st->min_p, st->penalty,
                           (int)st->last_n, st->seed, scratch, scratch_bytes) != 0)
        return;
    for (int draw = 0; draw < 3; draw++) {
        memcpy(work, logits, sizeof(float) * (size_t)n_vocab);
        int id = edgec_sample(&s, work, history, st->n_history);
        if (finite) require(id >= 0 && id < n_vocab, "finite logits give a token in the vocabulary");
        else require(id == EDGEC_SAMPLE_NONFINITE, "non-finite logits are reported");
        for (int v = 0; v < n_vocab; v++) require(s.seen[v] == 0, "the penalty leaves its flags clear");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int32_t history[256];
    if (size < HEADER_BYTES) return 0;
    size_t at = 0;
    settings st = read_settings(data, size, &at);
    int n_vocab = st.n_vocab % MAX_VOCAB + 1;
    for (int i = 0; i < st.n_history; i++) {
        uint16_t id;
        take(data, size, &at, &id, 2);
        history[i] = id;
    }
    /* exact-size heap buffers: ASan's redzones sit right before and after each */
    size_t scratch_bytes = edgec_sampler_scratch_bytes(n_vocab);
    float *logits = malloc(sizeof(float) * (size_t)n_vocab), *work = malloc(sizeof(float) * (size_t)n_vocab);
    void *scratch = malloc(scratch_bytes);
    require(logits && work && scratch, "memory");
    size_t n_floats = at < size ? (size - at) / 4 : 0;
    for (int v = 0; v < n_vocab; v++) {
        logits[v] = 0.0f;
        if (n_floats) memcpy(&logits[v], data + at + (size_t)v % n_floats * 4, 4);
    }
    check_draws(&st, n_vocab, logits, history, work, scratch, scratch_bytes);
    free(logits);
    free(work);
    free(scratch);
    return 0;
}
