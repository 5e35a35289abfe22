/* kernels_attention.h - attention over one head's slice of the KV cache.
 *
 * The cache is head-major: for each layer and KV head, max_ctx rows of head_dim values,
 * so the keys of one head are contiguous rows and a score pass is a small matvec.
 * Rows are f32 or IEEE f16 (uint16_t bits); queries, scores and outputs are f32.
 */
#ifndef EDGEC_KERNELS_ATTENTION_H
#define EDGEC_KERNELS_ATTENTION_H

#include <stdint.h>

#include "kernels.h"
#if !defined(EDGEC_SCALAR) && (defined(__AVX512F__) || (defined(__F16C__) && defined(__AVX__)))
#include <immintrin.h>
#endif

/* scores[s] = scale * (q . k_s) for s in [0, n_pos); k rows of hd f32 values. */
static inline void edgec_attn_scores_f32(float *scores, const float *q, const float *k, int n_pos, int hd, float scale) {
    for (int s = 0; s < n_pos; s++)
        scores[s] = edgec_dot_f32(q, k + (size_t)s * hd, hd) * scale;
}

/* out = sum_s p[s] * v_s; v rows of hd f32 values. */
static inline void edgec_attn_values_f32(float *out, const float *p, const float *v, int n_pos, int hd) {
    for (int i = 0; i < hd; i++)
        out[i] = 0.0f;
    for (int s = 0; s < n_pos; s++)
        edgec_axpy_f32(out, p[s], v + (size_t)s * hd, hd);
}

/* One f16 row (hd values) widened to f32. */
static inline void edgec_f16_row_to_f32(float *dst, const uint16_t *src, int hd) {
    int i = 0;
#if !defined(EDGEC_SCALAR) && defined(__AVX512F__)
    for (; i + 16 <= hd; i += 16)
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(src + i))));
#elif !defined(EDGEC_SCALAR) && defined(__F16C__) && defined(__AVX__)
    for (; i + 8 <= hd; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + i))));
#endif
    for (; i < hd; i++)
        dst[i] = edgec_fp16_to_fp32(src[i]);
}

/* f32 values rounded to f16 (round to nearest even) into a cache row. */
static inline void edgec_f32_row_to_f16(uint16_t *dst, const float *src, int hd) {
    for (int i = 0; i < hd; i++)
        dst[i] = edgec_fp32_to_fp16(src[i]);
}

/* scores[s] = scale * (q . k_s); k rows of hd f16 values (widened 64 at a time through a stack row). */
static inline void edgec_attn_scores_f16(float *scores, const float *q, const uint16_t *k, int n_pos, int hd, float scale) {
    float row[256];
    for (int s = 0; s < n_pos; s++) {
        float acc = 0.0f;
        for (int i0 = 0; i0 < hd; i0 += 256) {
            int len = hd - i0 < 256 ? hd - i0 : 256;
            edgec_f16_row_to_f32(row, k + (size_t)s * hd + i0, len);
            acc += edgec_dot_f32(q + i0, row, len);
        }
        scores[s] = acc * scale;
    }
}

/* out = sum_s p[s] * v_s; v rows of hd f16 values. */
static inline void edgec_attn_values_f16(float *out, const float *p, const uint16_t *v, int n_pos, int hd) {
    float row[256];
    for (int i = 0; i < hd; i++)
        out[i] = 0.0f;
    for (int s = 0; s < n_pos; s++)
        for (int i0 = 0; i0 < hd; i0 += 256) {
            int len = hd - i0 < 256 ? hd - i0 : 256;
            edgec_f16_row_to_f32(row, v + (size_t)s * hd + i0, len);
            edgec_axpy_f32(out + i0, p[s], row, len);
        }
}

#endif
