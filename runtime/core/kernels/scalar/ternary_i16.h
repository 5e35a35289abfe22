/* kernels/scalar/ternary_i16.h - tq2 in 64-row tiles: the portable C11 kernels (no intrinsics), the reference
 * every SIMD path of this family is tested against.  Included only by kernels/ternary_i16.h, after its
 * layout helpers. */
#ifndef EDGEC_KERNELS_SCALAR_TERNARY_I16_H
#define EDGEC_KERNELS_SCALAR_TERNARY_I16_H

#include "kernels/scalar/dense.h"

/* Rows of group G x token t, row by row, with kernels/ternary.h's scalar float operations in its order. */
static inline void edgec_ti16_scalar_group(float *out, const uint8_t *w, int G, int rows, const edgec_block_q8a *x, int nb)
{
    const uint8_t *group = w + (size_t)G * edgec_ti16_group_bytes(EDGEC_TI16_COLS * nb);
    const int left = rows - EDGEC_TI16_ROWS * G, lanes = left < EDGEC_TI16_ROWS ? left : EDGEC_TI16_ROWS;
    for (int j = 0; j < lanes; j++) {
        const float dw = edgec_fp16_to_fp32(edgec_load_u16(group + 2 * j));   /* the row's d: every block's d */
        float acc = 0.0f;
        for (int b = 0; b < nb; b++) {
            const uint8_t *tile = group + EDGEC_TI16_SCALES + (size_t)b * EDGEC_TI16_TILE;
            for (int a = 0; a < 2; a++) {
                const edgec_block_q8a *xb = x + 2 * b + a;
                int s = 0, sx = 0;
                for (int i = 0; i < EDGEC_QK; i++) {
                    s += edgec_ti16_code(tile, j, 32 * a + i) * xb->qs[i];
                    sx += xb->qs[i];
                }
                acc += (float)(s - sx) * (dw * xb->d);
            }
        }
        out[EDGEC_TI16_ROWS * G + j] = acc;
    }
}

static inline void edgec_ti16_scalar_matmul_tq2(float *out, int ldo, const void *w, int g0, int g1, int rows,
                                                const edgec_block_q8a *xq, int n_tok, int n)
{
    int first, end;
    edgec_ti16_group_range(g0, g1, rows, &first, &end);
    const int nb = n / EDGEC_TI16_COLS;
    for (int G = first; G < end; G++)
        for (int t = 0; t < n_tok; t++)
            edgec_ti16_scalar_group(out + (size_t)t * ldo, (const uint8_t *)w, G, rows, xq + (size_t)t * (n / EDGEC_QK), nb);
}

/* Row r dequantized: d * (code - 1), the same floats as edgec_get_row_tq2. */
static inline void edgec_get_row_i16_tq2(float *dst, const void *w, int r, int n)
{
    const int nb = n / EDGEC_TI16_COLS, j = r % EDGEC_TI16_ROWS;
    const uint8_t *group = (const uint8_t *)w + (size_t)(r / EDGEC_TI16_ROWS) * edgec_ti16_group_bytes(n);
    const float d = edgec_fp16_to_fp32(edgec_load_u16(group + 2 * j));
    for (int b = 0; b < nb; b++) {
        const uint8_t *tile = group + EDGEC_TI16_SCALES + (size_t)b * EDGEC_TI16_TILE;
        for (int c = 0; c < EDGEC_TI16_COLS; c++) dst[b * EDGEC_TI16_COLS + c] = d * (float)(edgec_ti16_code(tile, j, c) - 1);
    }
}

#endif
