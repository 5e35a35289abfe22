/* kernels/ternary_i16.h - matmul and row lookup for tq2 (ternary) weights in 64-row tiles.
 *
 * Layout (docs/ternary.md; written by compiler/edgec/ternary_layout.py), for a tq2 matrix of
 * rows x n whose rows each carry one fp16 d (n % 64 == 0, nb = n/64): rows go 64 at a time into row
 * groups (the last padded with d = 0, code 1); group G is 128 + nb*1024 bytes at G * (128 + nb*1024):
 *   fp16 d of row j of the group (0..63): bytes 2j, 2j+1 (the 16 scales of field s: 32 bytes at 32s)
 *   then tile b (64-column block b, codes only) at 128 + 1024b; inside a tile, with j = 16s + r
 *   (s = field 0..3, r = lane 0..15):
 *   code of row 16s + r, column 4i + k: bits 2s..2s+1 of byte 64i + 4r + k (i = 0..15, k = 0..3)
 * w = d * (code - 1), code in {0, 1, 2} (the tq2 quantizer never writes 3; the relayout refuses it).
 * 2.0 bits per weight plus 2 bytes per row.  Chunk i of a tile (64 bytes at 64i) as 16 int32 lanes
 * holds row 16s + r in lane r, field s: "& (3 << 2s)" leaves 4^s * code with no shift, and one
 * vpdpbusd with activation dword i (i < 8: dword i of the tile's first activation block, i >= 8:
 * dword i-8 of the second) adds 4 columns to 16 rows; the 4^s comes off exactly in the float scale
 * (d_x / 4^s).
 *
 * Math, per 32-column activation block: sum((code - 1) * qx) is exact in int32 (the -sum(qx) term
 * seeds the integer chain).  The SIMD paths add isum * d_x per activation block into a float sum
 * per row (one FMA) and multiply it by the row's d_w once, at the end of the group's column slab:
 * out = (sum over blocks) * d_w, plus the earlier slabs' results for n > 2048.  The scalar path
 * adds (float)isum * (d_w * d_x) per block in kernels/ternary.h's order (d_w read from the group's
 * row scales), so it equals edgec_scalar_matmul_tq2 bit for bit.
 *
 * API (static inline; the path is picked at compile time like kernels.h; EDGEC_TERNARY_I16_ISA):
 *   edgec_matmul_i16_tq2(out, ldo, w, g0, g1, rows, xq, n_tok, n)
 *       out[t*ldo + r] = dot(row r, activation t) for the rows of every 64-row group G whose first
 *       16-row quarter 4G lies in [g0, g1), r < rows.  g0, g1 count 16-row quarters, as for the
 *       other i16 kernels, so a caller splitting ceil(rows/16) quarters among workers gives each
 *       group to exactly one worker.
 *   edgec_get_row_i16_tq2(dst, w, r, n)   row r dequantized (embedding lookup), as edgec_get_row_tq2
 * w is the matrix's first group (any alignment); xq holds n_tok rows of n/32 q8a blocks with qs in
 * [-127, 127].  EDGEC_TERNARY_PREFETCH: software-prefetch distance in bytes into L2 (0 = off).
 */
#ifndef EDGEC_KERNELS_TERNARY_I16_H
#define EDGEC_KERNELS_TERNARY_I16_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/block_formats.h"
#include "kernels/scalar/dense.h"

#define EDGEC_TI16_ROWS 64          /* rows per group: 16 int32 lanes x 4 two-bit fields */
#define EDGEC_TI16_COLS 64          /* columns per tile: one tq2 block per row */
#define EDGEC_TI16_SCALES 128       /* bytes of a group's 64 fp16 row scales; its first tile starts here */
#define EDGEC_TI16_TILE 1024        /* bytes of one tile: 64 rows x 64 columns of 2-bit codes */
#define EDGEC_TI16_SLAB 64          /* activation blocks prepared per token and pass (2048 columns) */
#define EDGEC_TI16_TOKENS 8         /* tokens prepared together: 8 x 64 x 32 B = 16 KB of stack */

/* Follows the i16 distance (the target profile's, or the autotuned one) unless set on its own. */
#ifndef EDGEC_TERNARY_PREFETCH
#if defined(EDGEC_I16_PREFETCH)
#define EDGEC_TERNARY_PREFETCH EDGEC_I16_PREFETCH
#else
#define EDGEC_TERNARY_PREFETCH 512
#endif
#endif

/* Bytes of one 64-row group of a matrix with n columns: row scales, then n/64 tiles. */
static inline size_t edgec_ti16_group_bytes(int n)
{
    return EDGEC_TI16_SCALES + (size_t)(n / EDGEC_TI16_COLS) * EDGEC_TI16_TILE;
}

/* Bytes of a rows x n tq2 matrix in 64-row tiles. */
static inline size_t edgec_ti16_bytes(int rows, int n)
{
    return (size_t)((rows + EDGEC_TI16_ROWS - 1) / EDGEC_TI16_ROWS) * edgec_ti16_group_bytes(n);
}

/* The 64-row groups a call computes: those whose first quarter 4G is in [g0, g1), up to the last real one. */
static inline void edgec_ti16_group_range(int g0, int g1, int rows, int *first, int *end)
{
    const int groups = (rows + EDGEC_TI16_ROWS - 1) / EDGEC_TI16_ROWS;
    *first = (g0 + 3) / 4;
    *end = (g1 + 3) / 4 < groups ? (g1 + 3) / 4 : groups;
}

/* Code (0..2) of row j (0..63) of a tile (its first code byte), column c (0..63). */
static inline int edgec_ti16_code(const uint8_t *tile, int j, int c)
{
    return (tile[64 * (c >> 2) + 4 * (j & 15) + (c & 3)] >> (2 * (j >> 4))) & 3;
}

/* ---- scalar path (the reference for the SIMD paths) -------------------------------- */

#include "kernels/scalar/ternary_i16.h"

/* ---- the SIMD paths' prepared activations -------------------------------------------- */

/* Per activation block: the integer chain of field s starts at -scale_s * sum(qx), and its sum
 * is converted with d_x / scale_s (exact: scale_s is a power of two), so (code - 1) comes out. */
typedef struct {
    int32_t seed[4];
    float dx[4];
} edgec_ti16_xprep;

/* ---- dispatch ------------------------------------------------------------------------- */

#include "kernels/isa.h"
#if defined(EDGEC_ISA_AVX512)
#include "kernels/x86/avx512/ternary_i16.h"
#define EDGEC_TI16_KERNEL(name) edgec_ti16_avx512_##name
#elif defined(EDGEC_ISA_AVX2)
#include "kernels/x86/avx2/ternary_i16.h"
#define EDGEC_TI16_KERNEL(name) edgec_ti16_avx2_##name
#endif
#if defined(EDGEC_ISA_AVX512) || defined(EDGEC_ISA_AVX2)
#define EDGEC_TERNARY_I16_ISA EDGEC_KERNELS_ISA
#define EDGEC_TI16_SIMD 1
#else
#define EDGEC_TERNARY_I16_ISA "scalar"   /* no NEON path yet: the scalar one reads the same bytes */
#endif

/* ---- the SIMD paths' driver ------------------------------------------------------------ */
#if defined(EDGEC_TI16_SIMD)

/* The activation blocks x[0..count) of one token, prepared for the chains. */
static inline void edgec_ti16_prepare(edgec_ti16_xprep *p, const edgec_block_q8a *x, int count, const int scale[4])
{
    for (int b = 0; b < count; b++) {
        const int sum = EDGEC_TI16_KERNEL(block_sum)(x[b].qs);
        for (int s = 0; s < 4; s++) {
            p[b].seed[s] = -scale[s] * sum;
            p[b].dx[s] = x[b].d / (float)scale[s];
        }
    }
}

/* Pass h of one group x one token over n_tiles tiles, written once over the ISA file's contract
 * (EDGEC_TI16_PASSES chunk parts per 64-byte chunk; ivec, load, splat, field, dot, to_float,
 * store_rows, prefetch): int32 lane r of part h holds row 16s + (16/PASSES)h + r in field s's chain.
 * Per activation block the four chains start at their seeds and each ends in one convert and one
 * FMA with d_x / scale_s into the row sums; store_rows applies the row scales once. */
EDGEC_ALWAYS_INLINE void edgec_ti16_pass(float *out, const uint8_t *scales, const uint8_t *tiles,
                                         const edgec_ti16_xprep *xp, const edgec_block_q8a *x, int n_tiles,
                                         int add, int left, int h)
{
    edgec_vec acc[4];
EDGEC_UNROLL
    for (int s = 0; s < 4; s++) acc[s] = edgec_vec_zero();
    for (int b = 0; b < n_tiles; b++) {
        const uint8_t *tile = tiles + (size_t)b * EDGEC_TI16_TILE;
EDGEC_UNROLL
        for (int a = 0; a < 2; a++) {
            const edgec_ti16_xprep *p = xp + 2 * b + a;
            const int8_t *qs = x[2 * b + a].qs;
            EDGEC_TI16_KERNEL(ivec) ch[4];
EDGEC_UNROLL
            for (int s = 0; s < 4; s++) ch[s] = EDGEC_TI16_KERNEL(splat)(p->seed[s]);
EDGEC_UNROLL
            for (int i = 0; i < 8; i++) {
                const uint8_t *chunk = tile + 64 * (8 * a + i) + (64 / EDGEC_TI16_PASSES) * h;
                if (h == 0 && i % 4 == 0) EDGEC_TI16_KERNEL(prefetch)(chunk);   /* one line per 256 bytes: measured best */
                const EDGEC_TI16_KERNEL(ivec) v = EDGEC_TI16_KERNEL(load)(chunk);
                const EDGEC_TI16_KERNEL(ivec) xi = EDGEC_TI16_KERNEL(splat)((int32_t)edgec_load_u32(qs + 4 * i));
EDGEC_UNROLL
                for (int s = 0; s < 4; s++) ch[s] = EDGEC_TI16_KERNEL(dot)(ch[s], EDGEC_TI16_KERNEL(field)(v, s), xi);
            }
EDGEC_UNROLL
            for (int s = 0; s < 4; s++)
                acc[s] = edgec_vec_fmadd(EDGEC_TI16_KERNEL(to_float)(ch[s]), edgec_vec_set1(p->dx[s]), acc[s]);
        }
    }
    EDGEC_TI16_KERNEL(store_rows)(out, scales, acc, h, add, left);
}

/* One group x one token: out[16s + r] (= row 16s + r of the group) gets the dot, or has it added
 * (add: a later column slab); rows at or past `left` are not written.  scales: the group's 64 fp16
 * row scales; tiles: the first tile of the slab.  A pass whose rows are all past `left` is skipped. */
EDGEC_ALWAYS_INLINE void edgec_ti16_group(float *out, const uint8_t *scales, const uint8_t *tiles,
                                          const edgec_ti16_xprep *xp, const edgec_block_q8a *x, int n_tiles,
                                          int add, int left)
{
    for (int h = 0; h < EDGEC_TI16_PASSES; h++)
        if (h == 0 || left > h * (16 / EDGEC_TI16_PASSES))
            edgec_ti16_pass(out, scales, tiles, xp, x, n_tiles, add, left, h);
}

/* The SIMD paths: tokens 8 at a time and columns a slab at a time, their activation blocks prepared
 * once; then group by group (one sequential weight stream), each group's tiles reused from L1/L2
 * for every token of the tile. */
static inline void edgec_ti16_simd_matmul_tq2(float *out, int ldo, const void *w, int g0, int g1, int rows,
                                              const edgec_block_q8a *xq, int n_tok, int n)
{
    int first, end;
    edgec_ti16_group_range(g0, g1, rows, &first, &end);
    if (first >= end) return;
    const int nxb = n / EDGEC_QK;
    edgec_ti16_xprep xp[EDGEC_TI16_TOKENS][EDGEC_TI16_SLAB];
    for (int t0 = 0; t0 < n_tok; t0 += EDGEC_TI16_TOKENS) {
        const int T = n_tok - t0 < EDGEC_TI16_TOKENS ? n_tok - t0 : EDGEC_TI16_TOKENS;
        for (int c0 = 0; c0 < nxb; c0 += EDGEC_TI16_SLAB) {
            const int count = nxb - c0 < EDGEC_TI16_SLAB ? nxb - c0 : EDGEC_TI16_SLAB;
            for (int j = 0; j < T; j++) edgec_ti16_prepare(xp[j], xq + (size_t)(t0 + j) * nxb + c0, count, EDGEC_TI16_KERNEL(scale));
            for (int G = first; G < end; G++) {
                const uint8_t *group = (const uint8_t *)w + (size_t)G * edgec_ti16_group_bytes(n);
                const uint8_t *tiles = group + EDGEC_TI16_SCALES + (size_t)(c0 / 2) * EDGEC_TI16_TILE;
                for (int j = 0; j < T; j++)
                    edgec_ti16_group(out + (size_t)(t0 + j) * ldo + (size_t)EDGEC_TI16_ROWS * G, group, tiles, xp[j],
                                     xq + (size_t)(t0 + j) * nxb + c0, count / 2, c0 > 0, rows - EDGEC_TI16_ROWS * G);
            }
        }
    }
}
#define EDGEC_TI16_MATMUL edgec_ti16_simd_matmul_tq2
#else
#define EDGEC_TI16_MATMUL edgec_ti16_scalar_matmul_tq2
#endif

/* tq2 weights in 64-row tiles x q8a activations (see the API comment above). */
static inline void edgec_matmul_i16_tq2(float *out, int ldo, const void *w, int g0, int g1, int rows,
                                        const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_TI16_MATMUL(out, ldo, w, g0, g1, rows, xq, n_tok, n); }

#endif
