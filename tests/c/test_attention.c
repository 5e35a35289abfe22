/* test_attention.c - the fused (online softmax) GQA attention kernels of kernels/attention.h against a
 * plain double-precision softmax attention.
 *
 * For n_pos in {1, 3, 31, 32, 33, 100, 511} and around EDGEC_ATTN_BLOCK (inside, at and across a block), n_q in
 * {1, 2, 3, 4} (and 5, 7: more heads than one pass takes), hd in {32, 64, 128} (and 40, 264: the
 * generic path on every ISA, rows longer than its 256-value pieces), f16 and f32 K/V, and score
 * patterns that exercise the running max: random, one huge score last (every earlier block is
 * rescaled to 0) or first, all equal, all large negative, a ramp (the max grows every block) and a
 * +-200 spread (most p underflow).  Also checks that a head's result does not depend on which
 * other heads share its call (the generated code groups heads differently per thread count), and
 * that nothing outside out[0, n_q*hd) is written.
 * Prints EDGEC_KERNELS_ISA=<path> and "N passed, M failed".
 */
#define TEST_RNG_SEED 0x5eed1234abcd0a77ull
#include "test_blocks.h"

#include "kernels/attention.h"

#define MAX_POS 511
#define MAX_Q 7
#define MAX_HD 264
#define GUARD 16   /* POISON floats after the output, which must survive */

enum { RANDOM, HUGE_LAST, HUGE_FIRST, ALL_EQUAL, LARGE_NEGATIVE, RAMP, SPREAD, N_PATTERNS };
static const char *pattern_name[N_PATTERNS] = {"random", "huge-last", "huge-first", "all-equal", "large-negative", "ramp", "spread"};

static float q[MAX_Q * MAX_HD], kf[MAX_POS * MAX_HD], vf[MAX_POS * MAX_HD];
static uint16_t kh[MAX_POS * MAX_HD], vh[MAX_POS * MAX_HD];
static double kd[MAX_POS * MAX_HD], vd[MAX_POS * MAX_HD];   /* the values the kernel sees (f16 decoded) */
static float out[MAX_Q * MAX_HD + GUARD], out1[MAX_HD + GUARD];

/* Target score of head 0 at position s (before the random part). */
static double target(int pattern, int s, int n_pos)
{
    switch (pattern) {
    case HUGE_LAST: return s == n_pos - 1 ? 1000.0 : 0.0;
    case HUGE_FIRST: return s == 0 ? 1000.0 : 0.0;
    case ALL_EQUAL: return 5.0;
    case LARGE_NEGATIVE: return -1000.0;
    case RAMP: return 0.5 * s;
    case SPREAD: return 200.0 * rng_float();
    default: return 0.0;
    }
}

/* Random queries; keys k_s = u * target_s + noise with u = q_0 / (scale |q_0|^2), so head 0 scores
 * target_s + small (the other heads scale the pattern by q_g . q_0 / |q_0|^2); random values. */
static void make_case(int pattern, int n_q, int n_pos, int hd, float scale)
{
    for (int i = 0; i < n_q * hd; i++) q[i] = rng_float();
    double q0sq = 0;
    for (int i = 0; i < hd; i++) q0sq += (double)q[i] * q[i];
    const double noise = pattern == ALL_EQUAL ? 0.0 : 1.0;
    for (int s = 0; s < n_pos; s++) {
        const double t = target(pattern, s, n_pos);
        for (int i = 0; i < hd; i++) {
            kf[s * hd + i] = (float)(q[i] / (scale * q0sq) * t + noise * rng_float());
            vf[s * hd + i] = rng_float() * 4.0f;
            kh[s * hd + i] = edgec_fp32_to_fp16(kf[s * hd + i]);   /* any rounding: the reference decodes these bits */
            vh[s * hd + i] = edgec_fp32_to_fp16(vf[s * hd + i]);
        }
    }
}

/* Double softmax attention of head g over what the kernel reads; tol[i]: the float error bound for
 * out[i] (1e-5 relative plus twice the worst score rounding, on sum_s p_s |v_si|, plus a little absolute). */
static void reference(double *ref, double *tol, int g, int n_pos, int hd, float scale)
{
    static double sc[MAX_POS];
    double mx = -INFINITY, worst_rounding = 0, vmax = 0;
    for (int s = 0; s < n_pos; s++) {
        double dot = 0, mag = 0;
        for (int i = 0; i < hd; i++) {
            dot += (double)q[g * hd + i] * kd[s * hd + i];
            mag += fabs((double)q[g * hd + i] * kd[s * hd + i]);
        }
        sc[s] = dot * scale;
        mx = fmax(mx, sc[s]);
        worst_rounding = fmax(worst_rounding, mag * scale * ldexp(hd / 8.0 + 8.0, -24));
    }
    double sum = 0;
    for (int s = 0; s < n_pos; s++) sum += (sc[s] = exp(sc[s] - mx));
    for (int i = 0; i < hd; i++) {
        double o = 0, a = 0;
        for (int s = 0; s < n_pos; s++) {
            o += sc[s] / sum * vd[s * hd + i];
            a += sc[s] / sum * fabs(vd[s * hd + i]);
            vmax = fmax(vmax, fabs(vd[s * hd + i]));
        }
        ref[i] = o;
        tol[i] = (1e-5 + 2 * worst_rounding) * a;
    }
    for (int i = 0; i < hd; i++) tol[i] += 1e-7 * vmax;
}

static void run(float *o, int f16, int n_q, int g0, int n_pos, int hd, float scale)
{
    if (f16) edgec_attn_fused_gqa_f16(o, q + g0 * hd, n_q, kh, vh, n_pos, hd, scale);
    else edgec_attn_fused_gqa_f32(o, q + g0 * hd, n_q, kf, vf, n_pos, hd, scale);
}

static void check_case(int pattern, int f16, int n_q, int n_pos, int hd)
{
    const float scale = 1.0f / sqrtf((float)hd);
    make_case(pattern, n_q, n_pos, hd, scale);
    for (int i = 0; i < n_pos * hd; i++) {
        kd[i] = f16 ? ref_half(kh[i]) : kf[i];
        vd[i] = f16 ? ref_half(vh[i]) : vf[i];
    }
    for (int i = 0; i < MAX_Q * MAX_HD + GUARD; i++) out[i] = POISON;
    run(out, f16, n_q, 0, n_pos, hd, scale);

    static double ref[MAX_HD], tol[MAX_HD];
    int bad = 0, stray = 0, differs = 0;
    double worst = 0;
    for (int g = 0; g < n_q; g++) {
        reference(ref, tol, g, n_pos, hd, scale);
        for (int i = 0; i < hd; i++) {
            const double err = fabs(out[g * hd + i] - ref[i]);
            worst = fmax(worst, err / tol[i]);
            bad += !(err <= tol[i]);
        }
        /* the same head alone in its call: bit-identical */
        for (int i = 0; i < MAX_HD + GUARD; i++) out1[i] = POISON;
        run(out1, f16, 1, g, n_pos, hd, scale);
        differs += memcmp(out1, out + g * hd, (size_t)hd * sizeof(float)) != 0;
        for (int i = hd; i < MAX_HD + GUARD; i++) stray += out1[i] != POISON;
    }
    for (int i = n_q * hd; i < MAX_Q * MAX_HD + GUARD; i++) stray += out[i] != POISON;
    check(!bad, "%s %s n_q=%d n_pos=%d hd=%d: %d values off (worst %.2f x tolerance)", pattern_name[pattern], f16 ? "f16" : "f32",
          n_q, n_pos, hd, bad, worst);
    check(!differs, "%s %s n_q=%d n_pos=%d hd=%d: %d heads differ from the same head computed alone", pattern_name[pattern],
          f16 ? "f16" : "f32", n_q, n_pos, hd, differs);
    check(!stray, "%s %s n_q=%d n_pos=%d hd=%d: %d floats written past the output", pattern_name[pattern], f16 ? "f16" : "f32",
          n_q, n_pos, hd, stray);
}

/* The exact answers of two patterns, independent of the tolerance model: one dominant score gives its
 * V row, all-equal scores give the mean of the V rows. */
static void check_exact_patterns(int f16)
{
    const int hd = 64, n_pos = 100;
    const float scale = 1.0f / sqrtf((float)hd);
    make_case(HUGE_LAST, 1, n_pos, hd, scale);
    run(out, f16, 1, 0, n_pos, hd, scale);
    int bad = 0;
    for (int i = 0; i < hd; i++) bad += out[i] != (f16 ? (float)ref_half(vh[(n_pos - 1) * hd + i]) : vf[(n_pos - 1) * hd + i]);
    check(!bad, "%s huge-last: %d values are not exactly the last V row", f16 ? "f16" : "f32", bad);

    make_case(ALL_EQUAL, 1, n_pos, hd, scale);
    run(out, f16, 1, 0, n_pos, hd, scale);
    bad = 0;
    for (int i = 0; i < hd; i++) {
        double mean = 0;
        for (int s = 0; s < n_pos; s++) mean += f16 ? ref_half(vh[s * hd + i]) : vf[s * hd + i];
        bad += !(fabs(out[i] - mean / n_pos) <= 1e-5 * 4.0);
    }
    check(!bad, "%s all-equal: %d values are not the mean of the V rows", f16 ? "f16" : "f32", bad);
}

int main(void)
{
    printf("EDGEC_KERNELS_ISA=%s\n", EDGEC_KERNELS_ISA);
    static const int n_pos_list[] = {1, 3, 31, 32, 33, 100, 511, EDGEC_ATTN_BLOCK - 1, EDGEC_ATTN_BLOCK, EDGEC_ATTN_BLOCK + 1};
    static const int hd_list[] = {32, 64, 128, 40, 264};
    static const int n_q_list[] = {1, 2, 3, 4, 5, 7};
    for (int f16 = 0; f16 < 2; f16++) {
        for (int hi = 0; hi < 5; hi++)
            for (int qi = 0; qi < 6; qi++)
                for (int pi = 0; pi < 10; pi++) {
                    const int hd = hd_list[hi], n_q = n_q_list[qi], n_pos = n_pos_list[pi];
                    if ((hi >= 3 || qi >= 4) && n_pos != 33 && n_pos != 100) continue;   /* extra shapes: two lengths */
                    for (int pattern = 0; pattern < N_PATTERNS; pattern++) check_case(pattern, f16, n_q, n_pos, hd);
                }
        check_exact_patterns(f16);
    }
    return check_summary();
}
