/* kernels/x86/avx512/ternary.h - AVX-512 (F + BW) ternary kernels, VNNI vpdpbusd when __AVX512VNNI__.
 * Included by kernels/ternary.h; see there for the formats and the API.
 *
 * Work goes in "groups" of 256 weights = 8 q8a activation blocks: four tq2 blocks, or one
 * tq2_0 / tq1_0 block.  A group's weights become four vectors of 64 unsigned 2-bit codes, each
 * paired with a vector of 64 activation bytes laid out to match, so vpdpbusd(codes, qx) sums
 * code*qx into int32 lanes that belong to one activation block each:
 *   tq2:   128-bit lane k holds block k's 16 qs bytes (vpermt2w gathers them from the 18-byte
 *          blocks); code vector s = (qs >> 2s) & 3 meets weights 16s..16s+15 of each block,
 *          i.e. half s&1 of activation block 2k + (s>>1); lanes 4k..4k+3 sum per block.
 *   tq2_0: the 64 qs bytes as they are; code vector l = (qs >> 2l) & 3 holds activation block l
 *          in bytes 0..31 and block 4+l in bytes 32..63; lanes 0..7 / 8..15 sum per block.
 *   tq1_0: base-3 digits decoded (16-bit multiplies) into the tq2_0 arrangement.
 * Each activation group is prepared once per call (a slab at a time, on the stack): its byte
 * vectors, -sum(qx) per block spread to seed the integer sums (so sum((code-1)*qx) comes out
 * exact) and d_x per lane.  Per group and row: t = sum_v float(isum_v) * d_x; acc += t * d_w.
 */
#ifndef EDGEC_KERNELS_TERNARY_AVX512_H
#define EDGEC_KERNELS_TERNARY_AVX512_H

#include <immintrin.h>

#include "kernels/x86/avx512/dense.h"
#include "kernels/scalar/dense.h"

#define EDGEC_T512_XS 32 /* activation groups prepared per slab, all tokens of a tile together */

/* ---- integer dots ------------------------------------------------------------------ */

/* Sum of each dword's 4 signed bytes. */
EDGEC_ALWAYS_INLINE __m512i edgec_t512_dword_sums(__m512i x)
{
#if defined(__AVX512VNNI__)
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(1), x);
#else
    return _mm512_madd_epi16(_mm512_maddubs_epi16(_mm512_set1_epi8(1), x), _mm512_set1_epi16(1));
#endif
}

/* acc + per-dword sums of c*x, c unsigned codes 0..3, x signed bytes. */
EDGEC_ALWAYS_INLINE __m512i edgec_t512_dot(__m512i acc, __m512i c, __m512i x)
{
#if defined(__AVX512VNNI__)
    return _mm512_dpbusd_epi32(acc, c, x);
#else
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(c, x), _mm512_set1_epi16(1)));
#endif
}

/* acc + per-dword sums of c0*x0 + c1*x1 (one int16 stage for both without VNNI: |sum| <= 1524). */
EDGEC_ALWAYS_INLINE __m512i edgec_t512_dot2(__m512i acc, __m512i c0, __m512i x0, __m512i c1, __m512i x1)
{
#if defined(__AVX512VNNI__)
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(acc, c0, x0), c1, x1);
#else
    __m512i p = _mm512_add_epi16(_mm512_maddubs_epi16(c0, x0), _mm512_maddubs_epi16(c1, x1));
    return _mm512_add_epi32(acc, _mm512_madd_epi16(p, _mm512_set1_epi16(1)));
#endif
}

/* ---- activation groups -------------------------------------------------------------- */

/* One token's activations for a group of 4 tq2 blocks (blocks 2k, 2k+1 meet tq2 block k). */
typedef struct {
    __m512i x[4];    /* x[s] lane k: qs[16(s&1)..+15] of activation block 2k + (s>>1) */
    __m512i corr[2]; /* -sum(qx) of activation block 2k (corr[0]) / 2k+1 (corr[1]) over lanes 4k..4k+3 */
    __m512 sc[2];    /* d_x of the same blocks in lanes 4k..4k+3 */
} edgec_t512_xtq2;

/* One token's activations for a 256-weight block: the tq2_0 / tq1_0 pairing. */
typedef struct {
    __m512i x[4];    /* x[l]: qs of activation block l (bytes 0..31) and 4+l (bytes 32..63) */
    __m512i corr[4]; /* -sum(qx) of those blocks over lanes 0..7 / 8..15 */
    __m512 sc[4];    /* their d_x in lanes 0..7 / 8..15 */
} edgec_t512_x256;

/* Prepares the activation blocks x[0 .. 2*count) (count = tq2 blocks in the group, 1..4). */
EDGEC_ALWAYS_INLINE void edgec_t512_prep_tq2(edgec_t512_xtq2 *p, const edgec_block_q8a *x, int count)
{
    const uint8_t *q = (const uint8_t *)x->qs;
    const int stride = 2 * (int)sizeof *x;
    for (int s = 0; s < 4; s++) p->x[s] = edgec_avx512_load_lanes(q + (s >> 1) * (int)sizeof *x + 16 * (s & 1), stride, count);
    p->corr[0] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_add_epi32(edgec_t512_dword_sums(p->x[0]), edgec_t512_dword_sums(p->x[1])));
    p->corr[1] = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_add_epi32(edgec_t512_dword_sums(p->x[2]), edgec_t512_dword_sums(p->x[3])));
    float de[4] = {0, 0, 0, 0}, dodd[4] = {0, 0, 0, 0};
    for (int k = 0; k < count; k++) {
        de[k] = x[2 * k].d;
        dodd[k] = x[2 * k + 1].d;
    }
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    p->sc[0] = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_loadu_ps(de)));
    p->sc[1] = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_loadu_ps(dodd)));
}

/* Prepares the 8 activation blocks x[0..8) that meet one 256-weight block. */
EDGEC_ALWAYS_INLINE void edgec_t512_prep_256(edgec_t512_x256 *p, const edgec_block_q8a *x)
{
    for (int l = 0; l < 4; l++) {
        __m256i lo = _mm256_loadu_si256((const __m256i *)x[l].qs), hi = _mm256_loadu_si256((const __m256i *)x[4 + l].qs);
        p->x[l] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        p->corr[l] = _mm512_sub_epi32(_mm512_setzero_si512(), edgec_t512_dword_sums(p->x[l]));
        p->sc[l] = _mm512_mask_mov_ps(_mm512_set1_ps(x[l].d), (__mmask16)0xff00, _mm512_set1_ps(x[4 + l].d));
    }
}

/* ---- weight groups ------------------------------------------------------------------- */

/* c[s] = the 2-bit field s of every byte, (qs >> 2s) & 3.  With GFNI one affine bit-matrix
 * op per field (output bits 0, 1 = input bits 2s, 2s+1: matrix bytes 7 and 6), else shift + mask. */
EDGEC_ALWAYS_INLINE void edgec_t512_split_codes(__m512i qs, __m512i c[4])
{
#if defined(__GFNI__)
EDGEC_UNROLL
    for (int s = 0; s < 4; s++)
        c[s] = _mm512_gf2p8affine_epi64_epi8(qs, _mm512_set1_epi64((long long)((1ull << (2 * s)) << 56 | (1ull << (2 * s + 1)) << 48)), 0);
#else
    const __m512i m3 = _mm512_set1_epi8(3);
    c[0] = _mm512_and_si512(qs, m3);
    c[1] = _mm512_and_si512(_mm512_srli_epi16(qs, 2), m3);
    c[2] = _mm512_and_si512(_mm512_srli_epi16(qs, 4), m3);
    c[3] = _mm512_and_si512(_mm512_srli_epi16(qs, 6), m3);
#endif
}

/* Word gathers for 4 tq2 blocks read as a = bytes 0..63 and b = bytes 8..71 of the group:
 * qs of block k are words 9k+1..9k+8 (word w >= 32 is b's word w-4, index w+28); d is word 9k. */
static const uint16_t edgec_t512_tq2_qs_words[32] = {
    1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17,
    19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 60, 61, 62, 63};
static const uint16_t edgec_t512_tq2_d_words[32] = {
    0, 0, 0, 0, 9, 9, 9, 9, 18, 18, 18, 18, 27, 27, 27, 27,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};

/* The 4 code vectors of `count` (1..4) tq2 blocks at blk, and d_w of block k in lanes 4k..4k+3. */
EDGEC_ALWAYS_INLINE void edgec_t512_load_tq2(const uint8_t *blk, int count, __m512i c[4], __m512 *dw)
{
    __m512i a, b;
    if (count == 4) {
        a = _mm512_loadu_si512((const void *)blk);
        b = _mm512_loadu_si512((const void *)(blk + 8));
    } else { /* at most 54 bytes: all in a, the rest zero (zero codes, zero d) */
        a = _mm512_maskz_loadu_epi8(((__mmask64)1 << (EDGEC_TQ2_BYTES * count)) - 1, blk);
        b = _mm512_setzero_si512();
    }
    __m512i qs = _mm512_permutex2var_epi16(a, _mm512_loadu_si512((const void *)edgec_t512_tq2_qs_words), b);
    __m512i d16 = _mm512_permutexvar_epi16(_mm512_loadu_si512((const void *)edgec_t512_tq2_d_words), a);
    *dw = _mm512_cvtph_ps(_mm512_castsi512_si256(d16));
    edgec_t512_split_codes(qs, c);
}

/* Multipliers 3^k per 16-bit lane for TQ1_0 activation blocks 5, 6, 7 (see tq1_0 in kernels/ternary.h). */
static const uint16_t edgec_t512_tq1_mult[3][32] = {
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
    {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27},
    {81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 81, 1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27}};

/* 32 base-3 digits: for each 16-bit lane q (a TQ1_0 byte) and multiplier m, ((q*m) & 255) * 3 >> 8. */
EDGEC_ALWAYS_INLINE __m256i edgec_t512_tq1_digits(__m512i q16, __m512i mult)
{
    __m512i p = _mm512_and_si512(_mm512_mullo_epi16(q16, mult), _mm512_set1_epi16(0xff));
    return _mm512_cvtepi16_epi8(_mm512_srli_epi16(_mm512_mullo_epi16(p, _mm512_set1_epi16(3)), 8));
}

/* The 4 code vectors of a tq2_0 or tq1_0 block (the x256 pairing) and its d_w in every lane. */
EDGEC_ALWAYS_INLINE void edgec_t512_load_256(int fmt, const uint8_t *blk, __m512i c[4], __m512 *dw)
{
    *dw = _mm512_set1_ps(edgec_ternary_scale(fmt, blk));
    if (fmt == EDGEC_FMT_TQ2_0) {
        edgec_t512_split_codes(_mm512_loadu_si512((const void *)blk), c);
        return;
    }
    const __m128i tail = _mm_loadu_si128((const __m128i *)(blk + 32));   /* qs[32..47] */
    const __m512i q0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)blk));
    const __m512i q1 = _mm512_cvtepu8_epi16(_mm256_broadcastsi128_si256(tail));
    const __m512i q2 = _mm512_cvtepu8_epi16(_mm256_inserti128_si256(_mm256_castsi128_si256(tail),
                                                                    _mm_set1_epi32((int)edgec_load_u32(blk + EDGEC_TQ1_0_QH)), 1));
    __m256i codes[8];
EDGEC_UNROLL
    for (int a = 0; a < 5; a++) codes[a] = edgec_t512_tq1_digits(q0, _mm512_set1_epi16((short)(a == 0 ? 1 : a == 1 ? 3 : a == 2 ? 9 : a == 3 ? 27 : 81)));
    codes[5] = edgec_t512_tq1_digits(q1, _mm512_loadu_si512((const void *)edgec_t512_tq1_mult[0]));
    codes[6] = edgec_t512_tq1_digits(q1, _mm512_loadu_si512((const void *)edgec_t512_tq1_mult[1]));
    codes[7] = edgec_t512_tq1_digits(q2, _mm512_loadu_si512((const void *)edgec_t512_tq1_mult[2]));
EDGEC_UNROLL
    for (int l = 0; l < 4; l++) c[l] = _mm512_inserti64x4(_mm512_castsi256_si512(codes[l]), codes[4 + l], 1);
}

/* ---- matmul --------------------------------------------------------------------------- */

/* Adds group g of R rows (row i at row + i*row_bytes) x T tokens (xs + j*stride) to acc. */
EDGEC_ALWAYS_INLINE void edgec_t512_step(int fmt, int R, int T, __m512 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS], const uint8_t *row,
                                         size_t row_bytes, const void *xg, int x_stride, int g, int count)
{
    const size_t group_bytes = fmt == EDGEC_FMT_TQ2 ? 4 * EDGEC_TQ2_BYTES : (size_t)edgec_ternary_block_bytes(fmt);
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++) {
        if (i >= R) continue;
        const uint8_t *blk = row + i * row_bytes + (size_t)g * group_bytes;
        __m512i c[4];
        __m512 dw;
        if (fmt == EDGEC_FMT_TQ2) edgec_t512_load_tq2(blk, count, c, &dw);
        else edgec_t512_load_256(fmt, blk, c, &dw);
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (j >= T) continue;
            __m512 t;
            if (fmt == EDGEC_FMT_TQ2) {
                const edgec_t512_xtq2 *x = (const edgec_t512_xtq2 *)xg + (size_t)j * x_stride;
                __m512i ie = edgec_t512_dot2(x->corr[0], c[0], x->x[0], c[1], x->x[1]);
                __m512i io = edgec_t512_dot2(x->corr[1], c[2], x->x[2], c[3], x->x[3]);
                t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(io), x->sc[1], _mm512_mul_ps(_mm512_cvtepi32_ps(ie), x->sc[0]));
            } else {
                const edgec_t512_x256 *x = (const edgec_t512_x256 *)xg + (size_t)j * x_stride;
                t = _mm512_mul_ps(_mm512_cvtepi32_ps(edgec_t512_dot(x->corr[0], c[0], x->x[0])), x->sc[0]);
EDGEC_UNROLL
                for (int l = 1; l < 4; l++) t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(edgec_t512_dot(x->corr[l], c[l], x->x[l])), x->sc[l], t);
            }
            acc[i][j] = _mm512_fmadd_ps(t, dw, acc[i][j]);
        }
    }
}

/* The last 1..3 blocks of 4 tq2 rows (one token), packed 4 rows to a vector instead of each
 * row's short last group filling a vector alone: row i's block 4*g + v goes to lane i, the
 * activations of block v (lane v of the partial group's x) to every lane, and the result of row
 * i, lanes 4i..4i+3, is added to acc[i].  Saves a quarter of the work on rows of 576. */
EDGEC_ALWAYS_INLINE void edgec_t512_tail_tq2_4rows(__m512 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS], const uint8_t *row,
                                                   size_t row_bytes, const edgec_t512_xtq2 *x, int g, int count)
{
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 tail = _mm512_setzero_ps();
    for (int v = 0; v < count; v++) {
        const uint8_t *blk = row + (size_t)g * 4 * EDGEC_TQ2_BYTES + (size_t)v * EDGEC_TQ2_BYTES;
        __m128i h = _mm_cvtsi32_si128(edgec_load_u16(blk));
        h = _mm_insert_epi16(h, edgec_load_u16(blk + row_bytes), 1);
        h = _mm_insert_epi16(h, edgec_load_u16(blk + 2 * row_bytes), 2);
        h = _mm_insert_epi16(h, edgec_load_u16(blk + 3 * row_bytes), 3);
        __m512 dw = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_cvtph_ps(h)));
        __m512i c[4];
        edgec_t512_split_codes(edgec_avx512_load_lanes(blk + EDGEC_TQ2_QS, (int)row_bytes, 4), c);
        /* dwords 4v..4v+3 (the 128-bit lane of block v) into all four lanes */
        const __m512i lane = _mm512_add_epi32(_mm512_set1_epi32(4 * v), _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3));
        __m512i ie = edgec_t512_dot2(_mm512_permutexvar_epi32(lane, x->corr[0]), c[0], _mm512_permutexvar_epi32(lane, x->x[0]),
                                     c[1], _mm512_permutexvar_epi32(lane, x->x[1]));
        __m512i io = edgec_t512_dot2(_mm512_permutexvar_epi32(lane, x->corr[1]), c[2], _mm512_permutexvar_epi32(lane, x->x[2]),
                                     c[3], _mm512_permutexvar_epi32(lane, x->x[3]));
        __m512 t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(io), _mm512_permutexvar_ps(lane, x->sc[1]),
                                   _mm512_mul_ps(_mm512_cvtepi32_ps(ie), _mm512_permutexvar_ps(lane, x->sc[0])));
        tail = _mm512_fmadd_ps(t, dw, tail);
    }
EDGEC_UNROLL
    for (int i = 0; i < 4; i++) acc[i][0] = _mm512_mask_add_ps(acc[i][0], (__mmask16)(0xf << (4 * i)), acc[i][0], tail);
}

/* Groups [g0, g1) of an R x T tile (rows r.., tokens t..): stores the partial dots into
 * out[(t+j)*ldo + r+i], or adds them for a later slab (add).  Token j's prepared group g is
 * xs[j*(g1-g0) + g-g0]; the last group of a tq2 row may hold fewer than 4 blocks. */
EDGEC_ALWAYS_INLINE void edgec_t512_tile(int fmt, int R, int T, float *out, int ldo, const uint8_t *w, size_t row_bytes, int r, int t,
                                         const void *xs, int g0, int g1, int n_blocks, int add)
{
    const uint8_t *row = w + (size_t)r * row_bytes;
    const size_t x_size = fmt == EDGEC_FMT_TQ2 ? sizeof(edgec_t512_xtq2) : sizeof(edgec_t512_x256);
    __m512 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[i][j] = _mm512_setzero_ps();
    const int whole = fmt == EDGEC_FMT_TQ2 && n_blocks / 4 < g1 ? n_blocks / 4 : g1;
    for (int g = g0; g < whole; g++)
        edgec_t512_step(fmt, R, T, acc, row, row_bytes, (const uint8_t *)xs + (size_t)(g - g0) * x_size, g1 - g0, g, 4);
    if (whole < g1 && fmt == EDGEC_FMT_TQ2 && R == 4 && T == 1)
        edgec_t512_tail_tq2_4rows(acc, row, row_bytes, (const edgec_t512_xtq2 *)xs + (whole - g0), whole, n_blocks - 4 * whole);
    else if (whole < g1) /* a tq2 row's last group of 1..3 blocks */
        edgec_t512_step(fmt, R, T, acc, row, row_bytes, (const uint8_t *)xs + (size_t)(whole - g0) * x_size, g1 - g0, whole,
                        n_blocks - 4 * whole);
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_TILE_ROWS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (i >= R || j >= T) continue;
            float *o = out + (size_t)(t + j) * ldo + r + i;
            *o = (add ? *o : 0.0f) + _mm512_reduce_add_ps(acc[i][j]);
        }
}

/* Rows [r0, r1) x tokens [0, n_tok).  Tokens go in tiles of 8 (1 row x 8 tokens: each weight
 * group is unpacked once for 8 tokens) or 1 (4 rows x 1 token).  For each token tile the
 * activation groups are prepared once per slab (32 groups for one token, 4 for 8) on the stack. */
EDGEC_ALWAYS_INLINE void edgec_t512_matmul(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                           const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK;                                         /* activation blocks per token */
    const int n_blocks = n / edgec_ternary_block_weights(fmt);           /* weight blocks per row */
    const int n_groups = fmt == EDGEC_FMT_TQ2 ? (n_blocks + 3) / 4 : n_blocks;
    const size_t row_bytes = (size_t)n_blocks * edgec_ternary_block_bytes(fmt);
    union { edgec_t512_xtq2 tq2[EDGEC_T512_XS]; edgec_t512_x256 b256[EDGEC_T512_XS]; } xs;
    for (int t = 0; t < n_tok;) {
        const int T = n_tok - t >= EDGEC_TILE_TOKENS ? EDGEC_TILE_TOKENS : 1;
        const int per_slab = EDGEC_T512_XS / T;
        for (int g0 = 0; g0 < n_groups; g0 += per_slab) {
            const int g1 = g0 + per_slab < n_groups ? g0 + per_slab : n_groups;
            for (int j = 0; j < T; j++)
                for (int g = g0; g < g1; g++) {
                    const edgec_block_q8a *x = xq + (size_t)(t + j) * nb + (size_t)g * 8;
                    const int k = j * (g1 - g0) + g - g0;
                    if (fmt == EDGEC_FMT_TQ2) edgec_t512_prep_tq2(&xs.tq2[k], x, n_blocks - 4 * g < 4 ? n_blocks - 4 * g : 4);
                    else edgec_t512_prep_256(&xs.b256[k], x);
                }
            int r = r0;
            if (T == EDGEC_TILE_TOKENS) {
                for (; r < r1; r++) edgec_t512_tile(fmt, 1, EDGEC_TILE_TOKENS, out, ldo, (const uint8_t *)w, row_bytes, r, t, &xs, g0, g1, n_blocks, g0 > 0);
            } else {
                for (; r + 4 <= r1; r += 4) edgec_t512_tile(fmt, 4, 1, out, ldo, (const uint8_t *)w, row_bytes, r, t, &xs, g0, g1, n_blocks, g0 > 0);
                for (; r < r1; r++) edgec_t512_tile(fmt, 1, 1, out, ldo, (const uint8_t *)w, row_bytes, r, t, &xs, g0, g1, n_blocks, g0 > 0);
            }
        }
        t += T;
    }
}

static inline void edgec_t512_matmul_tq2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t512_matmul(EDGEC_FMT_TQ2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_t512_matmul_tq2_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t512_matmul(EDGEC_FMT_TQ2_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_t512_matmul_tq1_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t512_matmul(EDGEC_FMT_TQ1_0, out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
