/* kernels/x86/avx2/ternary.h - tq2 / tq2_0 / tq1_0 matmul microkernels, AVX2 + FMA + F16C.  Included by
 * kernels/ternary.h; see there for the formats and the API.
 *
 * Same design as kernels/x86/avx512/ternary.h at half the width, with vpmaddubsw (unsigned codes x
 * signed qx) + vpmaddwd for the integer dots:
 *   tq2:   groups of 2 blocks (128 weights): 128-bit lane k holds block k's 16 qs bytes; code
 *          vector s = (qs >> 2s) & 3 meets half s&1 of activation block 2k + (s>>1).
 *   tq2_0 / tq1_0: groups of 1 block (256 weights): code vector a holds activation block a's 32
 *          codes in order ((qs[32(a>>2)..] >> 2(a&3)) & 3, or decoded base-3 digits), so it meets
 *          the activation block's qs as they are.
 * Activation groups (byte vectors, -sum(qx) per block to seed the exact integer sums, d_x per
 * lane) are prepared once per call, a slab at a time, on the stack.  The tiling is
 * kernels/tiled_matmul.h's, instantiated once per prepared type: 1 row x 8 tokens, 2 rows x 1 token.
 */
#ifndef EDGEC_KERNELS_TERNARY_AVX2_H
#define EDGEC_KERNELS_TERNARY_AVX2_H

#include <immintrin.h>

#include "kernels/x86/avx2/dense.h"
#include "kernels/scalar/dense.h"

#define EDGEC_T256_XS 32 /* activation groups prepared per slab, all tokens of a tile together */

/* acc + per-dword sums of c*x (c unsigned codes 0..3, x signed bytes; int16 pairs <= 762). */
EDGEC_ALWAYS_INLINE __m256i edgec_t256_dot(__m256i acc, __m256i c, __m256i x)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(c, x), _mm256_set1_epi16(1)));
}

/* acc + per-dword sums of c0*x0 + c1*x1 (|int16 sums| <= 1524). */
EDGEC_ALWAYS_INLINE __m256i edgec_t256_dot2(__m256i acc, __m256i c0, __m256i x0, __m256i c1, __m256i x1)
{
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(c0, x0), _mm256_maddubs_epi16(c1, x1));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* -(sum of each dword's 4 signed bytes). */
EDGEC_ALWAYS_INLINE __m256i edgec_t256_neg_dword_sums(__m256i x)
{
    __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), x), _mm256_set1_epi16(1));
    return _mm256_sub_epi32(_mm256_setzero_si256(), s);
}

/* ---- activation groups -------------------------------------------------------------- */

/* One token's activations for a group of 2 tq2 blocks (activation blocks 2k, 2k+1 meet block k). */
typedef struct {
    __m256i x[4];    /* x[s] lane k: qs[16(s&1)..+15] of activation block 2k + (s>>1) */
    __m256i corr[2]; /* -sum(qx) of activation block 2k (corr[0]) / 2k+1 (corr[1]) over lanes 4k..4k+3 */
    __m256 sc[2];    /* d_x of the same blocks in lanes 4k..4k+3 */
} edgec_t256_xtq2;

/* One token's activations for a 256-weight block: activation block a as it is. */
typedef struct {
    __m256i x[8], corr[8];
    __m256 sc[8];
} edgec_t256_x256;

/* Prepares the activation blocks x[0 .. 2*count) (count = tq2 blocks in the group, 1 or 2). */
EDGEC_ALWAYS_INLINE void edgec_t256_prep_tq2(edgec_t256_xtq2 *p, const edgec_block_q8a *x, int count)
{
    const uint8_t *q = (const uint8_t *)x->qs;
    const int stride = 2 * (int)sizeof *x;
    for (int s = 0; s < 4; s++) p->x[s] = edgec_avx2_load_lanes(q + (s >> 1) * (int)sizeof *x + 16 * (s & 1), stride, count);
    p->corr[0] = _mm256_add_epi32(edgec_t256_neg_dword_sums(p->x[0]), edgec_t256_neg_dword_sums(p->x[1]));
    p->corr[1] = _mm256_add_epi32(edgec_t256_neg_dword_sums(p->x[2]), edgec_t256_neg_dword_sums(p->x[3]));
    float d1e = count > 1 ? x[2].d : 0.0f, d1o = count > 1 ? x[3].d : 0.0f;
    p->sc[0] = _mm256_setr_ps(x[0].d, x[0].d, x[0].d, x[0].d, d1e, d1e, d1e, d1e);
    p->sc[1] = _mm256_setr_ps(x[1].d, x[1].d, x[1].d, x[1].d, d1o, d1o, d1o, d1o);
}

/* Prepares the 8 activation blocks x[0..8) that meet one 256-weight block. */
EDGEC_ALWAYS_INLINE void edgec_t256_prep_256(edgec_t256_x256 *p, const edgec_block_q8a *x)
{
    for (int a = 0; a < 8; a++) {
        p->x[a] = _mm256_loadu_si256((const __m256i *)x[a].qs);
        p->corr[a] = edgec_t256_neg_dword_sums(p->x[a]);
        p->sc[a] = _mm256_set1_ps(x[a].d);
    }
}

/* ---- weight groups ------------------------------------------------------------------- */

/* One row's codes for a group of 2 tq2 blocks: c[s] = (qs >> 2s) & 3, block k's in lane k. */
typedef struct {
    __m256i c[4];
    __m256 dw; /* d_w of block k in lanes 4k..4k+3 */
} edgec_t256_wtq2;

/* One row's codes for a 256-weight block: c[a] meets activation block a. */
typedef struct {
    __m256i c[8];
    __m256 dw; /* d_w in every lane */
} edgec_t256_w256;

/* The code vectors of `count` (1 or 2) tq2 blocks at blk. */
EDGEC_ALWAYS_INLINE edgec_t256_wtq2 edgec_t256_load_tq2(const uint8_t *blk, int count)
{
    edgec_t256_wtq2 w;
    const __m256i qs = edgec_avx2_load_lanes(blk + EDGEC_TQ2_QS, EDGEC_TQ2_BYTES, count);
    const short h0 = (short)edgec_load_u16(blk), h1 = count > 1 ? (short)edgec_load_u16(blk + EDGEC_TQ2_BYTES) : 0;
    w.dw = _mm256_cvtph_ps(_mm_setr_epi16(h0, h0, h0, h0, h1, h1, h1, h1));
    const __m256i m3 = _mm256_set1_epi8(3);
    w.c[0] = _mm256_and_si256(qs, m3);
    w.c[1] = _mm256_and_si256(_mm256_srli_epi16(qs, 2), m3);
    w.c[2] = _mm256_and_si256(_mm256_srli_epi16(qs, 4), m3);
    w.c[3] = _mm256_and_si256(_mm256_srli_epi16(qs, 6), m3);
    return w;
}

/* 16 base-3 digits as int16: for each lane q (a TQ1_0 byte) and multiplier m, ((q*m) & 255) * 3 >> 8. */
EDGEC_ALWAYS_INLINE __m256i edgec_t256_tq1_digits(__m256i q16, __m256i mult)
{
    __m256i p = _mm256_and_si256(_mm256_mullo_epi16(q16, mult), _mm256_set1_epi16(0xff));
    return _mm256_srli_epi16(_mm256_mullo_epi16(p, _mm256_set1_epi16(3)), 8);
}

/* Two vectors of 16 int16 digits -> 32 bytes in order (packus interleaves 128-bit lanes). */
EDGEC_ALWAYS_INLINE __m256i edgec_t256_pack_digits(__m256i lo, __m256i hi)
{
    return _mm256_permute4x64_epi64(_mm256_packus_epi16(lo, hi), 0xd8);
}

/* The 8 code vectors of a tq2_0 or tq1_0 block (activation block a's 32 codes in c[a]) and its d_w. */
EDGEC_ALWAYS_INLINE edgec_t256_w256 edgec_t256_load_256(int fmt, const uint8_t *blk)
{
    edgec_t256_w256 w;
    __m256i *c = w.c;
    w.dw = _mm256_set1_ps(edgec_ternary_scale(fmt, blk));
    if (fmt == EDGEC_FMT_TQ2_0) {
        const __m256i m3 = _mm256_set1_epi8(3);
EDGEC_UNROLL
        for (int h = 0; h < 2; h++) {
            const __m256i qs = _mm256_loadu_si256((const __m256i *)(blk + 32 * h));
            c[4 * h + 0] = _mm256_and_si256(qs, m3);
            c[4 * h + 1] = _mm256_and_si256(_mm256_srli_epi16(qs, 2), m3);
            c[4 * h + 2] = _mm256_and_si256(_mm256_srli_epi16(qs, 4), m3);
            c[4 * h + 3] = _mm256_and_si256(_mm256_srli_epi16(qs, 6), m3);
        }
        return w;
    }
    const __m256i q0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)blk));          /* qs[0..15] */
    const __m256i q1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(blk + 16)));   /* qs[16..31] */
    const __m256i q2 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(blk + 32)));   /* qs[32..47] */
    const __m256i qh = _mm256_cvtepu8_epi16(_mm_set1_epi32((int)edgec_load_u32(blk + EDGEC_TQ1_0_QH)));
    static const short pow3[5] = {1, 3, 9, 27, 81};
EDGEC_UNROLL
    for (int a = 0; a < 5; a++) {
        const __m256i m = _mm256_set1_epi16(pow3[a]);
        c[a] = edgec_t256_pack_digits(edgec_t256_tq1_digits(q0, m), edgec_t256_tq1_digits(q1, m));
    }
    c[5] = edgec_t256_pack_digits(edgec_t256_tq1_digits(q2, _mm256_set1_epi16(1)), edgec_t256_tq1_digits(q2, _mm256_set1_epi16(3)));
    c[6] = edgec_t256_pack_digits(edgec_t256_tq1_digits(q2, _mm256_set1_epi16(9)), edgec_t256_tq1_digits(q2, _mm256_set1_epi16(27)));
    c[7] = edgec_t256_pack_digits(edgec_t256_tq1_digits(q2, _mm256_set1_epi16(81)),
                                  edgec_t256_tq1_digits(qh, _mm256_setr_epi16(1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27)));
    return w;
}

/* ---- matmul: the folds and the tiling (kernels/tiled_matmul.h) ----------------------- */

/* acc + a row's tq2 group times a token's: sum over blocks of d_w * sum_(2k, 2k+1) d_x * isum. */
EDGEC_ALWAYS_INLINE __m256 edgec_t256_fold_tq2(__m256 acc, const edgec_t256_wtq2 *w, const edgec_t256_xtq2 *x)
{
    __m256i ie = edgec_t256_dot2(x->corr[0], w->c[0], x->x[0], w->c[1], x->x[1]);
    __m256i io = edgec_t256_dot2(x->corr[1], w->c[2], x->x[2], w->c[3], x->x[3]);
    __m256 t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(io), x->sc[1], _mm256_mul_ps(_mm256_cvtepi32_ps(ie), x->sc[0]));
    return _mm256_fmadd_ps(t, w->dw, acc);
}

/* acc + a row's 256-weight block times a token's 8 activation blocks: d_w * sum_a d_x * isum_a. */
EDGEC_ALWAYS_INLINE __m256 edgec_t256_fold_256(__m256 acc, const edgec_t256_w256 *w, const edgec_t256_x256 *x)
{
    __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(edgec_t256_dot(x->corr[0], w->c[0], x->x[0])), x->sc[0]);
EDGEC_UNROLL
    for (int a = 1; a < 8; a++) t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(edgec_t256_dot(x->corr[a], w->c[a], x->x[a])), x->sc[a], t);
    return _mm256_fmadd_ps(t, w->dw, acc);
}

/* Two instantiations, one per prepared-activation type; both tile 1 row x 8 tokens and 2 rows x
 * 1 token, load row by row, and prepare the activation groups of a token tile once per slab of
 * 32 groups in all (32 per token for one, 4 for 8). */

/* tq2: groups of 2 blocks (128 weights); the last group of an odd row holds 1. */
#define EDGEC_TM_NAME(name) edgec_t256_tq2_##name
#define EDGEC_TM_WCHUNK edgec_t256_wtq2
#define EDGEC_TM_XPREP edgec_t256_xtq2
#define EDGEC_TM_SLAB(T) (EDGEC_T256_XS / (T))
#define EDGEC_TM_SLAB_SLOTS EDGEC_T256_XS
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_TILE_TOKENS
#define EDGEC_TM_BATCH_ROWS(fmt) 1
#define EDGEC_TM_MATVEC_ROWS(fmt) 2
#define EDGEC_TM_BLOCK_WEIGHTS(fmt) 64
#define EDGEC_TM_BLOCK_BYTES(fmt) EDGEC_TQ2_BYTES
#define EDGEC_TM_CHUNK_BLOCKS(fmt) 2
#define EDGEC_TM_ROWS_FIRST 0
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_t256_load_tq2(blk, count)
#define EDGEC_TM_PREPARE(fmt, xp, x, count) edgec_t256_prep_tq2(xp, x, count)
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_t256_fold_tq2(acc, w, xp)
#include "kernels/tiled_matmul.h"

/* tq2_0 / tq1_0: one 256-weight block per chunk. */
#define EDGEC_TM_NAME(name) edgec_t256_b256_##name
#define EDGEC_TM_WCHUNK edgec_t256_w256
#define EDGEC_TM_XPREP edgec_t256_x256
#define EDGEC_TM_SLAB(T) (EDGEC_T256_XS / (T))
#define EDGEC_TM_SLAB_SLOTS EDGEC_T256_XS
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_TILE_TOKENS
#define EDGEC_TM_BATCH_ROWS(fmt) 1
#define EDGEC_TM_MATVEC_ROWS(fmt) 2
#define EDGEC_TM_BLOCK_WEIGHTS(fmt) 256
#define EDGEC_TM_BLOCK_BYTES(fmt) edgec_ternary_block_bytes(fmt)
#define EDGEC_TM_CHUNK_BLOCKS(fmt) 1
#define EDGEC_TM_ROWS_FIRST 0
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_t256_load_256(fmt, blk)
#define EDGEC_TM_PREPARE(fmt, xp, x, count) edgec_t256_prep_256(xp, x)
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_t256_fold_256(acc, w, xp)
#include "kernels/tiled_matmul.h"

static inline void edgec_t256_matmul_tq2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t256_tq2_matmul(EDGEC_FMT_TQ2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_t256_matmul_tq2_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t256_b256_matmul(EDGEC_FMT_TQ2_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_t256_matmul_tq1_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t256_b256_matmul(EDGEC_FMT_TQ1_0, out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
