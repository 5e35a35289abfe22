/* kernels/x86/ssse3/vec.h - the x86-64-v2 vector layer (SSE4.2 + SSSE3, no AVX, no FMA, no F16C): 4 floats
 * per __m128 and the one-line primitives kernels/vector_math.h and kernels/float_matmul.h are written over
 * (the contract is in vector_math.h).  Loops take whole vectors only; the last n % 4 elements go to the
 * scalar code.
 *
 * Without FMA, fmadd is a multiply then an add (two roundings), the same float operations as the scalar
 * C path compiled without contraction.  Without F16C, fp16 is widened by integer SSE
 * (edgec_ssse3_halves_to_floats), exact for every input like edgec_fp16_to_fp32_c. */
#ifndef EDGEC_KERNELS_SSSE3_VEC_H
#define EDGEC_KERNELS_SSSE3_VEC_H

#include <immintrin.h>

#include "kernels/scalar/dense.h"

#define EDGEC_VEC_FN(name) edgec_ssse3_##name
#define EDGEC_VEC_LANES 4
#define EDGEC_VEC_MASKED_TAIL 0
#define EDGEC_VEC_BATCH_ROWS 2 /* 2 rows x 4 tokens: 8 accumulators + 2 weight vectors + 1 activation in 16 xmm */

typedef __m128 edgec_vec;
typedef __m128 edgec_vec_sel; /* all-ones lanes */

EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_zero(void) { return _mm_setzero_ps(); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_set1(float a) { return _mm_set1_ps(a); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_loadu(const float *p) { return _mm_loadu_ps(p); }
EDGEC_ALWAYS_INLINE void edgec_vec_storeu(float *p, edgec_vec v) { _mm_storeu_ps(p, v); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_add(edgec_vec a, edgec_vec b) { return _mm_add_ps(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_sub(edgec_vec a, edgec_vec b) { return _mm_sub_ps(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_mul(edgec_vec a, edgec_vec b) { return _mm_mul_ps(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_div(edgec_vec a, edgec_vec b) { return _mm_div_ps(a, b); }
/* a*b + c and c - a*b, each rounded twice: SSE has no fused multiply-add. */
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_fmadd(edgec_vec a, edgec_vec b, edgec_vec c) { return _mm_add_ps(_mm_mul_ps(a, b), c); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_fnmadd(edgec_vec a, edgec_vec b, edgec_vec c) { return _mm_sub_ps(c, _mm_mul_ps(a, b)); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_neg(edgec_vec a) { return _mm_sub_ps(_mm_setzero_ps(), a); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_max(edgec_vec a, edgec_vec b) { return _mm_max_ps(a, b); }

/* Horizontal sum of 4 floats: (v0 + v2) + (v1 + v3). */
EDGEC_ALWAYS_INLINE float edgec_vec_hsum(edgec_vec v)
{
    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

EDGEC_ALWAYS_INLINE float edgec_vec_hmax(edgec_vec v)
{
    __m128 h = _mm_max_ps(v, _mm_movehl_ps(v, v));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* ---- exp pieces ---- */

EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_round(edgec_vec v) { return _mm_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* min/max return their second operand when either is NaN: x goes second. */
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_clamp(edgec_vec x, edgec_vec lo, edgec_vec hi) { return _mm_max_ps(lo, _mm_min_ps(hi, x)); }
EDGEC_ALWAYS_INLINE edgec_vec_sel edgec_vec_not_below(edgec_vec x, edgec_vec lo) { return _mm_cmpnlt_ps(x, lo); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_mul_in(edgec_vec_sel s, edgec_vec a, edgec_vec b) { return _mm_and_ps(s, _mm_mul_ps(a, b)); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_pow2i(edgec_vec k)
{ return _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(_mm_cvtps_epi32(k), _mm_set1_epi32(127)), 23)); }

/* ---- fp16 without F16C ---- */

/* Four fp16 values (the low 16 bits of each 32-bit lane; the high bits must be 0) as floats, exact
 * for every input.  The exponent and mantissa bits go to the float's place, and a multiply by 2^112
 * rebiases the exponent (15 -> 127); that is exact for normals and subnormals alike.  Inf and NaN
 * then get the all-ones exponent, the payload kept, and the sign goes back on. */
EDGEC_ALWAYS_INLINE __m128 edgec_ssse3_halves_to_floats(__m128i h)
{
    const __m128i em = _mm_and_si128(h, _mm_set1_epi32(0x7fff));
    const __m128i sign = _mm_slli_epi32(_mm_xor_si128(h, em), 16);
    __m128 f = _mm_mul_ps(_mm_castsi128_ps(_mm_slli_epi32(em, 13)), _mm_castsi128_ps(_mm_set1_epi32(0x77800000))); /* 2^112 */
    const __m128i inf_nan = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7bff));
    f = _mm_or_ps(f, _mm_castsi128_ps(_mm_and_si128(inf_nan, _mm_set1_epi32(0x7f800000))));
    return _mm_or_ps(f, _mm_castsi128_ps(sign));
}

/* The 8 fp16 values at p (any alignment) as floats: values 0..3 in *lo, 4..7 in *hi. */
EDGEC_ALWAYS_INLINE void edgec_ssse3_load_halves8(const uint8_t *p, __m128 *lo, __m128 *hi)
{
    const __m128i h = _mm_loadu_si128((const __m128i *)p), zero = _mm_setzero_si128();
    *lo = edgec_ssse3_halves_to_floats(_mm_unpacklo_epi16(h, zero));
    *hi = edgec_ssse3_halves_to_floats(_mm_unpackhi_epi16(h, zero));
}

/* ---- float-format weight rows ---- */

/* 4 weights of a float-format row at p (any alignment) as floats. */
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_load_weights(int fmt, const uint8_t *p)
{
    if (fmt == EDGEC_FMT_F32) return _mm_loadu_ps((const float *)p);
    const __m128i h = _mm_loadl_epi64((const __m128i *)p), zero = _mm_setzero_si128();
    if (fmt == EDGEC_FMT_F16) return edgec_ssse3_halves_to_floats(_mm_unpacklo_epi16(h, zero));
    return _mm_castsi128_ps(_mm_unpacklo_epi16(zero, h)); /* bf16: upper half of a float */
}

EDGEC_ALWAYS_INLINE void edgec_vec_prefetch(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T1); }

#endif
