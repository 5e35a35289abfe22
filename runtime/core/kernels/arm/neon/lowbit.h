/* kernels/arm/neon/lowbit.h - q2 / q3 matmul microkernel (the chunk unpack) on AArch64 NEON (and ARMv7, a32.h): ARMv8.0
 * widening multiplies, sdot under __ARM_FEATURE_DOTPROD.
 *
 * A block's codes unpack into the natural order kernels/arm/neon/dense.h uses for q4_1 ("lo" = weights
 * 0..15, "hi" = 16..31, as int8 0..7): the 8 qs bytes shifted by 0, 2, 4, 6 and masked are
 * weights 0..7, 8..15, 16..23, 24..31, and q3's bit 2 comes from qh by a table lookup (byte
 * j >> 3 of qh spread over 8 lanes) and a bit test.  From there the chunks of 4 blocks, the
 * integer dots (edgec_neon_chunk_isum: sdot, or smull/smlal with 16 products per int16 lane,
 * |7 * 128 * 16| < 2^15), the fold (q4_1's) and the tiling (kernels/tiled_matmul.h, shaped as
 * for q4_1) are kernels/arm/neon/dense.h's: 2 rows x 1 token for a matvec, 1 row x 4 tokens for a
 * batch, block k's sum in int32 lane k, d_w*d_x and m_w*s_x per lane.
 */
#ifndef EDGEC_KERNELS_LOWBIT_NEON_H
#define EDGEC_KERNELS_LOWBIT_NEON_H

#include "kernels/arm/neon/a32.h" /* <arm_neon.h>, and on 32-bit ARM the AArch64-only intrinsics */

#include "kernels/arm/neon/dense.h"

/* Unpacks `count` (1..4) consecutive q2 / q3 blocks from blk (any alignment); the blocks past
 * count are zero codes with zero d and m, so they add nothing. */
EDGEC_ALWAYS_INLINE edgec_neon_wchunk edgec_lneon_load_wchunk(int fmt, const uint8_t *blk, int count)
{
    /* lanes 0..7 read qh byte 0 (lo) or 2 (hi), lanes 8..15 byte 1 or 3; lane i tests bit i & 7 */
    static const uint8_t spread_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1};
    static const uint8_t spread_hi[16] = {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3};
    static const uint8_t bit_of_lane[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const int bb = edgec_lowbit_block_bytes(fmt);
    const uint8x8_t three = vdup_n_u8(3);
    edgec_neon_wchunk c;
    uint16_t hd[EDGEC_NEON_CHUNK] = {0}, hm[EDGEC_NEON_CHUNK] = {0}; /* fp16 d and m of each block */
EDGEC_UNROLL
    for (int k = 0; k < EDGEC_NEON_CHUNK; k++) {
        const uint8_t *b = blk + k * bb;
        if (k >= count) {
            c.lo[k] = c.hi[k] = vdupq_n_s8(0);
            continue;
        }
        hd[k] = edgec_load_u16(b);
        hm[k] = edgec_load_u16(b + EDGEC_Q2_M);
        uint8x8_t qs = vld1_u8(b + EDGEC_Q2_QS);
        uint8x16_t lo = vcombine_u8(vand_u8(qs, three), vand_u8(vshr_n_u8(qs, 2), three));
        uint8x16_t hi = vcombine_u8(vand_u8(vshr_n_u8(qs, 4), three), vshr_n_u8(qs, 6));
        if (fmt == EDGEC_FMT_Q3) {
            uint32_t qh;
            memcpy(&qh, b + EDGEC_Q3_QH, sizeof qh); /* qh[0..3] in bytes 0..3 of every 32-bit lane */
            uint8x16_t table = vreinterpretq_u8_u32(vdupq_n_u32(qh)), bits = vld1q_u8(bit_of_lane), four = vdupq_n_u8(4);
            lo = vorrq_u8(lo, vandq_u8(vtstq_u8(vqtbl1q_u8(table, vld1q_u8(spread_lo)), bits), four));
            hi = vorrq_u8(hi, vandq_u8(vtstq_u8(vqtbl1q_u8(table, vld1q_u8(spread_hi)), bits), four));
        }
        c.lo[k] = vreinterpretq_s8_u8(lo);
        c.hi[k] = vreinterpretq_s8_u8(hi);
    }
    c.d = edgec_neon_halves(hd[0], hd[1], hd[2], hd[3]);
    c.m = edgec_neon_halves(hm[0], hm[1], hm[2], hm[3]);
    return c;
}

/* The tiling of kernels/arm/neon/dense.h (its tile bounds and shapes, q4_1's batch of 4) over
 * these chunks: the codes are small non-negative int8, so q4_1's fold applies as it is. */
#define EDGEC_TM_NAME(name) edgec_lneon_##name
#define EDGEC_TM_WCHUNK edgec_neon_wchunk
#define EDGEC_TM_TILE_ROWS EDGEC_NEON_TILE_ROWS
#define EDGEC_TM_TILE_TOKENS EDGEC_NEON_TILE_TOKENS
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_NEON_BATCH(EDGEC_FMT_Q4_1)
#define EDGEC_TM_BATCH_ROWS(fmt) 1
#define EDGEC_TM_MATVEC_ROWS(fmt) 2
#define EDGEC_TM_BLOCK_BYTES(fmt) edgec_lowbit_block_bytes(fmt)
#define EDGEC_TM_CHUNK_BLOCKS(fmt) EDGEC_NEON_CHUNK
#define EDGEC_TM_ROWS_FIRST 0
#define EDGEC_TM_TAIL_IN_LOOP 1
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_lneon_load_wchunk(fmt, blk, count)
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_neon_fold(EDGEC_FMT_Q4_1, acc, w, x, count)
#include "kernels/tiled_matmul.h"

static inline void edgec_lneon_matmul_q2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lneon_matmul(EDGEC_FMT_Q2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_lneon_matmul_q3(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lneon_matmul(EDGEC_FMT_Q3, out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
