/* kernels/lut.h - T-MAC-style lookup-table (LUT) matmul for 2-, 3- and 4-bit weights.
 *
 * Every format served is "w = d*q + m per 32 columns" with q unsigned:
 *   q2  (2 planes)  q 0..3,  d, m per 32 columns
 *   q3  (3 planes)  q 0..7,  d, m per 32 columns
 *   tq2 (2 planes)  q = code 0..3, m = -d, one d per 64 columns
 *   q4_0 (4 planes) q = nibble, m = -8d
 *   q4_1 (4 planes) q = nibble, d, m per 32 columns
 * q = sum_p 2^p * bit_p(q), so sum_j q_j*x_j = sum_p 2^p * sum_g T_g[index of plane p in group g],
 * where group g is 4 columns, T_g[i] = sum of the group's activations whose bit is set in i
 * (16 int16 entries, |entry| <= 4*127 = 508, exact), and the index holds bit p of the 4 weights.
 * The tables are built once per activation vector (edgec_lut_build_tables) and reused for every row.
 *
 * Layout (docs/lut.md; written by compiler/edgec/lut_layout.py).  A matrix of `rows` x n is cut
 * into row groups of EDGEC_LUT_ROWS = 32 rows (the last padded with zero weights: all-zero bytes)
 * and "units" of U columns (U = 64 for tq2, else 32), nu = n/U.  Group g, unit u is one tile at
 * byte (g*nu + u) * TILE.  Inside a tile, r = row in the group (0..31):
 *   d of row r     fp16 at 2r
 *   m of row r     fp16 at 64 + 2r          (q2, q3, q4_1 only; header H = 128, else H = 64)
 *   index words    uint16 at H + s*P*128 + p*128 + c*64 + 2r      (little-endian)
 *                  for sub-block s (0..U/32-1), plane p (0..P-1), quad c (0..1):
 *                  nibble k (bits 4k..4k+3, k = 0..3) = sum_i bit_p(q[32s + 16c + 4k + i]) << i
 *   TILE = H + (U/32)*P*128: q2 384, q3 512, q4_0 576, q4_1 640, tq2 576 (32 x 18 bytes);
 *   the same bytes per weight as the row-major blocks.
 * So 64 bytes at H + s*P*128 + p*128 + c*64, read as 32 uint16 lanes, hold all 32 rows' indices
 * for column groups 4c..4c+3 of plane p, one row per lane.
 *
 * Integer sums are exact per (row, 32 columns).  q4 sums q' = q - 8 = -8*(1 - b3) + (q & 7)
 * instead of q: its top plane is looked up with complemented indices (index ^ 15) and weighs -8,
 * which keeps every sum inside int16 (|isum'| <= 8*32*127 = 32512); the +8 goes into m' = m + 8d.
 * Each 32-column block then adds
 *   d * (x.d * isum') + m' * x.s        m' = m (q2, q3), -d (tq2), 0 (q4_0), m + 8d (q4_1)
 * which is fp32(d)*x.d*isum + fp32(m)*x.s up to float rounding.
 *
 * API (static inline, header-only; the path is picked at compile time like kernels.h):
 *   size_t edgec_lut_table_bytes(int n)       bytes of the tables of ONE activation vector of n
 *   EDGEC_LUT_TABLE_BYTES(n)                  the same as a constant expression (arena sizing):
 *                                             20n on AVX-512, 8n elsewhere;
 *                                             EDGEC_LUT_TABLE_BYTES_MAX(n) = 20n covers every path
 *   void edgec_lut_build_tables(void *tables, const edgec_block_q8a *xq, int n_tok, int n)
 *                                             token t's tables at t*edgec_lut_table_bytes(n)
 *   void edgec_matmul_lut_{q2,q3,tq2,q4_0,q4_1}(float *out, int ldo, const void *w, int g0, int g1, int rows,
 *                                               const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
 *        out[t*ldo + r] = dot(row r, activation t) for r in [32*g0, min(32*g1, rows)), t < n_tok
 *   void edgec_get_row_lut_{fmt}(float *dst, const void *w, int r, int n)    row r dequantized
 * n % 32 == 0 (n % 64 == 0 for tq2).  w and tables may have any alignment (64 is fastest).
 * Tables are path-specific bytes: build and use them with the same compiled path.
 * EDGEC_LUT_ISA names the path: "avx512" (F+BW: vpermw / vpermi2w on int16 tables; VBMI is not
 * needed), "avx2" (vpshufb on split low/high byte tables), "neon" (ARMv8.0 tbl on split byte
 * tables), "ssse3" (x86-64-v2: pshufb on the same split tables, 128 bits), "scalar".
 */
#ifndef EDGEC_KERNELS_LUT_H
#define EDGEC_KERNELS_LUT_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/block_formats.h"
#include "kernels/scalar/dense.h"

#ifndef EDGEC_BLOCK_Q2_DEFINED
#define EDGEC_BLOCK_Q2_DEFINED
/* q2, 12 bytes: q[j] (0..3) = (qs[j & 7] >> (2 * (j >> 3))) & 3;  w = d*q + m (fp16 d, m). */
typedef struct { uint16_t d; uint16_t m; uint8_t qs[8]; } edgec_block_q2;
/* q3, 16 bytes: low 2 bits as q2, bit 2 of q[j] = bit (j & 7) of qh[j >> 3]. */
typedef struct { uint16_t d; uint16_t m; uint8_t qs[8]; uint8_t qh[4]; } edgec_block_q3;
_Static_assert(sizeof(edgec_block_q2) == 12, "q2 block must be 12 bytes");
_Static_assert(sizeof(edgec_block_q3) == 16, "q3 block must be 16 bytes");
#endif

#define EDGEC_LUT_ROWS 32         /* rows per group: one per uint16 lane of a 512-bit vector */
#define EDGEC_LUT_QUAD_BYTES 64   /* 32 rows x one uint16 index word */
#define EDGEC_LUT_PLANE_BYTES 128 /* two quads: a plane of one 32-column block */

/* Formats the LUT kernels serve (own ids: block_formats.h's may not cover q2/q3). */
enum { EDGEC_LUT_Q2, EDGEC_LUT_Q3, EDGEC_LUT_TQ2, EDGEC_LUT_Q4_0, EDGEC_LUT_Q4_1 };

/* Software-prefetch distance into L2 on the x86 paths (0 = off): one prefetch per tile. */
#ifndef EDGEC_LUT_PREFETCH
#define EDGEC_LUT_PREFETCH 512
#endif

static inline int edgec_lut_planes(int fmt) { return fmt == EDGEC_LUT_Q3 ? 3 : fmt >= EDGEC_LUT_Q4_0 ? 4 : 2; }
/* q4's top plane weighs -8 (see the header comment). */
static inline int edgec_lut_signed(int fmt) { return fmt >= EDGEC_LUT_Q4_0; }
/* Columns per tile: tq2 keeps one d per 64 columns. */
static inline int edgec_lut_unit_cols(int fmt) { return fmt == EDGEC_LUT_TQ2 ? 64 : 32; }
/* Tile header: d[32], and m[32] where the format stores m. */
static inline int edgec_lut_header_bytes(int fmt)
{
    return fmt == EDGEC_LUT_TQ2 || fmt == EDGEC_LUT_Q4_0 ? 64 : 128;
}
static inline int edgec_lut_has_m(int fmt) { return edgec_lut_header_bytes(fmt) == 128; }
static inline int edgec_lut_tile_bytes(int fmt)
{
    return edgec_lut_header_bytes(fmt) + edgec_lut_unit_cols(fmt) / EDGEC_QK * edgec_lut_planes(fmt) * EDGEC_LUT_PLANE_BYTES;
}

/* Row groups that hold real rows: callers may pass any g1, only these are computed. */
static inline int edgec_lut_groups(int rows) { return (rows + EDGEC_LUT_ROWS - 1) / EDGEC_LUT_ROWS; }

/* Bytes of a rows x n matrix in the LUT layout. */
static inline size_t edgec_lut_bytes(int fmt, int rows, int n)
{
    return (size_t)edgec_lut_groups(rows) * (size_t)(n / edgec_lut_unit_cols(fmt)) * (size_t)edgec_lut_tile_bytes(fmt);
}

/* Tile of group g, unit u. */
static inline const uint8_t *edgec_lut_tile(int fmt, const void *w, int g, int u, int n)
{
    const int nu = n / edgec_lut_unit_cols(fmt);
    return (const uint8_t *)w + ((size_t)g * nu + u) * (size_t)edgec_lut_tile_bytes(fmt);
}

/* The index words of sub-block s of a tile (plane p, quad c at + p*128 + c*64). */
static inline const uint8_t *edgec_lut_planes_of(int fmt, const uint8_t *tile, int s)
{
    return tile + edgec_lut_header_bytes(fmt) + (size_t)s * edgec_lut_planes(fmt) * EDGEC_LUT_PLANE_BYTES;
}

/* Row r's d and m' (the offset the kernels add times x.s; see the header comment). */
static inline void edgec_lut_scales(int fmt, const uint8_t *tile, int r, float *d, float *m_eff)
{
    *d = edgec_fp16_to_fp32(edgec_load_u16(tile + 2 * r));
    float m = edgec_lut_has_m(fmt) ? edgec_fp16_to_fp32(edgec_load_u16(tile + 64 + 2 * r)) : 0.0f;
    if (fmt == EDGEC_LUT_TQ2) m = -*d;
    else if (fmt == EDGEC_LUT_Q4_1) m = m + 8.0f * *d;
    *m_eff = m;
}

/* ---- tables: T_g[i] = sum of activations 4g+k with bit k of i set ----------------------- */

/* The 16 entries of one group of 4 activations. */
static inline void edgec_lut_group_table(const int8_t *x, int16_t t[16])
{
    for (int i = 0; i < 16; i++)
        t[i] = (int16_t)((i & 1 ? x[0] : 0) + (i & 2 ? x[1] : 0) + (i & 4 ? x[2] : 0) + (i & 8 ? x[3] : 0));
}

/* Scalar tables: int16 [n/4][16], 8n bytes per token. */
static inline size_t edgec_lut_scalar_table_bytes(int n) { return (size_t)n * 8; }

static inline void edgec_lut_scalar_build_tables(void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK;
    for (int t = 0; t < n_tok; t++) {
        uint8_t *tt = (uint8_t *)tables + (size_t)t * edgec_lut_scalar_table_bytes(n);
        for (int b = 0; b < nb; b++)
            for (int q = 0; q < 8; q++) {
                int16_t e[16];
                edgec_lut_group_table(xq[(size_t)t * nb + b].qs + 4 * q, e);
                memcpy(tt + ((size_t)b * 8 + q) * 32, e, sizeof e);
            }
    }
}

/* ---- scalar path (the reference for the SIMD paths) -------------------------------- */

#include "kernels/scalar/lut.h"

/* ---- row lookup (embeddings): one row per token, scalar on every ISA ---------------------- */

/* Weight code q of row r, column j of a sub-block's index words. */
static inline int edgec_lut_code(int fmt, const uint8_t *planes, int r, int j)
{
    int q = 0;
    for (int p = 0; p < edgec_lut_planes(fmt); p++) {
        unsigned word = edgec_load_u16(planes + p * EDGEC_LUT_PLANE_BYTES + (j >> 4) * EDGEC_LUT_QUAD_BYTES + 2 * r);
        q |= (int)((word >> (j & 15)) & 1) << p; /* nibble k = (j>>2)&3 holds column j's bit at position j&3 */
    }
    return q;
}

/* Row r dequantized with the row-major decoders' float operations (the same values bit for bit):
 * d*q + m (q2, q3, q4_1), d*(q - 8) + 0 (q4_0, as edgec_get_row_q4_0), d*(q - 1) (tq2). */
static inline void edgec_lut_get_row(int fmt, float *dst, const void *w, int r, int n)
{
    const int U = edgec_lut_unit_cols(fmt), g = r / EDGEC_LUT_ROWS, lane = r % EDGEC_LUT_ROWS;
    for (int u = 0; u < n / U; u++) {
        const uint8_t *tile = edgec_lut_tile(fmt, w, g, u, n);
        const float d = edgec_fp16_to_fp32(edgec_load_u16(tile + 2 * lane));
        const float m = edgec_lut_has_m(fmt) ? edgec_fp16_to_fp32(edgec_load_u16(tile + 64 + 2 * lane)) : 0.0f;
        for (int j = 0; j < U; j++) {
            int q = edgec_lut_code(fmt, edgec_lut_planes_of(fmt, tile, j / EDGEC_QK), lane, j % EDGEC_QK);
            float v;
            if (fmt == EDGEC_LUT_TQ2) v = d * (float)(q - 1);
            else if (fmt == EDGEC_LUT_Q4_0) v = d * (float)(q - 8) + m;
            else v = d * (float)q + m;
            dst[(size_t)u * U + j] = v;
        }
    }
}

static inline void edgec_get_row_lut_q2(float *dst, const void *w, int r, int n) { edgec_lut_get_row(EDGEC_LUT_Q2, dst, w, r, n); }
static inline void edgec_get_row_lut_q3(float *dst, const void *w, int r, int n) { edgec_lut_get_row(EDGEC_LUT_Q3, dst, w, r, n); }
static inline void edgec_get_row_lut_tq2(float *dst, const void *w, int r, int n) { edgec_lut_get_row(EDGEC_LUT_TQ2, dst, w, r, n); }
static inline void edgec_get_row_lut_q4_0(float *dst, const void *w, int r, int n) { edgec_lut_get_row(EDGEC_LUT_Q4_0, dst, w, r, n); }
static inline void edgec_get_row_lut_q4_1(float *dst, const void *w, int r, int n) { edgec_lut_get_row(EDGEC_LUT_Q4_1, dst, w, r, n); }

/* ---- dispatch ----------------------------------------------------------------------------- */

#include "kernels/isa.h"
#if defined(EDGEC_ISA_AVX512)
#define EDGEC_LUT_TABLE_BYTES(n) ((size_t)(n) * 20)
#include "kernels/x86/avx512/lut.h"
#define EDGEC_LUT_ISA "avx512"   /* one path for VNNI or not: table lookups, no vpdpbusd */
#define EDGEC_LUT_KERNEL(name) edgec_lut512_##name
#else
#define EDGEC_LUT_TABLE_BYTES(n) ((size_t)(n) * 8)
#if defined(EDGEC_ISA_AVX2)
#include "kernels/x86/avx2/lut.h"
#define EDGEC_LUT_ISA "avx2"
#define EDGEC_LUT_KERNEL(name) edgec_lut256_##name
#elif defined(EDGEC_ISA_NEON)
#include "kernels/arm/neon/lut.h"
#define EDGEC_LUT_ISA "neon"   /* tbl only: the same path with or without sdot */
#define EDGEC_LUT_KERNEL(name) edgec_lutneon_##name
#elif defined(EDGEC_ISA_SSSE3)
#include "kernels/x86/ssse3/lut.h"
#define EDGEC_LUT_ISA "ssse3"   /* pshufb, 16 rows per lookup */
#define EDGEC_LUT_KERNEL(name) edgec_lutssse3_##name
#else
#define EDGEC_LUT_ISA "scalar"
#define EDGEC_LUT_KERNEL(name) edgec_lut_scalar_##name
#endif
#endif
#define EDGEC_LUT_TABLE_BYTES_MAX(n) ((size_t)(n) * 20)

static inline size_t edgec_lut_table_bytes(int n) { return EDGEC_LUT_TABLE_BYTES(n); }

static inline void edgec_lut_build_tables(void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_LUT_KERNEL(build_tables)(tables, xq, n_tok, n); }

static inline void edgec_matmul_lut_q2(float *out, int ldo, const void *w, int g0, int g1, int rows, const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_LUT_KERNEL(matmul)(EDGEC_LUT_Q2, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }
static inline void edgec_matmul_lut_q3(float *out, int ldo, const void *w, int g0, int g1, int rows, const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_LUT_KERNEL(matmul)(EDGEC_LUT_Q3, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }
static inline void edgec_matmul_lut_tq2(float *out, int ldo, const void *w, int g0, int g1, int rows, const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_LUT_KERNEL(matmul)(EDGEC_LUT_TQ2, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }
static inline void edgec_matmul_lut_q4_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_LUT_KERNEL(matmul)(EDGEC_LUT_Q4_0, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }
static inline void edgec_matmul_lut_q4_1(float *out, int ldo, const void *w, int g0, int g1, int rows, const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_LUT_KERNEL(matmul)(EDGEC_LUT_Q4_1, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }

#endif
