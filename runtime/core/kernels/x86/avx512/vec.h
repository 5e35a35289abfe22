/* kernels/x86/avx512/vec.h - the AVX-512 F+BW vector layer: 16 floats per __m512 and the one-line
 * primitives kernels/vector_math.h and kernels/float_matmul.h are written over (the contract is in
 * vector_math.h).  A lane mask takes the last n % 16 elements, so loops need no scalar tail. */
#ifndef EDGEC_KERNELS_AVX512_VEC_H
#define EDGEC_KERNELS_AVX512_VEC_H

#include <immintrin.h>

#include "kernels/scalar/dense.h"

#define EDGEC_VEC_FN(name) edgec_avx512_##name
#define EDGEC_VEC_LANES 16
#define EDGEC_VEC_MASKED_TAIL 1
#define EDGEC_VEC_BATCH_ROWS 4 /* 4 rows x 4 tokens: 16 accumulators + weights fit the 32 zmm registers */

typedef __m512 edgec_vec;
typedef __mmask16 edgec_vec_sel;
typedef __mmask16 edgec_vec_part; /* the lanes of a step that are inside the array */

EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_zero(void) { return _mm512_setzero_ps(); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_set1(float a) { return _mm512_set1_ps(a); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_loadu(const float *p) { return _mm512_loadu_ps(p); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_add(edgec_vec a, edgec_vec b) { return _mm512_add_ps(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_sub(edgec_vec a, edgec_vec b) { return _mm512_sub_ps(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_mul(edgec_vec a, edgec_vec b) { return _mm512_mul_ps(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_div(edgec_vec a, edgec_vec b) { return _mm512_div_ps(a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_fmadd(edgec_vec a, edgec_vec b, edgec_vec c) { return _mm512_fmadd_ps(a, b, c); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_fnmadd(edgec_vec a, edgec_vec b, edgec_vec c) { return _mm512_fnmadd_ps(a, b, c); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_neg(edgec_vec a) { return _mm512_sub_ps(_mm512_setzero_ps(), a); }
EDGEC_ALWAYS_INLINE float edgec_vec_hsum(edgec_vec v) { return _mm512_reduce_add_ps(v); }
EDGEC_ALWAYS_INLINE float edgec_vec_hmax(edgec_vec v) { return _mm512_reduce_max_ps(v); }

/* ---- exp pieces ---- */

EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_round(edgec_vec v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
/* min/max return their second operand when either is NaN: x goes second. */
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_clamp(edgec_vec x, edgec_vec lo, edgec_vec hi) { return _mm512_max_ps(lo, _mm512_min_ps(hi, x)); }
EDGEC_ALWAYS_INLINE edgec_vec_sel edgec_vec_not_below(edgec_vec x, edgec_vec lo) { return _mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_mul_in(edgec_vec_sel s, edgec_vec a, edgec_vec b) { return _mm512_maskz_mul_ps(s, a, b); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_pow2i(edgec_vec k)
{ return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23)); }

/* ---- steps: masked, so the last one may be partial ---- */

/* Mask of the first len of 16 lanes (len may exceed 16). */
EDGEC_ALWAYS_INLINE edgec_vec_part edgec_vec_part_of(int len) { return len >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << len) - 1u); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_load_part(edgec_vec_part m, const float *p) { return _mm512_maskz_loadu_ps(m, p); }
EDGEC_ALWAYS_INLINE void edgec_vec_store_part(float *p, edgec_vec_part m, edgec_vec v) { _mm512_mask_storeu_ps(p, m, v); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_keep_part(edgec_vec_part m, edgec_vec v) { return _mm512_maskz_mov_ps(m, v); }
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_max_part(edgec_vec_part m, edgec_vec acc, edgec_vec v) { return _mm512_mask_max_ps(acc, m, acc, v); }

/* ---- float-format weight rows ---- */

/* The weights of a float-format row at p in the lanes of m (missing lanes are 0). */
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_load_weights_part(int fmt, const uint8_t *p, edgec_vec_part m)
{
    if (fmt == EDGEC_FMT_F32) return _mm512_maskz_loadu_ps(m, p);
    __m256i h = _mm512_castsi512_si256(_mm512_maskz_loadu_epi16((__mmask32)m, p));
    if (fmt == EDGEC_FMT_F16) return _mm512_cvtph_ps(h);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); /* bf16: upper half of a float */
}
EDGEC_ALWAYS_INLINE edgec_vec edgec_vec_load_weights(int fmt, const uint8_t *p) { return edgec_vec_load_weights_part(fmt, p, (__mmask16)0xffff); }

EDGEC_ALWAYS_INLINE void edgec_vec_prefetch(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T1); }

#endif
