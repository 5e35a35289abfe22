/* kernels/arm/neon/ternary.h - tq2 / tq2_0 / tq1_0 matmul microkernels, AArch64 NEON (and ARMv7, a32.h): ARMv8.2 sdot and
 * ARMv8.0 (Cortex-A53).
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
 * The tiling is kernels/tiled_matmul.h's, instantiated once per prepared type (tq2's chunk, the
 * 256-weight block's 2 chunks): 1 or 2 rows x 1 token for a matvec (2: the activation chunk is
 * loaded once for both rows) and 1 row x 4 (sdot) or 2 (ARMv8.0) tokens for a batch (each
 * unpacked weight chunk serves every token): the largest tiles gcc 12, the Pi targets' compiler,
 * keeps in the 32 registers.
 */
#ifndef EDGEC_KERNELS_TERNARY_NEON_H
#define EDGEC_KERNELS_TERNARY_NEON_H

#include "kernels/arm/neon/a32.h" /* <arm_neon.h>, and on 32-bit ARM the AArch64-only intrinsics */

#include "kernels/arm/neon/dense.h"

#define EDGEC_TNEON_ROWS 2   /* bounds of the tile loops */
#define EDGEC_TNEON_TOKENS 4
#if EDGEC_NEON_SDOT
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

/* The prepared chunks of a 256-weight block: activation blocks 0..3 and 4..7. */
typedef struct {
    edgec_tneon_prep half[2];
} edgec_tneon_prep256;

EDGEC_ALWAYS_INLINE void edgec_tneon_prepare256(edgec_tneon_prep256 *p, const edgec_block_q8a *x)
{
    edgec_tneon_prepare(&p->half[0], x, EDGEC_NEON_CHUNK);
    edgec_tneon_prepare(&p->half[1], x + EDGEC_NEON_CHUNK, EDGEC_NEON_CHUNK);
}

/* ---- the tiling (kernels/tiled_matmul.h), one instantiation per prepared type ----------- */

/* tq2: a group of 2 blocks (4 activation blocks, one NEON chunk); an odd row's last holds 1. */
#define EDGEC_TM_NAME(name) edgec_tneon_tq2_##name
#define EDGEC_TM_WCHUNK edgec_neon_wchunk
#define EDGEC_TM_XPREP edgec_tneon_prep
#define EDGEC_TM_SLAB(T) EDGEC_TNEON_SLAB
#define EDGEC_TM_SLAB_SLOTS (EDGEC_TNEON_TOKENS * EDGEC_TNEON_SLAB)
#define EDGEC_TM_TILE_ROWS EDGEC_TNEON_ROWS
#define EDGEC_TM_TILE_TOKENS EDGEC_TNEON_TOKENS
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_TNEON_BATCH(fmt)
#define EDGEC_TM_BATCH_ROWS(fmt) 1
#define EDGEC_TM_MATVEC_ROWS(fmt) EDGEC_TNEON_MATVEC_ROWS(fmt)
#define EDGEC_TM_BLOCK_WEIGHTS(fmt) 64
#define EDGEC_TM_BLOCK_BYTES(fmt) EDGEC_TQ2_BYTES
#define EDGEC_TM_CHUNK_BLOCKS(fmt) 2
#define EDGEC_TM_ROWS_FIRST 0
#define EDGEC_TM_TAIL_IN_LOOP 1
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_tneon_load_tq2(blk, count)
#define EDGEC_TM_PREPARE(fmt, xp, x, count) edgec_tneon_prepare(xp, x, 2 * (count))
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_tneon_chunk(acc, w, x, xp, 2 * (count))
#include "kernels/tiled_matmul.h"

/* tq2_0 / tq1_0: a group of one 256-weight block, loaded and folded as 2 NEON chunks. */
#define EDGEC_TM_NAME(name) edgec_tneon_b256_##name
#define EDGEC_TM_WCHUNK edgec_neon_wchunk
#define EDGEC_TM_XPREP edgec_tneon_prep256
#define EDGEC_TM_SLAB(T) (EDGEC_TNEON_SLAB / 2)
#define EDGEC_TM_SLAB_SLOTS (EDGEC_TNEON_TOKENS * EDGEC_TNEON_SLAB / 2)
#define EDGEC_TM_TILE_ROWS EDGEC_TNEON_ROWS
#define EDGEC_TM_TILE_TOKENS EDGEC_TNEON_TOKENS
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_TNEON_BATCH(fmt)
#define EDGEC_TM_BATCH_ROWS(fmt) 1
#define EDGEC_TM_MATVEC_ROWS(fmt) EDGEC_TNEON_MATVEC_ROWS(fmt)
#define EDGEC_TM_BLOCK_WEIGHTS(fmt) 256
#define EDGEC_TM_BLOCK_BYTES(fmt) edgec_ternary_block_bytes(fmt)
#define EDGEC_TM_CHUNK_BLOCKS(fmt) 1
#define EDGEC_TM_ROWS_FIRST 0
#define EDGEC_TM_TAIL_IN_LOOP 1
#define EDGEC_TM_PARTS(fmt) 2
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_tneon_load_256(fmt, blk, part)
#define EDGEC_TM_PREPARE(fmt, xp, x, count) edgec_tneon_prepare256(xp, x)
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) \
    edgec_tneon_chunk(acc, w, (x) + EDGEC_NEON_CHUNK * (part), &(xp)->half[part], EDGEC_NEON_CHUNK)
#include "kernels/tiled_matmul.h"

static inline void edgec_tneon_matmul_tq2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_tneon_tq2_matmul(EDGEC_FMT_TQ2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_tneon_matmul_tq2_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_tneon_b256_matmul(EDGEC_FMT_TQ2_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_tneon_matmul_tq1_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_tneon_b256_matmul(EDGEC_FMT_TQ1_0, out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
