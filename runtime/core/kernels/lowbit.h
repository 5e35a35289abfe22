/* kernels/lowbit.h - matmul and row lookup for edgec's low-bit group formats q2 and q3.
 *
 * Both (block_formats.h, docs/formats.md): 32 weights per block, w[j] = d*q[j] + m as q4_1,
 * d and m IEEE fp16 bits, q unsigned; row-major, a row of n weights is n/32 blocks back to back
 * at any byte alignment, so blocks are read through byte pointers and unaligned loads only.
 *   q2, 12 bytes { uint16 d, m; uint8 qs[8]; }:
 *       q[j] (0..3) = (qs[j & 7] >> (2 * (j >> 3))) & 3   (byte k holds weights k, k+8, k+16, k+24)
 *   q3, 16 bytes { uint16 d, m; uint8 qs[8]; uint8 qh[4]; }:
 *       q[j] (0..7) = the q2 bits | ((qh[j >> 3] >> (j & 7)) & 1) << 2
 *
 * Activations are q8a blocks (edgec_quantize_q8a); per block the kernels add
 * (d_w * d_x) * sum(q * qx) + m_w * s_x, the integer sum exact, as for q4_1.  The codes are
 * unsigned everywhere (vpdpbusd / maddubs take them as they are), and paths differ only in
 * float summation order.
 *
 * API (static inline; the path is picked at compile time like kernels.h; EDGEC_LOWBIT_ISA names it):
 *   edgec_matmul_{q2,q3}(out, ldo, w, r0, r1, xq, n_tok, n)   as edgec_matmul_q4_1
 *   edgec_get_row_{q2,q3}(dst, w, r, n)                       row r dequantized
 * n must be a multiple of 32.
 */
#ifndef EDGEC_KERNELS_LOWBIT_H
#define EDGEC_KERNELS_LOWBIT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/block_formats.h"
#include "kernels/scalar/dense.h"

/* Internal ids, so one kernel body serves both formats (distinct from the other headers' ids). */
enum { EDGEC_FMT_Q2 = 32, EDGEC_FMT_Q3 };

static inline int edgec_lowbit_block_bytes(int fmt) { return fmt == EDGEC_FMT_Q2 ? EDGEC_Q2_BYTES : EDGEC_Q3_BYTES; }

/* ---- scalar kernels ------------------------------------------------------------------ */

/* A block's 32 codes into c[32], 8 at a time with 64-bit word operations (byte order little-endian,
 * as everywhere in the runtime): slice s = bits 2s..2s+1 of the qs bytes = weights 8s..8s+7, and
 * for q3 qh byte s spread over a word (byte k keeps bit k), each nonzero byte turned into 4.
 * Measured 3x faster than shifting q3 bits one by one, and c is then read by plain dot loops. */
static inline void edgec_lowbit_codes32(int fmt, const uint8_t *blk, uint8_t c[EDGEC_QK])
{
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full, high = 0x8080808080808080ull;
    uint64_t qs;
    memcpy(&qs, blk + EDGEC_Q2_QS, sizeof qs);
    for (int s = 0; s < 4; s++) {
        uint64_t v = (qs >> (2 * s)) & 0x0303030303030303ull;
        if (fmt == EDGEC_FMT_Q3) {
            uint64_t bits = ((uint64_t)blk[EDGEC_Q3_QH + s] * 0x0101010101010101ull) & 0x8040201008040201ull;
            v |= ((((bits & low7) + low7) | bits) & high) >> 5; /* a nonzero byte's top bit, moved to bit 2 */
        }
        memcpy(c + 8 * s, &v, sizeof v);
    }
}

/* sum(c * qx) over one block.  The codes are unsigned bytes, so even when gcc 12 -march=znver4
 * turns this into vpdpbusd (unsigned x signed bytes) the sums are right: there is no signed
 * weight for it to misread (docs/kernels.md). */
static inline int edgec_scalar_lowbit_isum(const uint8_t c[EDGEC_QK], const int8_t *qx)
{
    int s = 0;
    for (int j = 0; j < EDGEC_QK; j++) s += c[j] * qx[j];
    return s;
}

/* out[(t+j)*ldo + r] = sum_b d_w*d_x*sum(q*qx) + m_w*s_x for row r and tokens t..t+T-1
 * (T a constant <= 8): each weight block is decoded once for all T tokens. */
EDGEC_ALWAYS_INLINE void edgec_scalar_tile_lowbit(int fmt, int T, float *out, int ldo, const uint8_t *row, int r,
                                                  const edgec_block_q8a *xq, int t, int nb)
{
    const int bb = edgec_lowbit_block_bytes(fmt);
    float acc[EDGEC_TILE_TOKENS], acc_m[EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[j] = acc_m[j] = 0.0f;
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = row + (size_t)b * bb;
        const float dw = edgec_fp16_to_fp32(edgec_load_u16(blk));
        const float mw = edgec_fp16_to_fp32(edgec_load_u16(blk + EDGEC_Q2_M));
        uint8_t c[EDGEC_QK];
        edgec_lowbit_codes32(fmt, blk, c);
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (j >= T) continue;
            const edgec_block_q8a *x = xq + (size_t)(t + j) * nb + b;
            acc[j] += (float)edgec_scalar_lowbit_isum(c, x->qs) * (dw * x->d);
            acc_m[j] += mw * x->s;
        }
    }
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
        if (j < T) out[(size_t)(t + j) * ldo + r] = acc[j] + acc_m[j];
}

/* Rows [r0, r1) x tokens [0, n_tok): tiles of 1 row x 8 tokens, then single tokens. */
EDGEC_ALWAYS_INLINE void edgec_scalar_matmul_lowbit(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                                    const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK;
    const size_t row_bytes = (size_t)nb * edgec_lowbit_block_bytes(fmt);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        int t = 0;
        for (; t + EDGEC_TILE_TOKENS <= n_tok; t += EDGEC_TILE_TOKENS) edgec_scalar_tile_lowbit(fmt, EDGEC_TILE_TOKENS, out, ldo, row, r, xq, t, nb);
        for (; t < n_tok; t++) edgec_scalar_tile_lowbit(fmt, 1, out, ldo, row, r, xq, t, nb);
    }
}

static inline void edgec_scalar_matmul_q2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_scalar_matmul_lowbit(EDGEC_FMT_Q2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_scalar_matmul_q3(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_scalar_matmul_lowbit(EDGEC_FMT_Q3, out, ldo, w, r0, r1, xq, n_tok, n); }

/* ---- row lookup (embeddings): one row per token, scalar on every ISA ------------------ */

/* d*q + m: d*q is exact in float (11 x 3 bits), so a fused multiply-add gives the same value. */
static inline void edgec_get_row_lowbit(int fmt, float *dst, const void *w, int r, int n)
{
    const int nb = n / EDGEC_QK, bb = edgec_lowbit_block_bytes(fmt);
    const uint8_t *row = (const uint8_t *)w + (size_t)r * nb * bb;
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = row + (size_t)b * bb;
        const float d = edgec_fp16_to_fp32(edgec_load_u16(blk)), m = edgec_fp16_to_fp32(edgec_load_u16(blk + EDGEC_Q2_M));
        uint8_t c[EDGEC_QK];
        edgec_lowbit_codes32(fmt, blk, c);
        for (int j = 0; j < EDGEC_QK; j++) dst[b * EDGEC_QK + j] = d * (float)c[j] + m;
    }
}

/* Row r of W dequantized into dst[0..n). */
static inline void edgec_get_row_q2(float *dst, const void *w, int r, int n) { edgec_get_row_lowbit(EDGEC_FMT_Q2, dst, w, r, n); }
static inline void edgec_get_row_q3(float *dst, const void *w, int r, int n) { edgec_get_row_lowbit(EDGEC_FMT_Q3, dst, w, r, n); }

/* ---- dispatch ------------------------------------------------------------------------- */

#if !defined(EDGEC_SCALAR) && defined(__AVX512F__) && defined(__AVX512BW__)
#include "kernels/x86/avx512/lowbit.h"
#if defined(__AVX512VNNI__)
#define EDGEC_LOWBIT_ISA "avx512vnni"
#else
#define EDGEC_LOWBIT_ISA "avx512"
#endif
#define EDGEC_LOWBIT_KERNEL(name) edgec_l512_##name
#elif !defined(EDGEC_SCALAR) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "kernels/x86/avx2/lowbit.h"
#define EDGEC_LOWBIT_ISA "avx2"
#define EDGEC_LOWBIT_KERNEL(name) edgec_l256_##name
#elif !defined(EDGEC_SCALAR) && defined(__ARM_NEON) && defined(__aarch64__)
#include "kernels/arm/neon/lowbit.h"
#if defined(__ARM_FEATURE_DOTPROD)
#define EDGEC_LOWBIT_ISA "neon-dotprod"
#else
#define EDGEC_LOWBIT_ISA "neon"
#endif
#define EDGEC_LOWBIT_KERNEL(name) edgec_lneon_##name
#else
#define EDGEC_LOWBIT_ISA "scalar"
#define EDGEC_LOWBIT_KERNEL(name) edgec_scalar_##name
#endif

/* Low-bit weights x q8a activations: out[t*ldo + r] = dot(row r, activation t), r in [r0, r1). */
static inline void edgec_matmul_q2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_LOWBIT_KERNEL(matmul_q2)(out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_matmul_q3(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_LOWBIT_KERNEL(matmul_q3)(out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
