/* kernels/x86/avx2/i16.h - i16-layout matmul on AVX2 + FMA + F16C.  Included only by
 * kernels/i16.h, after its scalar helpers.
 *
 * Same layout and formulas as kernels/x86/avx512/i16.h at half the width: a 64-byte tile chunk
 * is two 256-bit halves, rows 0-7 and rows 8-15, int32 lane r of a half is one row.  Integer
 * dots use vpmaddubsw (unsigned weight bytes x signed activation bytes -> int16 pairs) and
 * vpmaddwd with ones:
 *   q4: nibble pairs are at most 2*15*127 = 3810, so all 8 operands of a block sum in int16
 *       (30480) before one vpmaddwd.
 *   q8_0: the stored w+128 would saturate int16 (2*255*127), so the weights are un-biased
 *       (xor 0x80) and |w| meets qx with w's sign (vpsignb): pairs at most 2*128*127 = 32512,
 *       widened by vpmaddwd per operand.  The dot is then the signed sum w*qx, no correction.
 *   q4_1: acc += d_w*(d_x*isum) + m_w*s_x     q4_0: acc += d_w*(d_x*isum - 8 s_x)
 *   q8_0: acc += d_w*(d_x*isum)
 * Decode does both halves of a group per tile; a batch does one half at a time for up to 4
 * tokens (16 vector registers).
 */
#ifndef EDGEC_KERNELS_I16_AVX2_H
#define EDGEC_KERNELS_I16_AVX2_H

#include <immintrin.h>

#define EDGEC_I16_AVX2_TOKENS 4 /* tokens per batch tile: accumulators for more would spill */

/* Prefetches into L2 the line EDGEC_I16_PREFETCH bytes past the tile's start.  Tiles are read
 * in order, so one prefetch per tile keeps the stream that far ahead; one per 64 bytes was no
 * faster from DRAM and up to 25% slower on cache-resident q8_0 (docs/layout_i16.md). */
EDGEC_ALWAYS_INLINE void edgec_i16_avx2_prefetch(const uint8_t *tile)
{
#if EDGEC_I16_PREFETCH > 0
    _mm_prefetch((const char *)tile + EDGEC_I16_PREFETCH, _MM_HINT_T1);
#else
    (void)tile;
#endif
}

/* Activation dword i (qs[4i..4i+3]) in every int32 lane. */
EDGEC_ALWAYS_INLINE __m256i edgec_i16_avx2_xdword(const int8_t *qx, int i)
{
    return _mm256_set1_epi32((int)edgec_load_u32(qx + 4 * i));
}

/* isum[j] lane r = integer dot of row 8h+r of the tile with token j's block x[j*nb] (j < T):
 * q4 sum nib*qx, q8_0 sum w*qx, exact. */
EDGEC_ALWAYS_INLINE void edgec_i16_avx2_dots(int fmt, int T, __m256i isum[EDGEC_TILE_TOKENS], const uint8_t *tile, int h,
                                             const edgec_block_q8a *x, int nb)
{
    const uint8_t *q = tile + edgec_i16_scale_bytes(fmt) + 32 * h;
    const __m256i ones = _mm256_set1_epi16(1);
    if (fmt == EDGEC_FMT_Q8_0) {
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) isum[j] = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            __m256i ws = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(q + 64 * c)), _mm256_set1_epi8((char)0x80));
            __m256i aw = _mm256_sign_epi8(ws, ws); /* |w|; -128 stays 0x80 = 128 unsigned */
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
                if (j >= T) continue;
                __m256i xs = _mm256_sign_epi8(edgec_i16_avx2_xdword(x[(size_t)j * nb].qs, c), ws);
                isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(_mm256_maddubs_epi16(aw, xs), ones));
            }
        }
        return;
    }
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256i p[EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++) p[j] = _mm256_setzero_si256();
EDGEC_UNROLL
    for (int c = 0; c < 4; c++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(q + 64 * c));
        __m256i lo = _mm256_and_si256(v, low4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (j >= T) continue;
            const int8_t *qx = x[(size_t)j * nb].qs;
            __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(lo, edgec_i16_avx2_xdword(qx, 2 * c)),
                                         _mm256_maddubs_epi16(hi, edgec_i16_avx2_xdword(qx, 2 * c + 1)));
            p[j] = _mm256_add_epi16(p[j], s);
        }
    }
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
        if (j < T) isum[j] = _mm256_madd_epi16(p[j], ones);
}

/* acc += this block's contribution for 8 rows (formulas in the header comment). */
EDGEC_ALWAYS_INLINE __m256 edgec_i16_avx2_accumulate(int fmt, __m256 acc, __m256i isum, __m256 dw, __m256 mw, const edgec_block_q8a *x)
{
    __m256 fi = _mm256_cvtepi32_ps(isum), dx = _mm256_set1_ps(x->d);
    __m256 v = fmt == EDGEC_FMT_Q4_0 ? _mm256_fmsub_ps(fi, dx, _mm256_set1_ps(8.0f * x->s)) : _mm256_mul_ps(fi, dx);
    acc = _mm256_fmadd_ps(v, dw, acc);
    if (fmt == EDGEC_FMT_Q4_1) acc = _mm256_fmadd_ps(mw, _mm256_set1_ps(x->s), acc);
    return acc;
}

/* Halves h0..h0+H-1 (H = 2 with h0 = 0, or H = 1) of group g x tokens t..t+T-1, both constants,
 * over all nb blocks: out[(t+j)*ldo + 16g + 8h + lane], lanes past `rows` not written. */
EDGEC_ALWAYS_INLINE void edgec_i16_avx2_halves(int fmt, int H, int h0, int T, float *out, int ldo, const uint8_t *w, int g, int rows,
                                               const edgec_block_q8a *xq, int t, int nb)
{
    const size_t tb = (size_t)edgec_i16_tile_bytes(fmt);
    const uint8_t *group = w + (size_t)g * nb * tb;
    __m256 acc[2][EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < 2; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[i][j] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *tile = group + (size_t)b * tb;
        const edgec_block_q8a *x = xq + (size_t)t * nb + b;
        if (h0 == 0) edgec_i16_avx2_prefetch(tile); /* a second pass (h0 = 1) reads from cache */
EDGEC_UNROLL
        for (int i = 0; i < 2; i++) {
            if (i >= H) continue;
            const int h = h0 + i;
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(tile + 16 * h)));
            __m256 mw = fmt == EDGEC_FMT_Q4_1 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(tile + 32 + 16 * h))) : _mm256_setzero_ps();
            __m256i isum[EDGEC_TILE_TOKENS];
            edgec_i16_avx2_dots(fmt, T, isum, tile, h, x, nb);
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
                if (j < T) acc[i][j] = edgec_i16_avx2_accumulate(fmt, acc[i][j], isum[j], dw, mw, x + (size_t)j * nb);
        }
    }
EDGEC_UNROLL
    for (int i = 0; i < 2; i++) {
        if (i >= H) continue;
        const int r0 = EDGEC_I16_ROWS * g + 8 * (h0 + i), left = rows - r0;
        if (left <= 0) continue;
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (j >= T) continue;
            float *o = out + (size_t)(t + j) * ldo + r0;
            if (left >= 8) {
                _mm256_storeu_ps(o, acc[i][j]);
            } else { /* the padded rows of a partial group are never written */
                float tmp[8];
                _mm256_storeu_ps(tmp, acc[i][j]);
                for (int r = 0; r < left; r++) o[r] = tmp[r];
            }
        }
    }
}

/* One token: both halves of each group per tile.  Batches: per group and half, tiles of 4
 * tokens, then single tokens. */
EDGEC_ALWAYS_INLINE void edgec_i16_avx2_matmul(int fmt, float *out, int ldo, const void *w, int g0, int g1, int rows,
                                               const edgec_block_q8a *xq, int n_tok, int n)
{
    const uint8_t *wb = (const uint8_t *)w;
    const int nb = n / EDGEC_QK, groups = edgec_i16_groups(rows);
    if (g1 > groups) g1 = groups;
    for (int g = g0; g < g1; g++) {
        if (n_tok == 1) {
            edgec_i16_avx2_halves(fmt, 2, 0, 1, out, ldo, wb, g, rows, xq, 0, nb);
            continue;
        }
        for (int h = 0; h < 2; h++) {
            if (EDGEC_I16_ROWS * g + 8 * h >= rows) break; /* all-padding half */
            int t = 0;
            for (; t + EDGEC_I16_AVX2_TOKENS <= n_tok; t += EDGEC_I16_AVX2_TOKENS)
                edgec_i16_avx2_halves(fmt, 1, h, EDGEC_I16_AVX2_TOKENS, out, ldo, wb, g, rows, xq, t, nb);
            for (; t < n_tok; t++) edgec_i16_avx2_halves(fmt, 1, h, 1, out, ldo, wb, g, rows, xq, t, nb);
        }
    }
}

static inline void edgec_i16_avx2_matmul_q4_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_avx2_matmul(EDGEC_FMT_Q4_0, out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_i16_avx2_matmul_q4_1(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_avx2_matmul(EDGEC_FMT_Q4_1, out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_i16_avx2_matmul_q8_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_avx2_matmul(EDGEC_FMT_Q8_0, out, ldo, w, g0, g1, rows, xq, n_tok, n); }

#endif
