/* kernels/x86/avx512/float.h - AVX-512 F+BW: float-weight matmul (f32, f16, bf16) and the float vector
 * helpers (dot, rmsnorm, axpy, add, max, exp, softmax blocks, swiglu). */
#ifndef EDGEC_KERNELS_AVX512_FLOAT_H
#define EDGEC_KERNELS_AVX512_FLOAT_H

#include <immintrin.h>

#include "kernels/scalar/dense.h"

/* ---- float-weight matmul ---------------------------------------------------------- */

/* Mask of the first `len` of 16 lanes (len may exceed 16). */
EDGEC_ALWAYS_INLINE __mmask16 edgec_avx512_first(int len) { return len >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << len) - 1u); }

/* 16 weights (fewer where mask ends the row; missing lanes are 0) of a float-format row from element j. */
EDGEC_ALWAYS_INLINE __m512 edgec_avx512_load_weights(int fmt, const uint8_t *row, int j, __mmask16 mask)
{
    if (fmt == EDGEC_FMT_F32) return _mm512_maskz_loadu_ps(mask, row + (size_t)j * 4);
    __m256i h = _mm512_castsi512_si256(_mm512_maskz_loadu_epi16((__mmask32)mask, row + (size_t)j * 2));
    if (fmt == EDGEC_FMT_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); /* bf16: upper half of a float */
}

/* R x T tile of float-weight dots, R, T constants (<= 4, <= 8); each weight vector serves T tokens. */
EDGEC_ALWAYS_INLINE void edgec_avx512_tile_float(int fmt, int R, int T, float *out, int ldo, const void *w, int r,
                                                 const float *x, int ldx, int t, int n)
{
    const size_t row_bytes = (size_t)n * (fmt == EDGEC_FMT_F32 ? 4 : 2);
    const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
    __m512 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < n; k += 16) {
        __mmask16 mask = edgec_avx512_first(n - k);
        __m512 wv[EDGEC_TILE_ROWS];
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TILE_ROWS; i++) {
            if (i >= R) continue;
            _mm_prefetch((const char *)row + i * row_bytes + k * (row_bytes / n) + EDGEC_PREFETCH_BYTES, _MM_HINT_T1);
            wv[i] = edgec_avx512_load_weights(fmt, row + i * row_bytes, k, mask);
        }
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (j >= T) break;
            __m512 xv = _mm512_maskz_loadu_ps(mask, x + (size_t)(t + j) * ldx + k);
EDGEC_UNROLL
            for (int i = 0; i < EDGEC_TILE_ROWS; i++) if (i < R) acc[i][j] = _mm512_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
            if (i < R && j < T) out[(size_t)(t + j) * ldo + r + i] = _mm512_reduce_add_ps(acc[i][j]);
}

/* Rows [r0, r1) x tokens [0, n_tok) in 4-row x (1 or 4)-token tiles. */
EDGEC_ALWAYS_INLINE void edgec_avx512_matmul_float(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                                   const float *x, int ldx, int n_tok, int n)
{
    int r = r0;
    for (; r + 4 <= r1; r += 4) {
        int t = 0;
        for (; t + 4 <= n_tok; t += 4) edgec_avx512_tile_float(fmt, 4, 4, out, ldo, w, r, x, ldx, t, n);
        for (; t < n_tok; t++) edgec_avx512_tile_float(fmt, 4, 1, out, ldo, w, r, x, ldx, t, n);
    }
    for (; r < r1; r++) {
        int t = 0;
        for (; t + 4 <= n_tok; t += 4) edgec_avx512_tile_float(fmt, 1, 4, out, ldo, w, r, x, ldx, t, n);
        for (; t < n_tok; t++) edgec_avx512_tile_float(fmt, 1, 1, out, ldo, w, r, x, ldx, t, n);
    }
}

static inline void edgec_avx512_matmul_f32(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_avx512_matmul_float(EDGEC_FMT_F32, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_avx512_matmul_f16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_avx512_matmul_float(EDGEC_FMT_F16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_avx512_matmul_bf16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_avx512_matmul_float(EDGEC_FMT_BF16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }

/* ---- vector helpers ---------------------------------------------------------------- */

/* exp with the scalar path's range reduction and Taylor polynomial (see edgec_expf_c). */
EDGEC_ALWAYS_INLINE __m512 edgec_avx512_exp(__m512 x)
{
    __mmask16 keep = _mm512_cmp_ps_mask(x, _mm512_set1_ps(EDGEC_EXP_MIN), _CMP_NLT_UQ); /* NaN stays NaN */
    x = _mm512_min_ps(_mm512_set1_ps(EDGEC_EXP_MAX), x);
    x = _mm512_max_ps(_mm512_set1_ps(EDGEC_EXP_MIN), x);
    __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(EDGEC_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(EDGEC_LN2_HI), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(EDGEC_LN2_LO), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512 pow2k = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23));
    return _mm512_maskz_mul_ps(keep, p, pow2k);
}

static inline float edgec_avx512_dot_f32(const float *a, const float *b, int n)
{
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps(); /* two chains hide fma latency */
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = edgec_avx512_first(n - i);
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

/* out = x / sqrt(mean(x^2) + eps) * w; out may alias x. */
static inline void edgec_avx512_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    __m512 scale = _mm512_set1_ps(1.0f / sqrtf(edgec_avx512_dot_f32(x, x, n) / (float)n + eps));
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = edgec_avx512_first(n - i);
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), scale), _mm512_maskz_loadu_ps(m, w + i));
        _mm512_mask_storeu_ps(out + i, m, v);
    }
}

/* y += a*x */
static inline void edgec_avx512_axpy_f32(float *y, float a, const float *x, int n)
{
    __m512 av = _mm512_set1_ps(a);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = edgec_avx512_first(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* y += x */
static inline void edgec_avx512_add_f32(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = edgec_avx512_first(n - i);
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* max of x[0..n), n >= 1. */
static inline float edgec_avx512_max_f32(const float *x, int n)
{
    __m512 mx = _mm512_set1_ps(x[0]);
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = edgec_avx512_first(n - i);
        mx = _mm512_mask_max_ps(mx, k, mx, _mm512_maskz_loadu_ps(k, x + i));
    }
    return _mm512_reduce_max_ps(mx);
}

/* x = exp(x - m) in place for a block of scores (m >= every x: the running max); returns their sum. */
static inline float edgec_avx512_exp_sum(float *x, int n, float m)
{
    __m512 mv = _mm512_set1_ps(m), sum = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = edgec_avx512_first(n - i);
        __m512 e = _mm512_maskz_mov_ps(k, edgec_avx512_exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), mv)));
        _mm512_mask_storeu_ps(x + i, k, e);
        sum = _mm512_add_ps(sum, e);
    }
    return _mm512_reduce_add_ps(sum);
}

/* gate = silu(gate) * up, silu(g) = g / (1 + exp(-g)). */
static inline void edgec_avx512_swiglu(float *gate, const float *up, int n)
{
    const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = edgec_avx512_first(n - i);
        __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, edgec_avx512_exp(_mm512_sub_ps(zero, g))));
        _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, up + i)));
    }
}

#endif
