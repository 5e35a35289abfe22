/* kernels/x86/avx2/ternary.h - AVX2 + FMA + F16C ternary kernels.  Included by kernels/ternary.h;
 * see there for the formats and the API.
 *
 * Same design as kernels/x86/avx512/ternary.h at half the width, with vpmaddubsw (unsigned codes x
 * signed qx) + vpmaddwd for the integer dots:
 *   tq2:   groups of 2 blocks (128 weights): 128-bit lane k holds block k's 16 qs bytes; code
 *          vector s = (qs >> 2s) & 3 meets half s&1 of activation block 2k + (s>>1).
 *   tq2_0 / tq1_0: groups of 1 block (256 weights): code vector a holds activation block a's 32
 *          codes in order ((qs[32(a>>2)..] >> 2(a&3)) & 3, or decoded base-3 digits), so it meets
 *          the activation block's qs as they are.
 * Activation groups (byte vectors, -sum(qx) per block to seed the exact integer sums, d_x per
 * lane) are prepared once per call, a slab at a time, on the stack.
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

/* The 4 code vectors of `count` (1 or 2) tq2 blocks at blk, and d_w of block k in lanes 4k..4k+3. */
EDGEC_ALWAYS_INLINE void edgec_t256_load_tq2(const uint8_t *blk, int count, __m256i c[4], __m256 *dw)
{
    const __m256i qs = edgec_avx2_load_lanes(blk + EDGEC_TQ2_QS, EDGEC_TQ2_BYTES, count);
    const short h0 = (short)edgec_load_u16(blk), h1 = count > 1 ? (short)edgec_load_u16(blk + EDGEC_TQ2_BYTES) : 0;
    *dw = _mm256_cvtph_ps(_mm_setr_epi16(h0, h0, h0, h0, h1, h1, h1, h1));
    const __m256i m3 = _mm256_set1_epi8(3);
    c[0] = _mm256_and_si256(qs, m3);
    c[1] = _mm256_and_si256(_mm256_srli_epi16(qs, 2), m3);
    c[2] = _mm256_and_si256(_mm256_srli_epi16(qs, 4), m3);
    c[3] = _mm256_and_si256(_mm256_srli_epi16(qs, 6), m3);
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
EDGEC_ALWAYS_INLINE void edgec_t256_load_256(int fmt, const uint8_t *blk, __m256i c[8], __m256 *dw)
{
    *dw = _mm256_set1_ps(edgec_ternary_scale(fmt, blk));
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
        return;
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
}

/* ---- matmul --------------------------------------------------------------------------- */

/* Adds group g of R rows (row i at row + i*row_bytes) x T tokens (xg + j*x_stride) to acc. */
EDGEC_ALWAYS_INLINE void edgec_t256_step(int fmt, int R, int T, __m256 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS], const uint8_t *row,
                                         size_t row_bytes, const void *xg, int x_stride, int g, int count)
{
    const size_t group_bytes = fmt == EDGEC_FMT_TQ2 ? 2 * EDGEC_TQ2_BYTES : (size_t)edgec_ternary_block_bytes(fmt);
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++) {
        if (i >= R) continue;
        const uint8_t *blk = row + i * row_bytes + (size_t)g * group_bytes;
        __m256 dw;
        if (fmt == EDGEC_FMT_TQ2) {
            __m256i c[4];
            edgec_t256_load_tq2(blk, count, c, &dw);
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
                if (j >= T) continue;
                const edgec_t256_xtq2 *x = (const edgec_t256_xtq2 *)xg + (size_t)j * x_stride;
                __m256i ie = edgec_t256_dot2(x->corr[0], c[0], x->x[0], c[1], x->x[1]);
                __m256i io = edgec_t256_dot2(x->corr[1], c[2], x->x[2], c[3], x->x[3]);
                __m256 t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(io), x->sc[1], _mm256_mul_ps(_mm256_cvtepi32_ps(ie), x->sc[0]));
                acc[i][j] = _mm256_fmadd_ps(t, dw, acc[i][j]);
            }
        } else {
            __m256i c[8];
            edgec_t256_load_256(fmt, blk, c, &dw);
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
                if (j >= T) continue;
                const edgec_t256_x256 *x = (const edgec_t256_x256 *)xg + (size_t)j * x_stride;
                __m256 t = _mm256_mul_ps(_mm256_cvtepi32_ps(edgec_t256_dot(x->corr[0], c[0], x->x[0])), x->sc[0]);
EDGEC_UNROLL
                for (int a = 1; a < 8; a++) t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(edgec_t256_dot(x->corr[a], c[a], x->x[a])), x->sc[a], t);
                acc[i][j] = _mm256_fmadd_ps(t, dw, acc[i][j]);
            }
        }
    }
}

/* Groups [g0, g1) of an R x T tile (rows r.., tokens t..): stores the partial dots into
 * out[(t+j)*ldo + r+i], or adds them for a later slab (add).  Token j's prepared group g is
 * xs[j*(g1-g0) + g-g0]; the last group of a tq2 row may hold 1 block. */
EDGEC_ALWAYS_INLINE void edgec_t256_tile(int fmt, int R, int T, float *out, int ldo, const uint8_t *w, size_t row_bytes, int r, int t,
                                         const void *xs, int g0, int g1, int n_blocks, int add)
{
    const uint8_t *row = w + (size_t)r * row_bytes;
    const size_t x_size = fmt == EDGEC_FMT_TQ2 ? sizeof(edgec_t256_xtq2) : sizeof(edgec_t256_x256);
    __m256 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[i][j] = _mm256_setzero_ps();
    const int whole = fmt == EDGEC_FMT_TQ2 && n_blocks / 2 < g1 ? n_blocks / 2 : g1;
    for (int g = g0; g < whole; g++)
        edgec_t256_step(fmt, R, T, acc, row, row_bytes, (const uint8_t *)xs + (size_t)(g - g0) * x_size, g1 - g0, g, 2);
    if (whole < g1) /* an odd number of tq2 blocks: the last group holds one */
        edgec_t256_step(fmt, R, T, acc, row, row_bytes, (const uint8_t *)xs + (size_t)(whole - g0) * x_size, g1 - g0, whole, 1);
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (i >= R || j >= T) continue;
            float *o = out + (size_t)(t + j) * ldo + r + i;
            *o = (add ? *o : 0.0f) + edgec_avx2_hsum(acc[i][j]);
        }
}

/* Rows [r0, r1) x tokens [0, n_tok): tiles of 1 row x 8 tokens, or 2 rows x 1 token; the
 * activation groups of a token tile are prepared once per slab (32 groups for one token, 4 for 8). */
EDGEC_ALWAYS_INLINE void edgec_t256_matmul(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                           const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK;
    const int n_blocks = n / edgec_ternary_block_weights(fmt);
    const int n_groups = fmt == EDGEC_FMT_TQ2 ? (n_blocks + 1) / 2 : n_blocks;
    const int acts_per_group = fmt == EDGEC_FMT_TQ2 ? 4 : 8;
    const size_t row_bytes = (size_t)n_blocks * edgec_ternary_block_bytes(fmt);
    union { edgec_t256_xtq2 tq2[EDGEC_T256_XS]; edgec_t256_x256 b256[EDGEC_T256_XS]; } xs;
    for (int t = 0; t < n_tok;) {
        const int T = n_tok - t >= EDGEC_TILE_TOKENS ? EDGEC_TILE_TOKENS : 1;
        const int per_slab = EDGEC_T256_XS / T;
        for (int g0 = 0; g0 < n_groups; g0 += per_slab) {
            const int g1 = g0 + per_slab < n_groups ? g0 + per_slab : n_groups;
            for (int j = 0; j < T; j++)
                for (int g = g0; g < g1; g++) {
                    const edgec_block_q8a *x = xq + (size_t)(t + j) * nb + (size_t)g * acts_per_group;
                    const int k = j * (g1 - g0) + g - g0;
                    if (fmt == EDGEC_FMT_TQ2) edgec_t256_prep_tq2(&xs.tq2[k], x, n_blocks - 2 * g < 2 ? 1 : 2);
                    else edgec_t256_prep_256(&xs.b256[k], x);
                }
            int r = r0;
            if (T == EDGEC_TILE_TOKENS) {
                for (; r < r1; r++) edgec_t256_tile(fmt, 1, EDGEC_TILE_TOKENS, out, ldo, (const uint8_t *)w, row_bytes, r, t, &xs, g0, g1, n_blocks, g0 > 0);
            } else {
                for (; r + 2 <= r1; r += 2) edgec_t256_tile(fmt, 2, 1, out, ldo, (const uint8_t *)w, row_bytes, r, t, &xs, g0, g1, n_blocks, g0 > 0);
                if (r < r1) edgec_t256_tile(fmt, 1, 1, out, ldo, (const uint8_t *)w, row_bytes, r, t, &xs, g0, g1, n_blocks, g0 > 0);
            }
        }
        t += T;
    }
}

static inline void edgec_t256_matmul_tq2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t256_matmul(EDGEC_FMT_TQ2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_t256_matmul_tq2_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t256_matmul(EDGEC_FMT_TQ2_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_t256_matmul_tq1_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t256_matmul(EDGEC_FMT_TQ1_0, out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
