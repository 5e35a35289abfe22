/* kernels/lowbit.h - matmul and row lookup for edgec's low-bit group formats q2 and q3.
 *
 * Both (block_formats.h, docs/formats.md): 32 weights per block, w[j] = d*q[j] + m as q4_1,
 * d and m IEEE fp16 bits, q unsigned; row-major, a row of n weights is n/32 blocks back to back
 * at any byte alignment, so blocks are read through byte pointers and unaligned loads only.
 *   q2, 12 bytes { uint16 d, m; uint8 qs[8]; }:
 *       q[j] (0..3) = (qs[j & 7] >> (2 * (j >> 3))) & 3   (byte k holds weights k, k+8, k+16, k+24)
 *   q3, 16 bytes { uint16 d, m; uint8 qs[8]; uint8 qh[4]; }:
 *       q[j] (0..7) = the q2 bits | ((qh[j >> 3] >> (j & 7)) & 1) << 2
 *
 * Activations are q8a blocks (edgec_quantize_q8a); per block the kernels add
 * (d_w * d_x) * sum(q * qx) + m_w * s_x, the integer sum exact, as for q4_1.  The codes are
 * unsigned everywhere (vpdpbusd / maddubs take them as they are), and paths differ only in
 * float summation order.
 *
 * API (static inline; the path is picked at compile time like kernels.h; EDGEC_LOWBIT_ISA names it):
 *   edgec_matmul_{q2,q3}(out, ldo, w, r0, r1, xq, n_tok, n)   as edgec_matmul_q4_1
 *   edgec_get_row_{q2,q3}(dst, w, r, n)                       row r dequantized
 * n must be a multiple of 32.
 */
#ifndef EDGEC_KERNELS_LOWBIT_H
#define EDGEC_KERNELS_LOWBIT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/block_formats.h"
#include "kernels/scalar/dense.h"

/* Internal ids, so one kernel body serves both formats (distinct from the other headers' ids). */
enum { EDGEC_FMT_Q2 = 32, EDGEC_FMT_Q3 };

static inline int edgec_lowbit_block_bytes(int fmt) { return fmt == EDGEC_FMT_Q2 ? EDGEC_Q2_BYTES : EDGEC_Q3_BYTES; }

/* ---- scalar path (the reference for the SIMD paths) -------------------------------- */

#include "kernels/scalar/lowbit.h"

/* ---- row lookup (embeddings): one row per token, scalar on every ISA ------------------ */

/* d*q + m: d*q is exact in float (11 x 3 bits), so a fused multiply-add gives the same value. */
static inline void edgec_get_row_lowbit(int fmt, float *dst, const void *w, int r, int n)
{
    const int nb = n / EDGEC_QK, bb = edgec_lowbit_block_bytes(fmt);
    const uint8_t *row = (const uint8_t *)w + (size_t)r * nb * bb;
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = row + (size_t)b * bb;
        const float d = edgec_fp16_to_fp32(edgec_load_u16(blk)), m = edgec_fp16_to_fp32(edgec_load_u16(blk + EDGEC_Q2_M));
        uint8_t c[EDGEC_QK];
        edgec_lowbit_codes32(fmt, blk, c);
        for (int j = 0; j < EDGEC_QK; j++) dst[b * EDGEC_QK + j] = d * (float)c[j] + m;
    }
}

/* Row r of W dequantized into dst[0..n). */
static inline void edgec_get_row_q2(float *dst, const void *w, int r, int n) { edgec_get_row_lowbit(EDGEC_FMT_Q2, dst, w, r, n); }
static inline void edgec_get_row_q3(float *dst, const void *w, int r, int n) { edgec_get_row_lowbit(EDGEC_FMT_Q3, dst, w, r, n); }

/* ---- dispatch ------------------------------------------------------------------------- */

#include "kernels/isa.h"
#if defined(EDGEC_ISA_AVX512)
#include "kernels/x86/avx512/lowbit.h"
#define EDGEC_LOWBIT_KERNEL(name) edgec_l512_##name
#elif defined(EDGEC_ISA_AVX2)
#include "kernels/x86/avx2/lowbit.h"
#define EDGEC_LOWBIT_KERNEL(name) edgec_l256_##name
#elif defined(EDGEC_ISA_NEON)
#include "kernels/arm/neon/lowbit.h"
#define EDGEC_LOWBIT_KERNEL(name) edgec_lneon_##name
#else
#define EDGEC_LOWBIT_KERNEL(name) edgec_scalar_##name
#define EDGEC_LOWBIT_ISA "scalar"   /* an ISA without this family's folder file: the portable path */
#endif
#ifndef EDGEC_LOWBIT_ISA
#define EDGEC_LOWBIT_ISA EDGEC_KERNELS_ISA
#endif

/* Low-bit weights x q8a activations: out[t*ldo + r] = dot(row r, activation t), r in [r0, r1). */
static inline void edgec_matmul_q2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_LOWBIT_KERNEL(matmul_q2)(out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_matmul_q3(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_LOWBIT_KERNEL(matmul_q3)(out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
