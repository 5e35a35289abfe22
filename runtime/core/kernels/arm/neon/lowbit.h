/* kernels/arm/neon/lowbit.h - q2 / q3 matmul on AArch64 NEON: ARMv8.0 widening multiplies, sdot under
 * __ARM_FEATURE_DOTPROD.
 *
 * A block's codes unpack into the natural order kernels/arm/neon/dense.h uses for q4_1 ("lo" = weights
 * 0..15, "hi" = 16..31, as int8 0..7): the 8 qs bytes shifted by 0, 2, 4, 6 and masked are
 * weights 0..7, 8..15, 16..23, 24..31, and q3's bit 2 comes from qh by a table lookup (byte
 * j >> 3 of qh spread over 8 lanes) and a bit test.  From there the chunks of 4 blocks, the
 * integer dots (edgec_neon_chunk_isum: sdot, or smull/smlal with 16 products per int16 lane,
 * |7 * 128 * 16| < 2^15) and the tiles are kernels/arm/neon/dense.h's: 2 rows x 1 token for a matvec,
 * 1 row x 4 tokens for a batch, block k's sum in int32 lane k, d_w*d_x and m_w*s_x per lane.
 */
#ifndef EDGEC_KERNELS_LOWBIT_NEON_H
#define EDGEC_KERNELS_LOWBIT_NEON_H

#include <arm_neon.h>

#include "kernels/arm/neon/dense.h"

#define EDGEC_LNEON_BATCH 4 /* tokens per batch tile, as q4_1 in kernels/arm/neon/dense.h */

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

/* Adds one chunk of `count` blocks to an R x T tile: acc[i][j] += isum * d_w*d_x + m_w*s_x.
 * wb[i] is row i's first block of the chunk, xb[j] token j's. */
EDGEC_ALWAYS_INLINE void edgec_lneon_tile_step(int fmt, int R, int T, float32x4_t acc[EDGEC_NEON_TILE_ROWS][EDGEC_NEON_TILE_TOKENS],
                                               const uint8_t *const wb[EDGEC_NEON_TILE_ROWS],
                                               const edgec_block_q8a *const xb[EDGEC_NEON_TILE_TOKENS], int count)
{
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_NEON_TILE_ROWS; i++) {
        if (i >= R) continue;
        edgec_neon_wchunk wc = edgec_lneon_load_wchunk(fmt, wb[i], count);
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_NEON_TILE_TOKENS; j++) {
            if (j >= T) continue;
            edgec_neon_xchunk xc = edgec_neon_load_xchunk(xb[j], count);
            /* the codes are small non-negative int8: the q4_1 dot applies as it is */
            float32x4_t isum = vcvtq_f32_s32(edgec_neon_chunk_isum(EDGEC_FMT_Q4_1, &wc, &xc));
            acc[i][j] = vfmaq_f32(acc[i][j], isum, vmulq_f32(wc.d, xc.d));
            acc[i][j] = vfmaq_f32(acc[i][j], wc.m, xc.s);
        }
    }
}

/* R x T tile (rows r.., tokens t..; R <= 2, T <= 4 constants) over all nb blocks, 4 at a time,
 * then the last nb % 4. */
EDGEC_ALWAYS_INLINE void edgec_lneon_tile(int fmt, int R, int T, float *out, int ldo, const uint8_t *w, size_t row_bytes, int r,
                                          const edgec_block_q8a *xq, int t, int nb)
{
    const int bb = edgec_lowbit_block_bytes(fmt);
    float32x4_t acc[EDGEC_NEON_TILE_ROWS][EDGEC_NEON_TILE_TOKENS];
    const uint8_t *wb[EDGEC_NEON_TILE_ROWS];
    const edgec_block_q8a *xb[EDGEC_NEON_TILE_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_NEON_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_NEON_TILE_TOKENS; j++) acc[i][j] = vdupq_n_f32(0.0f);
    for (int b = 0; b < nb; b += EDGEC_NEON_CHUNK) {
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_NEON_TILE_ROWS; i++) wb[i] = w + (size_t)(r + (i < R ? i : 0)) * row_bytes + (size_t)b * bb;
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_NEON_TILE_TOKENS; j++) xb[j] = xq + (size_t)(t + (j < T ? j : 0)) * nb + b;
        if (b + EDGEC_NEON_CHUNK > nb) { /* the last nb % 4 blocks */
            edgec_lneon_tile_step(fmt, R, T, acc, wb, xb, nb - b);
            break;
        }
        edgec_lneon_tile_step(fmt, R, T, acc, wb, xb, EDGEC_NEON_CHUNK);
    }
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_NEON_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_NEON_TILE_TOKENS; j++)
            if (i < R && j < T) out[(size_t)(t + j) * ldo + r + i] = vaddvq_f32(acc[i][j]);
}

/* Rows [r0, r1) x tokens [0, n_tok): groups of 4 tokens as 1-row tiles (one weight pass per
 * group), the remaining tokens one at a time as 2-row tiles. */
EDGEC_ALWAYS_INLINE void edgec_lneon_matmul(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                            const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK;
    const size_t row_bytes = (size_t)nb * edgec_lowbit_block_bytes(fmt);
    const uint8_t *wp = (const uint8_t *)w;
    int t = 0;
    for (; t + EDGEC_LNEON_BATCH <= n_tok; t += EDGEC_LNEON_BATCH)
        for (int r = r0; r < r1; r++) edgec_lneon_tile(fmt, 1, EDGEC_LNEON_BATCH, out, ldo, wp, row_bytes, r, xq, t, nb);
    for (; t < n_tok; t++) {
        int r = r0;
        for (; r + 2 <= r1; r += 2) edgec_lneon_tile(fmt, 2, 1, out, ldo, wp, row_bytes, r, xq, t, nb);
        if (r < r1) edgec_lneon_tile(fmt, 1, 1, out, ldo, wp, row_bytes, r, xq, t, nb); /* one row left at most */
    }
}

static inline void edgec_lneon_matmul_q2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lneon_matmul(EDGEC_FMT_Q2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_lneon_matmul_q3(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lneon_matmul(EDGEC_FMT_Q3, out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
