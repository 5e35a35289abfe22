/* kernels/ternary.h - matmul and row lookup for ternary weights (w = d * (code - 1), code 0..2).
 *
 * Three formats (docs/ternary.md), all row-major: a row of n weights is n/QK blocks back to back
 * at any byte alignment, so blocks are read through byte pointers and unaligned loads only.
 *
 *   tq2   (edgec's own), 64 weights in 18 bytes:
 *         typedef struct { uint16_t d; uint8_t qs[16]; } edgec_block_tq2;
 *         code of weight j (0..63) = (qs[j & 15] >> (2 * (j >> 4))) & 3
 *   tq2_0 (GGUF TQ2_0), 256 weights in 66 bytes:
 *         typedef struct { uint8_t qs[64]; uint16_t d; } edgec_block_tq2_0;
 *         code of weight j (0..255) = (qs[32 * (j >> 7) + (j & 31)] >> (2 * ((j >> 5) & 3))) & 3
 *   tq1_0 (GGUF TQ1_0), 256 weights in 54 bytes, 5 (qs) or 4 (qh) base-3 digits per byte:
 *         typedef struct { uint8_t qs[48]; uint8_t qh[4]; uint16_t d; } edgec_block_tq1_0;
 *         digit k of a byte q = (((uint8_t)(q * 3^k)) * 3) >> 8;
 *         weight 32k + i (i < 32, k < 5)       = digit k of qs[i]
 *         weight 160 + 16k + i (i < 16, k < 5) = digit k of qs[32 + i]
 *         weight 240 + 4k + i (i < 4, k < 4)   = digit k of qh[i]
 * d is IEEE fp16 bits.  GGUF's code 3 (never written by a quantizer) decodes as 2d, as in ggml.
 *
 * Activations are q8a blocks of 32 (edgec_quantize_q8a), so a weight block spans 2 (tq2) or 8
 * activation blocks.  Per activation block the kernels add (d_w * d_x) * sum((code - 1) * qx),
 * the integer sum exact: sum(code * qx) - sum(qx), the second term prepared once per activation
 * block (vpdpbusd takes the unsigned codes directly).  Paths differ only in float summation order.
 *
 * API (static inline; the path is picked at compile time like kernels.h; EDGEC_TERNARY_ISA names it):
 *   edgec_matmul_{tq2,tq2_0,tq1_0}(out, ldo, w, r0, r1, xq, n_tok, n)   as edgec_matmul_q4_0
 *   edgec_get_row_{tq2,tq2_0,tq1_0}(dst, w, r, n)                        row r dequantized
 * n must be a multiple of 64 (tq2) or 256 (tq2_0, tq1_0).
 */
#ifndef EDGEC_KERNELS_TERNARY_H
#define EDGEC_KERNELS_TERNARY_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/block_formats.h"
#include "kernels/scalar/dense.h"

typedef struct { uint16_t d; uint8_t qs[16]; } edgec_block_tq2;
typedef struct { uint8_t qs[64]; uint16_t d; } edgec_block_tq2_0;
typedef struct { uint8_t qs[48]; uint8_t qh[4]; uint16_t d; } edgec_block_tq1_0;
_Static_assert(sizeof(edgec_block_tq2) == 18, "tq2 block must be 18 bytes");
_Static_assert(sizeof(edgec_block_tq2_0) == 66, "tq2_0 block must be 66 bytes (GGUF layout)");
_Static_assert(sizeof(edgec_block_tq1_0) == 54, "tq1_0 block must be 54 bytes (GGUF layout)");

/* Internal ids, so one kernel body serves all three formats. */
enum { EDGEC_FMT_TQ2 = 16, EDGEC_FMT_TQ2_0, EDGEC_FMT_TQ1_0 };

#define EDGEC_TQ2_BYTES   18
#define EDGEC_TQ2_0_BYTES 66
#define EDGEC_TQ1_0_BYTES 54
#define EDGEC_TQ2_QS      2   /* byte offsets of the fields */
#define EDGEC_TQ2_0_D     64
#define EDGEC_TQ1_0_QH    48
#define EDGEC_TQ1_0_D     52

static inline int edgec_ternary_block_weights(int fmt) { return fmt == EDGEC_FMT_TQ2 ? 64 : 256; }

static inline int edgec_ternary_block_bytes(int fmt)
{
    return fmt == EDGEC_FMT_TQ2 ? EDGEC_TQ2_BYTES : fmt == EDGEC_FMT_TQ2_0 ? EDGEC_TQ2_0_BYTES : EDGEC_TQ1_0_BYTES;
}

/* A block's scale d. */
static inline float edgec_ternary_scale(int fmt, const uint8_t *blk)
{
    int at = fmt == EDGEC_FMT_TQ2 ? 0 : fmt == EDGEC_FMT_TQ2_0 ? EDGEC_TQ2_0_D : EDGEC_TQ1_0_D;
    return edgec_fp16_to_fp32(edgec_load_u16(blk + at));
}

/* Base-3 digit k of a TQ1_0 byte q, given pow3 = 3^k: the byte is q/256 ~ (5-digit number)/243. */
static inline int edgec_tq1_digit(uint8_t q, int pow3) { return ((uint8_t)(q * pow3) * 3) >> 8; }

/* The codes of weights 32a..32a+31 of a TQ1_0 block (a = 0..7). */
static inline void edgec_tq1_0_codes32(const uint8_t *blk, int a, uint8_t c[32])
{
    static const int pow3[5] = {1, 3, 9, 27, 81};
    const uint8_t *qs = blk, *qh = blk + EDGEC_TQ1_0_QH;
    for (int i = 0; i < 32; i++) {
        int j = 32 * a + i;
        if (j < 160) c[i] = (uint8_t)edgec_tq1_digit(qs[j & 31], pow3[j >> 5]);
        else if (j < 240) c[i] = (uint8_t)edgec_tq1_digit(qs[32 + ((j - 160) & 15)], pow3[(j - 160) >> 4]);
        else c[i] = (uint8_t)edgec_tq1_digit(qh[(j - 240) & 3], pow3[(j - 240) >> 2]);
    }
}

/* ---- scalar path (the reference for the SIMD paths) -------------------------------- */

#include "kernels/scalar/ternary.h"

/* ---- row lookup (embeddings): one row per token, scalar on every ISA ------------------ */

static inline void edgec_get_row_ternary(int fmt, float *dst, const void *w, int r, int n)
{
    const int per = edgec_ternary_block_weights(fmt), bb = edgec_ternary_block_bytes(fmt);
    const uint8_t *row = (const uint8_t *)w + (size_t)r * (n / per) * bb;
    for (int b = 0; b < n / per; b++) {
        const uint8_t *blk = row + (size_t)b * bb;
        const float d = edgec_ternary_scale(fmt, blk);
        for (int a = 0; a < per / 32; a++) {
            uint8_t c[32];
            if (fmt == EDGEC_FMT_TQ1_0) {
                edgec_tq1_0_codes32(blk, a, c);
            } else if (fmt == EDGEC_FMT_TQ2) {
                for (int i = 0; i < 32; i++) c[i] = (blk[EDGEC_TQ2_QS + (i & 15)] >> (4 * a + 2 * (i >> 4))) & 3;
            } else {
                for (int i = 0; i < 32; i++) c[i] = (blk[32 * (a >> 2) + i] >> (2 * (a & 3))) & 3;
            }
            for (int i = 0; i < 32; i++) dst[(size_t)b * per + 32 * a + i] = d * (float)(c[i] - 1);
        }
    }
}

/* Row r of W dequantized into dst[0..n). */
static inline void edgec_get_row_tq2(float *dst, const void *w, int r, int n) { edgec_get_row_ternary(EDGEC_FMT_TQ2, dst, w, r, n); }
static inline void edgec_get_row_tq2_0(float *dst, const void *w, int r, int n) { edgec_get_row_ternary(EDGEC_FMT_TQ2_0, dst, w, r, n); }
static inline void edgec_get_row_tq1_0(float *dst, const void *w, int r, int n) { edgec_get_row_ternary(EDGEC_FMT_TQ1_0, dst, w, r, n); }

/* ---- dispatch ------------------------------------------------------------------------- */

#include "kernels/isa.h"
#if defined(EDGEC_ISA_AVX512)
#include "kernels/x86/avx512/ternary.h"
#define EDGEC_TERNARY_KERNEL(name) edgec_t512_##name
#elif defined(EDGEC_ISA_AVX2)
#include "kernels/x86/avx2/ternary.h"
#define EDGEC_TERNARY_KERNEL(name) edgec_t256_##name
#elif defined(EDGEC_ISA_NEON)
#include "kernels/arm/neon/ternary.h"
#define EDGEC_TERNARY_KERNEL(name) edgec_tneon_##name
#else
#define EDGEC_TERNARY_KERNEL(name) edgec_scalar_##name
#define EDGEC_TERNARY_ISA "scalar"   /* an ISA without this family's folder file: the portable path */
#endif
#ifndef EDGEC_TERNARY_ISA
#define EDGEC_TERNARY_ISA EDGEC_KERNELS_ISA
#endif

/* Ternary weights x q8a activations: out[t*ldo + r] = dot(row r, activation t), r in [r0, r1). */
static inline void edgec_matmul_tq2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_TERNARY_KERNEL(matmul_tq2)(out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_matmul_tq2_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_TERNARY_KERNEL(matmul_tq2_0)(out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_matmul_tq1_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_TERNARY_KERNEL(matmul_tq1_0)(out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
