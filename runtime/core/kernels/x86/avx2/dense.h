/* kernels/x86/avx2/dense.h - AVX2 + FMA + F16C kernels.
 *
 * Same design as kernels/x86/avx512/dense.h at half the width: quantized matmul works on chunks
 * of 2 blocks, 128-bit lane k holding 16 bytes of block k ("lo" = weights 0..15 of each
 * block, "hi" = 16..31), so an integer dot leaves block k's sum in int32 lanes 4k..4k+3
 * and one fmadd scales it by d_w*d_x; no horizontal reduction until a row is done.
 * Activation chunks are unpacked once per call, a slab at a time, into 20 KB of stack.
 * Integer dots use vpmaddubsw (unsigned x signed bytes) + vpmaddwd.  With 16 vector
 * registers the tiles are 2 rows x 1 token and 1 row x 8 tokens.
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

/* ---- quantized matmul ------------------------------------------------------------ */

/* Adds chunk c (blocks 2c.., `count` of them) to an R x T tile's accumulators:
 * acc[i][j] += isum * d_w*d_x (+ m_w*s_x for q4_1).  xc[j] is token j's prepared chunk. */
EDGEC_ALWAYS_INLINE void edgec_avx2_tile_step(int fmt, int R, int T, __m256 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS],
                                              const uint8_t *row, size_t row_bytes,
                                              const edgec_avx2_xchunk *const xc[EDGEC_TILE_TOKENS], int c, int count)
{
    edgec_avx2_wchunk wc[EDGEC_TILE_ROWS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
        if (i < R) wc[i] = edgec_avx2_load_wchunk(fmt, row + i * row_bytes + (size_t)c * EDGEC_AVX2_CHUNK * edgec_block_bytes(fmt), count);
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_TILE_ROWS; i++) {
            if (i >= R || j >= T) continue;
            __m256 dd = _mm256_mul_ps(wc[i].scale, xc[j]->scale);
            acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(edgec_avx2_isum(fmt, &wc[i], xc[j])), dd, acc[i][j]);
            if (fmt == EDGEC_FMT_Q4_1) acc[i][j] = _mm256_fmadd_ps(wc[i].m, xc[j]->ds, acc[i][j]);
        }
}

#define EDGEC_AVX2_SLAB 16 /* activation chunks (32 blocks) prepared per pass over the rows */

/* Chunks [c0, c1) of an R x T tile (rows r.., tokens t..; R <= 4, T <= 8 constants): stores
 * the partial dots into out[(t+j)*ldo + r+i], or adds them to it for a later slab (add). */
EDGEC_ALWAYS_INLINE void edgec_avx2_tile_q(int fmt, int R, int T, float *out, int ldo, const uint8_t *w, size_t row_bytes, int r, int t,
                                           edgec_avx2_xchunk xs[EDGEC_TILE_TOKENS][EDGEC_AVX2_SLAB], int c0, int c1, int nb, int add)
{
    const uint8_t *row = w + (size_t)r * row_bytes;
    const int whole = nb / EDGEC_AVX2_CHUNK < c1 ? nb / EDGEC_AVX2_CHUNK : c1; /* chunks of 2 blocks */
    __m256 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS];
    const edgec_avx2_xchunk *xc[EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[i][j] = _mm256_setzero_ps();
    for (int c = c0; c < whole; c++) {
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) xc[j] = &xs[j][c - c0];
        edgec_avx2_tile_step(fmt, R, T, acc, row, row_bytes, xc, c, EDGEC_AVX2_CHUNK);
    }
    if (whole < c1) { /* an odd number of blocks: the last chunk holds one */
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) xc[j] = &xs[j][whole - c0];
        edgec_avx2_tile_step(fmt, R, T, acc, row, row_bytes, xc, whole, 1);
    }
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (i >= R || j >= T) continue;
            float *o = out + (size_t)(t + j) * ldo + r + i;
            *o = (add ? *o : 0.0f) + edgec_avx2_hsum(acc[i][j]);
        }
}

/* Rows [r0, r1) x tokens [0, n_tok), as in kernels/x86/avx512/dense.h: the activations of a group of
 * 8 tokens (or 1) are unpacked one slab at a time into xs (20 KB of stack) and read by every
 * row tile: 1 row x 8 tokens for a batch, 2 rows x 1 token otherwise. */
EDGEC_ALWAYS_INLINE void edgec_avx2_matmul_q(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                             const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK, n_chunks = (nb + EDGEC_AVX2_CHUNK - 1) / EDGEC_AVX2_CHUNK;
    const size_t row_bytes = (size_t)nb * edgec_block_bytes(fmt);
    edgec_avx2_xchunk xs[EDGEC_TILE_TOKENS][EDGEC_AVX2_SLAB];
    for (int t = 0; t < n_tok;) {
        const int T = n_tok - t >= EDGEC_TILE_TOKENS ? EDGEC_TILE_TOKENS : 1;
        for (int c0 = 0; c0 < n_chunks; c0 += EDGEC_AVX2_SLAB) {
            const int c1 = c0 + EDGEC_AVX2_SLAB < n_chunks ? c0 + EDGEC_AVX2_SLAB : n_chunks;
            for (int j = 0; j < T; j++)
                for (int c = c0; c < c1; c++) {
                    int b = c * EDGEC_AVX2_CHUNK;
                    xs[j][c - c0] = edgec_avx2_load_xchunk(fmt, xq + (size_t)(t + j) * nb + b, nb - b < 2 ? nb - b : 2);
                }
            int r = r0;
            if (T == EDGEC_TILE_TOKENS) {
                for (; r < r1; r++) edgec_avx2_tile_q(fmt, 1, EDGEC_TILE_TOKENS, out, ldo, w, row_bytes, r, t, xs, c0, c1, nb, c0 > 0);
            } else {
                for (; r + 2 <= r1; r += 2) edgec_avx2_tile_q(fmt, 2, 1, out, ldo, w, row_bytes, r, t, xs, c0, c1, nb, c0 > 0);
                if (r < r1) edgec_avx2_tile_q(fmt, 1, 1, out, ldo, w, row_bytes, r, t, xs, c0, c1, nb, c0 > 0);
            }
        }
        t += T;
    }
}

static inline void edgec_avx2_matmul_q8_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx2_matmul_q(EDGEC_FMT_Q8_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_avx2_matmul_q4_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx2_matmul_q(EDGEC_FMT_Q4_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_avx2_matmul_q4_1(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_avx2_matmul_q(EDGEC_FMT_Q4_1, out, ldo, w, r0, r1, xq, n_tok, n); }

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
