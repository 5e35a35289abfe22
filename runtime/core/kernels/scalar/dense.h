/* kernels/scalar/dense.h - portable C11 kernels, no intrinsics: the "generic" target and the
 * reference the SIMD paths are tested against.  Always compiled (kernels.h includes it
 * on every ISA); names carry the edgec_scalar_ prefix, kernels.h maps the public names.
 */
#ifndef EDGEC_KERNELS_SCALAR_H
#define EDGEC_KERNELS_SCALAR_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/block_formats.h"
#if defined(EDGEC_ARM_DSP)
#include "kernels/arm/dsp/q8_dot.h"   /* Cortex-M: the q8_0 dot product on SMLAD */
#endif

/* Forces inlining of the kernel building blocks, so tile sizes and formats passed as
 * constants specialise the code (accumulators stay in registers). */
#if defined(__GNUC__)
#define EDGEC_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define EDGEC_ALWAYS_INLINE static inline
#endif

/* Register tiles are at most 4 rows x 8 tokens.  Tile loops run to these literal
 * bounds and test i < R inside, so compilers fully unroll them before inlining fixes R and
 * T, and keep the accumulator arrays in registers (loops to R itself are not reliably
 * unrolled: clang 14 half-unrolls them and leaves the accumulators in memory). */
#define EDGEC_TILE_ROWS 4
#define EDGEC_TILE_TOKENS 8
#define EDGEC_UNROLL _Pragma("GCC unroll 8")

/* SIMD paths prefetch each weight row stream this far ahead into L2: +20-30% on a matvec
 * streaming from DRAM on Zen 4, no cost when the weights are cache-resident. */
#define EDGEC_PREFETCH_BYTES 1024

/* Internal ids of the quantized weight formats, so one kernel body serves all three. */
enum { EDGEC_FMT_Q8_0, EDGEC_FMT_Q4_0, EDGEC_FMT_Q4_1 };

static inline int edgec_block_bytes(int fmt)
{
    return fmt == EDGEC_FMT_Q8_0 ? EDGEC_Q8_0_BYTES : fmt == EDGEC_FMT_Q4_0 ? EDGEC_Q4_0_BYTES : EDGEC_Q4_1_BYTES;
}

/* ---- activation quantization ---------------------------------------------------- */

/* Rounds half away from zero; exact (v - trunc(v) is exact for |v| < 2^23). */
static inline int edgec_round_away(float v)
{
    int q = (int)v;
    float frac = v - (float)q;
    if (frac >= 0.5f) q++;
    else if (frac <= -0.5f) q--;
    return q;
}

/* q8a: per 32-block, d = max|x|/127, qs = round(x/d), s = d*sum(qs).  Every ISA does these
 * exact float operations, so all paths produce the same bytes. */
static inline void edgec_scalar_quantize_q8a(const float *x, edgec_block_q8a *y, int n)
{
    for (int b = 0; b < n / EDGEC_QK; b++) {
        const float *xb = x + b * EDGEC_QK;
        float amax = 0.0f;
        for (int j = 0; j < EDGEC_QK; j++) {
            float a = fabsf(xb[j]);
            amax = a > amax ? a : amax;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < EDGEC_QK; j++) {
            int q = edgec_round_away(xb[j] * id);
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        y[b].d = d;
        y[b].s = d * (float)sum;
    }
}

/* ---- quantized matmul ------------------------------------------------------------- */

/* A weight block's scale d and offset m (m = 0 except q4_1). */
static inline void edgec_scalar_block_scales(int fmt, const uint8_t *blk, float *d, float *m)
{
    *d = edgec_fp16_to_fp32(edgec_load_u16(blk));
    *m = fmt == EDGEC_FMT_Q4_1 ? edgec_fp16_to_fp32(edgec_load_u16(blk + EDGEC_Q4_1_M)) : 0.0f;
}

/* The block's 32 weights as small integers: q8_0 qs, q4_0 nibble-8, q4_1 nibble. */
static inline void edgec_scalar_block_ints(int fmt, const uint8_t *blk, int wq[EDGEC_QK])
{
    if (fmt == EDGEC_FMT_Q8_0) {
        const int8_t *qw = (const int8_t *)(blk + EDGEC_Q8_0_QS);
        for (int j = 0; j < EDGEC_QK; j++) wq[j] = qw[j];
        return;
    }
    const uint8_t *qs = blk + (fmt == EDGEC_FMT_Q4_0 ? EDGEC_Q4_0_QS : EDGEC_Q4_1_QS);
    int bias = fmt == EDGEC_FMT_Q4_0 ? 8 : 0;
    for (int j = 0; j < EDGEC_QK / 2; j++) {
        wq[j] = (qs[j] & 15) - bias;
        wq[j + EDGEC_QK / 2] = (qs[j] >> 4) - bias;
    }
}

/* sum_j w[j] * qx[j] over one block, exact, straight from the packed bytes (an unpacked
 * copy in memory costs more: compilers store it in pieces and stall reloading it whole). */
static inline int edgec_scalar_block_isum(int fmt, const uint8_t *blk, const int8_t *qx)
{
    int s = 0;
    if (fmt == EDGEC_FMT_Q8_0) {
#if defined(EDGEC_ARM_DSP)
        return edgec_dsp_isum_q8((const int8_t *)(blk + EDGEC_Q8_0_QS), qx);
#else
        /* read through an int8_t pointer: gcc 12 -march=znver4 compiles the equivalent
         * "(int8_t)blk[j] * qx[j]" into vpdpbusd, treating the weights as unsigned */
        const int8_t *qw = (const int8_t *)(blk + EDGEC_Q8_0_QS);
        for (int j = 0; j < EDGEC_QK; j++) s += qw[j] * qx[j];
        return s;
#endif
    }
    const uint8_t *qs = blk + (fmt == EDGEC_FMT_Q4_0 ? EDGEC_Q4_0_QS : EDGEC_Q4_1_QS);
    int bias = fmt == EDGEC_FMT_Q4_0 ? 8 : 0;
    for (int j = 0; j < EDGEC_QK / 2; j++) s += ((qs[j] & 15) - bias) * qx[j] + ((qs[j] >> 4) - bias) * qx[j + EDGEC_QK / 2];
    return s;
}

/* out[(t+j)*ldo + r] = sum_b d_w*d_x*sum(wq*qx) + m_w*s_x for row r and tokens t..t+T-1
 * (T a constant <= 8): each weight block is read from memory once for all T tokens. */
EDGEC_ALWAYS_INLINE void edgec_scalar_tile_q(int fmt, int T, float *out, int ldo, const uint8_t *row, int r,
                                             const edgec_block_q8a *xq, int t, int nb)
{
    const int bb = edgec_block_bytes(fmt);
    float acc[EDGEC_TILE_TOKENS], acc_m[EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[j] = acc_m[j] = 0.0f;
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = row + (size_t)b * bb;
        float dw, mw;
        edgec_scalar_block_scales(fmt, blk, &dw, &mw);
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (j >= T) continue;
            const edgec_block_q8a *x = xq + (size_t)(t + j) * nb + b;
            acc[j] += (float)edgec_scalar_block_isum(fmt, blk, x->qs) * (dw * x->d);
            acc_m[j] += mw * x->s;
        }
    }
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
        if (j < T) out[(size_t)(t + j) * ldo + r] = acc[j] + acc_m[j];
}

/* Rows [r0, r1) x tokens [0, n_tok): tiles of 1 row x 8 tokens, then single tokens. */
EDGEC_ALWAYS_INLINE void edgec_scalar_matmul_q(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                               const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK;
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * nb * edgec_block_bytes(fmt);
        int t = 0;
        for (; t + EDGEC_TILE_TOKENS <= n_tok; t += EDGEC_TILE_TOKENS) edgec_scalar_tile_q(fmt, EDGEC_TILE_TOKENS, out, ldo, row, r, xq, t, nb);
        for (; t < n_tok; t++) edgec_scalar_tile_q(fmt, 1, out, ldo, row, r, xq, t, nb);
    }
}

static inline void edgec_scalar_matmul_q8_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_scalar_matmul_q(EDGEC_FMT_Q8_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_scalar_matmul_q4_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_scalar_matmul_q(EDGEC_FMT_Q4_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_scalar_matmul_q4_1(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_scalar_matmul_q(EDGEC_FMT_Q4_1, out, ldo, w, r0, r1, xq, n_tok, n); }

/* ---- float-weight matmul ---------------------------------------------------------- */

/* Internal ids of the float weight formats. */
enum { EDGEC_FMT_F32, EDGEC_FMT_F16, EDGEC_FMT_BF16 };

/* Element j of a float-format row at any alignment. */
static inline float edgec_scalar_load_weight(int fmt, const uint8_t *row, int j)
{
    if (fmt == EDGEC_FMT_F32) return edgec_load_f32(row + (size_t)j * 4);
    uint16_t h = edgec_load_u16(row + (size_t)j * 2);
    return fmt == EDGEC_FMT_F16 ? edgec_fp16_to_fp32(h) : edgec_bf16_to_fp32(h);
}

/* out[(t+j)*ldo + r] = sum_k w[r][k] * x[(t+j)*ldx + k] for T (a constant <= 8) tokens;
 * each weight is loaded once for all T. */
EDGEC_ALWAYS_INLINE void edgec_scalar_tile_float(int fmt, int T, float *out, int ldo, const uint8_t *row, int r,
                                                 const float *x, int ldx, int t, int n)
{
    float acc[EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[j] = 0.0f;
    for (int k = 0; k < n; k++) {
        float wk = edgec_scalar_load_weight(fmt, row, k);
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
            if (j < T) acc[j] += wk * x[(size_t)(t + j) * ldx + k];
    }
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
        if (j < T) out[(size_t)(t + j) * ldo + r] = acc[j];
}

EDGEC_ALWAYS_INLINE void edgec_scalar_matmul_float(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                                   const float *x, int ldx, int n_tok, int n)
{
    const size_t row_bytes = (size_t)n * (fmt == EDGEC_FMT_F32 ? 4 : 2);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        int t = 0;
        for (; t + EDGEC_TILE_TOKENS <= n_tok; t += EDGEC_TILE_TOKENS) edgec_scalar_tile_float(fmt, EDGEC_TILE_TOKENS, out, ldo, row, r, x, ldx, t, n);
        for (; t < n_tok; t++) edgec_scalar_tile_float(fmt, 1, out, ldo, row, r, x, ldx, t, n);
    }
}

static inline void edgec_scalar_matmul_f32(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_scalar_matmul_float(EDGEC_FMT_F32, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_scalar_matmul_f16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_scalar_matmul_float(EDGEC_FMT_F16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_scalar_matmul_bf16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_scalar_matmul_float(EDGEC_FMT_BF16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }

/* ---- row lookup (embeddings): one row per token, so scalar on every ISA ------------ */

static inline void edgec_get_row_q(int fmt, float *dst, const void *w, int r, int n)
{
    const int nb = n / EDGEC_QK, bb = edgec_block_bytes(fmt);
    const uint8_t *row = (const uint8_t *)w + (size_t)r * nb * bb;
    for (int b = 0; b < nb; b++) {
        int wq[EDGEC_QK];
        float d, m;
        edgec_scalar_block_scales(fmt, row + (size_t)b * bb, &d, &m);
        edgec_scalar_block_ints(fmt, row + (size_t)b * bb, wq);
        for (int j = 0; j < EDGEC_QK; j++) dst[b * EDGEC_QK + j] = d * (float)wq[j] + m;
    }
}

static inline void edgec_get_row_float(int fmt, float *dst, const void *w, int r, int n)
{
    const uint8_t *row = (const uint8_t *)w + (size_t)r * n * (fmt == EDGEC_FMT_F32 ? 4 : 2);
    for (int j = 0; j < n; j++) dst[j] = edgec_scalar_load_weight(fmt, row, j);
}

/* Row r of W dequantized into dst[0..n). */
static inline void edgec_get_row_q8_0(float *dst, const void *w, int r, int n) { edgec_get_row_q(EDGEC_FMT_Q8_0, dst, w, r, n); }
static inline void edgec_get_row_q4_0(float *dst, const void *w, int r, int n) { edgec_get_row_q(EDGEC_FMT_Q4_0, dst, w, r, n); }
static inline void edgec_get_row_q4_1(float *dst, const void *w, int r, int n) { edgec_get_row_q(EDGEC_FMT_Q4_1, dst, w, r, n); }
static inline void edgec_get_row_f32(float *dst, const void *w, int r, int n) { edgec_get_row_float(EDGEC_FMT_F32, dst, w, r, n); }
static inline void edgec_get_row_f16(float *dst, const void *w, int r, int n) { edgec_get_row_float(EDGEC_FMT_F16, dst, w, r, n); }
static inline void edgec_get_row_bf16(float *dst, const void *w, int r, int n) { edgec_get_row_float(EDGEC_FMT_BF16, dst, w, r, n); }

/* ---- vector helpers ---------------------------------------------------------------- */

/* Constants of the exp shared by every ISA: exp(x) = 2^k * e^r, r = x - k*ln2 split in two
 * so k*EDGEC_LN2_HI is exact; e^r by its Taylor series to r^7 (error < 1e-8 for |r| <= ln2/2). */
#define EDGEC_LOG2E   1.44269504088896341f
#define EDGEC_LN2_HI  0.693145751953125f
#define EDGEC_LN2_LO  1.42860682030941723212e-6f
#define EDGEC_EXP_MIN (-87.33f) /* below this exp underflows past the smallest normal: return 0 */
#define EDGEC_EXP_MAX 88.37f    /* above this 2^k would overflow: clamp (exp(88.37) ~ 2.6e38) */

static inline float edgec_expf_c(float x)
{
    if (x != x) return x;
    if (x < EDGEC_EXP_MIN) return 0.0f;
    if (x > EDGEC_EXP_MAX) x = EDGEC_EXP_MAX;
    float kf = x * EDGEC_LOG2E;
    int k = (int)(kf + (kf >= 0.0f ? 0.5f : -0.5f));
    float r = x - (float)k * EDGEC_LN2_HI - (float)k * EDGEC_LN2_LO;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    return p * edgec_f32_from_bits((uint32_t)(k + 127) << 23);
}

static inline float edgec_scalar_dot_f32(const float *a, const float *b, int n)
{
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* out = x / sqrt(mean(x^2) + eps) * w; out may alias x. */
static inline void edgec_scalar_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    float scale = 1.0f / sqrtf(edgec_scalar_dot_f32(x, x, n) / (float)n + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

/* y += a*x */
static inline void edgec_scalar_axpy_f32(float *y, float a, const float *x, int n)
{
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* y += x */
static inline void edgec_scalar_add_f32(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i++) y[i] += x[i];
}

/* max of x[0..n), n >= 1 (four chains: no compare waits on the one before). */
static inline float edgec_scalar_max_f32(const float *x, int n)
{
    float m[4] = {x[0], x[0], x[0], x[0]};
    int i = 0;
    for (; i + 4 <= n; i += 4)
        for (int j = 0; j < 4; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
    m[0] = m[1] > m[0] ? m[1] : m[0];
    m[2] = m[3] > m[2] ? m[3] : m[2];
    return m[2] > m[0] ? m[2] : m[0];
}

/* x = exp(x - m) in place for a block of scores (m >= every x: the running max); returns their sum. */
static inline float edgec_scalar_exp_sum(float *x, int n, float m)
{
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = edgec_expf_c(x[i] - m);
        sum += x[i];
    }
    return sum;
}

/* gate = silu(gate) * up, silu(g) = g / (1 + exp(-g)). */
static inline void edgec_scalar_swiglu(float *gate, const float *up, int n)
{
    for (int i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + edgec_expf_c(-gate[i])) * up[i];
}

#endif
