/* kernels/arm/neon/vec.h - the AArch64 (and ARMv7, a32.h) NEON vector layer: 4 floats per float32x4_t and the one-line
 * primitives kernels/vector_math.h and kernels/float_matmul.h are written over (the contract is in
 * vector_math.h).  Loops take whole vectors only; the last n % 4 elements go to the scalar code. */
#ifndef EDGEC_KERNELS_NEON_VEC_H
#define EDGEC_KERNELS_NEON_VEC_H

#include "kernels/arm/neon/a32.h" /* <arm_neon.h>, and on 32-bit ARM the AArch64-only intrinsics */

#include "kernels/scalar/dense.h"

#define EDGEC_VEC_FN(name) edgec_neon_##name
#define EDGEC_VEC_LANES 4
#define EDGEC_VEC_MASKED_TAIL 0
#define EDGEC_VEC_BATCH_ROWS 2 /* 2 rows x 4 tokens */

typedef float32x4_t edgec_vec;
typedef uint32x4_t edgec_vec_sel; /* held as its complement: vbic clears by a mask */

EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_zero(void) { return vdupq_n_f32(0.0f); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_set1(float a) { return vdupq_n_f32(a); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_loadu(const float *p) { return vld1q_f32(p); }
EDGEC_ALWAYS_INLINE void edgec_vec_storeu(float *p, edgec_vec v) { vst1q_f32(p, v); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_add(edgec_vec a, edgec_vec b) { return vaddq_f32(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_sub(edgec_vec a, edgec_vec b) { return vsubq_f32(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_mul(edgec_vec a, edgec_vec b) { return vmulq_f32(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_div(edgec_vec a, edgec_vec b) { return vdivq_f32(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_fmadd(edgec_vec a, edgec_vec b, edgec_vec c) { return vfmaq_f32(c, a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_fnmadd(edgec_vec a, edgec_vec b, edgec_vec c) { return vfmsq_f32(c, a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_neg(edgec_vec a) { return vnegq_f32(a); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_max(edgec_vec a, edgec_vec b) { return vmaxq_f32(a, b); }
EDGEC_ALWAYS_INLINE float edgec_vec_hsum(edgec_vec v) { return vaddvq_f32(v); }
EDGEC_ALWAYS_INLINE float edgec_vec_hmax(edgec_vec v) { return vmaxvq_f32(v); }

/* ---- exp pieces ---- */

EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_round(edgec_vec v) { return vrndnq_f32(v); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_clamp(edgec_vec x, edgec_vec lo, edgec_vec hi) { return vmaxq_f32(vminq_f32(x, hi), lo); }
/* The lanes x >= lo or NaN, held as the lanes x < lo (false for NaN). */
EDGEC_ALWAYS_INLINE edgec_vec_sel edgec_vec_not_below(edgec_vec x, edgec_vec lo) { return vcltq_f32(x, lo); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_mul_in(edgec_vec_sel s, edgec_vec a, edgec_vec b)
{ return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(vmulq_f32(a, b)), s)); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_pow2i(edgec_vec k)
{ return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127)), 23)); }

/* ---- float-format weight rows ---- */

/* 4 weights of a float-format row at p (any alignment: byte loads) as floats. */
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_load_weights(int fmt, const uint8_t *p)
{
    if (fmt == EDGEC_FMT_F32) return vreinterpretq_f32_u8(vld1q_u8(p));
    uint16x4_t h = vreinterpret_u16_u8(vld1_u8(p));
    if (fmt == EDGEC_FMT_BF16) return vreinterpretq_f32_u32(vshll_n_u16(h, 16)); /* bf16: upper half of a float */
#if EDGEC_NEON_F16
    return edgec_neon_cvt_f16(h);
#else
    const float f[4] = {edgec_fp16_to_fp32_c(edgec_load_u16(p)), edgec_fp16_to_fp32_c(edgec_load_u16(p + 2)),
                        edgec_fp16_to_fp32_c(edgec_load_u16(p + 4)), edgec_fp16_to_fp32_c(edgec_load_u16(p + 6))};
    return vld1q_f32(f);
#endif
}

/* No software prefetch: the NEON float tiles have never issued one. */
EDGEC_ALWAYS_INLINE void edgec_vec_prefetch(const void *p) { (void)p; }

#endif
