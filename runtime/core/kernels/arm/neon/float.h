/* kernels/arm/neon/float.h - AArch64 NEON: float-weight matmul (f32, f16, bf16) and the float vector
 * helpers (dot, rmsnorm, axpy, add, max, exp, softmax blocks, swiglu). */
#ifndef EDGEC_KERNELS_NEON_FLOAT_H
#define EDGEC_KERNELS_NEON_FLOAT_H

#include <arm_neon.h>

#include "kernels/scalar/dense.h"

/* ---- float-weight matmul ---------------------------------------------------------- */

/* 4 weights of a float-format row at p (any alignment) as floats. */
EDGEC_ALWAYS_INLINE float32x4_t edgec_neon_convert_weights(int fmt, const uint8_t *p)
{
    if (fmt == EDGEC_FMT_F32) return vreinterpretq_f32_u8(vld1q_u8(p));
    uint16x4_t h = vreinterpret_u16_u8(vld1_u8(p));
    if (fmt == EDGEC_FMT_BF16) return vreinterpretq_f32_u32(vshll_n_u16(h, 16)); /* bf16: upper half of a float */
#if defined(__ARM_FP16_FORMAT_IEEE)
    return vcvt_f32_f16(vreinterpret_f16_u16(h));
#else
    return edgec_neon_halves(vget_lane_u16(h, 0), vget_lane_u16(h, 1), vget_lane_u16(h, 2), vget_lane_u16(h, 3));
#endif
}

/* The last len (1..3) weights of a row from element j, zero-padded to 4. */
EDGEC_ALWAYS_INLINE float32x4_t edgec_neon_load_weights_tail(int fmt, const uint8_t *row, int j, int len)
{
    const size_t es = fmt == EDGEC_FMT_F32 ? 4 : 2;
    uint8_t buf[16] = {0};
    memcpy(buf, row + j * es, (size_t)len * es);
    return edgec_neon_convert_weights(fmt, buf);
}

/* The first len (1..3) floats at p, zero-padded to 4. */
EDGEC_ALWAYS_INLINE float32x4_t edgec_neon_load_floats_tail(const float *p, int len)
{
    float buf[4] = {0};
    memcpy(buf, p, (size_t)len * sizeof *p);
    return vld1q_f32(buf);
}

/* R x T tile of float-weight dots, R, T constants (<= 4, <= 8); each weight vector serves T tokens. */
EDGEC_ALWAYS_INLINE void edgec_neon_tile_float(int fmt, int R, int T, float *out, int ldo, const void *w, int r,
                                               const float *x, int ldx, int t, int n)
{
    const size_t es = fmt == EDGEC_FMT_F32 ? 4 : 2, row_bytes = (size_t)n * es;
    const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
    float32x4_t acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS], wv[EDGEC_TILE_ROWS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[i][j] = vdupq_n_f32(0.0f);
    int k = 0;
    for (; k + 4 <= n; k += 4) {
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TILE_ROWS; i++)
            if (i < R) wv[i] = edgec_neon_convert_weights(fmt, row + i * row_bytes + k * es);
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (j >= T) continue;
            float32x4_t xv = vld1q_f32(x + (size_t)(t + j) * ldx + k);
EDGEC_UNROLL
            for (int i = 0; i < EDGEC_TILE_ROWS; i++) if (i < R) acc[i][j] = vfmaq_f32(acc[i][j], wv[i], xv);
        }
    }
    if (k < n) {
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TILE_ROWS; i++)
            if (i < R) wv[i] = edgec_neon_load_weights_tail(fmt, row + i * row_bytes, k, n - k);
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (j >= T) continue;
            float32x4_t xv = edgec_neon_load_floats_tail(x + (size_t)(t + j) * ldx + k, n - k);
EDGEC_UNROLL
            for (int i = 0; i < EDGEC_TILE_ROWS; i++) if (i < R) acc[i][j] = vfmaq_f32(acc[i][j], wv[i], xv);
        }
    }
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
            if (i < R && j < T) out[(size_t)(t + j) * ldo + r + i] = vaddvq_f32(acc[i][j]);
}

/* Rows [r0, r1) x tokens [0, n_tok): 4-row tiles for one token, 2-row x 4-token tiles for a batch. */
EDGEC_ALWAYS_INLINE void edgec_neon_matmul_float(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                                 const float *x, int ldx, int n_tok, int n)
{
    int r = r0;
    if (n_tok == 1) {
        for (; r + 4 <= r1; r += 4) edgec_neon_tile_float(fmt, 4, 1, out, ldo, w, r, x, ldx, 0, n);
        for (; r < r1; r++) edgec_neon_tile_float(fmt, 1, 1, out, ldo, w, r, x, ldx, 0, n);
        return;
    }
    for (; r + 2 <= r1; r += 2) {
        int t = 0;
        for (; t + 4 <= n_tok; t += 4) edgec_neon_tile_float(fmt, 2, 4, out, ldo, w, r, x, ldx, t, n);
        for (; t < n_tok; t++) edgec_neon_tile_float(fmt, 2, 1, out, ldo, w, r, x, ldx, t, n);
    }
    for (; r < r1; r++) {
        int t = 0;
        for (; t + 4 <= n_tok; t += 4) edgec_neon_tile_float(fmt, 1, 4, out, ldo, w, r, x, ldx, t, n);
        for (; t < n_tok; t++) edgec_neon_tile_float(fmt, 1, 1, out, ldo, w, r, x, ldx, t, n);
    }
}

static inline void edgec_neon_matmul_f32(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_neon_matmul_float(EDGEC_FMT_F32, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_neon_matmul_f16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_neon_matmul_float(EDGEC_FMT_F16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_neon_matmul_bf16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_neon_matmul_float(EDGEC_FMT_BF16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }

/* ---- vector helpers (full vectors, then the scalar code for the last n % 4) ------------ */

/* exp with the scalar path's range reduction and Taylor polynomial (see edgec_expf_c). */
EDGEC_ALWAYS_INLINE float32x4_t edgec_neon_exp(float32x4_t x)
{
    uint32x4_t drop = vcltq_f32(x, vdupq_n_f32(EDGEC_EXP_MIN)); /* false for NaN, so NaN stays NaN */
    x = vminq_f32(x, vdupq_n_f32(EDGEC_EXP_MAX));
    x = vmaxq_f32(x, vdupq_n_f32(EDGEC_EXP_MIN));
    float32x4_t k = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(EDGEC_LOG2E)));
    float32x4_t r = vfmsq_f32(x, k, vdupq_n_f32(EDGEC_LN2_HI));
    r = vfmsq_f32(r, k, vdupq_n_f32(EDGEC_LN2_LO));
    float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    float32x4_t pow2k = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127)), 23));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(vmulq_f32(p, pow2k)), drop));
}

static inline float edgec_neon_dot_f32(const float *a, const float *b, int n)
{
    float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = vdupq_n_f32(0.0f); /* two chains hide fma latency */
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
        acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    }
    for (; i + 4 <= n; i += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    return vaddvq_f32(vaddq_f32(acc0, acc1)) + edgec_scalar_dot_f32(a + i, b + i, n - i);
}

/* out = x / sqrt(mean(x^2) + eps) * w; out may alias x. */
static inline void edgec_neon_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    float scale = 1.0f / sqrtf(edgec_neon_dot_f32(x, x, n) / (float)n + eps);
    float32x4_t sv = vdupq_n_f32(scale);
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vmulq_f32(vmulq_f32(vld1q_f32(x + i), sv), vld1q_f32(w + i)));
    for (; i < n; i++) out[i] = x[i] * scale * w[i];
}

/* y += a*x */
static inline void edgec_neon_axpy_f32(float *y, float a, const float *x, int n)
{
    float32x4_t av = vdupq_n_f32(a);
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), av, vld1q_f32(x + i)));
    edgec_scalar_axpy_f32(y + i, a, x + i, n - i);
}

/* y += x */
static inline void edgec_neon_add_f32(float *y, const float *x, int n)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vaddq_f32(vld1q_f32(y + i), vld1q_f32(x + i)));
    edgec_scalar_add_f32(y + i, x + i, n - i);
}

/* max of x[0..n), n >= 1. */
static inline float edgec_neon_max_f32(const float *x, int n)
{
    float32x4_t mx = vdupq_n_f32(x[0]);
    int i = 0;
    for (; i + 4 <= n; i += 4) mx = vmaxq_f32(mx, vld1q_f32(x + i));
    float m = vmaxvq_f32(mx);
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* x = exp(x - m) in place for a block of scores (m >= every x: the running max); returns their sum. */
static inline float edgec_neon_exp_sum(float *x, int n, float m)
{
    float32x4_t mv = vdupq_n_f32(m), sum4 = vdupq_n_f32(0.0f);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t e = edgec_neon_exp(vsubq_f32(vld1q_f32(x + i), mv));
        vst1q_f32(x + i, e);
        sum4 = vaddq_f32(sum4, e);
    }
    return vaddvq_f32(sum4) + edgec_scalar_exp_sum(x + i, n - i, m);
}

/* gate = silu(gate) * up, silu(g) = g / (1 + exp(-g)). */
static inline void edgec_neon_swiglu(float *gate, const float *up, int n)
{
    const float32x4_t one = vdupq_n_f32(1.0f);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t g = vld1q_f32(gate + i);
        float32x4_t silu = vdivq_f32(g, vaddq_f32(one, edgec_neon_exp(vnegq_f32(g))));
        vst1q_f32(gate + i, vmulq_f32(silu, vld1q_f32(up + i)));
    }
    edgec_scalar_swiglu(gate + i, up + i, n - i);
}

#endif
