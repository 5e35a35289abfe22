/* kernels/x86/avx512/ternary.h - tq2 / tq2_0 / tq1_0 matmul microkernels, AVX-512 F + BW; VNNI vpdpbusd
 * when __AVX512VNNI__.
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
 * The tiling is kernels/tiled_matmul.h's, instantiated once per prepared type: 1 row x 8 tokens,
 * 4 rows x 1 token (with a packed 4-row tail for tq2 rows whose last group is short).
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

/* One row's 4 code vectors for a group (tq2: 4 blocks, block k's in lane k; tq2_0 / tq1_0: one
 * block in the x256 pairing) and d_w (tq2: block k's in lanes 4k..4k+3; else in every lane). */
typedef struct {
    __m512i c[4];
    __m512 dw;
} edgec_t512_wgroup;

/* The code vectors of `count` (1..4) tq2 blocks at blk. */
EDGEC_ALWAYS_INLINE edgec_t512_wgroup edgec_t512_load_tq2(const uint8_t *blk, int count)
{
    edgec_t512_wgroup w;
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
    w.dw = _mm512_cvtph_ps(_mm512_castsi512_si256(d16));
    edgec_t512_split_codes(qs, w.c);
    return w;
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
EDGEC_ALWAYS_INLINE edgec_t512_wgroup edgec_t512_load_256(int fmt, const uint8_t *blk)
{
    edgec_t512_wgroup w;
    w.dw = _mm512_set1_ps(edgec_ternary_scale(fmt, blk));
    if (fmt == EDGEC_FMT_TQ2_0) {
        edgec_t512_split_codes(_mm512_loadu_si512((const void *)blk), w.c);
        return w;
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
    for (int l = 0; l < 4; l++) w.c[l] = _mm512_inserti64x4(_mm512_castsi256_si512(codes[l]), codes[4 + l], 1);
    return w;
}

/* ---- matmul: the folds, the 4-row tail and the tiling (kernels/tiled_matmul.h) ------ */

/* acc + a row's tq2 group times a token's: sum over blocks of d_w * sum_(2k, 2k+1) d_x * isum. */
EDGEC_ALWAYS_INLINE __m512 edgec_t512_fold_tq2(__m512 acc, const edgec_t512_wgroup *w, const edgec_t512_xtq2 *x)
{
    __m512i ie = edgec_t512_dot2(x->corr[0], w->c[0], x->x[0], w->c[1], x->x[1]);
    __m512i io = edgec_t512_dot2(x->corr[1], w->c[2], x->x[2], w->c[3], x->x[3]);
    __m512 t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(io), x->sc[1], _mm512_mul_ps(_mm512_cvtepi32_ps(ie), x->sc[0]));
    return _mm512_fmadd_ps(t, w->dw, acc);
}

/* acc + a row's 256-weight block times a token's 8 activation blocks: d_w * sum_l d_x * isum_l. */
EDGEC_ALWAYS_INLINE __m512 edgec_t512_fold_256(__m512 acc, const edgec_t512_wgroup *w, const edgec_t512_x256 *x)
{
    __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(edgec_t512_dot(x->corr[0], w->c[0], x->x[0])), x->sc[0]);
EDGEC_UNROLL
    for (int l = 1; l < 4; l++) t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(edgec_t512_dot(x->corr[l], w->c[l], x->x[l])), x->sc[l], t);
    return _mm512_fmadd_ps(t, w->dw, acc);
}

/* The last 1..3 blocks (`count`, from blk0 on row 0) of a 4-row, 1-token tile of tq2 rows, packed
 * 4 rows to a vector instead of each row's short last group filling a vector alone: row i's
 * block v goes to lane i, the activations of block v (lane v of the partial group's x) to every
 * lane, and the result of row i, lanes 4i..4i+3, is added to acc[i].  Saves a quarter of the
 * work on rows of 576.  Other tiles return 0: the driver's tile_step does their tail. */
EDGEC_ALWAYS_INLINE int edgec_t512_tail_tq2(int R, int T, __m512 acc[EDGEC_TILE_ROWS][EDGEC_TILE_TOKENS], const uint8_t *blk0,
                                            size_t row_bytes, const edgec_t512_xtq2 *x, int count)
{
    if (R != 4 || T != 1) return 0;
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    __m512 tail = _mm512_setzero_ps();
    for (int v = 0; v < count; v++) {
        const uint8_t *blk = blk0 + (size_t)v * EDGEC_TQ2_BYTES;
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
    return 1;
}

/* Two instantiations, one per prepared-activation type; both tile 1 row x 8 tokens and 4 rows x
 * 1 token, load row by row, and prepare the activation groups of a token tile once per slab of
 * 32 groups in all (32 per token for one, 4 for 8). */

/* tq2: groups of 4 blocks (256 weights); a row's last group may hold 1..3. */
#define EDGEC_TM_NAME(name) edgec_t512_tq2_##name
#define EDGEC_TM_WCHUNK edgec_t512_wgroup
#define EDGEC_TM_XPREP edgec_t512_xtq2
#define EDGEC_TM_SLAB(T) (EDGEC_T512_XS / (T))
#define EDGEC_TM_SLAB_SLOTS EDGEC_T512_XS
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_TILE_TOKENS
#define EDGEC_TM_BATCH_ROWS(fmt) 1
#define EDGEC_TM_MATVEC_ROWS(fmt) 4
#define EDGEC_TM_BLOCK_WEIGHTS(fmt) 64
#define EDGEC_TM_BLOCK_BYTES(fmt) EDGEC_TQ2_BYTES
#define EDGEC_TM_CHUNK_BLOCKS(fmt) 4
#define EDGEC_TM_ROWS_FIRST 0
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_t512_load_tq2(blk, count)
#define EDGEC_TM_PREPARE(fmt, xp, x, count) edgec_t512_prep_tq2(xp, x, count)
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_t512_fold_tq2(acc, w, xp)
#define EDGEC_TM_TAIL(fmt, R, T, acc, blk, row_bytes, xp, count) edgec_t512_tail_tq2(R, T, acc, blk, row_bytes, xp, count)
#include "kernels/tiled_matmul.h"

/* tq2_0 / tq1_0: one 256-weight block per group. */
#define EDGEC_TM_NAME(name) edgec_t512_b256_##name
#define EDGEC_TM_WCHUNK edgec_t512_wgroup
#define EDGEC_TM_XPREP edgec_t512_x256
#define EDGEC_TM_SLAB(T) (EDGEC_T512_XS / (T))
#define EDGEC_TM_SLAB_SLOTS EDGEC_T512_XS
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_TILE_TOKENS
#define EDGEC_TM_BATCH_ROWS(fmt) 1
#define EDGEC_TM_MATVEC_ROWS(fmt) 4
#define EDGEC_TM_BLOCK_WEIGHTS(fmt) 256
#define EDGEC_TM_BLOCK_BYTES(fmt) edgec_ternary_block_bytes(fmt)
#define EDGEC_TM_CHUNK_BLOCKS(fmt) 1
#define EDGEC_TM_ROWS_FIRST 0
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_t512_load_256(fmt, blk)
#define EDGEC_TM_PREPARE(fmt, xp, x, count) edgec_t512_prep_256(xp, x)
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_t512_fold_256(acc, w, xp)
#include "kernels/tiled_matmul.h"

static inline void edgec_t512_matmul_tq2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t512_tq2_matmul(EDGEC_FMT_TQ2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_t512_matmul_tq2_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t512_b256_matmul(EDGEC_FMT_TQ2_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_t512_matmul_tq1_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_t512_b256_matmul(EDGEC_FMT_TQ1_0, out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
