/* kernels/x86/avx512/ternary_i16.h - tq2 64-row tiles on AVX-512 F+BW, VNNI vpdpbusd when __AVX512VNNI__
 * (else vpmaddubsw + vpmaddwd).  Included only by kernels/ternary_i16.h (layout, API, and the
 * group loop over these microkernels).
 *
 * Int32 lane r of every vector belongs to row 16s + r of the group in the chain of field s.  Per
 * 64-byte chunk: one load, four ANDs (one per field, no shifts: field s keeps its 4^s) and four
 * vpdpbusd against the broadcast activation dword.  A tile (64 rows x 64 columns) is 64 ANDs and
 * 64 vpdpbusd, and there is no horizontal reduction anywhere.
 * Per activation block and field: one convert and one FMA with d_x / 4^s into the row sums; per
 * group (and column slab) and field one fp16 convert of the 16 row scales and one multiply.
 * Without VNNI field 3 is shifted down to 16 * code, so a vpmaddubsw pair (2 * 32 * 127) can
 * never saturate.
 */
#ifndef EDGEC_KERNELS_TERNARY_I16_AVX512_H
#define EDGEC_KERNELS_TERNARY_I16_AVX512_H

#include <immintrin.h>

#include "kernels/x86/avx512/float.h" /* edgec_vec: the row sums */
#include "kernels/x86/ternary_i16_common.h"

/* What each field's extraction leaves on its code (the integer chain's scale). */
#if defined(__AVX512VNNI__)
static const int edgec_ti16_avx512_scale[4] = {1, 4, 16, 64};
#else
static const int edgec_ti16_avx512_scale[4] = {1, 4, 16, 16};
#endif

#define edgec_ti16_avx512_block_sum edgec_ti16_x86_block_sum
#define edgec_ti16_avx512_prefetch edgec_ti16_x86_prefetch

/* scale_s * code of field s in every byte of a chunk. */
EDGEC_ALWAYS_INLINE __m512i edgec_ti16_avx512_field(__m512i v, int s)
{
#if !defined(__AVX512VNNI__)
    if (s == 3) return _mm512_and_si512(_mm512_srli_epi16(v, 2), _mm512_set1_epi8(0x30));
#endif
    return _mm512_and_si512(v, _mm512_set1_epi8((char)(3 << (2 * s))));
}

/* acc + per-dword sums of c * x (c unsigned, x signed bytes). */
EDGEC_ALWAYS_INLINE __m512i edgec_ti16_avx512_dot(__m512i acc, __m512i c, __m512i x)
{
#if defined(__AVX512VNNI__)
    return _mm512_dpbusd_epi32(acc, c, x);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(c, x), _mm512_set1_epi16(1)));
#endif
}

/* Keeps a loaded chunk in a register: gcc 12 otherwise folds the load into each of the four ANDs,
 * and four 64-byte loads per four vpdpbusd made its kernel ~25% slower (load ports). */
EDGEC_ALWAYS_INLINE void edgec_ti16_avx512_keep(__m512i *v)
{
#if defined(__GNUC__) && !defined(__clang__)
    __asm__("" : "+v"(*v));
#else
    (void)v;
#endif
}

/* ---- the contract of kernels/ternary_i16.h's group loop ---- */

#define EDGEC_TI16_PASSES 1 /* a 64-byte chunk is one zmm */
typedef __m512i edgec_ti16_avx512_ivec;

EDGEC_ALWAYS_INLINE __m512i edgec_ti16_avx512_load(const uint8_t *chunk)
{
    __m512i v = _mm512_loadu_si512((const void *)chunk);
    edgec_ti16_avx512_keep(&v);
    return v;
}
EDGEC_ALWAYS_INLINE __m512i edgec_ti16_avx512_splat(int32_t v) { return _mm512_set1_epi32(v); }
EDGEC_ALWAYS_INLINE __m512 edgec_ti16_avx512_to_float(__m512i v) { return _mm512_cvtepi32_ps(v); }

/* Rows 16s .. 16s+15 of the group (those below `left`): acc[s] times their fp16 row scales, stored
 * into out or added to it (masked: no row past `left` is read or written). */
EDGEC_ALWAYS_INLINE void edgec_ti16_avx512_store_rows(float *out, const uint8_t *scales, const __m512 acc[4], int h, int add, int left)
{
    (void)h;
EDGEC_UNROLL
    for (int s = 0; s < 4; s++) {
        const int n = left - 16 * s;
        if (n <= 0) break;
        const __mmask16 mask = edgec_vec_part_of(n);
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(scales + 32 * s)));
        __m512 r = _mm512_mul_ps(acc[s], d);
        if (add) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(mask, out + 16 * s));
        _mm512_mask_storeu_ps(out + 16 * s, mask, r);
    }
}

#endif
