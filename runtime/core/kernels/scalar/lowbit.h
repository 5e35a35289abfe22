/* kernels/scalar/lowbit.h - q2 / q3 (row-major groups): the portable C11 kernels (no intrinsics), the reference
 * every SIMD path of this family is tested against.  Included only by kernels/lowbit.h, after its
 * layout helpers. */
#ifndef EDGEC_KERNELS_SCALAR_LOWBIT_H
#define EDGEC_KERNELS_SCALAR_LOWBIT_H

#include "kernels/scalar/dense.h"

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

#endif
