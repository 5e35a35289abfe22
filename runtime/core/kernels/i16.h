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

/* ---- scalar path (the reference for the SIMD paths) -------------------------------- */

#include "kernels/scalar/i16.h"

/* ---- dispatch ------------------------------------------------------------------------- */

#include "kernels/isa.h"
#if defined(EDGEC_ISA_AVX512)
#include "kernels/x86/avx512/i16.h"
#define EDGEC_I16_KERNEL(name) edgec_i16_avx512_##name
#elif defined(EDGEC_ISA_AVX2)
#include "kernels/x86/avx2/i16.h"
#define EDGEC_I16_KERNEL(name) edgec_i16_avx2_##name
#elif defined(EDGEC_ISA_NEON)
#include "kernels/arm/neon/i16.h"
#define EDGEC_I16_KERNEL(name) edgec_i16_neon_##name
#else
#define EDGEC_I16_KERNEL(name) edgec_i16_scalar_##name
#define EDGEC_I16_ISA "scalar"   /* an ISA without this family's folder file: the portable path */
#endif
#ifndef EDGEC_I16_ISA
#define EDGEC_I16_ISA EDGEC_KERNELS_ISA
#endif

static inline void edgec_matmul_i16_q4_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_I16_KERNEL(matmul_q4_0)(out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_matmul_i16_q4_1(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_I16_KERNEL(matmul_q4_1)(out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_matmul_i16_q8_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_I16_KERNEL(matmul_q8_0)(out, ldo, w, g0, g1, rows, xq, n_tok, n); }

#endif
