/* sampler.c - repeat penalty, top-k, temperature, min-p, top-p and the draw. */
#include "sampler.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

/* ---- random numbers: xorshift64*, seeded through splitmix64 ---- */

uint64_t edgec_rng_seed(uint64_t seed) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 0x9E3779B97F4A7C15ull; /* xorshift must never hold 0 */
}

uint32_t edgec_rng_u32(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (uint32_t)((x * 0x2545F4914F6CDD1Dull) >> 32);
}

float edgec_rng_f32(uint64_t *state) {
    /* 24 bits: every value is exact in a float and strictly below 1 */
    return (float)(edgec_rng_u32(state) >> 8) * (1.0f / 16777216.0f);
}

/* ---- setup ---- */

size_t edgec_sampler_scratch_bytes(int n_vocab) {
    if (n_vocab <= 0) return 0;
    return (size_t)n_vocab * sizeof(edgec_candidate) + (size_t)n_vocab;
}

int edgec_sampler_init(edgec_sampler *s, int n_vocab, float temperature, int top_k,
                       float top_p, float min_p, float repeat_penalty, int repeat_last_n,
                       uint64_t seed, void *scratch, size_t scratch_bytes) {
    if (n_vocab <= 0 || !scratch || scratch_bytes < edgec_sampler_scratch_bytes(n_vocab)) return -1;
    if (!(temperature >= 0.0f && temperature <= FLT_MAX) || top_k < 0 || !(top_p > 0.0f && top_p <= 1.0f)) return -1;
    if (!(min_p >= 0.0f && min_p <= 1.0f) || !(repeat_penalty > 0.0f && repeat_penalty <= FLT_MAX) || repeat_last_n < 0)
        return -1; /* an infinite penalty would turn a 0 logit into 0 * inf = NaN */
    s->n_vocab = n_vocab;
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->min_p = min_p;
    s->repeat_penalty = repeat_penalty;
    s->repeat_last_n = repeat_last_n;
    s->rng = edgec_rng_seed(seed);
    s->cand = (edgec_candidate *)scratch;
    s->seen = (unsigned char *)scratch + (size_t)n_vocab * sizeof(edgec_candidate);
    for (int i = 0; i < n_vocab; i++) s->seen[i] = 0;
    return 0;
}

/* ---- the steps ---- */

int edgec_first_nonfinite(const float *x, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

int edgec_argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

void edgec_apply_repeat_penalty(float *logits, int n, const int32_t *history, int n_history,
                                int last_n, float penalty, unsigned char *seen) {
    if (penalty == 1.0f || last_n <= 0 || n_history <= 0) return;
    int start = n_history > last_n ? n_history - last_n : 0;
    for (int i = start; i < n_history; i++) {
        int id = history[i];
        if (id < 0 || id >= n || seen[id]) continue; /* each distinct token once */
        seen[id] = 1;
        float v = logits[id] > 0.0f ? logits[id] / penalty : logits[id] * penalty;
        logits[id] = v > FLT_MAX ? FLT_MAX : v < -FLT_MAX ? -FLT_MAX : v;
    }
    for (int i = start; i < n_history; i++)
        if (history[i] >= 0 && history[i] < n) seen[history[i]] = 0;
}

/* a ranks before b: higher logit, then lower id (a total order, so results are deterministic) */
static int ranks_before(const edgec_candidate *a, const edgec_candidate *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int compare_candidates(const void *pa, const void *pb) {
    const edgec_candidate *a = pa, *b = pb;
    return ranks_before(a, b) ? -1 : ranks_before(b, a) ? 1 : 0;
}

/* Restores the heap below i, where the worst-ranked candidate sits at the root. */
static void sift_down(edgec_candidate *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, r = l + 1, worst = i;
        if (l < n && ranks_before(&h[worst], &h[l])) worst = l;
        if (r < n && ranks_before(&h[worst], &h[r])) worst = r;
        if (worst == i) return;
        edgec_candidate t = h[i];
        h[i] = h[worst];
        h[worst] = t;
        i = worst;
    }
}

/* Puts the k best of logits into cand, best first: a k-heap pass, then heapsort. O(V + K log K) typical. */
static void select_top_k(edgec_candidate *cand, const float *logits, int n, int k) {
    for (int i = 0; i < k; i++) cand[i] = (edgec_candidate){logits[i], 0.0f, i};
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(cand, k, i);
    for (int i = k; i < n; i++) {
        edgec_candidate c = {logits[i], 0.0f, i};
        if (ranks_before(&c, &cand[0])) {
            cand[0] = c;
            sift_down(cand, k, 0);
        }
    }
    for (int end = k - 1; end > 0; end--) { /* moving the worst to the back leaves best first */
        edgec_candidate t = cand[0];
        cand[0] = cand[end];
        cand[end] = t;
        sift_down(cand, end, 0);
    }
}

/* exp((logit - max) / temperature) into prob; returns the sum (>= 1: the top token gives exp(0)).
 * Subtracting the max before dividing keeps a tiny temperature from overflowing finite logits
 * to inf (inf - inf would be NaN); the logits themselves stay unscaled. */
static float softmax_unnormalised(edgec_candidate *cand, int n, float temperature) {
    float max = cand[0].logit;
    for (int i = 1; i < n; i++)
        if (cand[i].logit > max) max = cand[i].logit;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        cand[i].prob = expf((cand[i].logit - max) / temperature);
        sum += cand[i].prob;
    }
    return sum;
}

/* Keeps candidates whose probability is at least min_p times the largest (which is exp(0) = 1). */
static int keep_min_p(edgec_candidate *cand, int n, float min_p, float *sum) {
    int kept = 0;
    float kept_sum = 0.0f;
    for (int i = 0; i < n; i++) {
        if (cand[i].prob >= min_p) {
            kept_sum += cand[i].prob;
            cand[kept++] = cand[i];
        }
    }
    *sum = kept_sum;
    return kept;
}

/* Keeps the smallest best-first prefix whose probability reaches top_p of the total.
 * Unsorted input is first thinned: a candidate below (1 - top_p) / (n - 1) of the
 * total can never be in the nucleus, so only the few left need sorting. */
static int keep_top_p(edgec_candidate *cand, int n, int sorted, float top_p, float *sum) {
    float total = *sum;
    if (!sorted) {
        if (n > 1) {
            float cutoff = (1.0f - top_p) / (float)(n - 1) * total;
            int kept = 0;
            for (int i = 0; i < n; i++)
                if (cand[i].prob >= cutoff) kept++;
            if (kept > 0) {
                kept = 0;
                for (int i = 0; i < n; i++)
                    if (cand[i].prob >= cutoff) cand[kept++] = cand[i];
                n = kept;
            }
        }
        qsort(cand, (size_t)n, sizeof(*cand), compare_candidates);
    }
    float target = top_p * total, cum = 0.0f;
    for (int i = 0; i < n; i++) {
        cum += cand[i].prob;
        if (cum >= target) {
            *sum = cum;
            return i + 1;
        }
    }
    *sum = cum;
    return n; /* rounding kept us just below the target: keep everything */
}

static int draw(const edgec_candidate *cand, int n, float sum, uint64_t *rng) {
    float r = edgec_rng_f32(rng) * sum, cum = 0.0f;
    for (int i = 0; i < n; i++) {
        cum += cand[i].prob;
        if (r < cum) return cand[i].id;
    }
    return cand[n - 1].id; /* r landed in the rounding gap at the top */
}

int edgec_sample(edgec_sampler *s, float *logits, const int32_t *history, int n_history) {
    int n = s->n_vocab;
    if (edgec_first_nonfinite(logits, n) >= 0) return EDGEC_SAMPLE_NONFINITE;
    edgec_apply_repeat_penalty(logits, n, history, n_history, s->repeat_last_n, s->repeat_penalty, s->seen);
    if (s->temperature <= 0.0f) return edgec_argmax(logits, n);

    edgec_candidate *cand = s->cand;
    int sorted = 0;
    if (s->top_k > 0 && s->top_k < n) {
        select_top_k(cand, logits, n, s->top_k);
        n = s->top_k;
        sorted = 1;
    } else {
        for (int i = 0; i < n; i++) cand[i] = (edgec_candidate){logits[i], 0.0f, i};
    }
    float sum = softmax_unnormalised(cand, n, s->temperature);
    if (s->min_p > 0.0f) n = keep_min_p(cand, n, s->min_p, &sum);
    if (s->top_p < 1.0f) n = keep_top_p(cand, n, sorted, s->top_p, &sum);
    return draw(cand, n, sum, &s->rng);
}
