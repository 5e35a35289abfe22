/* kernels/i16.h - matmul and row lookup on the "i16" weight layout (16-row interleaved tiles).
 *
 * Layout (docs/layout_i16.md; written by compiler/edgec/interleave_layout.py), for a q4_0, q4_1
 * or q8_0 matrix of `rows` x n (n % 32 == 0, nb = n/32): rows go 16 at a time into row groups
 * (the last group padded with all-zero GGUF blocks), and row group g, 32-column block b is one
 * tile at byte (g*nb + b) * TILE, tiles back to back.  Inside a tile, with r = row within the
 * group (0..15) and j = column within the block (0..31):
 *   d of row r:            fp16 at 2r                     (all formats)
 *   m of row r (q4_1):     fp16 at 32 + 2r
 *   q4_0 / q4_1 nibbles:   byte S + 64c + 4r + k, c = 0..3, k = 0..3 (S = 32 q4_0, 64 q4_1)
 *                          low nibble = column 8c+k, high nibble = column 8c+4+k
 *   q8_0 weights:          byte 32 + 64c + 4r + k = (uint8)(qs[4c+k] + 128), c = 0..7, k = 0..3
 *   TILE = 288 (q4_0), 320 (q4_1), 544 (q8_0).
 * So 64 bytes at S + 64c, read as 16 int32 lanes, hold row r's weights in lane r: for q4
 * "& 15" gives columns 8c..8c+3 and ">> 4 & 15" columns 8c+4..8c+7, for q8_0 columns 4c..4c+3.
 * Weight "operand" i (0..7) of a tile is the one that meets activation dword i (qs[4i..4i+3]):
 * q4: operand 2c = low nibbles of chunk c, 2c+1 = high nibbles; q8_0: operand i = chunk i.
 * A broadcast activation dword times an operand (vpdpbusd) adds 4 columns to all 16 rows at
 * once, with no horizontal reduction.
 *
 * API (all static inline; the path is picked at compile time like kernels.h):
 *   out[t*ldo + r] = dot(row r, activation t) for r in [16*g0, min(16*g1, rows)), t in [0, n_tok)
 *   edgec_matmul_i16_{q4_0,q4_1,q8_0}(out, ldo, w, g0, g1, rows, xq, n_tok, n)
 *   edgec_get_row_i16_{q4_0,q4_1,q8_0}(dst, w, r, n)     row r dequantized (embedding lookup)
 * w is the matrix's first tile (any alignment); xq holds n_tok rows of n/32 q8a blocks whose qs
 * lie in [-127, 127] (as edgec_quantize_q8a makes them).  EDGEC_I16_ISA names the path.
 * EDGEC_I16_PREFETCH: software-prefetch distance in bytes into L2 on the SIMD paths (0 = off).
 */
#ifndef EDGEC_KERNELS_I16_H
#define EDGEC_KERNELS_I16_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/block_formats.h"
#include "kernels/scalar/dense.h"

#define EDGEC_I16_ROWS 16     /* rows per group: one per int32 lane of a 512-bit vector */
#define EDGEC_I16_OPERANDS 8  /* 4-column weight operands per 32-column block */

/* Measured on Zen 4 streaming SmolLM2's weights from DRAM (docs/layout_i16.md). */
#ifndef EDGEC_I16_PREFETCH
#define EDGEC_I16_PREFETCH 512
#endif

/* Bytes of one 16-row x 32-column tile. */
static inline int edgec_i16_tile_bytes(int fmt)
{
    return fmt == EDGEC_FMT_Q8_0 ? 544 : fmt == EDGEC_FMT_Q4_0 ? 288 : 320;
}

/* Bytes of a tile's scale header (16 d, and 16 m for q4_1): its weight bytes start here. */
static inline int edgec_i16_scale_bytes(int fmt) { return fmt == EDGEC_FMT_Q4_1 ? 64 : 32; }

/* Bytes of a rows x n matrix in the i16 layout. */
static inline size_t edgec_i16_bytes(int fmt, int rows, int n)
{
    return (size_t)((rows + EDGEC_I16_ROWS - 1) / EDGEC_I16_ROWS) * (size_t)(n / EDGEC_QK) * (size_t)edgec_i16_tile_bytes(fmt);
}

/* Row groups that hold real rows: callers may pass any g1, only these are computed. */
static inline int edgec_i16_groups(int rows) { return (rows + EDGEC_I16_ROWS - 1) / EDGEC_I16_ROWS; }

/* ---- scalar path: plain C11 on the same bytes ---------------------------------------- */

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

/* ---- dispatch ------------------------------------------------------------------------- */

#if !defined(EDGEC_SCALAR) && defined(__AVX512F__) && defined(__AVX512BW__)
#include "kernels/x86/avx512/i16.h"
#if defined(__AVX512VNNI__)
#define EDGEC_I16_ISA "avx512vnni"
#else
#define EDGEC_I16_ISA "avx512"
#endif
#define EDGEC_I16_KERNEL(name) edgec_i16_avx512_##name
#elif !defined(EDGEC_SCALAR) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include "kernels/x86/avx2/i16.h"
#define EDGEC_I16_ISA "avx2"
#define EDGEC_I16_KERNEL(name) edgec_i16_avx2_##name
#elif !defined(EDGEC_SCALAR) && defined(__ARM_NEON) && defined(__aarch64__)
#include "kernels/arm/neon/i16.h"
#if defined(__ARM_FEATURE_DOTPROD)
#define EDGEC_I16_ISA "neon-dotprod"
#else
#define EDGEC_I16_ISA "neon"
#endif
#define EDGEC_I16_KERNEL(name) edgec_i16_neon_##name
#else
#define EDGEC_I16_ISA "scalar"
#define EDGEC_I16_KERNEL(name) edgec_i16_scalar_##name
#endif

static inline void edgec_matmul_i16_q4_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_I16_KERNEL(matmul_q4_0)(out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_matmul_i16_q4_1(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_I16_KERNEL(matmul_q4_1)(out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_matmul_i16_q8_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_I16_KERNEL(matmul_q8_0)(out, ldo, w, g0, g1, rows, xq, n_tok, n); }

#endif
