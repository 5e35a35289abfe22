/* kernels/x86/avx2/vec.h - the AVX2 + FMA + F16C vector layer: 8 floats per __m256 and the one-line
 * primitives kernels/vector_math.h and kernels/float_matmul.h are written over (the contract is in
 * vector_math.h).  Loops take whole vectors only; the last n % 8 elements go to the scalar code. */
#ifndef EDGEC_KERNELS_AVX2_VEC_H
#define EDGEC_KERNELS_AVX2_VEC_H

#include <immintrin.h>

#include "kernels/scalar/dense.h"

#define EDGEC_VEC_FN(name) edgec_avx2_##name
#define EDGEC_VEC_LANES 8
#define EDGEC_VEC_MASKED_TAIL 0
#define EDGEC_VEC_BATCH_ROWS 2 /* 2 rows x 4 tokens: 8 accumulators + weights fit the 16 ymm registers */

typedef __m256 edgec_vec;
typedef __m256 edgec_vec_sel; /* all-ones lanes */

EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_zero(void) { return _mm256_setzero_ps(); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_set1(float a) { return _mm256_set1_ps(a); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_loadu(const float *p) { return _mm256_loadu_ps(p); }
EDGEC_ALWAYS_INLINE void edgec_vec_storeu(float *p, edgec_vec v) { _mm256_storeu_ps(p, v); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_add(edgec_vec a, edgec_vec b) { return _mm256_add_ps(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_sub(edgec_vec a, edgec_vec b) { return _mm256_sub_ps(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_mul(edgec_vec a, edgec_vec b) { return _mm256_mul_ps(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_div(edgec_vec a, edgec_vec b) { return _mm256_div_ps(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_fmadd(edgec_vec a, edgec_vec b, edgec_vec c) { return _mm256_fmadd_ps(a, b, c); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_fnmadd(edgec_vec a, edgec_vec b, edgec_vec c) { return _mm256_fnmadd_ps(a, b, c); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_neg(edgec_vec a) { return _mm256_sub_ps(_mm256_setzero_ps(), a); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_max(edgec_vec a, edgec_vec b) { return _mm256_max_ps(a, b); }

/* Horizontal sum of 8 floats. */
EDGEC_ALWAYS_INLINE float edgec_vec_hsum(edgec_vec v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

EDGEC_ALWAYS_INLINE float edgec_vec_hmax(edgec_vec v)
{
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* ---- exp pieces ---- */

EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_round(edgec_vec v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* min/max return their second operand when either is NaN: x goes second. */
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_clamp(edgec_vec x, edgec_vec lo, edgec_vec hi) { return _mm256_max_ps(lo, _mm256_min_ps(hi, x)); }
EDGEC_ALWAYS_INLINE edgec_vec_sel edgec_vec_not_below(edgec_vec x, edgec_vec lo) { return _mm256_cmp_ps(x, lo, _CMP_NLT_UQ); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_mul_in(edgec_vec_sel s, edgec_vec a, edgec_vec b) { return _mm256_and_ps(s, _mm256_mul_ps(a, b)); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_pow2i(edgec_vec k)
{ return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23)); }

/* ---- float-format weight rows ---- */

/* 8 weights of a float-format row at p (any alignment) as floats. */
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_load_weights(int fmt, const uint8_t *p)
{
    if (fmt == EDGEC_FMT_F32) return _mm256_loadu_ps((const float *)p);
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    if (fmt == EDGEC_FMT_F16) return _mm256_cvtph_ps(h);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); /* bf16: upper half of a float */
}

EDGEC_ALWAYS_INLINE void edgec_vec_prefetch(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T1); }

#endif
