/* kernels/scalar/ternary.h - tq2, tq2_0, tq1_0 (row-major): the portable C11 kernels (no intrinsics), the reference
 * every SIMD path of this family is tested against.  Included only by kernels/ternary.h, after its
 * layout helpers. */
#ifndef EDGEC_KERNELS_SCALAR_TERNARY_H
#define EDGEC_KERNELS_SCALAR_TERNARY_H

#include "kernels/scalar/dense.h"

/* sum((code - 1) * qx) over weights 32a..32a+31 of a tq2 / tq2_0 block, straight from the bytes,
 * as sum(code * qx) - sum(qx): gcc 12 -O2 -march=znver4 vectorises "(code - 1) * qx" into
 * vpdpbusd with the signed weights taken as unsigned (wrong sums); this form it gets right. */
static inline int edgec_scalar_ternary_isum(int fmt, const uint8_t *blk, int a, const int8_t *qx)
{
    int s = 0, sx = 0;
    for (int i = 0; i < 32; i++) sx += qx[i];
    if (fmt == EDGEC_FMT_TQ2) {
        const uint8_t *qs = blk + EDGEC_TQ2_QS;
        const int sh = 4 * a; /* weights 32a.. are quarters 2a and 2a+1 */
        for (int i = 0; i < 16; i++) s += ((qs[i] >> sh) & 3) * qx[i] + ((qs[i] >> (sh + 2)) & 3) * qx[i + 16];
        return s - sx;
    }
    const uint8_t *qs = blk + 32 * (a >> 2);
    const int sh = 2 * (a & 3);
    for (int i = 0; i < 32; i++) s += ((qs[i] >> sh) & 3) * qx[i];
    return s - sx;
}

/* out[(t+j)*ldo + r] = sum over activation blocks of (d_w*d_x) * isum, for T (constant <= 8)
 * tokens: each weight block is decoded once for all T. */
EDGEC_ALWAYS_INLINE void edgec_scalar_tile_ternary(int fmt, int T, float *out, int ldo, const uint8_t *row, int r,
                                                   const edgec_block_q8a *xq, int t, int n)
{
    const int bb = edgec_ternary_block_bytes(fmt), per = edgec_ternary_block_weights(fmt) / EDGEC_QK;
    const int nb = n / EDGEC_QK;
    float acc[EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[j] = 0.0f;
    for (int b = 0; b < nb / per; b++) {
        const uint8_t *blk = row + (size_t)b * bb;
        const float dw = edgec_ternary_scale(fmt, blk);
        for (int a = 0; a < per; a++) {
            uint8_t c[32];
            if (fmt == EDGEC_FMT_TQ1_0) edgec_tq1_0_codes32(blk, a, c);
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
                if (j >= T) continue;
                const edgec_block_q8a *x = xq + (size_t)(t + j) * nb + (size_t)b * per + a;
                int s = 0;
                if (fmt == EDGEC_FMT_TQ1_0)
                    for (int i = 0; i < 32; i++) s += c[i] * x->qs[i] - x->qs[i];
                else
                    s = edgec_scalar_ternary_isum(fmt, blk, a, x->qs);
                acc[j] += (float)s * (dw * x->d);
            }
        }
    }
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
        if (j < T) out[(size_t)(t + j) * ldo + r] = acc[j];
}

/* Rows [r0, r1) x tokens [0, n_tok): tiles of 1 row x 8 tokens, then single tokens. */
EDGEC_ALWAYS_INLINE void edgec_scalar_matmul_ternary(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                                     const edgec_block_q8a *xq, int n_tok, int n)
{
    const size_t row_bytes = (size_t)(n / edgec_ternary_block_weights(fmt)) * edgec_ternary_block_bytes(fmt);
    for (int r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
        int t = 0;
        for (; t + EDGEC_TILE_TOKENS <= n_tok; t += EDGEC_TILE_TOKENS) edgec_scalar_tile_ternary(fmt, EDGEC_TILE_TOKENS, out, ldo, row, r, xq, t, n);
        for (; t < n_tok; t++) edgec_scalar_tile_ternary(fmt, 1, out, ldo, row, r, xq, t, n);
    }
}

static inline void edgec_scalar_matmul_tq2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_scalar_matmul_ternary(EDGEC_FMT_TQ2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_scalar_matmul_tq2_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_scalar_matmul_ternary(EDGEC_FMT_TQ2_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_scalar_matmul_tq1_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_scalar_matmul_ternary(EDGEC_FMT_TQ1_0, out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
