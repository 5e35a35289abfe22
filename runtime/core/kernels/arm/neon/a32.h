/* kernels/arm/neon/a32.h - lets this folder's AArch64 NEON kernels compile for 32-bit ARM (ARMv7-A
 * NEON, armhf: Raspberry Pi 2/3/Zero 2 W on a 32-bit OS), so there is one set of NEON kernels.
 *
 * Every file of kernels/arm/neon/ includes this instead of <arm_neon.h>.  On both architectures it says
 * whether sdot may be used (EDGEC_NEON_SDOT) and how fp16 converts (EDGEC_NEON_F16, edgec_neon_cvt_f16).
 * On 32-bit ARM it also defines the AArch64-only intrinsics those files use, each as a small static
 * inline edgec_a32_* function (a macro where an argument must be a literal) and a #define of the
 * AArch64 name to it, out of ARMv7 NEON instructions on 64-bit halves (d registers).  They give the
 * same results as the AArch64 instructions, bit for bit, for every input the kernels pass (the one
 * caveat: ARMv7 NEON float arithmetic flushes subnormals to zero, which only moves results below 1.2e-38).
 *
 * Needs -mfpu=neon-vfpv4 (Cortex-A7 and later) for a fused vfmaq_f32 like AArch64's and the fp16
 * conversion instruction; with plain -mfpu=neon (VFPv3) vfmaq_f32 falls back to vmlaq_f32 (multiply,
 * then add: rounded twice) and fp16 goes through C.
 */
#ifndef EDGEC_KERNELS_NEON_A32_H
#define EDGEC_KERNELS_NEON_A32_H

#include <arm_neon.h>

/* sdot (vdotq_s32, vdotq_laneq_s32) only on AArch64: the 32-bit target has none (ARMv7), and
 * AArch32 ARMv8.2 lacks the laneq form the i16 kernels use. */
#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#define EDGEC_NEON_SDOT 1
#else
#define EDGEC_NEON_SDOT 0
#endif

#define EDGEC_A32 static inline __attribute__((always_inline))

/* 4 fp16 bit patterns as floats in one instruction where the target has one (EDGEC_NEON_F16 1; else the
 * kernels convert in C): vcvt_f32_f16 where the compiler has an IEEE __fp16 (AArch64, clang for 32-bit,
 * gcc -mfp16-format=ieee); on 32-bit gcc without it, vcvt.f32.f16 by inline asm where the FPU has the
 * half-precision extension (__ARM_FP bit 1: VFPv4, -mfpu=neon-vfpv4).  Exact for every fp16 input. */
#if defined(__ARM_FP16_FORMAT_IEEE)
#define EDGEC_NEON_F16 1
EDGEC_A32 float32x4_t edgec_neon_cvt_f16(uint16x4_t h) { return vcvt_f32_f16(vreinterpret_f16_u16(h)); }
#elif !defined(__aarch64__) && defined(__ARM_FP) && (__ARM_FP & 2)
#define EDGEC_NEON_F16 1
EDGEC_A32 float32x4_t edgec_neon_cvt_f16(uint16x4_t h)
{
    float32x4_t f;
    __asm__("vcvt.f32.f16 %q0, %P1" : "=w"(f) : "w"(h)); /* %q: the q register, %P: the d register */
    return f;
}
#else
#define EDGEC_NEON_F16 0
#endif

#if !defined(__aarch64__)

#include <stdint.h>

/* ---- horizontal reductions: pairwise adds of the two halves ---- */

/* addv: (a0+a1) + (a2+a3) by two vpadd, the order AArch64's faddp gives (int: any order, exact). */
EDGEC_A32 int32_t edgec_a32_vaddvq_s32(int32x4_t a)
{ int32x2_t s = vpadd_s32(vget_low_s32(a), vget_high_s32(a)); return vget_lane_s32(vpadd_s32(s, s), 0); }
#define vaddvq_s32 edgec_a32_vaddvq_s32
/* faddv as ARMv8 does it: pairs first, then the two pair sums. */
EDGEC_A32 float edgec_a32_vaddvq_f32(float32x4_t a)
{ float32x2_t s = vpadd_f32(vget_low_f32(a), vget_high_f32(a)); return vget_lane_f32(vpadd_f32(s, s), 0); }
#define vaddvq_f32 edgec_a32_vaddvq_f32
/* fmaxv: two vpmax (a NaN lane gives NaN, as on AArch64). */
EDGEC_A32 float edgec_a32_vmaxvq_f32(float32x4_t a)
{ float32x2_t m = vpmax_f32(vget_low_f32(a), vget_high_f32(a)); return vget_lane_f32(vpmax_f32(m, m), 0); }
#define vmaxvq_f32 edgec_a32_vmaxvq_f32
/* saddlv of 16 int8: widening pairwise adds to 4 int32, then addv (|sum| <= 2048 fits int16). */
EDGEC_A32 int16_t edgec_a32_vaddlvq_s8(int8x16_t a)
{ return (int16_t)edgec_a32_vaddvq_s32(vpaddlq_s16(vpaddlq_s8(a))); }
#define vaddlvq_s8 edgec_a32_vaddlvq_s8

/* ---- 128-bit pairwise adds: vpadd on each source's halves, then combined ---- */

/* addp (q): [a0+a1, a2+a3, b0+b1, b2+b3]. */
EDGEC_A32 int32x4_t edgec_a32_vpaddq_s32(int32x4_t a, int32x4_t b)
{ return vcombine_s32(vpadd_s32(vget_low_s32(a), vget_high_s32(a)), vpadd_s32(vget_low_s32(b), vget_high_s32(b))); }
#define vpaddq_s32 edgec_a32_vpaddq_s32
/* addp (q), int16 lanes (wrapping, as addp). */
EDGEC_A32 int16x8_t edgec_a32_vpaddq_s16(int16x8_t a, int16x8_t b)
{ return vcombine_s16(vpadd_s16(vget_low_s16(a), vget_high_s16(a)), vpadd_s16(vget_low_s16(b), vget_high_s16(b))); }
#define vpaddq_s16 edgec_a32_vpaddq_s16

/* ---- the "_high" forms: the same instruction on the upper d register ---- */

/* smull2: vmull.s8 of the high halves. */
EDGEC_A32 int16x8_t edgec_a32_vmull_high_s8(int8x16_t a, int8x16_t b) { return vmull_s8(vget_high_s8(a), vget_high_s8(b)); }
#define vmull_high_s8 edgec_a32_vmull_high_s8
/* smlal2: vmlal.s8 of the high halves. */
EDGEC_A32 int16x8_t edgec_a32_vmlal_high_s8(int16x8_t acc, int8x16_t a, int8x16_t b) { return vmlal_s8(acc, vget_high_s8(a), vget_high_s8(b)); }
#define vmlal_high_s8 edgec_a32_vmlal_high_s8
/* saddl2: vaddl.s8 of the high halves. */
EDGEC_A32 int16x8_t edgec_a32_vaddl_high_s8(int8x16_t a, int8x16_t b) { return vaddl_s8(vget_high_s8(a), vget_high_s8(b)); }
#define vaddl_high_s8 edgec_a32_vaddl_high_s8
/* uaddw2: vaddw.u8 of b's high half. */
EDGEC_A32 uint16x8_t edgec_a32_vaddw_high_u8(uint16x8_t a, uint8x16_t b) { return vaddw_u8(a, vget_high_u8(b)); }
#define vaddw_high_u8 edgec_a32_vaddw_high_u8
/* sxtl2: vmovl.s16 of the high half. */
EDGEC_A32 int32x4_t edgec_a32_vmovl_high_s16(int16x8_t a) { return vmovl_s16(vget_high_s16(a)); }
#define vmovl_high_s16 edgec_a32_vmovl_high_s16
/* ushll2: vshll.u8 of the high half (a macro: the shift must stay a literal). */
#define vshll_high_n_u8(a, n) vshll_n_u8(vget_high_u8(a), (n))

/* ---- permutes and table lookups ---- */

/* uzp1 / uzp2: the two results of one vuzp.8 on q registers (even / odd bytes of a:b). */
EDGEC_A32 uint8x16_t edgec_a32_vuzp1q_u8(uint8x16_t a, uint8x16_t b) { return vuzpq_u8(a, b).val[0]; }
#define vuzp1q_u8 edgec_a32_vuzp1q_u8
EDGEC_A32 uint8x16_t edgec_a32_vuzp2q_u8(uint8x16_t a, uint8x16_t b) { return vuzpq_u8(a, b).val[1]; }
#define vuzp2q_u8 edgec_a32_vuzp2q_u8
/* tbl (16-byte table): vtbl2.8 over the table's two d halves, once per half of idx; an index
 * >= 16 gives 0 in both. */
EDGEC_A32 uint8x16_t edgec_a32_vqtbl1q_u8(uint8x16_t t, uint8x16_t idx)
{
    const uint8x8x2_t tab = {{vget_low_u8(t), vget_high_u8(t)}};
    return vcombine_u8(vtbl2_u8(tab, vget_low_u8(idx)), vtbl2_u8(tab, vget_high_u8(idx)));
}
#define vqtbl1q_u8 edgec_a32_vqtbl1q_u8

/* ---- float arithmetic ---- */

#if !defined(__ARM_FEATURE_FMA)
/* no VFPv4 (plain -mfpu=neon): fmla / fmls become vmla / vmls, rounded after the multiply too */
EDGEC_A32 float32x4_t edgec_a32_vfmaq_f32(float32x4_t a, float32x4_t b, float32x4_t c) { return vmlaq_f32(a, b, c); }
#define vfmaq_f32 edgec_a32_vfmaq_f32
EDGEC_A32 float32x4_t edgec_a32_vfmsq_f32(float32x4_t a, float32x4_t b, float32x4_t c) { return vmlsq_f32(a, b, c); }
#define vfmsq_f32 edgec_a32_vfmsq_f32
#endif
/* fmla by a scalar: vfma.f32 with the scalar in every lane (ARMv7 has no by-scalar fused form). */
EDGEC_A32 float32x4_t edgec_a32_vfmaq_n_f32(float32x4_t a, float32x4_t b, float n) { return vfmaq_f32(a, b, vdupq_n_f32(n)); }
#define vfmaq_n_f32 edgec_a32_vfmaq_n_f32
/* fdiv: NEON has no divide (vrecpe/vrecps is not exact), so four VFP vdiv.f32, correctly rounded. */
EDGEC_A32 float32x4_t edgec_a32_vdivq_f32(float32x4_t a, float32x4_t b)
{
    float32x4_t q = vdupq_n_f32(0.0f);
    q = vsetq_lane_f32(vgetq_lane_f32(a, 0) / vgetq_lane_f32(b, 0), q, 0);
    q = vsetq_lane_f32(vgetq_lane_f32(a, 1) / vgetq_lane_f32(b, 1), q, 1);
    q = vsetq_lane_f32(vgetq_lane_f32(a, 2) / vgetq_lane_f32(b, 2), q, 2);
    return vsetq_lane_f32(vgetq_lane_f32(a, 3) / vgetq_lane_f32(b, 3), q, 3);
}
#define vdivq_f32 edgec_a32_vdivq_f32

/* ---- rounding ---- */

/* frintn (nearest, ties to even): |x| + 2^23 - 2^23 rounds |x| < 2^23 to an integer in NEON's
 * fixed round-to-nearest-even mode; the sign is put back (-0.3 -> -0.0), |x| >= 2^23 (already an
 * integer), inf and NaN pass through. */
EDGEC_A32 float32x4_t edgec_a32_vrndnq_f32(float32x4_t x)
{
    const float32x4_t two23 = vdupq_n_f32(8388608.0f);
    const float32x4_t a = vabsq_f32(x);
    const float32x4_t r = vsubq_f32(vaddq_f32(a, two23), two23);
    const uint32x4_t sign = vdupq_n_u32(0x80000000u);
    const float32x4_t signed_r = vbslq_f32(sign, x, r);
    return vbslq_f32(vcltq_f32(a, two23), signed_r, x);
}
#define vrndnq_f32 edgec_a32_vrndnq_f32
/* fcvtas (nearest, ties away from zero, saturating): truncate (vcvt), then step away from zero
 * where the exact remainder x - trunc(x) is at least one half; NaN gives 0 as on AArch64. */
EDGEC_A32 int32x4_t edgec_a32_vcvtaq_s32_f32(float32x4_t x)
{
    const int32x4_t t = vcvtq_s32_f32(x);
    const float32x4_t frac = vsubq_f32(x, vcvtq_f32_s32(t));
    const int32x4_t up = vreinterpretq_s32_u32(vcgeq_f32(frac, vdupq_n_f32(0.5f)));    /* -1 where up */
    const int32x4_t down = vreinterpretq_s32_u32(vcleq_f32(frac, vdupq_n_f32(-0.5f))); /* -1 where down */
    return vqaddq_s32(vqsubq_s32(t, up), down);
}
#define vcvtaq_s32_f32 edgec_a32_vcvtaq_s32_f32

#endif /* !__aarch64__ */

#undef EDGEC_A32
#endif
