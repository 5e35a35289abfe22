/* block_formats.h - GGUF's weight block layouts (bit-exact) and fp16/bf16 conversion.
 *
 * A quantized row of n weights is n/32 blocks stored back to back in GGUF order.
 * Weight blobs may put a row at any byte offset (18- and 34-byte blocks are never
 * aligned), so the kernels read blocks through byte pointers and memcpy or unaligned
 * vector loads; these structs document the layout and give the sizes, they are never
 * used to dereference weight memory directly.
 */
#ifndef EDGEC_BLOCK_FORMATS_H
#define EDGEC_BLOCK_FORMATS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__F16C__) && !defined(EDGEC_SCALAR)
#include <immintrin.h>
#endif

#define EDGEC_QK 32 /* weights per block in every quantized format */

/* q8_0, 34 bytes: w[j] = d * qs[j]. d is fp16 bits. */
typedef struct { uint16_t d; int8_t qs[32]; } edgec_block_q8_0;
/* q4_0, 18 bytes: w[j] = d*((qs[j] & 15) - 8), w[j+16] = d*((qs[j] >> 4) - 8). */
typedef struct { uint16_t d; uint8_t qs[16]; } edgec_block_q4_0;
/* q4_1, 20 bytes: w[j] = d*(qs[j] & 15) + m, w[j+16] = d*(qs[j] >> 4) + m. d, m fp16 bits. */
typedef struct { uint16_t d; uint16_t m; uint8_t qs[16]; } edgec_block_q4_1;
/* Activations quantized per 32 values: x[j] ~ d*qs[j], s = d * sum(qs) (for q4_1's m and q4_0's -8). */
typedef struct { float d; float s; int8_t qs[32]; } edgec_block_q8a;

_Static_assert(sizeof(edgec_block_q8_0) == 34, "q8_0 block must be 34 bytes (GGUF layout)");
_Static_assert(sizeof(edgec_block_q4_0) == 18, "q4_0 block must be 18 bytes (GGUF layout)");
_Static_assert(sizeof(edgec_block_q4_1) == 20, "q4_1 block must be 20 bytes (GGUF layout)");
_Static_assert(sizeof(edgec_block_q8a) == 40, "q8a block must be 40 bytes");

/* edgec's own low-bit group formats (docs/formats.md), 32 weights, w[j] = d*q[j] + m as q4_1,
 * d and m fp16 bits, q unsigned.  Blocks sit at any alignment, like the GGUF ones.
 * q2, 12 bytes: q[j] (0..3) = (qs[j & 7] >> (2 * (j >> 3))) & 3 (byte k: weights k, k+8, k+16, k+24).
 * q3, 16 bytes: q[j] (0..7) = the q2 bits | ((qh[j >> 3] >> (j & 7)) & 1) << 2. */
typedef struct { uint16_t d; uint16_t m; uint8_t qs[8]; } edgec_block_q2;
typedef struct { uint16_t d; uint16_t m; uint8_t qs[8]; uint8_t qh[4]; } edgec_block_q3;
#define EDGEC_BLOCK_Q2_DEFINED /* edgec_block_q2 / _q3 and their EDGEC_Q2_* / EDGEC_Q3_* offsets */
_Static_assert(sizeof(edgec_block_q2) == 12, "q2 block must be 12 bytes");
_Static_assert(sizeof(edgec_block_q3) == 16, "q3 block must be 16 bytes");
#define EDGEC_Q2_BYTES 12
#define EDGEC_Q3_BYTES 16
#define EDGEC_Q2_M     2
#define EDGEC_Q2_QS    4
#define EDGEC_Q3_M     2
#define EDGEC_Q3_QS    4
#define EDGEC_Q3_QH    12

/* Byte offsets of the fields, for reading blocks through unaligned byte pointers. */
#define EDGEC_Q8_0_BYTES 34
#define EDGEC_Q4_0_BYTES 18
#define EDGEC_Q4_1_BYTES 20
#define EDGEC_Q8_0_QS    2
#define EDGEC_Q4_0_QS    2
#define EDGEC_Q4_1_QS    4
#define EDGEC_Q4_1_M     2

/* Reads a little-endian-in-memory uint16 at any alignment. */
static inline uint16_t edgec_load_u16(const void *p) { uint16_t v; memcpy(&v, p, sizeof v); return v; }
static inline uint32_t edgec_load_u32(const void *p) { uint32_t v; memcpy(&v, p, sizeof v); return v; }
static inline float edgec_load_f32(const void *p) { float v; memcpy(&v, p, sizeof v); return v; }

static inline float edgec_f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }
static inline uint32_t edgec_bits_from_f32(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }

/* IEEE binary16 -> binary32, exact for every input (subnormals, inf, NaN payloads). */
static inline float edgec_fp16_to_fp32_c(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    if (exp == 0x1fu) /* inf or NaN: keep the payload, set the float's all-ones exponent */
        return edgec_f32_from_bits(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        if (man == 0) return edgec_f32_from_bits(sign);
        /* subnormal: value is man * 2^-24, exact in float */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return edgec_f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13)); /* rebias 15 -> 127 */
}

/* IEEE binary32 -> binary16, round to nearest even; overflow gives inf, NaN stays NaN. */
static inline uint16_t edgec_fp32_to_fp16_c(float f)
{
    uint32_t u = edgec_bits_from_f32(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t abs = u & 0x7fffffffu;
    if (abs >= 0x7f800000u) /* inf, or NaN forced quiet so a payload never truncates to inf */
        return (uint16_t)(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u | ((abs >> 13) & 0x3ffu) : 0));
    if (abs >= 0x477ff000u) /* >= 65520 rounds past the largest half (65504) */
        return (uint16_t)(sign | 0x7c00u);
    if (abs < 0x38800000u) { /* below 2^-14: result is subnormal or zero */
        if (abs < 0x33000000u) return sign; /* below 2^-25: rounds to zero (2^-25 itself ties to even 0) */
        uint32_t exp = abs >> 23;
        uint32_t man = (abs & 0x7fffffu) | 0x800000u; /* with the implicit bit */
        uint32_t shift = 126u - exp;                   /* so that the result counts units of 2^-24 */
        uint32_t half = man >> shift;
        uint32_t rest = man & ((1u << shift) - 1u);
        uint32_t tie = 1u << (shift - 1u);
        if (rest > tie || (rest == tie && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    /* normal: rebias the exponent, keep 10 mantissa bits, round on the 13 dropped bits */
    uint32_t h = ((abs >> 13) - (112u << 10));
    uint32_t rest = abs & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++; /* a carry into the exponent is correct */
    return (uint16_t)(sign | h);
}

#if defined(__F16C__) && !defined(EDGEC_SCALAR)
static inline float edgec_fp16_to_fp32(uint16_t h) { return _cvtsh_ss(h); }
static inline uint16_t edgec_fp32_to_fp16(float f) { return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT); }
#else
static inline float edgec_fp16_to_fp32(uint16_t h) { return edgec_fp16_to_fp32_c(h); }
static inline uint16_t edgec_fp32_to_fp16(float f) { return edgec_fp32_to_fp16_c(f); }
#endif

/* bf16 is the upper half of a float32. */
static inline float edgec_bf16_to_fp32(uint16_t b) { return edgec_f32_from_bits((uint32_t)b << 16); }

#endif
