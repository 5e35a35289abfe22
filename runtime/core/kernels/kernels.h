/* kernels.h - the compute kernels a generated model.c calls, header-only.
 *
 * Everything is static inline so calls with compile-time-constant sizes specialise per
 * shape.  kernels/isa.h picks the instruction set once from the target flags (EDGEC_KERNELS_ISA
 * names it); each weight family's header (this one for q8_0/q4_x/float, lowbit.h, ternary.h,
 * i16.h, ternary_i16.h, lut.h) includes that ISA folder's file of the same name
 * (kernels/x86/avx512/, x86/avx2/, arm/neon/, scalar/).
 * All paths give the same results up to float summation order; quantized activations
 * (edgec_quantize_q8a) are bit-identical on every path.
 *
 * Formats (see block_formats.h): weights q8_0, q4_0, q4_1 (n % 32 == 0) and f32, f16, bf16
 * (any n); activations for the quantized formats are q8a blocks made by edgec_quantize_q8a.
 * Matmul: out[t*ldo + r] = dot(row r of W, activation t) for r in [r0, r1), t in [0, n_tok);
 * row r starts at w + r*row_bytes (any byte alignment), activation t at xq + t*(n/32)
 * (or x + t*ldx floats).
 */
#ifndef EDGEC_KERNELS_H
#define EDGEC_KERNELS_H

#include "kernels/block_formats.h"
#include "kernels/isa.h"
#include "kernels/scalar/dense.h"
#if defined(EDGEC_ISA_AVX512)
#include "kernels/x86/avx512/dense.h"
#elif defined(EDGEC_ISA_AVX2)
#include "kernels/x86/avx2/dense.h"
#elif defined(EDGEC_ISA_NEON)
#include "kernels/arm/neon/dense.h"
#elif defined(EDGEC_ISA_SSSE3)
#include "kernels/x86/ssse3/dense.h"
#elif defined(EDGEC_ISA_RVV)
#include "kernels/riscv/rvv/dense.h"
#endif

/* Activations -> q8a blocks: per 32 values d = max|x|/127, qs = round-half-away(x/d), s = d*sum(qs). */
static inline void edgec_quantize_q8a(const float *x, edgec_block_q8a *y, int n)
{ EDGEC_KERNEL(quantize_q8a)(x, y, n); }

/* Quantized weights x q8a activations: sum over blocks of d_w*d_x*sum(wq*qx) (+ m_w*s_x for q4_1). */
static inline void edgec_matmul_q8_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_KERNEL(matmul_q8_0)(out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_matmul_q4_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_KERNEL(matmul_q4_0)(out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_matmul_q4_1(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ EDGEC_KERNEL(matmul_q4_1)(out, ldo, w, r0, r1, xq, n_tok, n); }

/* Float weights x float activations (x + t*ldx). */
static inline void edgec_matmul_f32(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ EDGEC_KERNEL(matmul_f32)(out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_matmul_f16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ EDGEC_KERNEL(matmul_f16)(out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_matmul_bf16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ EDGEC_KERNEL(matmul_bf16)(out, ldo, w, r0, r1, x, ldx, n_tok, n); }

/* edgec_get_row_{q8_0,q4_0,q4_1,f32,f16,bf16}(dst, w, r, n) come from kernels/scalar/dense.h. */

/* out = x / sqrt(mean(x^2) + eps) * w; out may alias x. */
static inline void edgec_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{ EDGEC_KERNEL(rmsnorm)(out, x, w, n, eps); }
static inline float edgec_dot_f32(const float *a, const float *b, int n) { return EDGEC_KERNEL(dot_f32)(a, b, n); }
/* y += a*x */
static inline void edgec_axpy_f32(float *y, float a, const float *x, int n) { EDGEC_KERNEL(axpy_f32)(y, a, x, n); }
/* x = exp(x - max) / sum, in place: the blocks of the fused attention's online softmax, done once over all of x. */
static inline void edgec_softmax(float *x, int n)
{
    const float inv = 1.0f / EDGEC_KERNEL(exp_sum)(x, n, EDGEC_KERNEL(max_f32)(x, n));
    for (int i = 0; i < n; i++) x[i] *= inv;
}
/* gate = silu(gate) * up */
static inline void edgec_swiglu(float *gate, const float *up, int n) { EDGEC_KERNEL(swiglu)(gate, up, n); }
/* y += x */
static inline void edgec_add_f32(float *y, const float *x, int n) { EDGEC_KERNEL(add_f32)(y, x, n); }

#include "kernels/i16.h"
#include "kernels/ternary.h"   /* ternary weights: edgec_matmul_tq2/_tq2_0/_tq1_0, edgec_get_row_tq* */
#include "kernels/lowbit.h"    /* q2 / q3 group weights: edgec_matmul_q2/_q3, edgec_get_row_q2/_q3 */

#endif
