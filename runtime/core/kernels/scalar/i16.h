/* kernels/scalar/i16.h - q4_0 / q4_1 / q8_0 in 16-row interleaved tiles: the portable C11 kernels (no intrinsics), the reference
 * every SIMD path of this family is tested against.  Included only by kernels/i16.h, after its
 * layout helpers. */
#ifndef EDGEC_KERNELS_SCALAR_I16_H
#define EDGEC_KERNELS_SCALAR_I16_H

#include "kernels/scalar/dense.h"

/* sum_j w[r][j]*qx[j] over one tile's 32 columns for lane r, exact (q4_0: nibble-8,
 * q4_1: nibble, q8_0: signed weight): the same integers kernels/scalar/dense.h sums per block.
 * Activations are read through int8_t pointers (gcc 12 once vectorised a u8->s8 cast wrongly). */
static inline int edgec_i16_scalar_isum(int fmt, const uint8_t *tile, int r, const int8_t *qx)
{
    const uint8_t *lane = tile + edgec_i16_scale_bytes(fmt) + 4 * r;
    int s = 0;
    if (fmt == EDGEC_FMT_Q8_0) {
        for (int c = 0; c < 8; c++)
            for (int k = 0; k < 4; k++) s += ((int)lane[64 * c + k] - 128) * qx[4 * c + k];
        return s;
    }
    const int bias = fmt == EDGEC_FMT_Q4_0 ? 8 : 0;
    for (int c = 0; c < 4; c++)
        for (int k = 0; k < 4; k++) {
            int byte = lane[64 * c + k];
            s += ((byte & 15) - bias) * qx[8 * c + k] + ((byte >> 4) - bias) * qx[8 * c + 4 + k];
        }
    return s;
}

/* Row r of a tile as kernels/scalar/dense.h's block ints: q8_0 qs, q4_0 nibble-8, q4_1 nibble. */
static inline int edgec_i16_scalar_weight(int fmt, const uint8_t *tile, int r, int j)
{
    const uint8_t *lane = tile + edgec_i16_scale_bytes(fmt) + 4 * r;
    if (fmt == EDGEC_FMT_Q8_0) return (int)lane[64 * (j / 4) + j % 4] - 128;
    int byte = lane[64 * (j / 8) + j % 4];
    int nib = j % 8 < 4 ? byte & 15 : byte >> 4;
    return fmt == EDGEC_FMT_Q4_0 ? nib - 8 : nib;
}

/* Lane r's d and m (m = 0 except q4_1). */
static inline void edgec_i16_scalar_scales(int fmt, const uint8_t *tile, int r, float *d, float *m)
{
    *d = edgec_fp16_to_fp32(edgec_load_u16(tile + 2 * r));
    *m = fmt == EDGEC_FMT_Q4_1 ? edgec_fp16_to_fp32(edgec_load_u16(tile + 32 + 2 * r)) : 0.0f;
}

/* Group g x tokens t..t+T-1 (T a constant <= 8), row by row, with kernels/scalar/dense.h's float
 * operations in its order, so the results equal edgec_scalar_matmul_* bit for bit. */
EDGEC_ALWAYS_INLINE void edgec_i16_scalar_group(int fmt, int T, float *out, int ldo, const uint8_t *w, int g, int rows,
                                                const edgec_block_q8a *xq, int t, int nb)
{
    const size_t tb = (size_t)edgec_i16_tile_bytes(fmt);
    const uint8_t *group = w + (size_t)g * nb * tb;
    const int lanes = rows - EDGEC_I16_ROWS * g < EDGEC_I16_ROWS ? rows - EDGEC_I16_ROWS * g : EDGEC_I16_ROWS;
    for (int r = 0; r < lanes; r++) {
        float acc[EDGEC_TILE_TOKENS], acc_m[EDGEC_TILE_TOKENS];
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[j] = acc_m[j] = 0.0f;
        for (int b = 0; b < nb; b++) {
            const uint8_t *tile = group + (size_t)b * tb;
            float dw, mw;
            edgec_i16_scalar_scales(fmt, tile, r, &dw, &mw);
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
                if (j >= T) continue;
                const edgec_block_q8a *x = xq + (size_t)(t + j) * nb + b;
                acc[j] += (float)edgec_i16_scalar_isum(fmt, tile, r, x->qs) * (dw * x->d);
                acc_m[j] += mw * x->s;
            }
        }
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
            if (j < T) out[(size_t)(t + j) * ldo + EDGEC_I16_ROWS * g + r] = acc[j] + acc_m[j];
    }
}

EDGEC_ALWAYS_INLINE void edgec_i16_scalar_matmul(int fmt, float *out, int ldo, const void *w, int g0, int g1, int rows,
                                                 const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK, groups = edgec_i16_groups(rows);
    if (g1 > groups) g1 = groups;
    for (int g = g0; g < g1; g++) {
        int t = 0;
        for (; t + EDGEC_TILE_TOKENS <= n_tok; t += EDGEC_TILE_TOKENS)
            edgec_i16_scalar_group(fmt, EDGEC_TILE_TOKENS, out, ldo, (const uint8_t *)w, g, rows, xq, t, nb);
        for (; t < n_tok; t++) edgec_i16_scalar_group(fmt, 1, out, ldo, (const uint8_t *)w, g, rows, xq, t, nb);
    }
}

static inline void edgec_i16_scalar_matmul_q4_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_scalar_matmul(EDGEC_FMT_Q4_0, out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_i16_scalar_matmul_q4_1(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_scalar_matmul(EDGEC_FMT_Q4_1, out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_i16_scalar_matmul_q8_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_scalar_matmul(EDGEC_FMT_Q8_0, out, ldo, w, g0, g1, rows, xq, n_tok, n); }

/* Row r dequantized, with edgec_get_row_q's float operations (the same values bit for bit). */
static inline void edgec_i16_get_row(int fmt, float *dst, const void *w, int r, int n)
{
    const int nb = n / EDGEC_QK, lane = r % EDGEC_I16_ROWS;
    const size_t tb = (size_t)edgec_i16_tile_bytes(fmt);
    const uint8_t *group = (const uint8_t *)w + (size_t)(r / EDGEC_I16_ROWS) * nb * tb;
    for (int b = 0; b < nb; b++) {
        const uint8_t *tile = group + (size_t)b * tb;
        float d, m;
        edgec_i16_scalar_scales(fmt, tile, lane, &d, &m);
        for (int j = 0; j < EDGEC_QK; j++) dst[b * EDGEC_QK + j] = d * (float)edgec_i16_scalar_weight(fmt, tile, lane, j) + m;
    }
}

/* Embedding lookup reads one row per token, so it is scalar on every ISA. */
static inline void edgec_get_row_i16_q4_0(float *dst, const void *w, int r, int n) { edgec_i16_get_row(EDGEC_FMT_Q4_0, dst, w, r, n); }
static inline void edgec_get_row_i16_q4_1(float *dst, const void *w, int r, int n) { edgec_i16_get_row(EDGEC_FMT_Q4_1, dst, w, r, n); }
static inline void edgec_get_row_i16_q8_0(float *dst, const void *w, int r, int n) { edgec_i16_get_row(EDGEC_FMT_Q8_0, dst, w, r, n); }

#endif
