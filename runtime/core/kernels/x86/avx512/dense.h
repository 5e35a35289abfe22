/* kernels/x86/avx512/dense.h - q8_0 / q4_0 / q4_1 matmul microkernels and quantize_q8a, AVX-512 F + BW;
 * VNNI vpdpbusd when __AVX512VNNI__ is defined.
 *
 * Chunks of 4 blocks: 128-bit lane k of a vector holds 16 bytes of block k, "lo" the first 16
 * weights of each block and "hi" the last 16, for weights and activations alike.  An integer dot
 * of a row chunk with a token chunk then leaves block k's sum in int32 lanes 4k..4k+3, which one
 * fmadd scales by d_w*d_x with no horizontal reduction until the row is done.  This file holds
 * the chunk loads, the dot and the fold; the tiling is kernels/tiled_matmul.h's: 2 rows x 8
 * tokens (each weight chunk unpacked once per 8 tokens) and 4 rows x 1 token, activation chunks
 * prepared once per call, a slab of 32 blocks at a time, in 20 KB of stack.
 * Uses only AVX-512F/BW (+AVX2 for 128/256-bit loads), never FMA3 or F16C directly.
 */
#ifndef EDGEC_KERNELS_AVX512_H
#define EDGEC_KERNELS_AVX512_H

#include <immintrin.h>

#include "kernels/scalar/dense.h"
#include "kernels/x86/avx512/float.h"

#define EDGEC_AVX512_CHUNK 4 /* blocks per chunk: one per 128-bit lane */

/* ---- chunk loading --------------------------------------------------------------- */

/* 16 bytes from p + k*stride into 128-bit lane k for k < count (1..4); other lanes zero. */
EDGEC_ALWAYS_INLINE __m512i edgec_avx512_load_lanes(const uint8_t *p, int stride, int count)
{
    __m512i v = _mm512_zextsi256_si512(_mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)p)));
    if (count > 1) v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + stride)), 1);
    if (count > 2) v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 2 * stride)), 2);
    if (count > 3) v = _mm512_inserti32x4(v, _mm_loadu_si128((const __m128i *)(p + 3 * stride)), 3);
    return v;
}

/* Lane pattern that copies float lane 2k into lanes 4k..4k+3: spreads [d0,_,d1,_,..] per block. */
EDGEC_ALWAYS_INLINE __m512 edgec_avx512_spread_even(__m512 v)
{
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6), v);
}

/* One row's weights for a chunk of blocks. */
typedef struct {
    __m512i lo, hi;  /* q4_x: unsigned nibbles; q8_0: qs (VNNI: biased by +128, see below) */
    __m512 scale;    /* d_w of block k in lanes 4k..4k+3 */
    __m512 m;        /* q4_1: m_w of block k in lane 2k+1, zeros elsewhere */
} edgec_avx512_wchunk;

/* One token's activations for a chunk of blocks. */
typedef struct {
    __m512i lo, hi;  /* qs, same lane layout as the weights */
    __m512i corr;    /* q4_0/q8_0: per-block integer correction (see edgec_avx512_isum) */
    __m512 scale;    /* d_x of block k in lanes 4k..4k+3 */
    __m512 ds;       /* [d0,s0,d1,s1,d2,s2,d3,s3,0..]: s_x meets q4_1's m_w in lane 2k+1 */
} edgec_avx512_xchunk;

/* A weight block's fp16 header: (d, m) for q4_1, d for the others. */
EDGEC_ALWAYS_INLINE uint32_t edgec_avx512_header(int fmt, const uint8_t *blk)
{
    return fmt == EDGEC_FMT_Q4_1 ? edgec_load_u32(blk) : edgec_load_u16(blk);
}

/* Loads `count` blocks of a weight row starting at blk and unpacks them into registers. */
EDGEC_ALWAYS_INLINE edgec_avx512_wchunk edgec_avx512_load_wchunk(int fmt, const uint8_t *blk, int count)
{
    const int bb = edgec_block_bytes(fmt);
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    edgec_avx512_wchunk c;
    _mm_prefetch((const char *)blk + EDGEC_PREFETCH_BYTES, _MM_HINT_T1);
    if (fmt == EDGEC_FMT_Q8_0) {
        c.lo = edgec_avx512_load_lanes(blk + EDGEC_Q8_0_QS, bb, count);
        c.hi = edgec_avx512_load_lanes(blk + EDGEC_Q8_0_QS + 16, bb, count);
#if defined(__AVX512VNNI__)
        /* vpdpbusd multiplies unsigned by signed bytes: store w+128 (xor 0x80) as the unsigned
         * side; the extra 128*sum(qx) is removed by the activation chunk's corr. */
        c.lo = _mm512_xor_si512(c.lo, _mm512_set1_epi8((char)0x80));
        c.hi = _mm512_xor_si512(c.hi, _mm512_set1_epi8((char)0x80));
#endif
    } else {
        __m512i q = edgec_avx512_load_lanes(blk + (fmt == EDGEC_FMT_Q4_0 ? EDGEC_Q4_0_QS : EDGEC_Q4_1_QS), bb, count);
        c.lo = _mm512_and_si512(q, low4);                        /* weights 0..15 of each block */
        c.hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);  /* weights 16..31 */
    }
    /* Block headers as fp16 pairs: q4_1 (d, m) is one 32-bit word, the others d alone.
     * (Inserts, not a stack array: a short count must not cost a store-forwarding stall.) */
    __m128i h = _mm_cvtsi32_si128((int)edgec_avx512_header(fmt, blk));
    if (count > 1) h = _mm_insert_epi32(h, (int)edgec_avx512_header(fmt, blk + bb), 1);
    if (count > 2) h = _mm_insert_epi32(h, (int)edgec_avx512_header(fmt, blk + 2 * bb), 2);
    if (count > 3) h = _mm_insert_epi32(h, (int)edgec_avx512_header(fmt, blk + 3 * bb), 3);
    __m512 dm = _mm512_cvtph_ps(_mm256_zextsi128_si256(h)); /* [d0,m0,d1,m1,d2,m2,d3,m3, 0...] */
    c.scale = edgec_avx512_spread_even(dm);
    c.m = _mm512_maskz_mov_ps(0xaaaa, dm);
    return c;
}

/* Loads `count` activation blocks of one token and precomputes what every row reuses. */
EDGEC_ALWAYS_INLINE edgec_avx512_xchunk edgec_avx512_load_xchunk(int fmt, const edgec_block_q8a *x, int count)
{
    edgec_avx512_xchunk c;
    c.lo = edgec_avx512_load_lanes((const uint8_t *)x->qs, (int)sizeof *x, count);
    c.hi = edgec_avx512_load_lanes((const uint8_t *)x->qs + 16, (int)sizeof *x, count);
    __m128i ds01 = _mm_loadl_epi64((const __m128i *)&x[0].d), ds23 = _mm_setzero_si128();
    if (count > 1) ds01 = _mm_unpacklo_epi64(ds01, _mm_loadl_epi64((const __m128i *)&x[1].d));
    if (count > 2) ds23 = _mm_loadl_epi64((const __m128i *)&x[2].d);
    if (count > 3) ds23 = _mm_unpacklo_epi64(ds23, _mm_loadl_epi64((const __m128i *)&x[3].d));
    __m256i ds8 = _mm256_setr_m128i(ds01, ds23);
    c.ds = _mm512_castsi512_ps(_mm512_zextsi256_si512(ds8));
    c.scale = edgec_avx512_spread_even(c.ds);
    c.corr = _mm512_setzero_si512();
#if defined(__AVX512VNNI__)
    /* q4_0: sum((nib-8)*qx) = sum(nib*qx) - 8*sum(qx); q8_0: sum((w+128)*qx) - 128*sum(qx).
     * corr = -c*sum(qx) per block, exact in int32, seeds the dot's accumulator. */
    if (fmt != EDGEC_FMT_Q4_1) {
        __m512i c8 = _mm512_set1_epi8(fmt == EDGEC_FMT_Q4_0 ? 8 : (char)0x80);
        __m512i sum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), c8, c.lo), c8, c.hi);
        c.corr = _mm512_sub_epi32(_mm512_setzero_si512(), sum);
    }
#else
    /* q4_0 without VNNI: 8*(qx pair sums) as int16, subtracted from the maddubs sums. */
    if (fmt == EDGEC_FMT_Q4_0) {
        __m512i c8 = _mm512_set1_epi8(8);
        c.corr = _mm512_add_epi16(_mm512_maddubs_epi16(c8, c.lo), _mm512_maddubs_epi16(c8, c.hi));
    }
#endif
    return c;
}

/* Integer dot of a weight chunk with an activation chunk: lanes 4k..4k+3 sum to block k's
 * sum(w*qx) (q4_0: (nib-8)*qx, q4_1: nib*qx, q8_0: qw*qx), exact. */
EDGEC_ALWAYS_INLINE __m512i edgec_avx512_isum(int fmt, const edgec_avx512_wchunk *w, const edgec_avx512_xchunk *x)
{
#if defined(__AVX512VNNI__)
    (void)fmt;
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(x->corr, w->lo, x->lo), w->hi, x->hi);
#else
    const __m512i ones = _mm512_set1_epi16(1);
    if (fmt == EDGEC_FMT_Q8_0) {
        /* maddubs needs an unsigned side: |w| times x with w's sign moved onto x
         * (|w| <= 128, |x| <= 127, so a pair sum of 32512 cannot saturate int16). */
        __m512i zero = _mm512_setzero_si512();
        __m512i xlo = _mm512_mask_sub_epi8(x->lo, _mm512_movepi8_mask(w->lo), zero, x->lo);
        __m512i xhi = _mm512_mask_sub_epi8(x->hi, _mm512_movepi8_mask(w->hi), zero, x->hi);
        __m512i plo = _mm512_maddubs_epi16(_mm512_abs_epi8(w->lo), xlo);
        __m512i phi = _mm512_maddubs_epi16(_mm512_abs_epi8(w->hi), xhi);
        return _mm512_add_epi32(_mm512_madd_epi16(plo, ones), _mm512_madd_epi16(phi, ones));
    }
    /* nibble pairs: |15*127*2| per maddubs lane, four of them fit int16 easily */
    __m512i p = _mm512_add_epi16(_mm512_maddubs_epi16(w->lo, x->lo), _mm512_maddubs_epi16(w->hi, x->hi));
    if (fmt == EDGEC_FMT_Q4_0) p = _mm512_sub_epi16(p, x->corr);
    return _mm512_madd_epi16(p, ones);
#endif
}

/* ---- quantized matmul: the fold and the tiling (kernels/tiled_matmul.h) ------------- */

/* acc + a row's chunk times a token's: isum * d_w*d_x (+ m_w*s_x for q4_1), per block's lanes. */
EDGEC_ALWAYS_INLINE __m512 edgec_avx512_fold(int fmt, __m512 acc, const edgec_avx512_wchunk *w, const edgec_avx512_xchunk *x)
{
    __m512 dd = _mm512_mul_ps(w->scale, x->scale);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(edgec_avx512_isum(fmt, w, x)), dd, acc);
    if (fmt == EDGEC_FMT_Q4_1) acc = _mm512_fmadd_ps(w->m, x->ds, acc);
    return acc;
}

#define EDGEC_AVX512_SLAB 8 /* activation chunks (32 blocks) prepared per pass over the rows */

/* Tiles of 2 rows x 8 tokens for a batch (each weight chunk unpacked once per 8 tokens) and
 * 4 rows x 1 token. */
#define EDGEC_TM_NAME(name) edgec_avx512_##name
#define EDGEC_TM_WCHUNK edgec_avx512_wchunk
#define EDGEC_TM_XPREP edgec_avx512_xchunk
#define EDGEC_TM_SLAB(T) EDGEC_AVX512_SLAB
#define EDGEC_TM_SLAB_SLOTS (EDGEC_TILE_TOKENS * EDGEC_AVX512_SLAB)
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_TILE_TOKENS
#define EDGEC_TM_BATCH_ROWS(fmt) 2
#define EDGEC_TM_MATVEC_ROWS(fmt) 4
#define EDGEC_TM_BLOCK_BYTES(fmt) edgec_block_bytes(fmt)
#define EDGEC_TM_CHUNK_BLOCKS(fmt) EDGEC_AVX512_CHUNK
#define EDGEC_TM_ROWS_FIRST 1
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_avx512_load_wchunk(fmt, blk, count)
#define EDGEC_TM_PREPARE(fmt, xp, x, count) (*(xp) = edgec_avx512_load_xchunk(fmt, x, count))
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_avx512_fold(fmt, acc, w, xp)
#include "kernels/tiled_matmul.h"

static inline void edgec_avx512_matmul_q8_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx512_matmul(EDGEC_FMT_Q8_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_avx512_matmul_q4_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx512_matmul(EDGEC_FMT_Q4_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_avx512_matmul_q4_1(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx512_matmul(EDGEC_FMT_Q4_1, out, ldo, w, r0, r1, xq, n_tok, n); }

/* ---- activation quantization ------------------------------------------------------ */

/* Rounds half away from zero, exactly: trunc(v) +- 1 where |v - trunc(v)| >= 0.5. */
EDGEC_ALWAYS_INLINE __m512i edgec_avx512_round_away(__m512 v)
{
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(v, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    __m512i sign = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u));
    __m512 one = _mm512_castsi512_ps(_mm512_or_si512(sign, _mm512_castps_si512(_mm512_set1_ps(1.0f))));
    return _mm512_cvtps_epi32(_mm512_mask_add_ps(t, up, t, one));
}

/* Same float operations as edgec_scalar_quantize_q8a, so the same bytes. */
static inline void edgec_avx512_quantize_q8a(const float *x, edgec_block_q8a *y, int n)
{
    for (int b = 0; b < n / EDGEC_QK; b++) {
        __m512 x0 = _mm512_loadu_ps(x + b * EDGEC_QK), x1 = _mm512_loadu_ps(x + b * EDGEC_QK + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        __m512i q0 = edgec_avx512_round_away(_mm512_mul_ps(x0, _mm512_set1_ps(id)));
        __m512i q1 = edgec_avx512_round_away(_mm512_mul_ps(x1, _mm512_set1_ps(id)));
        _mm_storeu_si128((__m128i *)y[b].qs, _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(y[b].qs + 16), _mm512_cvtepi32_epi8(q1));
        y[b].d = d;
        y[b].s = d * (float)_mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
}

#endif
