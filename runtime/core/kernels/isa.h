/* kernels/isa.h - the one place that decides which instruction set the kernels compile for.
 *
 * From the compiler's predefined macros (the target profile's flags), exactly one of:
 *   EDGEC_ISA_AVX512  AVX-512 F+BW (VNNI vpdpbusd if __AVX512VNNI__)   kernels/x86/avx512/
 *   EDGEC_ISA_AVX2    AVX2 + FMA + F16C                                kernels/x86/avx2/
 *   EDGEC_ISA_NEON    AArch64 NEON (sdot if __ARM_FEATURE_DOTPROD)     kernels/arm/neon/
 *                     or 32-bit ARMv7 NEON, armhf (no sdot; the AArch64-only intrinsics from arm/neon/a32.h)
 *   EDGEC_ISA_SSSE3   x86-64-v2: SSE4.2 + SSSE3 (pshufb), no AVX         kernels/x86/ssse3/
 *   EDGEC_ISA_RVV     RISC-V vector extension 1.0 (any VLEN)            kernels/riscv/rvv/
 *   EDGEC_ISA_SCALAR  anything else, or -DEDGEC_SCALAR (plain C11)     kernels/scalar/
 * EDGEC_KERNELS_ISA names it ("avx512vnni", "avx512", "avx2", "neon-dotprod", "neon", "neon-armv7",
 * "ssse3", "rvv", "scalar") and
 * EDGEC_KERNEL(name) is that folder's implementation of edgec_<name> (edgec_avx2_<name>, ...).
 * A new ISA adds one branch here and one folder of microkernels (docs/kernels.md).
 */
#ifndef EDGEC_KERNELS_ISA_H
#define EDGEC_KERNELS_ISA_H

#if !defined(EDGEC_SCALAR) && defined(__AVX512F__) && defined(__AVX512BW__)
#define EDGEC_ISA_AVX512 1
#if defined(__AVX512VNNI__)
#define EDGEC_KERNELS_ISA "avx512vnni"
#else
#define EDGEC_KERNELS_ISA "avx512"
#endif
#define EDGEC_KERNEL(name) edgec_avx512_##name
#elif !defined(EDGEC_SCALAR) && defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define EDGEC_ISA_AVX2 1
#define EDGEC_KERNELS_ISA "avx2"
#define EDGEC_KERNEL(name) edgec_avx2_##name
#elif !defined(EDGEC_SCALAR) && defined(__ARM_NEON) && (defined(__aarch64__) || __ARM_ARCH >= 7)
#define EDGEC_ISA_NEON 1
#if !defined(__aarch64__)
#define EDGEC_KERNELS_ISA "neon-armv7"   /* 32-bit ARM: the same kernels over kernels/arm/neon/a32.h, no sdot */
#elif defined(__ARM_FEATURE_DOTPROD)
#define EDGEC_KERNELS_ISA "neon-dotprod"
#else
#define EDGEC_KERNELS_ISA "neon"
#endif
#define EDGEC_KERNEL(name) edgec_neon_##name
#elif !defined(EDGEC_SCALAR) && defined(__SSSE3__) && defined(__SSE4_2__)
#define EDGEC_ISA_SSSE3 1
#define EDGEC_KERNELS_ISA "ssse3"
#define EDGEC_KERNEL(name) edgec_ssse3_##name
#elif !defined(EDGEC_SCALAR) && defined(__riscv_v) && defined(__riscv_v_intrinsic) && __riscv_v_intrinsic >= 12000   /* __riscv_-prefixed intrinsics (clang 17+) */
#define EDGEC_ISA_RVV 1
#define EDGEC_KERNELS_ISA "rvv"
#define EDGEC_KERNEL(name) edgec_rvv_##name
#else
#define EDGEC_ISA_SCALAR 1
#define EDGEC_KERNELS_ISA "scalar"
#define EDGEC_KERNEL(name) edgec_scalar_##name
#endif

#endif
