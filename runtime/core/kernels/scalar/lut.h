/* kernels/scalar/lut.h - T-MAC-style table lookup on bit-plane tiles: the portable C11 kernels (no intrinsics), the reference
 * every SIMD path of this family is tested against.  Included only by kernels/lut.h, after its
 * layout helpers. */
#ifndef EDGEC_KERNELS_SCALAR_LUT_H
#define EDGEC_KERNELS_SCALAR_LUT_H

#include "kernels/scalar/dense.h"

/* isum' of row r over one 32-column block (planes: its index words; tab: the block's 8 group
 * tables), exact.  Planes in memory order, as the SIMD paths read them. */
static inline int edgec_lut_scalar_isum(int fmt, const uint8_t *planes, int r, const uint8_t *tab)
{
    const int P = edgec_lut_planes(fmt);
    int s = 0;
    for (int p = 0; p < P; p++) {
        const unsigned flip = p == P - 1 && edgec_lut_signed(fmt) ? 0xffffu : 0u; /* q4: bits of 1 - b3 */
        int sp = 0;
        for (int c = 0; c < 2; c++) {
            unsigned word = edgec_load_u16(planes + p * EDGEC_LUT_PLANE_BYTES + c * EDGEC_LUT_QUAD_BYTES + 2 * r) ^ flip;
            for (int k = 0; k < 4; k++) {
                int16_t e;
                memcpy(&e, tab + (size_t)(4 * c + k) * 32 + 2 * ((word >> (4 * k)) & 15), sizeof e);
                sp += e;
            }
        }
        s += (flip ? -sp : sp) * (1 << p);
    }
    return s;
}

/* Group g x all tokens, row by row. */
static inline void edgec_lut_scalar_group(int fmt, float *out, int ldo, const void *w, int g, int rows, const void *tables,
                                          const edgec_block_q8a *xq, int n_tok, int n)
{
    const int U = edgec_lut_unit_cols(fmt), S = U / EDGEC_QK, nb = n / EDGEC_QK;
    const size_t tstride = edgec_lut_scalar_table_bytes(n);
    const int lanes = rows - EDGEC_LUT_ROWS * g < EDGEC_LUT_ROWS ? rows - EDGEC_LUT_ROWS * g : EDGEC_LUT_ROWS;
    for (int r = 0; r < lanes; r++)
        for (int t = 0; t < n_tok; t++) {
            const uint8_t *tt = (const uint8_t *)tables + (size_t)t * tstride;
            float acc = 0.0f, acc_m = 0.0f;
            for (int u = 0; u < n / U; u++) {
                const uint8_t *tile = edgec_lut_tile(fmt, w, g, u, n);
                float d, m;
                edgec_lut_scales(fmt, tile, r, &d, &m);
                for (int s = 0; s < S; s++) {
                    const int b = u * S + s;
                    const edgec_block_q8a *x = xq + (size_t)t * nb + b;
                    int isum = edgec_lut_scalar_isum(fmt, edgec_lut_planes_of(fmt, tile, s), r, tt + (size_t)b * 256);
                    acc += d * (x->d * (float)isum);
                    acc_m += m * x->s;
                }
            }
            out[(size_t)t * ldo + EDGEC_LUT_ROWS * g + r] = acc + acc_m;
        }
}

static inline void edgec_lut_scalar_matmul(int fmt, float *out, int ldo, const void *w, int g0, int g1, int rows,
                                           const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{
    const int groups = edgec_lut_groups(rows);
    if (g1 > groups) g1 = groups;
    for (int g = g0; g < g1; g++) edgec_lut_scalar_group(fmt, out, ldo, w, g, rows, tables, xq, n_tok, n);
}

static inline void edgec_lut_scalar_matmul_q2(float *out, int ldo, const void *w, int g0, int g1, int rows, const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lut_scalar_matmul(EDGEC_LUT_Q2, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }
static inline void edgec_lut_scalar_matmul_q3(float *out, int ldo, const void *w, int g0, int g1, int rows, const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lut_scalar_matmul(EDGEC_LUT_Q3, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }
static inline void edgec_lut_scalar_matmul_tq2(float *out, int ldo, const void *w, int g0, int g1, int rows, const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lut_scalar_matmul(EDGEC_LUT_TQ2, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }
static inline void edgec_lut_scalar_matmul_q4_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lut_scalar_matmul(EDGEC_LUT_Q4_0, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }
static inline void edgec_lut_scalar_matmul_q4_1(float *out, int ldo, const void *w, int g0, int g1, int rows, const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lut_scalar_matmul(EDGEC_LUT_Q4_1, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }

#endif
