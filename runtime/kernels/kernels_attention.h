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

/* ---- grouped-query attention: the query heads that share one KV head, together ---------------
 * Each K and V row is widened from f16 once for all n_q heads instead of once per head, scores
 * come out 4 positions at a time with no per-position horizontal sum, and the value sums stay in
 * registers.  Same results as the per-head functions up to float summation order. */

#if !defined(EDGEC_SCALAR) && defined(__AVX512F__)
/* Lanes 4i..4i+3 of the result: for each 128-bit lane i, the sums of that lane's 4 floats of a, b, c, d. */
static inline __m512 edgec_attn_sum4x4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m512 u = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 v = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    return _mm512_add_ps(_mm512_shuffle_ps(u, v, 0x44), _mm512_shuffle_ps(u, v, 0xEE));
}

/* The 4 totals (a, b, c, d summed over all 16 lanes) of edgec_attn_sum4x4's result. */
static inline __m128 edgec_attn_total4(__m512 r) {
    r = _mm512_add_ps(r, _mm512_shuffle_f32x4(r, r, 0x4E));
    r = _mm512_add_ps(r, _mm512_shuffle_f32x4(r, r, 0xB1));
    return _mm512_castps512_ps128(r);
}

/* 16 values of an f16 or f32 row at element i. */
static inline __m512 edgec_attn_load16(const void *row, int f16, int i) {
    return f16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)((const uint16_t *)row + i)))
               : _mm512_loadu_ps((const float *)row + i);
}

#define EDGEC_ATTN_GQA_MAX 4   /* query heads per KV head the register kernels take (4 x 4 partial sums) */

/* scores[g*ld + s] = scale * (q_g . k_s), q_g = q + g*hd, for n_q <= EDGEC_ATTN_GQA_MAX, hd % 16 == 0. */
static inline void edgec_avx512_attn_scores_gqa(float *scores, int ld, const float *q, int n_q, const void *k, int f16,
                                                int n_pos, int hd, float scale) {
    const size_t row = (size_t)hd * (f16 ? 2 : 4);
    const char *kb = (const char *)k;
    int s = 0;
    for (; s + 4 <= n_pos; s += 4) {
        __m512 part[4][EDGEC_ATTN_GQA_MAX];
        for (int p = 0; p < 4; p++)
            for (int g = 0; g < EDGEC_ATTN_GQA_MAX; g++) part[p][g] = _mm512_setzero_ps();
        for (int i = 0; i < hd; i += 16) {
            __m512 kv[4];
            for (int p = 0; p < 4; p++) kv[p] = edgec_attn_load16(kb + (size_t)(s + p) * row, f16, i);
            for (int g = 0; g < EDGEC_ATTN_GQA_MAX; g++) {
                if (g >= n_q) break;
                __m512 qv = _mm512_loadu_ps(q + (size_t)g * hd + i);
                for (int p = 0; p < 4; p++) part[p][g] = _mm512_fmadd_ps(kv[p], qv, part[p][g]);
            }
        }
        for (int g = 0; g < EDGEC_ATTN_GQA_MAX; g++) {
            if (g >= n_q) break;
            __m128 t = edgec_attn_total4(edgec_attn_sum4x4(part[0][g], part[1][g], part[2][g], part[3][g]));
            _mm_storeu_ps(scores + (size_t)g * ld + s, _mm_mul_ps(t, _mm_set1_ps(scale)));
        }
    }
    for (; s < n_pos; s++)
        for (int g = 0; g < n_q; g++) {
            __m512 acc = _mm512_setzero_ps();
            for (int i = 0; i < hd; i += 16)
                acc = _mm512_fmadd_ps(edgec_attn_load16(kb + (size_t)s * row, f16, i), _mm512_loadu_ps(q + (size_t)g * hd + i), acc);
            scores[(size_t)g * ld + s] = _mm512_reduce_add_ps(acc) * scale;
        }
}

/* out_g = sum_s p[g*ld + s] * v_s for n_q heads, hd % 16 == 0, n_q * hd <= 384 (24 accumulators). */
static inline void edgec_avx512_attn_values_gqa(float *out, const float *p, int ld, int n_q, const void *v, int f16,
                                                int n_pos, int hd) {
    const size_t row = (size_t)hd * (f16 ? 2 : 4);
    const char *vb = (const char *)v;
    __m512 acc[24];
    const int nc = hd / 16;
    for (int a = 0; a < 24; a++) acc[a] = _mm512_setzero_ps();
    for (int s = 0; s < n_pos; s++)
        for (int c = 0; c < nc; c++) {
            __m512 vv = edgec_attn_load16(vb + (size_t)s * row, f16, 16 * c);
            for (int g = 0; g < EDGEC_ATTN_GQA_MAX; g++) {
                if (g >= n_q) break;
                acc[g * nc + c] = _mm512_fmadd_ps(vv, _mm512_set1_ps(p[(size_t)g * ld + s]), acc[g * nc + c]);
            }
        }
    for (int g = 0; g < n_q; g++)
        for (int c = 0; c < nc; c++) _mm512_storeu_ps(out + (size_t)g * hd + 16 * c, acc[g * nc + c]);
}
#endif

/* n_q query heads (q + g*hd) against one KV head: scores[g*ld + s] = scale * (q_g . k_s), s < n_pos. */
static inline void edgec_attn_scores_gqa_f16(float *scores, int ld, const float *q, int n_q, const uint16_t *k, int n_pos, int hd, float scale) {
#if !defined(EDGEC_SCALAR) && defined(__AVX512F__)
    if (hd % 16 == 0 && hd <= 256) {
        for (int g = 0; g < n_q; g += EDGEC_ATTN_GQA_MAX) {
            const int c = n_q - g < EDGEC_ATTN_GQA_MAX ? n_q - g : EDGEC_ATTN_GQA_MAX;
            edgec_avx512_attn_scores_gqa(scores + (size_t)g * ld, ld, q + (size_t)g * hd, c, k, 1, n_pos, hd, scale);
        }
        return;
    }
#endif
    for (int g = 0; g < n_q; g++) edgec_attn_scores_f16(scores + (size_t)g * ld, q + (size_t)g * hd, k, n_pos, hd, scale);
}

static inline void edgec_attn_scores_gqa_f32(float *scores, int ld, const float *q, int n_q, const float *k, int n_pos, int hd, float scale) {
#if !defined(EDGEC_SCALAR) && defined(__AVX512F__)
    if (hd % 16 == 0 && hd <= 256) {
        for (int g = 0; g < n_q; g += EDGEC_ATTN_GQA_MAX) {
            const int c = n_q - g < EDGEC_ATTN_GQA_MAX ? n_q - g : EDGEC_ATTN_GQA_MAX;
            edgec_avx512_attn_scores_gqa(scores + (size_t)g * ld, ld, q + (size_t)g * hd, c, k, 0, n_pos, hd, scale);
        }
        return;
    }
#endif
    for (int g = 0; g < n_q; g++) edgec_attn_scores_f32(scores + (size_t)g * ld, q + (size_t)g * hd, k, n_pos, hd, scale);
}

/* out_g (out + g*hd) = sum_s p[g*ld + s] * v_s for the n_q heads. */
static inline void edgec_attn_values_gqa_f16(float *out, const float *p, int ld, int n_q, const uint16_t *v, int n_pos, int hd) {
#if !defined(EDGEC_SCALAR) && defined(__AVX512F__)
    if (hd % 16 == 0 && hd <= 256) {
        const int per = 384 / hd < EDGEC_ATTN_GQA_MAX ? 384 / hd : EDGEC_ATTN_GQA_MAX;   /* heads per pass: 24 accumulators */
        for (int g = 0; g < n_q; g += per) {
            const int c = n_q - g < per ? n_q - g : per;
            edgec_avx512_attn_values_gqa(out + (size_t)g * hd, p + (size_t)g * ld, ld, c, v, 1, n_pos, hd);
        }
        return;
    }
#endif
    for (int g = 0; g < n_q; g++) edgec_attn_values_f16(out + (size_t)g * hd, p + (size_t)g * ld, v, n_pos, hd);
}

static inline void edgec_attn_values_gqa_f32(float *out, const float *p, int ld, int n_q, const float *v, int n_pos, int hd) {
#if !defined(EDGEC_SCALAR) && defined(__AVX512F__)
    if (hd % 16 == 0 && hd <= 256) {
        const int per = 384 / hd < EDGEC_ATTN_GQA_MAX ? 384 / hd : EDGEC_ATTN_GQA_MAX;   /* heads per pass: 24 accumulators */
        for (int g = 0; g < n_q; g += per) {
            const int c = n_q - g < per ? n_q - g : per;
            edgec_avx512_attn_values_gqa(out + (size_t)g * hd, p + (size_t)g * ld, ld, c, v, 0, n_pos, hd);
        }
        return;
    }
#endif
    for (int g = 0; g < n_q; g++) edgec_attn_values_f32(out + (size_t)g * hd, p + (size_t)g * ld, v, n_pos, hd);
}

#endif
