/* kernels/attention.h - attention of the query heads that share one KV head over its slice of the KV cache.
 *
 * The cache is head-major: for each layer and KV head, max_ctx rows of head_dim values, so the
 * keys of one head are contiguous rows.  Rows are f32 or IEEE f16 (uint16_t bits); queries and
 * outputs are f32.
 *
 * Softmax is fused (online, as in flash-decoding): positions go in blocks of EDGEC_ATTN_BLOCK;
 * each block's scores (n_q x block floats, on the stack) update a running max m and running sum
 * l per head, the value sums already made are scaled by exp(m_old - m_new) when the max grows,
 * the block's p = exp(s - m) times its V rows are added while those rows are hot, and the sums
 * are divided by l at the end.  No score row of the full context is ever stored, and each K and
 * V row is read (and widened from f16) once for all the heads of a pass.
 */
#ifndef EDGEC_KERNELS_ATTENTION_H
#define EDGEC_KERNELS_ATTENTION_H

#include <math.h>
#include <stdint.h>

#include "kernels/kernels.h"
#if !defined(EDGEC_SCALAR) && (defined(__AVX512F__) || (defined(__F16C__) && defined(__AVX__)))
#include <immintrin.h>
#endif

#define EDGEC_ATTN_BLOCK 64    /* positions per online-softmax step: 64 scores per head live on the stack */
#define EDGEC_ATTN_GQA_MAX 4   /* query heads per pass over K and V (the score microkernel takes 4 x 4 partial sums) */

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

#if !defined(EDGEC_SCALAR) && defined(__AVX512F__)
/* ---- AVX-512 score microkernel: 4 positions x up to 4 heads, no per-position horizontal sum ---- */

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

#endif

/* ---- online softmax, shared by every path ---------------------------------------------------- */

/* Folds one head's block of n scores into its running max *m and sum *l: sc becomes p = exp(s - m_new).
 * Returns exp(m_old - m_new), the factor the head's value sums so far must be scaled by (1 if the
 * max did not grow, 0 on the first block, where *m starts at -INFINITY). */
EDGEC_ALWAYS_INLINE float edgec_attn_online_block(float *sc, int n, float *m, float *l) {
    const float bm = EDGEC_KERNEL(max_f32)(sc, n);
    float rescale = 1.0f;
    if (bm > *m) {
        rescale = edgec_expf_c(*m - bm);   /* -inf - bm is below EDGEC_EXP_MIN: 0 */
        *l *= rescale;
        *m = bm;
    }
    *l += EDGEC_KERNEL(exp_sum)(sc, n, *m);
    return rescale;
}

#if !defined(EDGEC_SCALAR) && defined(__AVX512F__)
/* ---- AVX-512: scores by the microkernel, value sums in registers ------------------------------ */

/* out_g = out_g * rescale[g] + sum_s p[g*ld + s] * v_s for n_q <= EDGEC_ATTN_GQA_MAX heads, hd % 16 == 0:
 * 64 columns at a time down the block's rows, so 16 accumulators (4 x 16 columns x 4 heads) cover any
 * head count and head size, and each V value is loaded once. */
EDGEC_ALWAYS_INLINE void edgec_avx512_attn_values_block(float *out, const float *p, int ld, const float *rescale, int n_q,
                                                        const void *v, int f16, int n_pos, int hd) {
    const size_t row = (size_t)hd * (f16 ? 2 : 4);
    const char *vb = (const char *)v;
    for (int i = 0; i < hd; i += 64) {
        const int nj = hd - i < 64 ? (hd - i) / 16 : 4;   /* 16-column pieces in this pass */
        __m512 acc[4][EDGEC_ATTN_GQA_MAX];
        for (int j = 0; j < 4; j++)
            for (int g = 0; g < EDGEC_ATTN_GQA_MAX; g++) acc[j][g] = _mm512_setzero_ps();
        for (int s = 0; s < n_pos; s++) {
            __m512 vv[4];
            for (int j = 0; j < 4; j++) vv[j] = j < nj ? edgec_attn_load16(vb + (size_t)s * row, f16, i + 16 * j) : _mm512_setzero_ps();
            for (int g = 0; g < EDGEC_ATTN_GQA_MAX; g++) {
                if (g >= n_q) break;
                const __m512 pg = _mm512_set1_ps(p[(size_t)g * ld + s]);
                for (int j = 0; j < 4; j++)
                    if (j < nj) acc[j][g] = _mm512_fmadd_ps(vv[j], pg, acc[j][g]);
            }
        }
        for (int g = 0; g < n_q; g++) {
            const __m512 r = _mm512_set1_ps(rescale[g]);
            for (int j = 0; j < nj; j++) {
                float *o = out + (size_t)g * hd + i + 16 * j;
                _mm512_storeu_ps(o, _mm512_fmadd_ps(_mm512_loadu_ps(o), r, acc[j][g]));
            }
        }
    }
}

/* edgec_attn_online_block with the running sum kept as 16 lanes (*l_lanes, summed once at the end):
 * no horizontal sum per block. */
EDGEC_ALWAYS_INLINE float edgec_avx512_attn_online_block(float *sc, int n, float *m, __m512 *l_lanes) {
    const float bm = edgec_avx512_max_f32(sc, n);
    float rescale = 1.0f;
    if (bm > *m) {
        rescale = edgec_expf_c(*m - bm);   /* -inf - bm is below EDGEC_EXP_MIN: 0 */
        *l_lanes = _mm512_mul_ps(*l_lanes, _mm512_set1_ps(rescale));
        *m = bm;
    }
    const __m512 mv = _mm512_set1_ps(*m);
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = edgec_vec_part_of(n - i);
        __m512 e = _mm512_maskz_mov_ps(k, edgec_avx512_exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, sc + i), mv)));
        _mm512_mask_storeu_ps(sc + i, k, e);
        *l_lanes = _mm512_add_ps(*l_lanes, e);
    }
    return rescale;
}

/* out_g = softmax_s(scale * q_g . k_s) . v over s < n_pos, q_g = q + g*hd, out_g = out + g*hd, for
 * n_q <= EDGEC_ATTN_GQA_MAX, hd % 16 == 0, hd <= 256.  Per block: scores of all n_q heads by the
 * microkernel, p = exp(s - m), then the block's value sums in registers (as many heads at a time as
 * 24 accumulators hold) folded into the out rows, scaled by the max's growth. */
EDGEC_ALWAYS_INLINE void edgec_avx512_attn_fused_gqa(float *out, const float *q, int n_q, const void *k, const void *v, int f16,
                                                     int n_pos, int hd, float scale) {
    const size_t row = (size_t)hd * (f16 ? 2 : 4);
    const char *kb = (const char *)k, *vb = (const char *)v;
    float sc[EDGEC_ATTN_GQA_MAX][EDGEC_ATTN_BLOCK], m[EDGEC_ATTN_GQA_MAX], rescale[EDGEC_ATTN_GQA_MAX];
    __m512 l[EDGEC_ATTN_GQA_MAX];
    for (int g = 0; g < n_q; g++) {
        m[g] = -INFINITY, l[g] = _mm512_setzero_ps();
        for (int i = 0; i < hd; i += 16) _mm512_storeu_ps(out + (size_t)g * hd + i, _mm512_setzero_ps());
    }
    for (int s0 = 0; s0 < n_pos; s0 += EDGEC_ATTN_BLOCK) {
        const int nb = n_pos - s0 < EDGEC_ATTN_BLOCK ? n_pos - s0 : EDGEC_ATTN_BLOCK;
        edgec_avx512_attn_scores_gqa(&sc[0][0], EDGEC_ATTN_BLOCK, q, n_q, kb + (size_t)s0 * row, f16, nb, hd, scale);
        for (int g = 0; g < n_q; g++) rescale[g] = edgec_avx512_attn_online_block(sc[g], nb, &m[g], &l[g]);
        edgec_avx512_attn_values_block(out, &sc[0][0], EDGEC_ATTN_BLOCK, rescale, n_q, vb + (size_t)s0 * row, f16, nb, hd);
    }
    for (int g = 0; g < n_q; g++) {
        const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(l[g]));
        for (int i = 0; i < hd; i += 16) {
            float *o = out + (size_t)g * hd + i;
            _mm512_storeu_ps(o, _mm512_mul_ps(_mm512_loadu_ps(o), inv));
        }
    }
}
#endif

/* ---- every path: dot and axpy kernels, value sums in the out rows ------------------------------ */

/* hd values i0..i0+len of row s of a cache slice as f32: the row itself (f32) or widened into buf (f16). */
EDGEC_ALWAYS_INLINE const float *edgec_attn_row(const void *rows, int f16, int s, int hd, int i0, int len, float *buf) {
    if (!f16) return (const float *)rows + (size_t)s * hd + i0;
    edgec_f16_row_to_f32(buf, (const uint16_t *)rows + (size_t)s * hd + i0, len);
    return buf;
}

/* As edgec_avx512_attn_fused_gqa for n_q <= EDGEC_ATTN_GQA_MAX and any hd (rows in pieces of 256). */
EDGEC_ALWAYS_INLINE void edgec_attn_fused_gqa_rows(float *out, const float *q, int n_q, const void *k, const void *v, int f16,
                                                   int n_pos, int hd, float scale) {
    float sc[EDGEC_ATTN_GQA_MAX][EDGEC_ATTN_BLOCK], m[EDGEC_ATTN_GQA_MAX], l[EDGEC_ATTN_GQA_MAX], buf[256];
    for (int g = 0; g < n_q; g++) {
        m[g] = -INFINITY, l[g] = 0.0f;
        for (int i = 0; i < hd; i++) out[(size_t)g * hd + i] = 0.0f;
    }
    for (int s0 = 0; s0 < n_pos; s0 += EDGEC_ATTN_BLOCK) {
        const int nb = n_pos - s0 < EDGEC_ATTN_BLOCK ? n_pos - s0 : EDGEC_ATTN_BLOCK;
        for (int s = 0; s < nb; s++) {
            for (int g = 0; g < n_q; g++) sc[g][s] = 0.0f;
            for (int i0 = 0; i0 < hd; i0 += 256) {
                const int len = hd - i0 < 256 ? hd - i0 : 256;
                const float *kr = edgec_attn_row(k, f16, s0 + s, hd, i0, len, buf);
                for (int g = 0; g < n_q; g++) sc[g][s] += edgec_dot_f32(q + (size_t)g * hd + i0, kr, len);
            }
            for (int g = 0; g < n_q; g++) sc[g][s] *= scale;
        }
        for (int g = 0; g < n_q; g++) {
            const float rescale = edgec_attn_online_block(sc[g], nb, &m[g], &l[g]);
            if (rescale != 1.0f)
                for (int i = 0; i < hd; i++) out[(size_t)g * hd + i] *= rescale;
        }
        for (int s = 0; s < nb; s++)
            for (int i0 = 0; i0 < hd; i0 += 256) {
                const int len = hd - i0 < 256 ? hd - i0 : 256;
                const float *vr = edgec_attn_row(v, f16, s0 + s, hd, i0, len, buf);
                for (int g = 0; g < n_q; g++) edgec_axpy_f32(out + (size_t)g * hd + i0, sc[g][s], vr, len);
            }
    }
    for (int g = 0; g < n_q; g++) {
        const float inv = 1.0f / l[g];
        for (int i = 0; i < hd; i++) out[(size_t)g * hd + i] *= inv;
    }
}

/* ---- the entry points -------------------------------------------------------------------------- */

/* Causal attention of n_q query heads that share one KV head: for g < n_q,
 *   out_g = sum_s softmax_s(scale * q_g . k_s) v_s over s < n_pos (n_pos >= 1),
 * q_g = q + g*hd, out_g = out + g*hd, k and v rows of hd values; heads go EDGEC_ATTN_GQA_MAX
 * (AVX-512: as many as 24 registers of value sums hold) per pass over K and V.  Each head's
 * result does not depend on which heads share its call. */
EDGEC_ALWAYS_INLINE void edgec_attn_fused_gqa(float *out, const float *q, int n_q, const void *k, const void *v, int f16,
                                              int n_pos, int hd, float scale) {
#if !defined(EDGEC_SCALAR) && defined(__AVX512F__)
    if (hd % 16 == 0 && hd <= 256) {
        for (int g = 0; g < n_q; g += EDGEC_ATTN_GQA_MAX) {
            const int c = n_q - g < EDGEC_ATTN_GQA_MAX ? n_q - g : EDGEC_ATTN_GQA_MAX;
            edgec_avx512_attn_fused_gqa(out + (size_t)g * hd, q + (size_t)g * hd, c, k, v, f16, n_pos, hd, scale);
        }
        return;
    }
#endif
    for (int g = 0; g < n_q; g += EDGEC_ATTN_GQA_MAX) {
        const int c = n_q - g < EDGEC_ATTN_GQA_MAX ? n_q - g : EDGEC_ATTN_GQA_MAX;
        edgec_attn_fused_gqa_rows(out + (size_t)g * hd, q + (size_t)g * hd, c, k, v, f16, n_pos, hd, scale);
    }
}

/* f16 cache rows (IEEE half bits). */
static inline void edgec_attn_fused_gqa_f16(float *out, const float *q, int n_q, const uint16_t *k, const uint16_t *v,
                                            int n_pos, int hd, float scale) {
    edgec_attn_fused_gqa(out, q, n_q, k, v, 1, n_pos, hd, scale);
}

/* f32 cache rows. */
static inline void edgec_attn_fused_gqa_f32(float *out, const float *q, int n_q, const float *k, const float *v,
                                            int n_pos, int hd, float scale) {
    edgec_attn_fused_gqa(out, q, n_q, k, v, 0, n_pos, hd, scale);
}

#endif
