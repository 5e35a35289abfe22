/* kernels/x86/avx2/ternary_i16.h - tq2 64-row tiles on AVX2 + FMA + F16C (vpmaddubsw + vpmaddwd).
 * Included only by kernels/ternary_i16.h (layout, API, and the group loop over these microkernels).
 *
 * A 256-bit vector holds half of a 64-byte chunk: half h, int32 lane r is row 16s + 8h + r in the
 * chain of field s.  With 16 ymm registers a group goes in two passes, one per half, each keeping
 * 4 integer chains and 4 float row sums live; the second pass re-reads the group's tiles from
 * L1/L2.  The row sums are multiplied by the 8 row scales of their field once, at the end.
 * Field s is "& (3 << 2s)" (scale 4^s), except field 3, shifted down to 16 * code so a
 * vpmaddubsw pair (2 * 32 * 127) can never saturate.  Float operations are those of the AVX-512
 * path in the same order, so both give the same results.
 */
#ifndef EDGEC_KERNELS_TERNARY_I16_AVX2_H
#define EDGEC_KERNELS_TERNARY_I16_AVX2_H

#include <immintrin.h>

#include "kernels/x86/avx2/float.h" /* edgec_vec: the row sums */
#include "kernels/x86/ternary_i16_common.h"

/* What each field's extraction leaves on its code (the integer chain's scale). */
static const int edgec_ti16_avx2_scale[4] = {1, 4, 16, 16};

#define edgec_ti16_avx2_block_sum edgec_ti16_x86_block_sum
#define edgec_ti16_avx2_prefetch edgec_ti16_x86_prefetch

/* scale_s * code of field s in every byte of a half chunk. */
EDGEC_ALWAYS_INLINE __m256i edgec_ti16_avx2_field(__m256i v, int s)
{
    if (s == 3) return _mm256_and_si256(_mm256_srli_epi16(v, 2), _mm256_set1_epi8(0x30));
    return _mm256_and_si256(v, _mm256_set1_epi8((char)(3 << (2 * s))));
}

/* acc + per-dword sums of c * x (c unsigned, x signed bytes). */
EDGEC_ALWAYS_INLINE __m256i edgec_ti16_avx2_dot(__m256i acc, __m256i c, __m256i x)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(c, x), _mm256_set1_epi16(1)));
}

/* ---- the contract of kernels/ternary_i16.h's group loop ---- */

#define EDGEC_TI16_PASSES 2 /* a 64-byte chunk is two ymm halves: a group goes in two passes */
typedef __m256i edgec_ti16_avx2_ivec;

EDGEC_ALWAYS_INLINE __m256i edgec_ti16_avx2_load(const uint8_t *chunk) { return _mm256_loadu_si256((const __m256i *)(const void *)chunk); }
EDGEC_ALWAYS_INLINE __m256i edgec_ti16_avx2_splat(int32_t v) { return _mm256_set1_epi32(v); }
EDGEC_ALWAYS_INLINE __m256 edgec_ti16_avx2_to_float(__m256i v) { return _mm256_cvtepi32_ps(v); }

/* Rows 16s + 8h .. +7 of the group (those below `left`): acc[s] times their fp16 row scales,
 * stored into out or added to it. */
EDGEC_ALWAYS_INLINE void edgec_ti16_avx2_store_rows(float *out, const uint8_t *scales, const __m256 acc[4], int h, int add, int left)
{
EDGEC_UNROLL
    for (int s = 0; s < 4; s++) {
        const int first = 16 * s + 8 * h, n = left - first < 8 ? left - first : 8;
        if (n <= 0) continue;
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(scales + 2 * first)));
        float v[8];
        _mm256_storeu_ps(v, _mm256_mul_ps(acc[s], d));
        for (int r = 0; r < n; r++) out[first + r] = add ? out[first + r] + v[r] : v[r];
    }
}

#endif
