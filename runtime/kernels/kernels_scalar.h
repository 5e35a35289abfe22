/* kernels_scalar.h - portable C11 kernels, no intrinsics: the "generic" target and the
 * reference the SIMD paths are tested against.  Always compiled (kernels.h includes it
 * on every ISA); names carry the edgec_scalar_ prefix, kernels.h maps the public names.
 */
#ifndef EDGEC_KERNELS_SCALAR_H
#define EDGEC_KERNELS_SCALAR_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "block_formats.h"

/* Forces inlining of the kernel building blocks, so tile sizes and formats passed as
 * constants specialise the code (accumulators stay in registers). */
#if defined(__GNUC__)
#define EDGEC_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define EDGEC_ALWAYS_INLINE static inline
#endif

/* Register tiles are at most 4 rows x 4 tokens.  Tile loops run to this literal bound and
 * test i < R inside, so compilers fully unroll them before inlining fixes R and T and keep
 * the accumulator arrays in registers (a loop to R itself is not reliably unrolled). */
#define EDGEC_TILE_MAX 4
#define EDGEC_UNROLL _Pragma("GCC unroll 4")

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

/* Unpacks one weight block into 32 small integers (q4_0: nibble-8, q4_1: nibble, q8_0: qs)
 * and its scale d and offset m (m = 0 except q4_1). */
static inline void edgec_scalar_unpack_block(int fmt, const uint8_t *blk, int8_t wq[EDGEC_QK], float *d, float *m)
{
    *d = edgec_fp16_to_fp32(edgec_load_u16(blk));
    *m = 0.0f;
    if (fmt == EDGEC_FMT_Q8_0) {
        memcpy(wq, blk + EDGEC_Q8_0_QS, EDGEC_QK);
        return;
    }
    const uint8_t *qs = blk + (fmt == EDGEC_FMT_Q4_0 ? EDGEC_Q4_0_QS : EDGEC_Q4_1_QS);
    int bias = fmt == EDGEC_FMT_Q4_0 ? 8 : 0;
    for (int j = 0; j < EDGEC_QK / 2; j++) {
        wq[j] = (int8_t)((qs[j] & 15) - bias);
        wq[j + EDGEC_QK / 2] = (int8_t)((qs[j] >> 4) - bias);
    }
    if (fmt == EDGEC_FMT_Q4_1) *m = edgec_fp16_to_fp32(edgec_load_u16(blk + EDGEC_Q4_1_M));
}

#define EDGEC_SCALAR_TOKENS 8 /* tokens that share one unpacked weight block */

/* out[t*ldo + r] = sum_b d_w*d_x*sum_j(wq*qx) + m_w*s_x for rows [r0, r1) and n_tok tokens.
 * Each weight block is unpacked once per group of up to 8 tokens. */
static inline void edgec_scalar_matmul_q(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                         const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK, bb = edgec_block_bytes(fmt);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * nb * bb;
        for (int t0 = 0; t0 < n_tok; t0 += EDGEC_SCALAR_TOKENS) {
            int nt = n_tok - t0 < EDGEC_SCALAR_TOKENS ? n_tok - t0 : EDGEC_SCALAR_TOKENS;
            float acc[EDGEC_SCALAR_TOKENS] = {0}, acc_m[EDGEC_SCALAR_TOKENS] = {0};
            for (int b = 0; b < nb; b++) {
                int8_t wq[EDGEC_QK];
                float dw, mw;
                edgec_scalar_unpack_block(fmt, row + (size_t)b * bb, wq, &dw, &mw);
                for (int t = 0; t < nt; t++) {
                    const edgec_block_q8a *x = xq + (size_t)(t0 + t) * nb + b;
                    int isum = 0;
                    for (int j = 0; j < EDGEC_QK; j++) isum += wq[j] * x->qs[j];
                    acc[t] += (float)isum * (dw * x->d);
                    acc_m[t] += mw * x->s;
                }
            }
            for (int t = 0; t < nt; t++) out[(size_t)(t0 + t) * ldo + r] = acc[t] + acc_m[t];
        }
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

/* out[t*ldo + r] = sum_j w[r][j] * x[t*ldx + j]; each weight is loaded once per 8 tokens. */
static inline void edgec_scalar_matmul_float(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                             const float *x, int ldx, int n_tok, int n)
{
    const size_t row_bytes = (size_t)n * (fmt == EDGEC_FMT_F32 ? 4 : 2);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        for (int t0 = 0; t0 < n_tok; t0 += EDGEC_SCALAR_TOKENS) {
            int nt = n_tok - t0 < EDGEC_SCALAR_TOKENS ? n_tok - t0 : EDGEC_SCALAR_TOKENS;
            float acc[EDGEC_SCALAR_TOKENS] = {0};
            for (int j = 0; j < n; j++) {
                float wj = edgec_scalar_load_weight(fmt, row, j);
                for (int t = 0; t < nt; t++) acc[t] += wj * x[(size_t)(t0 + t) * ldx + j];
            }
            for (int t = 0; t < nt; t++) out[(size_t)(t0 + t) * ldo + r] = acc[t];
        }
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
        int8_t wq[EDGEC_QK];
        float d, m;
        edgec_scalar_unpack_block(fmt, row + (size_t)b * bb, wq, &d, &m);
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

/* x = exp(x - max) / sum, in place. */
static inline void edgec_scalar_softmax(float *x, int n)
{
    float mx = x[0];
    for (int i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = edgec_expf_c(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++) x[i] *= inv;
}

/* gate = silu(gate) * up, silu(g) = g / (1 + exp(-g)). */
static inline void edgec_scalar_swiglu(float *gate, const float *up, int n)
{
    for (int i = 0; i < n; i++) gate[i] = gate[i] / (1.0f + edgec_expf_c(-gate[i])) * up[i];
}

#endif
