/* kernels/float_matmul.h - float-weight matmul (f32, f16, bf16 weights x f32 activations) written once
 * over an ISA's vector layer (its contract is in kernels/vector_math.h): register tiles of R rows x T
 * tokens, each weight vector loaded once for the T tokens, one accumulator chain per output.
 * Each ISA's float.h includes its vec.h, then this; it defines EDGEC_VEC_FN(matmul_f32/_f16/_bf16). */
#ifndef EDGEC_KERNELS_FLOAT_MATMUL_H
#define EDGEC_KERNELS_FLOAT_MATMUL_H

#include "kernels/vector_math.h"

/* LANES weights of a float-format row from p: the first len (< LANES) of them, then zeros. */
EDGEC_ALWAYS_INLINE edgec_vec EDGEC_VEC_FN(load_weights_padded)(int fmt, const uint8_t *p, int len)
{
    uint8_t buf[EDGEC_VEC_LANES * 4] = {0};
    memcpy(buf, p, (size_t)len * (fmt == EDGEC_FMT_F32 ? 4 : 2));
    return edgec_vec_load_weights(fmt, buf);
}

/* The first len (< LANES) floats at p, then zeros. */
EDGEC_ALWAYS_INLINE edgec_vec EDGEC_VEC_FN(load_floats_padded)(const float *p, int len)
{
    float buf[EDGEC_VEC_LANES] = {0};
    memcpy(buf, p, (size_t)len * sizeof *p);
    return edgec_vec_loadu(buf);
}

/* acc[i][j] += row i's weights k.. times token j's activations k.. over one vector for an R x T tile;
 * len = n - k elements are left: a whole or masked step, or (padded) the zero-padded last one, which
 * has no row left to prefetch. */
EDGEC_ALWAYS_INLINE void EDGEC_VEC_FN(tile_float_step)(int fmt, int R, int T, edgec_vec acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS],
                                                       const uint8_t *row, size_t row_bytes, const float *x, int ldx, int t,
                                                       int k, int len, int padded)
{
    const size_t es = fmt == EDGEC_FMT_F32 ? 4 : 2;
    const edgec_vec_part m = edgec_vec_part_of(len);
    edgec_vec wv[EDGEC_TILE_ROWS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++) {
        if (i >= R) continue;
        const uint8_t *wp = row + i * row_bytes + k * es;
        if (padded) {
            wv[i] = EDGEC_VEC_FN(load_weights_padded)(fmt, wp, len);
        } else {
            edgec_vec_prefetch(wp + EDGEC_PREFETCH_BYTES);
            wv[i] = edgec_vec_load_weights_part(fmt, wp, m);
        }
    }
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
        if (j >= T) continue; /* not break: with break gcc 12 spills a loop bound in the NEON 1 x 1 tile */
        const float *xp = x + (size_t)(t + j) * ldx + k;
        const edgec_vec xv = padded ? EDGEC_VEC_FN(load_floats_padded)(xp, len) : edgec_vec_load_part(m, xp);
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TILE_ROWS; i++) if (i < R) acc[i][j] = edgec_vec_fmadd(wv[i], xv, acc[i][j]);
    }
}

/* R x T tile of float-weight dots, R, T constants (<= 4, <= 8): rows r.., tokens t... */
EDGEC_ALWAYS_INLINE void EDGEC_VEC_FN(tile_float)(int fmt, int R, int T, float *out, int ldo, const void *w, int r,
                                                  const float *x, int ldx, int t, int n)
{
    const size_t row_bytes = (size_t)n * (fmt == EDGEC_FMT_F32 ? 4 : 2);
    const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
    edgec_vec acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[i][j] = edgec_vec_zero();
    int k = 0;
    for (; EDGEC_VEC_STEP_FITS(k, n); k += EDGEC_VEC_LANES)
        EDGEC_VEC_FN(tile_float_step)(fmt, R, T, acc, row, row_bytes, x, ldx, t, k, n - k, 0);
    if (!EDGEC_VEC_MASKED_TAIL && k < n)
        EDGEC_VEC_FN(tile_float_step)(fmt, R, T, acc, row, row_bytes, x, ldx, t, k, n - k, 1);
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
            if (i < R && j < T) out[(size_t)(t + j) * ldo + r + i] = edgec_vec_hsum(acc[i][j]);
}

/* Rows [r0, r1) x tokens [0, n_tok): 4-row tiles for one token, EDGEC_VEC_BATCH_ROWS-row x 4-token
 * tiles for a batch (with 4-row batch tiles the batch loops give one token those same tiles). */
EDGEC_ALWAYS_INLINE void EDGEC_VEC_FN(matmul_float)(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                                    const float *x, int ldx, int n_tok, int n)
{
    int r = r0;
    if (n_tok == 1 && EDGEC_VEC_BATCH_ROWS != 4) {
        for (; r + 4 <= r1; r += 4) EDGEC_VEC_FN(tile_float)(fmt, 4, 1, out, ldo, w, r, x, ldx, 0, n);
        for (; r < r1; r++) EDGEC_VEC_FN(tile_float)(fmt, 1, 1, out, ldo, w, r, x, ldx, 0, n);
        return;
    }
    for (; r + EDGEC_VEC_BATCH_ROWS <= r1; r += EDGEC_VEC_BATCH_ROWS) {
        int t = 0;
        for (; t + 4 <= n_tok; t += 4) EDGEC_VEC_FN(tile_float)(fmt, EDGEC_VEC_BATCH_ROWS, 4, out, ldo, w, r, x, ldx, t, n);
        for (; t < n_tok; t++) EDGEC_VEC_FN(tile_float)(fmt, EDGEC_VEC_BATCH_ROWS, 1, out, ldo, w, r, x, ldx, t, n);
    }
    for (; r < r1; r++) {
        int t = 0;
        for (; t + 4 <= n_tok; t += 4) EDGEC_VEC_FN(tile_float)(fmt, 1, 4, out, ldo, w, r, x, ldx, t, n);
        for (; t < n_tok; t++) EDGEC_VEC_FN(tile_float)(fmt, 1, 1, out, ldo, w, r, x, ldx, t, n);
    }
}

static inline void EDGEC_VEC_FN(matmul_f32)(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ EDGEC_VEC_FN(matmul_float)(EDGEC_FMT_F32, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void EDGEC_VEC_FN(matmul_f16)(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ EDGEC_VEC_FN(matmul_float)(EDGEC_FMT_F16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void EDGEC_VEC_FN(matmul_bf16)(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ EDGEC_VEC_FN(matmul_float)(EDGEC_FMT_BF16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }

#endif
