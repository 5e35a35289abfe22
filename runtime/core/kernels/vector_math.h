/* kernels/vector_math.h - the float vector helpers (exp, dot, rmsnorm, axpy, add, max, exp_sum,
 * swiglu) written once over an ISA's vector layer; each ISA's float.h includes its vec.h, then this.
 *
 * The vector layer: what an ISA folder's vec.h (x86/avx2, x86/avx512, arm/neon) defines for this
 * file and kernels/float_matmul.h (a new ISA writes these and nothing else for the float kernels):
 *   EDGEC_VEC_FN(name)     the ISA's name of a helper (edgec_avx2_##name): kernels.h calls these
 *   EDGEC_VEC_LANES        floats per vector
 *   EDGEC_VEC_MASKED_TAIL  1: a step may be partial (masked loads and stores), loops run to n;
 *                          0: steps are whole vectors, the last n % LANES elements take the scalar code
 *   EDGEC_VEC_BATCH_ROWS   weight rows per float-matmul tile when 4 tokens share each weight vector
 *   types edgec_vec (the vector), edgec_vec_sel (a set of lanes, for exp)
 *   functions edgec_vec_<op>: zero, set1, loadu, add, sub, mul, div, neg, fmadd(a, b, c) = a*b + c and
 *     fnmadd(a, b, c) = c - a*b (fused), hsum and hmax (to a float), round (to nearest even),
 *     clamp(x, lo, hi) (NaN stays NaN), not_below(x, lo) (the lanes x >= lo or NaN),
 *     mul_in(sel, a, b) (a*b in sel, 0 elsewhere), pow2i(k) (2^k of integral lanes k),
 *     load_weights(fmt, p) (LANES weights of an f32/f16/bf16 row at any alignment, as floats),
 *     prefetch(p) (a weight stream ahead; may do nothing);
 *   with MASKED_TAIL 0: storeu, max (below they make the step functions, which see whole vectors);
 *   with MASKED_TAIL 1: type edgec_vec_part (a step's lanes) and part_of(len) (the first min(len, LANES)
 *     lanes), load_part, store_part, keep_part (0 outside the part), max_part(part, acc, v) (max(acc, v)
 *     in the part, acc elsewhere), load_weights_part(fmt, p, part).
 * The ISAs differ only where their primitives do: lanes per sum (so summation order), the tail
 * (masked vector or scalar code) and which NaN a min/max or fma passes on.
 */
#ifndef EDGEC_KERNELS_VECTOR_MATH_H
#define EDGEC_KERNELS_VECTOR_MATH_H

#ifndef EDGEC_VEC_LANES
#error "include an ISA's vec.h (kernels/x86/avx2/vec.h, ...) before kernels/vector_math.h"
#endif

#include "kernels/scalar/dense.h"

/* EDGEC_VEC_STEP_FITS(i, n): whether a vector step fits from element i of n. */
#if EDGEC_VEC_MASKED_TAIL
#define EDGEC_VEC_STEP_FITS(i, n) ((i) < (n)) /* a masked step takes any remainder */
#else
#define EDGEC_VEC_STEP_FITS(i, n) ((i) + EDGEC_VEC_LANES <= (n))
/* Whole-vector steps: a step's part is all its lanes, so the step functions are the plain ones. */
typedef int edgec_vec_part;
EDGEC_ALWAYS_INLINE edgec_vec_part edgec_vec_part_of(int len) { return len; }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_load_part(edgec_vec_part m, const float *p) { (void)m; return edgec_vec_loadu(p); }
EDGEC_ALWAYS_INLINE void edgec_vec_store_part(float *p, edgec_vec_part m, edgec_vec v) { (void)m; edgec_vec_storeu(p, v); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_keep_part(edgec_vec_part m, edgec_vec v) { (void)m; return v; }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_max_part(edgec_vec_part m, edgec_vec acc, edgec_vec v) { (void)m; return edgec_vec_max(acc, v); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_load_weights_part(int fmt, const uint8_t *p, edgec_vec_part m) { (void)m; return edgec_vec_load_weights(fmt, p); }
#endif

/* exp with the scalar path's range reduction and Taylor polynomial (see edgec_expf_c). */
EDGEC_ALWAYS_INLINE edgec_vec EDGEC_VEC_FN(exp)(edgec_vec x)
{
    const edgec_vec_sel keep = edgec_vec_not_below(x, edgec_vec_set1(EDGEC_EXP_MIN)); /* NaN stays NaN */
    x = edgec_vec_clamp(x, edgec_vec_set1(EDGEC_EXP_MIN), edgec_vec_set1(EDGEC_EXP_MAX));
    const edgec_vec k = edgec_vec_round(edgec_vec_mul(x, edgec_vec_set1(EDGEC_LOG2E)));
    edgec_vec r = edgec_vec_fnmadd(k, edgec_vec_set1(EDGEC_LN2_HI), x);
    r = edgec_vec_fnmadd(k, edgec_vec_set1(EDGEC_LN2_LO), r);
    edgec_vec p = edgec_vec_set1(1.0f / 5040.0f);
    p = edgec_vec_fmadd(p, r, edgec_vec_set1(1.0f / 720.0f));
    p = edgec_vec_fmadd(p, r, edgec_vec_set1(1.0f / 120.0f));
    p = edgec_vec_fmadd(p, r, edgec_vec_set1(1.0f / 24.0f));
    p = edgec_vec_fmadd(p, r, edgec_vec_set1(1.0f / 6.0f));
    p = edgec_vec_fmadd(p, r, edgec_vec_set1(0.5f));
    p = edgec_vec_fmadd(p, r, edgec_vec_set1(1.0f));
    p = edgec_vec_fmadd(p, r, edgec_vec_set1(1.0f));
    return edgec_vec_mul_in(keep, p, edgec_vec_pow2i(k)); /* below EDGEC_EXP_MIN: 0 */
}

static inline float EDGEC_VEC_FN(dot_f32)(const float *a, const float *b, int n)
{
    const int L = EDGEC_VEC_LANES;
    edgec_vec acc0 = edgec_vec_zero(), acc1 = edgec_vec_zero(); /* two chains hide fma latency */
    int i = 0;
    for (; i + 2 * L <= n; i += 2 * L) {
        acc0 = edgec_vec_fmadd(edgec_vec_loadu(a + i), edgec_vec_loadu(b + i), acc0);
        acc1 = edgec_vec_fmadd(edgec_vec_loadu(a + i + L), edgec_vec_loadu(b + i + L), acc1);
    }
    for (; EDGEC_VEC_STEP_FITS(i, n); i += L) {
        const edgec_vec_part m = edgec_vec_part_of(n - i);
        acc0 = edgec_vec_fmadd(edgec_vec_load_part(m, a + i), edgec_vec_load_part(m, b + i), acc0);
    }
    float s = edgec_vec_hsum(edgec_vec_add(acc0, acc1));
    if (!EDGEC_VEC_MASKED_TAIL) s += edgec_scalar_dot_f32(a + i, b + i, n - i);
    return s;
}

/* out = x / sqrt(mean(x^2) + eps) * w; out may alias x. */
static inline void EDGEC_VEC_FN(rmsnorm)(float *out, const float *x, const float *w, int n, float eps)
{
    const float scale = 1.0f / sqrtf(EDGEC_VEC_FN(dot_f32)(x, x, n) / (float)n + eps);
    const edgec_vec sv = edgec_vec_set1(scale);
    int i = 0;
    for (; EDGEC_VEC_STEP_FITS(i, n); i += EDGEC_VEC_LANES) {
        const edgec_vec_part m = edgec_vec_part_of(n - i);
        edgec_vec_store_part(out + i, m, edgec_vec_mul(edgec_vec_mul(edgec_vec_load_part(m, x + i), sv), edgec_vec_load_part(m, w + i)));
    }
    /* the tail counted from 0: on `for (; i < n; i++)` with a constant n (the generated model.c), gcc 12
     * for 32-bit ARM warns "iteration 1073741823 invokes undefined behavior" */
    if (!EDGEC_VEC_MASKED_TAIL)
        for (int k = 0; k < n - i; k++) out[i + k] = x[i + k] * scale * w[i + k];
}

/* y += a*x */
static inline void EDGEC_VEC_FN(axpy_f32)(float *y, float a, const float *x, int n)
{
    const edgec_vec av = edgec_vec_set1(a);
    int i = 0;
    for (; EDGEC_VEC_STEP_FITS(i, n); i += EDGEC_VEC_LANES) {
        const edgec_vec_part m = edgec_vec_part_of(n - i);
        edgec_vec_store_part(y + i, m, edgec_vec_fmadd(av, edgec_vec_load_part(m, x + i), edgec_vec_load_part(m, y + i)));
    }
    if (!EDGEC_VEC_MASKED_TAIL) edgec_scalar_axpy_f32(y + i, a, x + i, n - i);
}

/* y += x */
static inline void EDGEC_VEC_FN(add_f32)(float *y, const float *x, int n)
{
    int i = 0;
    for (; EDGEC_VEC_STEP_FITS(i, n); i += EDGEC_VEC_LANES) {
        const edgec_vec_part m = edgec_vec_part_of(n - i);
        edgec_vec_store_part(y + i, m, edgec_vec_add(edgec_vec_load_part(m, y + i), edgec_vec_load_part(m, x + i)));
    }
    if (!EDGEC_VEC_MASKED_TAIL) edgec_scalar_add_f32(y + i, x + i, n - i);
}

/* max of x[0..n), n >= 1. */
static inline float EDGEC_VEC_FN(max_f32)(const float *x, int n)
{
    edgec_vec mx = edgec_vec_set1(x[0]);
    int i = 0;
    for (; EDGEC_VEC_STEP_FITS(i, n); i += EDGEC_VEC_LANES) {
        const edgec_vec_part m = edgec_vec_part_of(n - i);
        mx = edgec_vec_max_part(m, mx, edgec_vec_load_part(m, x + i));
    }
    float best = edgec_vec_hmax(mx);
    if (!EDGEC_VEC_MASKED_TAIL)
        for (; i < n; i++) best = x[i] > best ? x[i] : best;
    return best;
}

/* x = exp(x - m) in place for a block of scores (m >= every x: the running max); returns their sum. */
static inline float EDGEC_VEC_FN(exp_sum)(float *x, int n, float m)
{
    const edgec_vec mv = edgec_vec_set1(m);
    edgec_vec sum = edgec_vec_zero();
    int i = 0;
    for (; EDGEC_VEC_STEP_FITS(i, n); i += EDGEC_VEC_LANES) {
        const edgec_vec_part k = edgec_vec_part_of(n - i);
        const edgec_vec e = edgec_vec_keep_part(k, EDGEC_VEC_FN(exp)(edgec_vec_sub(edgec_vec_load_part(k, x + i), mv)));
        edgec_vec_store_part(x + i, k, e);
        sum = edgec_vec_add(sum, e);
    }
    float s = edgec_vec_hsum(sum);
    if (!EDGEC_VEC_MASKED_TAIL) s += edgec_scalar_exp_sum(x + i, n - i, m);
    return s;
}

/* gate = silu(gate) * up, silu(g) = g / (1 + exp(-g)). */
static inline void EDGEC_VEC_FN(swiglu)(float *gate, const float *up, int n)
{
    const edgec_vec one = edgec_vec_set1(1.0f);
    int i = 0;
    for (; EDGEC_VEC_STEP_FITS(i, n); i += EDGEC_VEC_LANES) {
        const edgec_vec_part m = edgec_vec_part_of(n - i);
        const edgec_vec g = edgec_vec_load_part(m, gate + i);
        const edgec_vec silu = edgec_vec_div(g, edgec_vec_add(one, EDGEC_VEC_FN(exp)(edgec_vec_neg(g))));
        edgec_vec_store_part(gate + i, m, edgec_vec_mul(silu, edgec_vec_load_part(m, up + i)));
    }
    if (!EDGEC_VEC_MASKED_TAIL) edgec_scalar_swiglu(gate + i, up + i, n - i);
}

#endif
