/* kernels/arm/neon/ternary.h - AArch64 NEON ternary kernels: ARMv8.2 sdot and ARMv8.0 (Cortex-A53).
 * Included by kernels/ternary.h; see there for the formats and the API.
 *
 * Works like kernels/arm/neon/dense.h's quantized matmul, on chunks of 4 activation blocks (128 weights):
 * a chunk's codes (0..3, unsigned, as stored) sit in two int8x16 vectors per activation block,
 * "lo" meeting qs[0..15] and "hi" qs[16..31], and edgec_neon_chunk_isum leaves block k's exact
 * sum(code * qx) in int32 lane k (sdot; or smull/smlal into int16 lanes on ARMv8.0, where
 * code * qx <= 3*127, so 16 products share a lane with room to spare).  Adding -sum(qx) of the
 * block, prepared once per call and token, makes it the exact sum((code - 1) * qx); one convert
 * and one fma scale the 4 blocks by d_w*d_x.
 *   tq2:   a chunk is 2 blocks: block k's qs meet activation blocks 2k ((qs & 3), (qs >> 2) & 3)
 *          and 2k+1 ((qs >> 4) & 3, qs >> 6); d_w = [d0, d0, d1, d1].  An odd block count ends
 *          with a 2-block chunk.
 *   tq2_0: a block is 2 chunks; chunk h's activation block 4h+s is (qs[32h..32h+31] >> 2s) & 3.
 *   tq1_0: a block is 2 chunks; base-3 digit k of byte q is ((q * 3^k) mod 256) * 3 >> 8, taken as
 *          (hadd(p, p >> 1)) >> 6 with p = q * 3^k mod 256 (the same integer, no 16-bit widening).
 * Tiles: 1 or 2 rows x 1 token for a matvec (2: the activation chunk is loaded once for both
 * rows) and 1 row x 4 (sdot) or 2 (ARMv8.0) tokens for a batch (each unpacked weight chunk serves
 * every token): the largest tiles gcc 12, the Pi targets' compiler, keeps in the 32 registers.
 */
#ifndef EDGEC_KERNELS_TERNARY_NEON_H
#define EDGEC_KERNELS_TERNARY_NEON_H

#include <arm_neon.h>

#include "kernels/arm/neon/dense.h"

#define EDGEC_TNEON_ROWS 2   /* bounds of the tile loops */
#define EDGEC_TNEON_TOKENS 4
#if defined(__ARM_FEATURE_DOTPROD)
#define EDGEC_TNEON_MATVEC_ROWS(fmt) ((fmt) == EDGEC_FMT_TQ1_0 ? 1 : 2)
#define EDGEC_TNEON_BATCH(fmt) 4
#else
#define EDGEC_TNEON_MATVEC_ROWS(fmt) ((fmt) == EDGEC_FMT_TQ2 ? 2 : 1)
#define EDGEC_TNEON_BATCH(fmt) 2
#endif
#define EDGEC_TNEON_SLAB 64  /* chunks prepared per token per slab: rows up to n = 8192 in one */

/* One token's prepared chunk: -sum(qx) and d_x of activation block k in element k. */
typedef struct {
    int32_t corr[EDGEC_NEON_CHUNK];
    float d[EDGEC_NEON_CHUNK];
} edgec_tneon_prep;

/* Prepares `count` (2 or 4) activation blocks from x; the rest are zero. */
static inline void edgec_tneon_prepare(edgec_tneon_prep *p, const edgec_block_q8a *x, int count)
{
    for (int k = 0; k < EDGEC_NEON_CHUNK; k++) {
        p->corr[k] = k < count ? -(vaddlvq_s8(vld1q_s8(x[k].qs)) + vaddlvq_s8(vld1q_s8(x[k].qs + 16))) : 0;
        p->d[k] = k < count ? x[k].d : 0.0f;
    }
}

/* The activation bytes of `count` blocks from x (the rest zero); d and s are unused here. */
EDGEC_ALWAYS_INLINE edgec_neon_xchunk edgec_tneon_load_x(const edgec_block_q8a *x, int count)
{
    edgec_neon_xchunk c;
    c.d = c.s = vdupq_n_f32(0.0f);
EDGEC_UNROLL
    for (int k = 0; k < EDGEC_NEON_CHUNK; k++) {
        c.lo[k] = k < count ? vld1q_s8(x[k].qs) : vdupq_n_s8(0);
        c.hi[k] = k < count ? vld1q_s8(x[k].qs + 16) : vdupq_n_s8(0);
    }
    return c;
}

/* Codes (q >> shift) & 3 as signed bytes. */
EDGEC_ALWAYS_INLINE int8x16_t edgec_tneon_codes2(uint8x16_t q, int shift)
{
    switch (shift) { /* shift counts must be literals */
    case 0: return vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(3)));
    case 2: return vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q, 2), vdupq_n_u8(3)));
    case 4: return vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q, 4), vdupq_n_u8(3)));
    default: return vreinterpretq_s8_u8(vshrq_n_u8(q, 6));
    }
}

/* Base-3 digits of the bytes q for per-byte multipliers 3^k (vector m). */
EDGEC_ALWAYS_INLINE int8x16_t edgec_tneon_digits(uint8x16_t q, uint8x16_t m)
{
    uint8x16_t p = vmulq_u8(q, m);
    return vreinterpretq_s8_u8(vshrq_n_u8(vhaddq_u8(p, vshrq_n_u8(p, 1)), 6));
}

EDGEC_ALWAYS_INLINE int8x16_t edgec_tneon_digit(uint8x16_t q, int pow3)
{
    return edgec_tneon_digits(q, vdupq_n_u8((uint8_t)pow3));
}

/* One row's codes for chunk `half` (0, 1) of the 256-weight block at blk, and d_w in every lane. */
EDGEC_ALWAYS_INLINE edgec_neon_wchunk edgec_tneon_load_256(int fmt, const uint8_t *blk, int half)
{
    edgec_neon_wchunk c;
    c.d = vdupq_n_f32(edgec_ternary_scale(fmt, blk));
    c.m = c.d;
    if (fmt == EDGEC_FMT_TQ2_0) {
        const uint8x16_t q0 = vld1q_u8(blk + 32 * half), q1 = vld1q_u8(blk + 32 * half + 16);
EDGEC_UNROLL
        for (int s = 0; s < 4; s++) {
            c.lo[s] = edgec_tneon_codes2(q0, 2 * s);
            c.hi[s] = edgec_tneon_codes2(q1, 2 * s);
        }
        return c;
    }
    const uint8x16_t q0 = vld1q_u8(blk), q1 = vld1q_u8(blk + 16);
    if (half == 0) { /* activation blocks 0..3: digit k of qs[0..31] */
        static const int pow3[4] = {1, 3, 9, 27};
EDGEC_UNROLL
        for (int k = 0; k < 4; k++) {
            c.lo[k] = edgec_tneon_digit(q0, pow3[k]);
            c.hi[k] = edgec_tneon_digit(q1, pow3[k]);
        }
        return c;
    }
    /* block 4: digit 4 of qs[0..31]; 5, 6, 7: digits 0..4 of qs[32..47] (16 weights each) and,
     * for 240..255, digit j >> 2 of qh[j & 3] */
    static const uint8_t qh_pow3[16] = {1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27};
    const uint8x16_t q2 = vld1q_u8(blk + 32);
    const uint8x16_t qh = vreinterpretq_u8_u32(vdupq_n_u32(edgec_load_u32(blk + EDGEC_TQ1_0_QH)));
    c.lo[0] = edgec_tneon_digit(q0, 81);
    c.hi[0] = edgec_tneon_digit(q1, 81);
    c.lo[1] = edgec_tneon_digit(q2, 1);
    c.hi[1] = edgec_tneon_digit(q2, 3);
    c.lo[2] = edgec_tneon_digit(q2, 9);
    c.hi[2] = edgec_tneon_digit(q2, 27);
    c.lo[3] = edgec_tneon_digit(q2, 81);
    c.hi[3] = edgec_tneon_digits(qh, vld1q_u8(qh_pow3));
    return c;
}

/* One row's codes for a tq2 chunk: `count` (1 or 2) blocks at blk; d_w = [d0, d0, d1, d1]. */
EDGEC_ALWAYS_INLINE edgec_neon_wchunk edgec_tneon_load_tq2(const uint8_t *blk, int count)
{
    edgec_neon_wchunk c;
EDGEC_UNROLL
    for (int k = 0; k < 2; k++) {
        if (k >= count) {
            c.lo[2 * k] = c.hi[2 * k] = c.lo[2 * k + 1] = c.hi[2 * k + 1] = vdupq_n_s8(0);
            continue;
        }
        const uint8x16_t q = vld1q_u8(blk + k * EDGEC_TQ2_BYTES + EDGEC_TQ2_QS);
        c.lo[2 * k] = edgec_tneon_codes2(q, 0);
        c.hi[2 * k] = edgec_tneon_codes2(q, 2);
        c.lo[2 * k + 1] = edgec_tneon_codes2(q, 4);
        c.hi[2 * k + 1] = edgec_tneon_codes2(q, 6);
    }
    const float d0 = edgec_ternary_scale(EDGEC_FMT_TQ2, blk), d1 = count > 1 ? edgec_ternary_scale(EDGEC_FMT_TQ2, blk + EDGEC_TQ2_BYTES) : 0.0f;
    c.d = vcombine_f32(vdup_n_f32(d0), vdup_n_f32(d1));
    c.m = c.d;
    return c;
}

/* acc += one chunk of codes (wc) x one token's activation chunk starting at x, prepared as p. */
EDGEC_ALWAYS_INLINE float32x4_t edgec_tneon_chunk(float32x4_t acc, const edgec_neon_wchunk *wc, const edgec_block_q8a *x,
                                                  const edgec_tneon_prep *p, int count)
{
    edgec_neon_xchunk xc = edgec_tneon_load_x(x, count);
    int32x4_t isum = vaddq_s32(edgec_neon_chunk_isum(EDGEC_FMT_Q4_1, wc, &xc), vld1q_s32(p->corr)); /* small unsigned x signed products */
    return vfmaq_f32(acc, vcvtq_f32_s32(isum), vmulq_f32(wc->d, vld1q_f32(p->d)));
}

/* Adds weight group g (tq2: 2 blocks = 1 chunk of `count` blocks; else 1 block = 2 chunks) of
 * R rows x T tokens to acc.  xg[j] is token j's first activation block of the group and pg[j]
 * its first prepared chunk. */
EDGEC_ALWAYS_INLINE void edgec_tneon_step(int fmt, int R, int T, float32x4_t acc[EDGEC_TNEON_ROWS][EDGEC_TNEON_TOKENS],
                                          const uint8_t *const blk[EDGEC_TNEON_ROWS], const edgec_block_q8a *const xg[EDGEC_TNEON_TOKENS],
                                          const edgec_tneon_prep *const pg[EDGEC_TNEON_TOKENS], int count)
{
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TNEON_ROWS; i++) {
        if (i >= R) continue;
        if (fmt == EDGEC_FMT_TQ2) {
            const edgec_neon_wchunk wc = edgec_tneon_load_tq2(blk[i], count);
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_TNEON_TOKENS; j++)
                if (j < T) acc[i][j] = edgec_tneon_chunk(acc[i][j], &wc, xg[j], pg[j], 2 * count);
            continue;
        }
EDGEC_UNROLL
        for (int h = 0; h < 2; h++) {
            const edgec_neon_wchunk wc = edgec_tneon_load_256(fmt, blk[i], h);
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_TNEON_TOKENS; j++)
                if (j < T) acc[i][j] = edgec_tneon_chunk(acc[i][j], &wc, xg[j] + EDGEC_NEON_CHUNK * h, pg[j] + h, EDGEC_NEON_CHUNK);
        }
    }
}

/* Groups [c0, c1) of an R x T tile (rows r.., tokens t..; R, T constants): stores the partial
 * dots into out[(t+j)*ldo + r+i], or adds them to a previous slab's (add).  Token j's
 * prepared chunk k is prep[j*slab_chunks + k - k0], k0 the slab's first chunk. */
EDGEC_ALWAYS_INLINE void edgec_tneon_tile(int fmt, int R, int T, float *out, int ldo, const uint8_t *w, size_t row_bytes, int r,
                                          const edgec_block_q8a *xq, int t, int nb, const edgec_tneon_prep *prep, int slab_chunks,
                                          int g0, int g1, int n_blocks, int add)
{
    const int per_group = fmt == EDGEC_FMT_TQ2 ? 2 : 1; /* weight blocks per group */
    const int chunks_per_group = fmt == EDGEC_FMT_TQ2 ? 1 : 2;
    const int bb = edgec_ternary_block_bytes(fmt);
    float32x4_t acc[EDGEC_TNEON_ROWS][EDGEC_TNEON_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TNEON_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TNEON_TOKENS; j++) acc[i][j] = vdupq_n_f32(0.0f);
    for (int g = g0; g < g1; g++) {
        const uint8_t *blk[EDGEC_TNEON_ROWS];
        const edgec_block_q8a *xg[EDGEC_TNEON_TOKENS];
        const edgec_tneon_prep *pg[EDGEC_TNEON_TOKENS];
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TNEON_ROWS; i++) blk[i] = w + (size_t)(r + (i < R ? i : 0)) * row_bytes + (size_t)g * per_group * bb;
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TNEON_TOKENS; j++) {
            const int jj = j < T ? j : 0;
            xg[j] = xq + (size_t)(t + jj) * nb + (size_t)g * EDGEC_NEON_CHUNK * chunks_per_group;
            pg[j] = prep + (size_t)jj * slab_chunks + (size_t)(g - g0) * chunks_per_group;
        }
        if (fmt == EDGEC_FMT_TQ2 && 2 * g + 1 >= n_blocks) { /* an odd number of tq2 blocks: the last group holds one */
            edgec_tneon_step(fmt, R, T, acc, blk, xg, pg, 1);
            break;
        }
        edgec_tneon_step(fmt, R, T, acc, blk, xg, pg, 2);
    }
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TNEON_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TNEON_TOKENS; j++) {
            if (i >= R || j >= T) continue;
            float *o = out + (size_t)(t + j) * ldo + r + i;
            *o = (add ? *o : 0.0f) + vaddvq_f32(acc[i][j]);
        }
}

/* Rows [r0, r1) x tokens [0, n_tok): batch tiles of 1 row x EDGEC_TNEON_BATCH tokens while that
 * many tokens remain, then matvec tiles; the activation chunks of a token tile are prepared
 * once per slab (64 chunks per token, 8 KB on the stack). */
EDGEC_ALWAYS_INLINE void edgec_tneon_matmul(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                            const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK, n_blocks = n / edgec_ternary_block_weights(fmt);
    const int chunks_per_group = fmt == EDGEC_FMT_TQ2 ? 1 : 2;
    const int n_groups = fmt == EDGEC_FMT_TQ2 ? (n_blocks + 1) / 2 : n_blocks;
    const int groups_per_slab = EDGEC_TNEON_SLAB / chunks_per_group;
    const int batch = EDGEC_TNEON_BATCH(fmt), rows = EDGEC_TNEON_MATVEC_ROWS(fmt);
    const size_t row_bytes = (size_t)n_blocks * edgec_ternary_block_bytes(fmt);
    const uint8_t *wb = (const uint8_t *)w;
    edgec_tneon_prep prep[EDGEC_TNEON_TOKENS * EDGEC_TNEON_SLAB];
    for (int t = 0; t < n_tok;) {
        const int T = n_tok - t >= batch ? batch : 1;
        for (int g0 = 0; g0 < n_groups; g0 += groups_per_slab) {
            const int g1 = g0 + groups_per_slab < n_groups ? g0 + groups_per_slab : n_groups;
            const int k0 = g0 * chunks_per_group, k1 = g1 * chunks_per_group, add = g0 > 0;
            for (int j = 0; j < T; j++)
                for (int k = k0; k < k1; k++) {
                    const int left = nb - EDGEC_NEON_CHUNK * k; /* a tq2 row may end with 2 activation blocks */
                    edgec_tneon_prepare(&prep[j * EDGEC_TNEON_SLAB + k - k0], xq + (size_t)(t + j) * nb + (size_t)EDGEC_NEON_CHUNK * k,
                                        left < EDGEC_NEON_CHUNK ? left : EDGEC_NEON_CHUNK);
                }
            int r = r0;
            if (T > 1) {
                for (; r < r1; r++)
                    edgec_tneon_tile(fmt, 1, batch, out, ldo, wb, row_bytes, r, xq, t, nb, prep, EDGEC_TNEON_SLAB, g0, g1, n_blocks, add);
                continue;
            }
            if (rows == 2)
                for (; r + 2 <= r1; r += 2)
                    edgec_tneon_tile(fmt, 2, 1, out, ldo, wb, row_bytes, r, xq, t, nb, prep, EDGEC_TNEON_SLAB, g0, g1, n_blocks, add);
            for (; r < r1; r++) edgec_tneon_tile(fmt, 1, 1, out, ldo, wb, row_bytes, r, xq, t, nb, prep, EDGEC_TNEON_SLAB, g0, g1, n_blocks, add);
        }
        t += T;
    }
}

static inline void edgec_tneon_matmul_tq2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_tneon_matmul(EDGEC_FMT_TQ2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_tneon_matmul_tq2_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_tneon_matmul(EDGEC_FMT_TQ2_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_tneon_matmul_tq1_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_tneon_matmul(EDGEC_FMT_TQ1_0, out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
