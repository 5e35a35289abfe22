/* kernels/x86/avx512/dense.h - AVX-512 (F + BW) kernels; VNNI vpdpbusd when __AVX512VNNI__ is defined.
 *
 * Quantized matmul works on chunks of 4 blocks: 128-bit lane k of a vector holds 16
 * bytes of block k, "lo" the first 16 weights of each block and "hi" the last 16, for
 * weights and activations alike.  An integer dot of a row chunk with a token chunk then
 * leaves block k's sum in int32 lanes 4k..4k+3, which one fmadd scales by d_w*d_x with
 * no horizontal reduction until the row is done.  The activation chunks are unpacked
 * once per call (a slab of 32 blocks at a time, into 20 KB of stack) and rows x tokens
 * are tiled, so every unpacked weight chunk serves all the tile's tokens from registers.
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

/* ---- quantized matmul ------------------------------------------------------------ */

/* Adds chunk c (blocks 4c.., `count` of them) to an R x T tile's accumulators:
 * acc[i][j] += isum * d_w*d_x (+ m_w*s_x for q4_1).  xc[j] is token j's prepared chunk. */
EDGEC_ALWAYS_INLINE void edgec_avx512_tile_step(int fmt, int R, int T, __m512 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS],
                                                const uint8_t *row, size_t row_bytes,
                                                const edgec_avx512_xchunk *const xc[EDGEC_TILE_TOKENS], int c, int count)
{
    edgec_avx512_wchunk wc[EDGEC_TILE_ROWS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
        if (i < R) wc[i] = edgec_avx512_load_wchunk(fmt, row + i * row_bytes + (size_t)c * EDGEC_AVX512_CHUNK * edgec_block_bytes(fmt), count);
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TILE_ROWS; i++) {
            if (i >= R || j >= T) continue;
            __m512 dd = _mm512_mul_ps(wc[i].scale, xc[j]->scale);
            acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(edgec_avx512_isum(fmt, &wc[i], xc[j])), dd, acc[i][j]);
            if (fmt == EDGEC_FMT_Q4_1) acc[i][j] = _mm512_fmadd_ps(wc[i].m, xc[j]->ds, acc[i][j]);
        }
}

#define EDGEC_AVX512_SLAB 8 /* activation chunks (32 blocks) prepared per pass over the rows */

/* Chunks [c0, c1) of an R x T tile (rows r.., tokens t..; R <= 4, T <= 8 constants): stores
 * the partial dots into out[(t+j)*ldo + r+i], or adds them to it for a later slab (add). */
EDGEC_ALWAYS_INLINE void edgec_avx512_tile_q(int fmt, int R, int T, float *out, int ldo, const uint8_t *w, size_t row_bytes, int r, int t,
                                             edgec_avx512_xchunk xs[EDGEC_TILE_TOKENS][EDGEC_AVX512_SLAB], int c0, int c1, int nb, int add)
{
    const uint8_t *row = w + (size_t)r * row_bytes;
    const int whole = nb / EDGEC_AVX512_CHUNK < c1 ? nb / EDGEC_AVX512_CHUNK : c1; /* chunks of 4 blocks */
    __m512 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS];
    const edgec_avx512_xchunk *xc[EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[i][j] = _mm512_setzero_ps();
    for (int c = c0; c < whole; c++) {
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) xc[j] = &xs[j][c - c0];
        edgec_avx512_tile_step(fmt, R, T, acc, row, row_bytes, xc, c, EDGEC_AVX512_CHUNK);
    }
    if (whole < c1) { /* the rows' last chunk holds fewer than 4 blocks */
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) xc[j] = &xs[j][whole - c0];
        edgec_avx512_tile_step(fmt, R, T, acc, row, row_bytes, xc, whole, nb - whole * EDGEC_AVX512_CHUNK);
    }
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (i >= R || j >= T) continue;
            float *o = out + (size_t)(t + j) * ldo + r + i;
            *o = (add ? *o : 0.0f) + _mm512_reduce_add_ps(acc[i][j]);
        }
}

/* Rows [r0, r1) x tokens [0, n_tok).  Tokens go in groups of 8 (a batch) or 1.  For each
 * group the activations are unpacked one slab (32 blocks) at a time into xs, once, and every
 * row tile then reads them from L1: 2 rows x 8 tokens for a batch (each weight chunk is
 * unpacked once per 8 tokens), 4 rows x 1 token otherwise.  xs takes 20 KB of stack. */
EDGEC_ALWAYS_INLINE void edgec_avx512_matmul_q(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                               const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK, n_chunks = (nb + EDGEC_AVX512_CHUNK - 1) / EDGEC_AVX512_CHUNK;
    const size_t row_bytes = (size_t)nb * edgec_block_bytes(fmt);
    edgec_avx512_xchunk xs[EDGEC_TILE_TOKENS][EDGEC_AVX512_SLAB];
    for (int t = 0; t < n_tok;) {
        const int T = n_tok - t >= EDGEC_TILE_TOKENS ? EDGEC_TILE_TOKENS : 1;
        for (int c0 = 0; c0 < n_chunks; c0 += EDGEC_AVX512_SLAB) {
            const int c1 = c0 + EDGEC_AVX512_SLAB < n_chunks ? c0 + EDGEC_AVX512_SLAB : n_chunks;
            for (int j = 0; j < T; j++)
                for (int c = c0; c < c1; c++) {
                    int b = c * EDGEC_AVX512_CHUNK;
                    xs[j][c - c0] = edgec_avx512_load_xchunk(fmt, xq + (size_t)(t + j) * nb + b, nb - b < 4 ? nb - b : 4);
                }
            int r = r0;
            if (T == EDGEC_TILE_TOKENS) {
                for (; r + 2 <= r1; r += 2) edgec_avx512_tile_q(fmt, 2, EDGEC_TILE_TOKENS, out, ldo, w, row_bytes, r, t, xs, c0, c1, nb, c0 > 0);
                if (r < r1) edgec_avx512_tile_q(fmt, 1, EDGEC_TILE_TOKENS, out, ldo, w, row_bytes, r, t, xs, c0, c1, nb, c0 > 0);
            } else {
                for (; r + 4 <= r1; r += 4) edgec_avx512_tile_q(fmt, 4, 1, out, ldo, w, row_bytes, r, t, xs, c0, c1, nb, c0 > 0);
                for (; r < r1; r++) edgec_avx512_tile_q(fmt, 1, 1, out, ldo, w, row_bytes, r, t, xs, c0, c1, nb, c0 > 0);
            }
        }
        t += T;
    }
}

static inline void edgec_avx512_matmul_q8_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx512_matmul_q(EDGEC_FMT_Q8_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_avx512_matmul_q4_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx512_matmul_q(EDGEC_FMT_Q4_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_avx512_matmul_q4_1(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx512_matmul_q(EDGEC_FMT_Q4_1, out, ldo, w, r0, r1, xq, n_tok, n); }

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
