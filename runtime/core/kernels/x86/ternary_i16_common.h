/* kernels/x86/ternary_i16_common.h - the parts of the tq2 64-row tile kernels that AVX2 and AVX-512
 * share as they are (AVX-512 machines run the AVX2 instructions): the activation block sum that
 * seeds the chains, and the weight-stream prefetch.  Included by x86/avx2/ and x86/avx512/ternary_i16.h. */
#ifndef EDGEC_KERNELS_X86_TERNARY_I16_COMMON_H
#define EDGEC_KERNELS_X86_TERNARY_I16_COMMON_H

#include <immintrin.h>

#include "kernels/scalar/dense.h"

/* sum of an activation block's 32 qs. */
EDGEC_ALWAYS_INLINE int edgec_ti16_x86_block_sum(const int8_t *qs)
{
    const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)qs);
    const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), x), _mm256_set1_epi16(1));
    __m128i v = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
    return _mm_cvtsi128_si32(v);
}

/* Prefetches into L2 the line EDGEC_TERNARY_PREFETCH bytes past p: the tiles are one sequential stream.
 * On SmolLM2's 38 MB of tq2 weights (partly L3-resident) one prefetch per 256 bytes, 512 bytes ahead,
 * was 5-15% faster than none; one per 64 bytes was slower under gcc, which hoists them all together,
 * and distances of 2 KB and more were up to 2x slower. */
EDGEC_ALWAYS_INLINE void edgec_ti16_x86_prefetch(const uint8_t *p)
{
#if EDGEC_TERNARY_PREFETCH > 0
    _mm_prefetch((const char *)p + EDGEC_TERNARY_PREFETCH, _MM_HINT_T1);
#else
    (void)p;
#endif
}

#endif
