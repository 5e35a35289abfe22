/* kernels/x86/avx2/float.h - AVX2 + FMA + F16C: float-weight matmul (f32, f16, bf16) and the float vector
 * helpers (dot, rmsnorm, axpy, add, max, exp, softmax blocks, swiglu). */
#ifndef EDGEC_KERNELS_AVX2_FLOAT_H
#define EDGEC_KERNELS_AVX2_FLOAT_H

#include <immintrin.h>

#include "kernels/scalar/dense.h"

/* Horizontal sum of 8 floats. */
EDGEC_ALWAYS_INLINE float edgec_avx2_hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* ---- float-weight matmul ---------------------------------------------------------- */

/* 8 floats from p, or the first len (< 8) of them and zeros. */
EDGEC_ALWAYS_INLINE __m256 edgec_avx2_load_floats(const float *p, int len)
{
    if (len >= 8) return _mm256_loadu_ps(p);
    float buf[8] = {0};
    memcpy(buf, p, (size_t)len * sizeof *p);
    return _mm256_loadu_ps(buf);
}

/* 8 weights of a float-format row at p (any alignment) as floats. */
EDGEC_ALWAYS_INLINE __m256 edgec_avx2_convert_weights(int fmt, const uint8_t *p)
{
    if (fmt == EDGEC_FMT_F32) return _mm256_loadu_ps((const float *)p);
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (fmt == EDGEC_FMT_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); /* bf16: upper half of a float */
}

/* 8 weights of a float-format row from element j (the first len < 8, zero-padded, at the row's end). */
EDGEC_ALWAYS_INLINE __m256 edgec_avx2_load_weights(int fmt, const uint8_t *row, int j, int len)
{
    const size_t es = fmt == EDGEC_FMT_F32 ? 4 : 2;
    if (len >= 8) return edgec_avx2_convert_weights(fmt, row + j * es);
    uint8_t buf[32] = {0};
    memcpy(buf, row + j * es, (size_t)len * es);
    return edgec_avx2_convert_weights(fmt, buf);
}

/* R x T tile of float-weight dots, R, T constants (<= 4, <= 8); each weight vector serves T tokens. */
EDGEC_ALWAYS_INLINE void edgec_avx2_tile_float(int fmt, int R, int T, float *out, int ldo, const void *w, int r,
                                               const float *x, int ldx, int t, int n)
{
    const size_t row_bytes = (size_t)n * (fmt == EDGEC_FMT_F32 ? 4 : 2);
    const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
    __m256 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[i][j] = _mm256_setzero_ps();
    for (int k = 0; k < n; k += 8) {
        __m256 wv[EDGEC_TILE_ROWS];
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TILE_ROWS; i++) {
            if (i >= R) continue;
            _mm_prefetch((const char *)row + i * row_bytes + k * (row_bytes / n) + EDGEC_PREFETCH_BYTES, _MM_HINT_T1);
            wv[i] = edgec_avx2_load_weights(fmt, row + i * row_bytes, k, n - k);
        }
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (j >= T) break;
            __m256 xv = edgec_avx2_load_floats(x + (size_t)(t + j) * ldx + k, n - k);
EDGEC_UNROLL
            for (int i = 0; i < EDGEC_TILE_ROWS; i++) if (i < R) acc[i][j] = _mm256_fmadd_ps(wv[i], xv, acc[i][j]);
        }
    }
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
            if (i < R && j < T) out[(size_t)(t + j) * ldo + r + i] = edgec_avx2_hsum(acc[i][j]);
}

/* Rows [r0, r1) x tokens [0, n_tok): 4-row tiles for one token, 2-row x 4-token tiles for a batch. */
EDGEC_ALWAYS_INLINE void edgec_avx2_matmul_float(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                                 const float *x, int ldx, int n_tok, int n)
{
    int r = r0;
    if (n_tok == 1) {
        for (; r + 4 <= r1; r += 4) edgec_avx2_tile_float(fmt, 4, 1, out, ldo, w, r, x, ldx, 0, n);
        for (; r < r1; r++) edgec_avx2_tile_float(fmt, 1, 1, out, ldo, w, r, x, ldx, 0, n);
        return;
    }
    for (; r + 2 <= r1; r += 2) {
        int t = 0;
        for (; t + 4 <= n_tok; t += 4) edgec_avx2_tile_float(fmt, 2, 4, out, ldo, w, r, x, ldx, t, n);
        for (; t < n_tok; t++) edgec_avx2_tile_float(fmt, 2, 1, out, ldo, w, r, x, ldx, t, n);
    }
    for (; r < r1; r++) {
        int t = 0;
        for (; t + 4 <= n_tok; t += 4) edgec_avx2_tile_float(fmt, 1, 4, out, ldo, w, r, x, ldx, t, n);
        for (; t < n_tok; t++) edgec_avx2_tile_float(fmt, 1, 1, out, ldo, w, r, x, ldx, t, n);
    }
}

static inline void edgec_avx2_matmul_f32(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_avx2_matmul_float(EDGEC_FMT_F32, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_avx2_matmul_f16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_avx2_matmul_float(EDGEC_FMT_F16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_avx2_matmul_bf16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_avx2_matmul_float(EDGEC_FMT_BF16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }

/* ---- vector helpers (full vectors, then the scalar code for the last n % 8) ------------ */

/* exp with the scalar path's range reduction and Taylor polynomial (see edgec_expf_c). */
EDGEC_ALWAYS_INLINE __m256 edgec_avx2_exp(__m256 x)
{
    __m256 keep = _mm256_cmp_ps(x, _mm256_set1_ps(EDGEC_EXP_MIN), _CMP_NLT_UQ); /* NaN stays NaN */
    x = _mm256_min_ps(_mm256_set1_ps(EDGEC_EXP_MAX), x);
    x = _mm256_max_ps(_mm256_set1_ps(EDGEC_EXP_MIN), x);
    __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(EDGEC_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(EDGEC_LN2_HI), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(EDGEC_LN2_LO), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256 pow2k = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23));
    return _mm256_and_ps(keep, _mm256_mul_ps(p, pow2k));
}

static inline float edgec_avx2_dot_f32(const float *a, const float *b, int n)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(); /* two chains hide fma latency */
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    return edgec_avx2_hsum(_mm256_add_ps(acc0, acc1)) + edgec_scalar_dot_f32(a + i, b + i, n - i);
}

/* out = x / sqrt(mean(x^2) + eps) * w; out may alias x. */
static inline void edgec_avx2_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    float scale = 1.0f / sqrtf(edgec_avx2_dot_f32(x, x, n) / (float)n + eps);
    __m256 sv = _mm256_set1_ps(scale);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv), _mm256_loadu_ps(w + i)));
    for (; i < n; i++) out[i] = x[i] * scale * w[i];
}

/* y += a*x */
static inline void edgec_avx2_axpy_f32(float *y, float a, const float *x, int n)
{
    __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    edgec_scalar_axpy_f32(y + i, a, x + i, n - i);
}

/* y += x */
static inline void edgec_avx2_add_f32(float *y, const float *x, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(x + i)));
    edgec_scalar_add_f32(y + i, x + i, n - i);
}

/* max of x[0..n), n >= 1. */
static inline float edgec_avx2_max_f32(const float *x, int n)
{
    __m256 mx = _mm256_set1_ps(x[0]);
    int i = 0;
    for (; i + 8 <= n; i += 8) mx = _mm256_max_ps(mx, _mm256_loadu_ps(x + i));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    float m = _mm_cvtss_f32(h);
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* x = exp(x - m) in place for a block of scores (m >= every x: the running max); returns their sum. */
static inline float edgec_avx2_exp_sum(float *x, int n, float m)
{
    __m256 mv = _mm256_set1_ps(m), sum8 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = edgec_avx2_exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), mv));
        _mm256_storeu_ps(x + i, e);
        sum8 = _mm256_add_ps(sum8, e);
    }
    return edgec_avx2_hsum(sum8) + edgec_scalar_exp_sum(x + i, n - i, m);
}

/* gate = silu(gate) * up, silu(g) = g / (1 + exp(-g)). */
static inline void edgec_avx2_swiglu(float *gate, const float *up, int n)
{
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, edgec_avx2_exp(_mm256_sub_ps(zero, g))));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    edgec_scalar_swiglu(gate + i, up + i, n - i);
}

#endif
