/* test_sampler.c - the sampler's steps, checked against hand-computed answers
 * and, for the random parts, against expected frequencies over many draws. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sampler.h"
#include "test_check.h"

#define MAX_VOCAB 1024
#define N_DRAWS 20000

static unsigned char scratch[MAX_VOCAB * sizeof(edgec_candidate) + MAX_VOCAB];

static edgec_sampler make(int n_vocab, float temp, int top_k, float top_p, float min_p, float penalty, int last_n,
                          unsigned long long seed) {
    edgec_sampler s;
    int rc = edgec_sampler_init(&s, n_vocab, temp, top_k, top_p, min_p, penalty, last_n, seed, scratch, sizeof(scratch));
    if (rc != 0) {
        printf("FAIL: edgec_sampler_init rejected valid arguments\n");
        exit(1);
    }
    return s;
}

/* Counts how often each id is drawn from the same logits. */
static void histogram(edgec_sampler *s, const float *logits, int n_vocab, int n_draws, int *counts) {
    static float work[MAX_VOCAB];
    memset(counts, 0, sizeof(int) * (size_t)n_vocab);
    for (int i = 0; i < n_draws; i++) {
        memcpy(work, logits, sizeof(float) * (size_t)n_vocab);
        counts[edgec_sample(s, work, NULL, 0)]++;
    }
}

/* Logits whose softmax at temperature 1 is the given probabilities at the given ids, ~0 elsewhere. */
static void logits_from_probs(float *logits, int n_vocab, const int *ids, const double *probs, int n) {
    for (int v = 0; v < n_vocab; v++) logits[v] = -40.0f;
    for (int i = 0; i < n; i++) logits[ids[i]] = (float)log(probs[i]);
}

static int count_nonzero(const int *counts, int n) {
    int k = 0;
    for (int i = 0; i < n; i++) k += counts[i] != 0;
    return k;
}

static void test_argmax_ties(void) {
    float x[] = {1.0f, 3.0f, 3.0f, 2.0f, 3.0f};
    CHECK(edgec_argmax(x, 5) == 1, "argmax of ties should be the lowest id, got %d", edgec_argmax(x, 5));
    edgec_sampler s = make(5, 0.0f, 40, 0.95f, 0.05f, 1.0f, 64, 1);
    CHECK(edgec_sample(&s, x, NULL, 0) == 1, "greedy sampling of ties should give the lowest id");
    float neg[] = {-5.0f, -1.0f, -1.0f};
    CHECK(edgec_argmax(neg, 3) == 1, "argmax of negative ties");
}

static void test_top_k_1_is_greedy(void) {
    static float logits[MAX_VOCAB], work[MAX_VOCAB];
    unsigned long long state = 12345;
    int mismatches = 0;
    edgec_sampler s = make(MAX_VOCAB, 0.9f, 1, 0.95f, 0.05f, 1.0f, 64, 7);
    for (int trial = 0; trial < 200; trial++) {
        for (int v = 0; v < MAX_VOCAB; v++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            logits[v] = (float)((state >> 40) % 50) * 0.25f; /* coarse values, so ties happen */
        }
        int want = edgec_argmax(logits, MAX_VOCAB);
        memcpy(work, logits, sizeof(logits));
        mismatches += edgec_sample(&s, work, NULL, 0) != want;
    }
    CHECK(mismatches == 0, "top-k 1 disagreed with argmax %d times out of 200", mismatches);
}

static void test_top_k_keeps_k_best(void) {
    enum { V = 100 };
    float logits[V];
    int counts[V];
    for (int v = 0; v < V; v++) logits[v] = (float)((v * 37) % V) * 0.01f; /* a permutation: the best are ids of 99, 98, 97 */
    edgec_sampler s = make(V, 1.0f, 3, 1.0f, 0.0f, 1.0f, 64, 3);
    histogram(&s, logits, V, N_DRAWS, counts);
    int best[3], nb = 0;
    for (int v = 0; v < V; v++)
        if ((v * 37) % V >= 97) best[nb++] = v;
    int in_best = counts[best[0]] + counts[best[1]] + counts[best[2]];
    CHECK(nb == 3 && in_best == N_DRAWS, "top-k 3 drew outside the 3 best tokens (%d of %d inside)", in_best, N_DRAWS);
    CHECK(count_nonzero(counts, V) == 3, "top-k 3 should draw all 3 best tokens, drew %d distinct", count_nonzero(counts, V));
    /* within the 3, frequencies follow the softmax of their logits */
    double z = 0;
    for (int i = 0; i < 3; i++) z += exp(logits[best[i]]);
    for (int i = 0; i < 3; i++) {
        double want = exp(logits[best[i]]) / z, got = (double)counts[best[i]] / N_DRAWS;
        CHECK(fabs(got - want) < 0.02, "top-k frequency of id %d: got %.3f want %.3f", best[i], got, want);
    }
}

/* top-p over {0.5, 0.3, 0.15, 0.05}: both the sorted (top-k on) and the unsorted (top-k off) paths. */
static void test_top_p(void) {
    enum { V = 200 };
    static const int ids[] = {17, 150, 3, 88};
    static const double probs[] = {0.5, 0.3, 0.15, 0.05};
    float logits[V];
    int counts[V];
    logits_from_probs(logits, V, ids, probs, 4);
    for (int top_k = 0; top_k <= 50; top_k += 50) {
        edgec_sampler s = make(V, 1.0f, top_k, 0.75f, 0.0f, 1.0f, 64, 11);
        histogram(&s, logits, V, N_DRAWS, counts);
        CHECK(counts[17] + counts[150] == N_DRAWS && counts[17] && counts[150],
              "top-p 0.75 (top-k %d) should keep only {17, 150}: %d + %d of %d", top_k, counts[17], counts[150], N_DRAWS);
        CHECK(fabs((double)counts[17] / N_DRAWS - 0.625) < 0.02, "top-p 0.75 renormalises: p(17) = %.3f, want 0.625",
              (double)counts[17] / N_DRAWS);

        s = make(V, 1.0f, top_k, 0.9f, 0.0f, 1.0f, 64, 12);
        histogram(&s, logits, V, N_DRAWS, counts);
        CHECK(count_nonzero(counts, V) == 3 && counts[17] && counts[150] && counts[3],
              "top-p 0.9 (top-k %d) should keep exactly {17, 150, 3}, drew %d distinct", top_k, count_nonzero(counts, V));
        CHECK(fabs((double)counts[3] / N_DRAWS - 0.15 / 0.95) < 0.02, "top-p 0.9: p(3) = %.3f, want %.3f",
              (double)counts[3] / N_DRAWS, 0.15 / 0.95);

        s = make(V, 1.0f, top_k, 0.3f, 0.0f, 1.0f, 64, 13);
        histogram(&s, logits, V, N_DRAWS, counts);
        CHECK(counts[17] == N_DRAWS, "top-p 0.3 (top-k %d) should keep only the top token, got %d of %d",
              top_k, counts[17], N_DRAWS);
    }
}

static void test_min_p(void) {
    enum { V = 200 };
    static const int ids[] = {40, 41, 199, 0};
    static const double probs[] = {0.5, 0.3, 0.15, 0.05};
    float logits[V];
    int counts[V];
    logits_from_probs(logits, V, ids, probs, 4);
    for (int top_k = 0; top_k <= 40; top_k += 40) {
        /* keeps p >= 0.25 * 0.5 = 0.125: {40, 41, 199} */
        edgec_sampler s = make(V, 1.0f, top_k, 1.0f, 0.25f, 1.0f, 64, 21);
        histogram(&s, logits, V, N_DRAWS, counts);
        CHECK(count_nonzero(counts, V) == 3 && counts[40] && counts[41] && counts[199],
              "min-p 0.25 (top-k %d) should keep exactly {40, 41, 199}, drew %d distinct", top_k, count_nonzero(counts, V));
        CHECK(fabs((double)counts[41] / N_DRAWS - 0.3 / 0.95) < 0.02, "min-p 0.25: p(41) = %.3f, want %.3f",
              (double)counts[41] / N_DRAWS, 0.3 / 0.95);
        /* keeps p >= 0.7 * 0.5 = 0.35: {40} */
        s = make(V, 1.0f, top_k, 1.0f, 0.7f, 1.0f, 64, 22);
        histogram(&s, logits, V, N_DRAWS, counts);
        CHECK(counts[40] == N_DRAWS, "min-p 0.7 (top-k %d) should keep only id 40, got %d of %d", top_k, counts[40], N_DRAWS);
    }
}

static void test_temperature(void) {
    float logits[2] = {1.0f, 0.0f};
    int counts[2];
    edgec_sampler s = make(2, 2.0f, 0, 1.0f, 0.0f, 1.0f, 64, 31);
    histogram(&s, logits, 2, N_DRAWS, counts);
    double want = 1.0 / (1.0 + exp(-0.5)); /* softmax of logits / 2 */
    CHECK(fabs((double)counts[0] / N_DRAWS - want) < 0.02, "temperature 2: p(0) = %.3f, want %.3f",
          (double)counts[0] / N_DRAWS, want);
    s = make(2, 0.25f, 0, 1.0f, 0.0f, 1.0f, 64, 32);
    histogram(&s, logits, 2, N_DRAWS, counts);
    want = 1.0 / (1.0 + exp(-4.0));
    CHECK(fabs((double)counts[0] / N_DRAWS - want) < 0.02, "temperature 0.25: p(0) = %.3f, want %.3f",
          (double)counts[0] / N_DRAWS, want);
}

static void test_repeat_penalty(void) {
    unsigned char seen[4] = {0};
    float x[4] = {2.0f, -2.0f, 1.0f, 0.5f};
    const int32_t history[] = {0, 1, 0, 3};
    edgec_apply_repeat_penalty(x, 4, history, 4, 3, 2.0f, seen); /* window {1, 0, 3} */
    CHECK(x[0] == 1.0f && x[1] == -4.0f && x[2] == 1.0f && x[3] == 0.25f,
          "penalty 2 over {1, 0, 3}: got %g %g %g %g, want 1 -4 1 0.25", x[0], x[1], x[2], x[3]);
    CHECK(!seen[0] && !seen[1] && !seen[2] && !seen[3], "penalty must leave its scratch flags cleared");

    float y[4] = {2.0f, -2.0f, 1.0f, 0.5f};
    edgec_apply_repeat_penalty(y, 4, history, 4, 64, 2.0f, seen); /* id 0 twice in the window: penalised once */
    CHECK(y[0] == 1.0f && y[1] == -4.0f && y[2] == 1.0f && y[3] == 0.25f,
          "a repeated token is penalised once: got %g %g %g %g", y[0], y[1], y[2], y[3]);

    float z[2] = {2.0f, 1.5f};
    const int32_t h0[] = {0};
    edgec_sampler s = make(2, 0.0f, 40, 0.95f, 0.05f, 2.0f, 64, 1);
    CHECK(edgec_sample(&s, z, h0, 1) == 1, "penalty 2 on token 0 (2 -> 1) should make greedy pick token 1");
    float w[2] = {2.0f, 1.5f};
    s = make(2, 0.0f, 40, 0.95f, 0.05f, 2.0f, 0, 1);
    CHECK(edgec_sample(&s, w, h0, 1) == 0, "repeat-last-n 0 turns the penalty off");
}

static void test_seed_determinism(void) {
    static float logits[MAX_VOCAB], work[MAX_VOCAB];
    for (int v = 0; v < MAX_VOCAB; v++) logits[v] = (float)((v * 7919) % 101) * 0.05f;
    edgec_sampler a = make(MAX_VOCAB, 1.0f, 40, 0.95f, 0.05f, 1.0f, 64, 42);
    unsigned char scratch_b[sizeof(scratch)];
    edgec_sampler b;
    edgec_sampler_init(&b, MAX_VOCAB, 1.0f, 40, 0.95f, 0.05f, 1.0f, 64, 42, scratch_b, sizeof(scratch_b));
    int same = 1, distinct_draws = 0, last = -1;
    for (int i = 0; i < 1000; i++) {
        memcpy(work, logits, sizeof(logits));
        int x = edgec_sample(&a, work, NULL, 0);
        memcpy(work, logits, sizeof(logits));
        int y = edgec_sample(&b, work, NULL, 0);
        same &= x == y;
        distinct_draws += x != last;
        last = x;
    }
    CHECK(same, "two samplers with seed 42 drew different sequences");
    CHECK(distinct_draws > 100, "sampling at temperature 1 should vary, changed only %d times", distinct_draws);

    uint64_t r1 = edgec_rng_seed(1), r2 = edgec_rng_seed(2);
    int differ = 0;
    for (int i = 0; i < 10; i++) differ += edgec_rng_u32(&r1) != edgec_rng_u32(&r2);
    CHECK(differ >= 9, "seeds 1 and 2 should give different streams");
    uint64_t r0 = edgec_rng_seed(0);
    CHECK(r0 != 0, "seed 0 must not give the stuck state 0");
    double sum = 0;
    float lo = 1, hi = 0;
    for (int i = 0; i < 100000; i++) {
        float f = edgec_rng_f32(&r0);
        sum += f;
        lo = f < lo ? f : lo;
        hi = f > hi ? f : hi;
    }
    CHECK(lo >= 0.0f && hi < 1.0f && fabs(sum / 100000 - 0.5) < 0.01, "rng_f32 should be uniform in [0, 1): min %g max %g mean %g",
          lo, hi, sum / 100000);
}

static void test_init_rejects_bad_arguments(void) {
    edgec_sampler s;
    CHECK(edgec_sampler_init(&s, 0, 1, 40, 0.9f, 0.05f, 1, 64, 1, scratch, sizeof(scratch)) == -1, "n_vocab 0");
    CHECK(edgec_sampler_init(&s, MAX_VOCAB, 1, 40, 0.9f, 0.05f, 1, 64, 1, scratch, 10) == -1, "too little scratch");
    CHECK(edgec_sampler_init(&s, 10, -1, 40, 0.9f, 0.05f, 1, 64, 1, scratch, sizeof(scratch)) == -1, "negative temperature");
    CHECK(edgec_sampler_init(&s, 10, 1, 40, 0.0f, 0.05f, 1, 64, 1, scratch, sizeof(scratch)) == -1, "top-p 0");
    CHECK(edgec_sampler_init(&s, 10, 1, 40, 1.5f, 0.05f, 1, 64, 1, scratch, sizeof(scratch)) == -1, "top-p 1.5");
    CHECK(edgec_sampler_init(&s, 10, 1, 40, 0.9f, -0.1f, 1, 64, 1, scratch, sizeof(scratch)) == -1, "min-p < 0");
    CHECK(edgec_sampler_init(&s, 10, 1, 40, 0.9f, 0.05f, 0, 64, 1, scratch, sizeof(scratch)) == -1, "penalty 0");
    CHECK(edgec_sampler_init(&s, 10, 1, -1, 0.9f, 0.05f, 1, 64, 1, scratch, sizeof(scratch)) == -1, "top-k < 0");
    const size_t room = sizeof(scratch);
    CHECK(edgec_sampler_init(&s, 10, 1, 40, 0.9f, 0.05f, INFINITY, 64, 1, scratch, room) == -1, "penalty inf");
    CHECK(edgec_sampler_init(&s, 10, 1, 40, 0.9f, 0.05f, NAN, 64, 1, scratch, room) == -1, "penalty NaN");
    CHECK(edgec_sampler_init(&s, 10, INFINITY, 40, 0.9f, 0.05f, 1, 64, 1, scratch, room) == -1, "temperature inf");
    CHECK(edgec_sampler_init(&s, 10, NAN, 40, 0.9f, 0.05f, 1, 64, 1, scratch, room) == -1, "temperature NaN");
    CHECK(edgec_sampler_init(&s, 10, 1, 40, NAN, 0.05f, 1, 64, 1, scratch, room) == -1, "top-p NaN");
    CHECK(edgec_sampler_init(&s, 10, 1, 40, 0.9f, NAN, 1, 64, 1, scratch, room) == -1, "min-p NaN");
    CHECK(edgec_sampler_scratch_bytes(MAX_VOCAB) <= sizeof(scratch), "scratch size formula");
}

/* Every sampling mode: greedy, temperature alone, top-k, top-p (sorted and unsorted paths), min-p,
 * all of them together, and each with the repeat penalty on. */
typedef struct {
    const char *name;
    float temp;
    int top_k;
    float top_p, min_p, penalty;
} mode;

static const mode MODES[] = {
    {"greedy", 0.0f, 0, 1.0f, 0.0f, 1.0f},          {"temperature", 0.8f, 0, 1.0f, 0.0f, 1.0f},
    {"top-k", 1.0f, 5, 1.0f, 0.0f, 1.0f},           {"top-p", 1.0f, 0, 0.9f, 0.0f, 1.0f},
    {"top-k + top-p", 1.0f, 5, 0.9f, 0.0f, 1.0f},   {"min-p", 1.0f, 0, 1.0f, 0.05f, 1.0f},
    {"defaults", 0.8f, 40, 0.95f, 0.05f, 1.0f},     {"greedy + penalty", 0.0f, 0, 1.0f, 0.0f, 1.3f},
    {"defaults + penalty", 0.8f, 40, 0.95f, 0.05f, 1.3f}, {"penalty < 1", 1.0f, 0, 0.5f, 0.1f, 0.001f},
};
#define N_MODES (int)(sizeof(MODES) / sizeof(MODES[0]))

/* Fills x with a pattern of non-finite values (pattern p of N_BAD); the rest are ordinary logits. */
#define N_BAD 9
static const char *fill_bad(float *x, int n, int p) {
    for (int i = 0; i < n; i++) x[i] = (float)((i * 13) % 17) * 0.5f - 4.0f;
    switch (p) {
    case 0: for (int i = 0; i < n; i++) x[i] = NAN; return "all NaN";
    case 1: x[0] = NAN; return "NaN first";
    case 2: x[n / 2] = NAN; return "NaN in the middle";
    case 3: x[n - 1] = NAN; return "NaN last";
    case 4: x[n / 3] = INFINITY; return "one +inf";
    case 5: x[n / 3] = INFINITY; x[n / 2] = INFINITY; return "two +inf";
    case 6: x[1] = -INFINITY; return "one -inf";
    case 7: for (int i = 0; i < n; i++) x[i] = -INFINITY; return "all -inf";
    default: x[2] = INFINITY; x[3] = -INFINITY; x[4] = NAN; return "+inf, -inf and NaN";
    }
}

static void test_non_finite_logits_are_reported_in_every_mode(void) {
    enum { V = 64 };
    float x[V];
    const int32_t history[] = {1, 2, 3, 4, 4, 63};
    for (int m = 0; m < N_MODES; m++) {
        for (int p = 0; p < N_BAD; p++) {
            const mode *md = &MODES[m];
            edgec_sampler s = make(V, md->temp, md->top_k, md->top_p, md->min_p, md->penalty, 64, 5);
            const char *what = fill_bad(x, V, p);
            int id = edgec_sample(&s, x, history, 6);
            CHECK(id == EDGEC_SAMPLE_NONFINITE, "%s with %s logits should report them, got %d", md->name, what, id);
            fill_bad(x, V, p);
            id = edgec_sample(&s, x, NULL, 0);
            CHECK(id == EDGEC_SAMPLE_NONFINITE, "%s with %s logits (no history) should report them, got %d", md->name,
                  what, id);
        }
    }
    /* a sampler that saw bad logits still works on good ones: its scratch flags were not left set */
    edgec_sampler s = make(V, 0.0f, 0, 1.0f, 0.0f, 2.0f, 64, 5);
    fill_bad(x, V, 0);
    edgec_sample(&s, x, history, 6);
    for (int i = 0; i < V; i++) x[i] = 0.0f;
    x[4] = 1.0f, x[5] = 0.9f;
    CHECK(edgec_sample(&s, x, history, 6) == 5, "after a non-finite row the penalty on 4 should still apply");
}

static void test_first_nonfinite(void) {
    float x[5] = {1.0f, -2.0f, FLT_MAX, -FLT_MAX, 0.0f};
    CHECK(edgec_first_nonfinite(x, 5) == -1, "finite values, FLT_MAX included, are finite");
    x[3] = NAN;
    CHECK(edgec_first_nonfinite(x, 5) == 3, "NaN at 3, got %d", edgec_first_nonfinite(x, 5));
    x[1] = -INFINITY;
    CHECK(edgec_first_nonfinite(x, 5) == 1, "-inf at 1, got %d", edgec_first_nonfinite(x, 5));
    CHECK(edgec_first_nonfinite(x, 0) == -1, "an empty row has no bad value");
}

/* Finite logits at the ends of the float range, with settings that scale them up, still give a
 * token in range, and the one the settings imply. */
static void test_extreme_finite_logits(void) {
    enum { V = 32 };
    float x[V];
    const int32_t history[] = {7};
    for (int m = 0; m < N_MODES; m++) {
        const mode *md = &MODES[m];
        edgec_sampler s = make(V, md->temp, md->top_k, md->top_p, md->min_p, md->penalty, 64, 9);
        for (int i = 0; i < V; i++) x[i] = i % 2 ? FLT_MAX : -FLT_MAX;
        int id = edgec_sample(&s, x, history, 1);
        CHECK(id >= 0 && id < V && id % 2 == 1, "%s with +-FLT_MAX logits: got %d, want an odd id", md->name, id);
    }
    /* a temperature of 1e-30 turns every finite gap into certainty instead of overflowing */
    edgec_sampler s = make(V, 1e-30f, 0, 1.0f, 0.0f, 1.0f, 64, 9);
    for (int trial = 0; trial < 50; trial++) {
        for (int i = 0; i < V; i++) x[i] = (float)i * 1e3f;
        int id = edgec_sample(&s, x, NULL, 0);
        CHECK(id == V - 1, "temperature 1e-30 should always pick the largest logit, got %d", id);
    }
    /* a denormal temperature (1 / t is inf): equal logits stay a fair draw, not 0 * inf = NaN */
    s = make(V, 1e-40f, 0, 0.95f, 0.05f, 1.0f, 64, 9);
    int seen_ids[V] = {0};
    for (int trial = 0; trial < 200; trial++) {
        for (int i = 0; i < V; i++) x[i] = 0.0f;
        int id = edgec_sample(&s, x, NULL, 0);
        CHECK(id >= 0 && id < V, "temperature 1e-40 on equal logits: got %d", id);
        if (id >= 0 && id < V) seen_ids[id] = 1;
    }
    int distinct = 0;
    for (int i = 0; i < V; i++) distinct += seen_ids[i];
    CHECK(distinct > V / 2, "temperature 1e-40 on equal logits should still draw among them, drew %d distinct",
          distinct);
    /* a penalty below 1 divides a positive FLT_MAX logit by 0.001: clamped, not inf */
    s = make(V, 1.0f, 0, 1.0f, 0.0f, 0.001f, 64, 9);
    for (int i = 0; i < V; i++) x[i] = 0.0f;
    x[7] = FLT_MAX;
    x[8] = FLT_MAX;
    int id = edgec_sample(&s, x, history, 1);
    CHECK(id == 7 || id == 8, "penalty 0.001 on a FLT_MAX logit: got %d, want 7 or 8", id);
    CHECK(x[7] == FLT_MAX, "the penalised FLT_MAX logit should stay FLT_MAX, got %g", (double)x[7]);
}

int main(void) {
    test_argmax_ties();
    test_top_k_1_is_greedy();
    test_top_k_keeps_k_best();
    test_top_p();
    test_min_p();
    test_temperature();
    test_repeat_penalty();
    test_seed_determinism();
    test_init_rejects_bad_arguments();
    test_non_finite_logits_are_reported_in_every_mode();
    test_first_nonfinite();
    test_extreme_finite_logits();
    return check_summary();
}
