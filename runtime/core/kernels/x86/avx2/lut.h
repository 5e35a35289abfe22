/* kernels/x86/avx2/lut.h - LUT matmul on AVX2 + FMA + F16C: vpshufb on split low/high byte tables.
 *
 * A table entry needs 10 bits (|entry| <= 508), vpshufb looks up bytes, so each group's table
 * is stored as its 16 low bytes and its 16 high bytes (two's complement: entry = 256*hi + lo),
 * both looked up with the same indices and re-joined exactly by interleaving (vpunpck*bw).
 * vpshufb picks from 16 bytes per 128-bit lane, so every byte of an index vector must meet the
 * same table: a quad's 32 rows x 2 bytes (nibbles A|B<<4, C|D<<4 of each row's word) are first
 * split by byte (vpackuswb of the low and of the high bytes of the two 16-row halves) into
 * AB = [rows 0-7, 16-23 | 8-15, 24-31] and CD likewise; vpunpcklbw / vpunpckhbw of a lookup then
 * give int16 rows 0..15 / 16..31 in order.  Sums stay in int16 lanes (exact, see kernels/lut.h).
 *
 * Tables (edgec_lut_build_tables): per token, per column group q (n/4 of them), 32 bytes at
 * q*32: the 16 low bytes, then the 16 high bytes of T_q.  8n bytes per token.
 * Included only by kernels/lut.h, after its scalar helpers.
 */
#ifndef EDGEC_KERNELS_LUT_AVX2_H
#define EDGEC_KERNELS_LUT_AVX2_H

#include <immintrin.h>
#include "kernels/lut_sweep.h"   /* the matrix walk shared with the other ISAs */

/* ---- tables --------------------------------------------------------------------------- */

static inline void edgec_lut256_build_tables(void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{
    /* word i of a table is entry i; bit k of i says whether activation k is in */
    const __m256i bit0 = _mm256_setr_epi16(0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1);
    const __m256i bit1 = _mm256_setr_epi16(0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1, -1);
    const __m256i bit2 = _mm256_setr_epi16(0, 0, 0, 0, -1, -1, -1, -1, 0, 0, 0, 0, -1, -1, -1, -1);
    const __m256i bit3 = _mm256_setr_epi16(0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i low8 = _mm256_set1_epi16(0xff);
    const int nb = n / EDGEC_QK;
    for (int t = 0; t < n_tok; t++) {
        uint8_t *tt = (uint8_t *)tables + (size_t)t * EDGEC_LUT_TABLE_BYTES(n);
        for (int b = 0; b < nb; b++) {
            const int8_t *qs = xq[(size_t)t * nb + b].qs;
            for (int q = 0; q < 8; q++) {
                const int8_t *x = qs + 4 * q;
                __m256i e = _mm256_add_epi16(_mm256_add_epi16(_mm256_and_si256(_mm256_set1_epi16(x[0]), bit0), _mm256_and_si256(_mm256_set1_epi16(x[1]), bit1)),
                                             _mm256_add_epi16(_mm256_and_si256(_mm256_set1_epi16(x[2]), bit2), _mm256_and_si256(_mm256_set1_epi16(x[3]), bit3)));
                /* [lo 0-7, hi 0-7 | lo 8-15, hi 8-15] -> [lo 0-15 | hi 0-15] */
                __m256i split = _mm256_packus_epi16(_mm256_and_si256(e, low8), _mm256_and_si256(_mm256_srli_epi16(e, 8), low8));
                _mm256_storeu_si256((__m256i *)(tt + ((size_t)b * 8 + q) * 32), _mm256_permute4x64_epi64(split, 0xd8));
            }
        }
    }
}

/* ---- matmul ----------------------------------------------------------------------------- */

/* Adds table tab's entries at idx (bytes 0..15, in the AB / CD row order) to rows 0..15 (lo16)
 * and 16..31 (hi16) as int16. */
EDGEC_ALWAYS_INLINE void edgec_lut256_lookup(__m256i *lo16, __m256i *hi16, __m256i idx, const uint8_t *tab)
{
    const __m256i tl = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)tab));
    const __m256i th = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(tab + 16)));
    const __m256i l = _mm256_shuffle_epi8(tl, idx), h = _mm256_shuffle_epi8(th, idx);
    *lo16 = _mm256_add_epi16(*lo16, _mm256_unpacklo_epi8(l, h));
    *hi16 = _mm256_add_epi16(*hi16, _mm256_unpackhi_epi8(l, h));
}

/* isum' of 32 rows (lo16: rows 0..15, hi16: 16..31) over one 32-column block, one token. */
EDGEC_ALWAYS_INLINE void edgec_lut256_block(int fmt, const uint8_t *planes, const uint8_t *tab, __m256i *lo16, __m256i *hi16)
{
    const int P = edgec_lut_planes(fmt);
    const __m256i low8 = _mm256_set1_epi16(0xff), low4 = _mm256_set1_epi8(0x0f);
    __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
    for (int p = 0; p < P; p++) { /* planes in memory order (the hardware prefetcher loses a stream read backwards) */
        const int flip = p == P - 1 && edgec_lut_signed(fmt);
        __m256i ea = _mm256_setzero_si256(), eb = _mm256_setzero_si256();
EDGEC_UNROLL
        for (int c = 0; c < 2; c++) {
            __m256i w0 = _mm256_loadu_si256((const __m256i *)(planes + p * EDGEC_LUT_PLANE_BYTES + c * EDGEC_LUT_QUAD_BYTES));
            __m256i w1 = _mm256_loadu_si256((const __m256i *)(planes + p * EDGEC_LUT_PLANE_BYTES + c * EDGEC_LUT_QUAD_BYTES + 32));
            if (flip) { /* q4's top plane: bits of 1 - b3 */
                w0 = _mm256_xor_si256(w0, _mm256_set1_epi32(-1));
                w1 = _mm256_xor_si256(w1, _mm256_set1_epi32(-1));
            }
            const __m256i ab = _mm256_packus_epi16(_mm256_and_si256(w0, low8), _mm256_and_si256(w1, low8));
            const __m256i cd = _mm256_packus_epi16(_mm256_srli_epi16(w0, 8), _mm256_srli_epi16(w1, 8));
            const uint8_t *t = tab + (size_t)(4 * c) * 32;
            edgec_lut256_lookup(&ea, &eb, _mm256_and_si256(ab, low4), t);
            edgec_lut256_lookup(&ea, &eb, _mm256_and_si256(_mm256_srli_epi16(ab, 4), low4), t + 32);
            edgec_lut256_lookup(&ea, &eb, _mm256_and_si256(cd, low4), t + 64);
            edgec_lut256_lookup(&ea, &eb, _mm256_and_si256(_mm256_srli_epi16(cd, 4), low4), t + 96);
        }
        ea = _mm256_slli_epi16(ea, p); /* plane p weighs 2^p, q4's top plane -8 */
        eb = _mm256_slli_epi16(eb, p);
        a = flip ? _mm256_sub_epi16(a, ea) : _mm256_add_epi16(a, ea);
        b = flip ? _mm256_sub_epi16(b, eb) : _mm256_add_epi16(b, eb);
    }
    *lo16 = a;
    *hi16 = b;
}

/* Group g x token t over all n columns: out[t*ldo + 32g + lane], lanes past `rows` not written. */
EDGEC_ALWAYS_INLINE void edgec_lut256_group(int fmt, float *out, int ldo, const uint8_t *w, int g, int rows,
                                            const uint8_t *tables, const edgec_block_q8a *xq, int t, int n)
{
    const int S = edgec_lut_unit_cols(fmt) / EDGEC_QK, nu = n / edgec_lut_unit_cols(fmt), nb = n / EDGEC_QK;
    const size_t tb = (size_t)edgec_lut_tile_bytes(fmt);
    const uint8_t *tile = w + (size_t)g * nu * tb, *tt = tables + (size_t)t * EDGEC_LUT_TABLE_BYTES(n);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int u = 0; u < nu; u++, tile += tb) {
#if EDGEC_LUT_PREFETCH > 0
        _mm_prefetch((const char *)tile + EDGEC_LUT_PREFETCH, _MM_HINT_T1);
#endif
        for (int s = 0; s < S; s++) {
            const int b = u * S + s;
            __m256i lo16, hi16;
            edgec_lut256_block(fmt, edgec_lut_planes_of(fmt, tile, s), tt + (size_t)b * 256, &lo16, &hi16);
            const edgec_block_q8a *x = xq + (size_t)t * nb + b;
            const __m256 xd = _mm256_set1_ps(x->d), xs = _mm256_set1_ps(x->s);
            const __m128i part[4] = {_mm256_castsi256_si128(lo16), _mm256_extracti128_si256(lo16, 1),
                                     _mm256_castsi256_si128(hi16), _mm256_extracti128_si256(hi16, 1)};
EDGEC_UNROLL
            for (int q = 0; q < 4; q++) { /* rows 8q..8q+7 */
                const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(tile + 16 * q)));
                const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepi16_epi32(part[q]));
                acc[q] = _mm256_fmadd_ps(_mm256_mul_ps(f, xd), d, acc[q]);
                if (fmt == EDGEC_LUT_Q4_0) continue;
                __m256 m = edgec_lut_has_m(fmt) ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(tile + 64 + 16 * q))) : _mm256_setzero_ps();
                if (fmt == EDGEC_LUT_Q4_1) m = _mm256_fmadd_ps(d, _mm256_set1_ps(8.0f), m); /* m' = m + 8d */
                else if (fmt == EDGEC_LUT_TQ2) m = _mm256_sub_ps(m, d);                     /* m' = -d */
                acc[q] = _mm256_fmadd_ps(m, xs, acc[q]);
            }
        }
    }
    const int left = rows - EDGEC_LUT_ROWS * g;
    float *o = out + (size_t)t * ldo + EDGEC_LUT_ROWS * g;
    if (left >= EDGEC_LUT_ROWS) {
        for (int q = 0; q < 4; q++) _mm256_storeu_ps(o + 8 * q, acc[q]);
        return;
    }
    float tmp[EDGEC_LUT_ROWS];
    for (int q = 0; q < 4; q++) _mm256_storeu_ps(tmp + 8 * q, acc[q]);
    for (int r = 0; r < left; r++) o[r] = tmp[r];
}

/* One token at a time (16 registers leave no room to share a quad's indices between tokens).
 * Decode: group by group, one sequential weight stream.  Batches: groups in chunks of about
 * 256 KiB of weights (L2), each chunk swept once per token, so the token's tables stay in L1. */
EDGEC_ALWAYS_INLINE void edgec_lut256_matmul(int fmt, float *out, int ldo, const void *w, int g0, int g1, int rows,
                                             const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lut_sweep(edgec_lut256_group, (size_t)256 << 10, fmt, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }

#endif
