/* kernels/x86/avx2/dense.h - q8_0 / q4_0 / q4_1 matmul microkernels and quantize_q8a, AVX2 + FMA + F16C.
 *
 * kernels/x86/avx512/dense.h's design at half the width: chunks of 2 blocks, 128-bit lane k
 * holding 16 bytes of block k ("lo" = weights 0..15 of each block, "hi" = 16..31) for weights
 * and activations alike, so the integer dot (vpmaddubsw unsigned x signed bytes + vpmaddwd)
 * leaves block k's sum in int32 lanes 4k..4k+3 and one fmadd scales it by d_w*d_x; no
 * horizontal reduction until a row is done.  This file holds the chunk loads, the dot and the
 * fold; the tiling is kernels/tiled_matmul.h's: 1 row x 8 tokens and 2 rows x 1 token (16
 * registers), activation chunks prepared once per call, a slab at a time, in 20 KB of stack.
 */
#ifndef EDGEC_KERNELS_AVX2_H
#define EDGEC_KERNELS_AVX2_H

#include <immintrin.h>

#include "kernels/scalar/dense.h"
#include "kernels/x86/avx2/float.h"

#define EDGEC_AVX2_CHUNK 2 /* blocks per chunk: one per 128-bit lane */

/* ---- chunk loading --------------------------------------------------------------- */

/* 16 bytes from p into lane 0 and (count == 2) from p + stride into lane 1, else zero. */
EDGEC_ALWAYS_INLINE __m256i edgec_avx2_load_lanes(const uint8_t *p, int stride, int count)
{
    __m128i hi = count > 1 ? _mm_loadu_si128((const __m128i *)(p + stride)) : _mm_setzero_si128();
    return _mm256_setr_m128i(_mm_loadu_si128((const __m128i *)p), hi);
}

/* Copies float lane 2k into lanes 4k..4k+3: spreads [d0,_,d1,_] over each block's lanes. */
EDGEC_ALWAYS_INLINE __m256 edgec_avx2_spread_even(__m256 v)
{
    return _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2));
}

/* One row's weights for a chunk of blocks. */
typedef struct {
    __m256i lo, hi;  /* q4_x: unsigned nibbles; q8_0: signed qs */
    __m256 scale;    /* d_w of block k in lanes 4k..4k+3 */
    __m256 m;        /* q4_1: m_w of block k in lane 2k+1, zeros elsewhere */
} edgec_avx2_wchunk;

/* One token's activations for a chunk of blocks. */
typedef struct {
    __m256i lo, hi;  /* qs, same lane layout as the weights */
    __m256i corr;    /* q4_0: 8 * (qx pair sums) as int16, see edgec_avx2_isum */
    __m256 scale;    /* d_x of block k in lanes 4k..4k+3 */
    __m256 ds;       /* [d0,s0,d1,s1,0,0,0,0]: s_x meets q4_1's m_w in lane 2k+1 */
} edgec_avx2_xchunk;

/* Loads `count` (1 or 2) blocks of a weight row starting at blk and unpacks them. */
EDGEC_ALWAYS_INLINE edgec_avx2_wchunk edgec_avx2_load_wchunk(int fmt, const uint8_t *blk, int count)
{
    const int bb = edgec_block_bytes(fmt);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    edgec_avx2_wchunk c;
    _mm_prefetch((const char *)blk + EDGEC_PREFETCH_BYTES, _MM_HINT_T1);
    if (fmt == EDGEC_FMT_Q8_0) {
        c.lo = edgec_avx2_load_lanes(blk + EDGEC_Q8_0_QS, bb, count);
        c.hi = edgec_avx2_load_lanes(blk + EDGEC_Q8_0_QS + 16, bb, count);
    } else {
        __m256i q = edgec_avx2_load_lanes(blk + (fmt == EDGEC_FMT_Q4_0 ? EDGEC_Q4_0_QS : EDGEC_Q4_1_QS), bb, count);
        c.lo = _mm256_and_si256(q, low4);                        /* weights 0..15 of each block */
        c.hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);  /* weights 16..31 */
    }
    /* Block headers as fp16: q4_1 (d, m) is one 32-bit word, the others d alone. */
    uint32_t h0 = fmt == EDGEC_FMT_Q4_1 ? edgec_load_u32(blk) : edgec_load_u16(blk);
    uint32_t h1 = count < 2 ? 0 : fmt == EDGEC_FMT_Q4_1 ? edgec_load_u32(blk + bb) : edgec_load_u16(blk + bb);
    __m256 dm = _mm256_zextps128_ps256(_mm_cvtph_ps(_mm_setr_epi32((int)h0, (int)h1, 0, 0))); /* [d0,m0,d1,m1,0..] */
    c.scale = edgec_avx2_spread_even(dm);
    c.m = _mm256_blend_ps(_mm256_setzero_ps(), dm, 0xaa);
    return c;
}

/* Loads `count` activation blocks of one token and precomputes what every row reuses. */
EDGEC_ALWAYS_INLINE edgec_avx2_xchunk edgec_avx2_load_xchunk(int fmt, const edgec_block_q8a *x, int count)
{
    edgec_avx2_xchunk c;
    c.lo = edgec_avx2_load_lanes((const uint8_t *)x->qs, (int)sizeof *x, count);
    c.hi = edgec_avx2_load_lanes((const uint8_t *)x->qs + 16, (int)sizeof *x, count);
    __m128i ds1 = count > 1 ? _mm_loadl_epi64((const __m128i *)&x[1].d) : _mm_setzero_si128();
    c.ds = _mm256_zextps128_ps256(_mm_castsi128_ps(_mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)&x[0].d), ds1)));
    c.scale = edgec_avx2_spread_even(c.ds);
    c.corr = _mm256_setzero_si256();
    if (fmt == EDGEC_FMT_Q4_0) { /* sum((nib-8)*qx) = sum(nib*qx) - 8*sum(qx), taken per int16 pair */
        __m256i c8 = _mm256_set1_epi8(8);
        c.corr = _mm256_add_epi16(_mm256_maddubs_epi16(c8, c.lo), _mm256_maddubs_epi16(c8, c.hi));
    }
    return c;
}

/* Integer dot of a weight chunk with an activation chunk: lanes 4k..4k+3 sum to block k's
 * sum(w*qx) (q4_0: (nib-8)*qx, q4_1: nib*qx, q8_0: qw*qx), exact. */
EDGEC_ALWAYS_INLINE __m256i edgec_avx2_isum(int fmt, const edgec_avx2_wchunk *w, const edgec_avx2_xchunk *x)
{
    const __m256i ones = _mm256_set1_epi16(1);
    if (fmt == EDGEC_FMT_Q8_0) {
        /* maddubs needs an unsigned side: |w| times x with w's sign moved onto x
         * (|w| <= 128, |x| <= 127, so a pair sum of 32512 cannot saturate int16). */
        __m256i plo = _mm256_maddubs_epi16(_mm256_abs_epi8(w->lo), _mm256_sign_epi8(x->lo, w->lo));
        __m256i phi = _mm256_maddubs_epi16(_mm256_abs_epi8(w->hi), _mm256_sign_epi8(x->hi, w->hi));
        return _mm256_add_epi32(_mm256_madd_epi16(plo, ones), _mm256_madd_epi16(phi, ones));
    }
    /* nibble pairs: |15*127*2| per maddubs lane, so two of them still fit int16 */
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(w->lo, x->lo), _mm256_maddubs_epi16(w->hi, x->hi));
    if (fmt == EDGEC_FMT_Q4_0) p = _mm256_sub_epi16(p, x->corr);
    return _mm256_madd_epi16(p, ones);
}

/* ---- quantized matmul: the fold and the tiling (kernels/tiled_matmul.h) ------------- */

/* acc + a row's chunk times a token's: isum * d_w*d_x (+ m_w*s_x for q4_1), per block's lanes. */
EDGEC_ALWAYS_INLINE __m256 edgec_avx2_fold(int fmt, __m256 acc, const edgec_avx2_wchunk *w, const edgec_avx2_xchunk *x)
{
    __m256 dd = _mm256_mul_ps(w->scale, x->scale);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(edgec_avx2_isum(fmt, w, x)), dd, acc);
    if (fmt == EDGEC_FMT_Q4_1) acc = _mm256_fmadd_ps(w->m, x->ds, acc);
    return acc;
}

#define EDGEC_AVX2_SLAB 16 /* activation chunks (32 blocks) prepared per pass over the rows */

/* Tiles of 1 row x 8 tokens (batch) and 2 rows x 1 token: 16 ymm registers. */
#define EDGEC_TM_NAME(name) edgec_avx2_##name
#define EDGEC_TM_WCHUNK edgec_avx2_wchunk
#define EDGEC_TM_XPREP edgec_avx2_xchunk
#define EDGEC_TM_SLAB(T) EDGEC_AVX2_SLAB
#define EDGEC_TM_SLAB_SLOTS (EDGEC_TILE_TOKENS * EDGEC_AVX2_SLAB)
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_TILE_TOKENS
#define EDGEC_TM_BATCH_ROWS(fmt) 1
#define EDGEC_TM_MATVEC_ROWS(fmt) 2
#define EDGEC_TM_BLOCK_BYTES(fmt) edgec_block_bytes(fmt)
#define EDGEC_TM_CHUNK_BLOCKS(fmt) EDGEC_AVX2_CHUNK
#define EDGEC_TM_ROWS_FIRST 1
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_avx2_load_wchunk(fmt, blk, count)
#define EDGEC_TM_PREPARE(fmt, xp, x, count) (*(xp) = edgec_avx2_load_xchunk(fmt, x, count))
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_avx2_fold(fmt, acc, w, xp)
#include "kernels/tiled_matmul.h"

static inline void edgec_avx2_matmul_q8_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx2_matmul(EDGEC_FMT_Q8_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_avx2_matmul_q4_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx2_matmul(EDGEC_FMT_Q4_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_avx2_matmul_q4_1(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx2_matmul(EDGEC_FMT_Q4_1, out, ldo, w, r0, r1, xq, n_tok, n); }

/* ---- activation quantization ------------------------------------------------------ */

/* Rounds half away from zero, exactly: trunc(v) +- 1 where |v - trunc(v)| >= 0.5. */
EDGEC_ALWAYS_INLINE __m256i edgec_avx2_round_away(__m256 v)
{
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 up = _mm256_cmp_ps(_mm256_andnot_ps(sign_bit, _mm256_sub_ps(v, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 one = _mm256_or_ps(_mm256_and_ps(v, sign_bit), _mm256_set1_ps(1.0f));
    return _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(up, one)));
}

/* Same float operations as edgec_scalar_quantize_q8a, so the same bytes. */
static inline void edgec_avx2_quantize_q8a(const float *x, edgec_block_q8a *y, int n)
{
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    for (int b = 0; b < n / EDGEC_QK; b++) {
        __m256 v[4];
        __m256 amax8 = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + b * EDGEC_QK + 8 * k);
            amax8 = _mm256_max_ps(amax8, _mm256_andnot_ps(sign_bit, v[k]));
        }
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        __m256i q[4];
        for (int k = 0; k < 4; k++) q[k] = edgec_avx2_round_away(_mm256_mul_ps(v[k], _mm256_set1_ps(id)));
        /* packs interleave 128-bit lanes; the permute restores element order */
        __m256i q8 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        q8 = _mm256_permutevar8x32_epi32(q8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)y[b].qs, q8);
        __m256i s8 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s8), _mm256_extracti128_si256(s8, 1));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
        y[b].d = d;
        y[b].s = d * (float)_mm_cvtsi128_si32(s4);
    }
}

#endif
