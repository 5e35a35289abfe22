/* kernels/x86/ssse3/lut.h - LUT matmul on x86-64-v2 (SSE4.2 + SSSE3, no AVX): pshufb on split low/high
 * byte tables, kernels/x86/avx2/lut.h at 128 bits.
 *
 * A table entry needs 10 bits (|entry| <= 508), pshufb looks up bytes, so each group's table is stored
 * as its 16 low bytes and its 16 high bytes (two's complement: entry = 256*hi + lo), both looked up
 * with the same indices and re-joined exactly by interleaving (punpcklbw / punpckhbw).  pshufb picks
 * from 16 bytes, so every byte of an index vector must meet the same table: a quad's 32 rows x 2
 * bytes (nibbles A|B<<4, C|D<<4 of each row's word) are split by byte (packuswb of the low and of the
 * high bytes of two 8-row loads) into AB = rows 16h..16h+15 and CD likewise, for h = 0, 1; the
 * interleaved lookups then give int16 rows 16h..16h+7 and 16h+8..16h+15 in order.  Sums stay in
 * int16 lanes (exact, see kernels/lut.h), a plane's lookups summed before its 2^p.  The 32 rows'
 * float sums live in memory (L1): the 16 xmm registers go to the lookups.
 *
 * Tables (edgec_lut_build_tables): per token, per column group q (n/4 of them), 32 bytes at q*32:
 * the 16 low bytes, then the 16 high bytes of T_q (as on AVX2 and NEON).  8n bytes per token.
 * Included only by kernels/lut.h, after its scalar helpers.
 */
#ifndef EDGEC_KERNELS_LUT_SSSE3_H
#define EDGEC_KERNELS_LUT_SSSE3_H

#include <immintrin.h>

#include "kernels/x86/ssse3/vec.h" /* edgec_ssse3_load_halves8: fp16 without F16C */
#include "kernels/lut_sweep.h"   /* the matrix walk shared with the other ISAs */

/* ---- tables --------------------------------------------------------------------------- */

static inline void edgec_lutssse3_build_tables(void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{
    /* word i of a half is entry i (8 + i in the upper half); bit k of the entry says whether activation k is in */
    const __m128i bit0 = _mm_setr_epi16(0, -1, 0, -1, 0, -1, 0, -1);
    const __m128i bit1 = _mm_setr_epi16(0, 0, -1, -1, 0, 0, -1, -1);
    const __m128i bit2 = _mm_setr_epi16(0, 0, 0, 0, -1, -1, -1, -1);
    const __m128i low8 = _mm_set1_epi16(0xff);
    const int nb = n / EDGEC_QK;
    for (int t = 0; t < n_tok; t++) {
        uint8_t *tt = (uint8_t *)tables + (size_t)t * EDGEC_LUT_TABLE_BYTES(n);
        for (int b = 0; b < nb; b++) {
            const int8_t *qs = xq[(size_t)t * nb + b].qs;
            for (int q = 0; q < 8; q++) {
                const int8_t *x = qs + 4 * q;
                const __m128i e0 = _mm_add_epi16(_mm_add_epi16(_mm_and_si128(_mm_set1_epi16(x[0]), bit0), _mm_and_si128(_mm_set1_epi16(x[1]), bit1)),
                                                 _mm_and_si128(_mm_set1_epi16(x[2]), bit2)); /* entries 0..7: bit 3 clear */
                const __m128i e1 = _mm_add_epi16(e0, _mm_set1_epi16(x[3]));                  /* entries 8..15 */
                uint8_t *dst = tt + ((size_t)b * 8 + q) * 32;
                _mm_storeu_si128((__m128i *)dst, _mm_packus_epi16(_mm_and_si128(e0, low8), _mm_and_si128(e1, low8)));
                _mm_storeu_si128((__m128i *)(dst + 16), _mm_packus_epi16(_mm_srli_epi16(e0, 8), _mm_srli_epi16(e1, 8)));
            }
        }
    }
}

/* ---- matmul ----------------------------------------------------------------------------- */

/* Adds table (tl, th)'s entries at idx (bytes 0..15: rows 16h..16h+15) to e[0] (rows 16h..16h+7)
 * and e[1] (rows 16h+8..16h+15) as int16. */
EDGEC_ALWAYS_INLINE void edgec_lutssse3_lookup(__m128i e[2], __m128i idx, __m128i tl, __m128i th)
{
    const __m128i l = _mm_shuffle_epi8(tl, idx), h = _mm_shuffle_epi8(th, idx);
    e[0] = _mm_add_epi16(e[0], _mm_unpacklo_epi8(l, h));
    e[1] = _mm_add_epi16(e[1], _mm_unpackhi_epi8(l, h));
}

/* isum' of the 32 rows (isum[k]: rows 8k..8k+7) over one 32-column block, one token (tab: the
 * block's 8 group tables). */
EDGEC_ALWAYS_INLINE void edgec_lutssse3_block(int fmt, const uint8_t *planes, const uint8_t *tab, __m128i isum[4])
{
    const int P = edgec_lut_planes(fmt);
    const __m128i low8 = _mm_set1_epi16(0xff), low4 = _mm_set1_epi8(0x0f);
EDGEC_UNROLL
    for (int k = 0; k < 4; k++) isum[k] = _mm_setzero_si128();
    for (int p = 0; p < P; p++) { /* planes in memory order (the hardware prefetcher loses a stream read backwards) */
        const int flip = p == P - 1 && edgec_lut_signed(fmt);
        __m128i e[4];
EDGEC_UNROLL
        for (int k = 0; k < 4; k++) e[k] = _mm_setzero_si128();
EDGEC_UNROLL
        for (int c = 0; c < 2; c++) {
            const uint8_t *t = tab + (size_t)(4 * c) * 32;
EDGEC_UNROLL
            for (int h = 0; h < 2; h++) { /* rows 16h..16h+15 */
                const uint8_t *q = planes + p * EDGEC_LUT_PLANE_BYTES + c * EDGEC_LUT_QUAD_BYTES + 32 * h;
                __m128i w0 = _mm_loadu_si128((const __m128i *)q), w1 = _mm_loadu_si128((const __m128i *)(q + 16));
                if (flip) { /* q4's top plane: bits of 1 - b3 */
                    w0 = _mm_xor_si128(w0, _mm_set1_epi32(-1));
                    w1 = _mm_xor_si128(w1, _mm_set1_epi32(-1));
                }
                const __m128i ab = _mm_packus_epi16(_mm_and_si128(w0, low8), _mm_and_si128(w1, low8)); /* byte r: row 16h+r's A|B<<4 */
                const __m128i cd = _mm_packus_epi16(_mm_srli_epi16(w0, 8), _mm_srli_epi16(w1, 8));      /* and its C|D<<4 */
                const __m128i *tv = (const __m128i *)t;
                edgec_lutssse3_lookup(&e[2 * h], _mm_and_si128(ab, low4), _mm_loadu_si128(tv), _mm_loadu_si128(tv + 1));
                edgec_lutssse3_lookup(&e[2 * h], _mm_and_si128(_mm_srli_epi16(ab, 4), low4), _mm_loadu_si128(tv + 2), _mm_loadu_si128(tv + 3));
                edgec_lutssse3_lookup(&e[2 * h], _mm_and_si128(cd, low4), _mm_loadu_si128(tv + 4), _mm_loadu_si128(tv + 5));
                edgec_lutssse3_lookup(&e[2 * h], _mm_and_si128(_mm_srli_epi16(cd, 4), low4), _mm_loadu_si128(tv + 6), _mm_loadu_si128(tv + 7));
            }
        }
        const __m128i shift = _mm_cvtsi32_si128(p); /* plane p weighs 2^p, q4's top plane -8 */
EDGEC_UNROLL
        for (int k = 0; k < 4; k++) {
            const __m128i s = _mm_sll_epi16(e[k], shift);
            isum[k] = flip ? _mm_sub_epi16(isum[k], s) : _mm_add_epi16(isum[k], s);
        }
    }
}

/* Group g x token t over all n columns: out[t*ldo + 32g + lane], lanes past `rows` not written. */
EDGEC_ALWAYS_INLINE void edgec_lutssse3_group(int fmt, float *out, int ldo, const uint8_t *w, int g, int rows,
                                              const uint8_t *tables, const edgec_block_q8a *xq, int t, int n)
{
    const int S = edgec_lut_unit_cols(fmt) / EDGEC_QK, nu = n / edgec_lut_unit_cols(fmt), nb = n / EDGEC_QK;
    const size_t tb = (size_t)edgec_lut_tile_bytes(fmt);
    const uint8_t *tile = w + (size_t)g * nu * tb, *tt = tables + (size_t)t * EDGEC_LUT_TABLE_BYTES(n);
    float acc[EDGEC_LUT_ROWS] = {0}; /* in memory: the registers go to tables and sums */
    for (int u = 0; u < nu; u++, tile += tb) {
#if EDGEC_LUT_PREFETCH > 0
        _mm_prefetch((const char *)tile + EDGEC_LUT_PREFETCH, _MM_HINT_T1);
#endif
        for (int s = 0; s < S; s++) {
            const int b = u * S + s;
            __m128i isum[4];
            edgec_lutssse3_block(fmt, edgec_lut_planes_of(fmt, tile, s), tt + (size_t)b * 256, isum);
            const edgec_block_q8a *x = xq + (size_t)t * nb + b;
            const __m128 xd = _mm_set1_ps(x->d), xs = _mm_set1_ps(x->s);
EDGEC_UNROLL
            for (int k = 0; k < 4; k++) { /* rows 8k..8k+7 */
                __m128 d[2], m[2] = {_mm_setzero_ps(), _mm_setzero_ps()};
                edgec_ssse3_load_halves8(tile + 16 * k, &d[0], &d[1]);
                if (edgec_lut_has_m(fmt)) edgec_ssse3_load_halves8(tile + 64 + 16 * k, &m[0], &m[1]);
                const __m128 f[2] = {_mm_cvtepi32_ps(_mm_cvtepi16_epi32(isum[k])), _mm_cvtepi32_ps(_mm_cvtepi16_epi32(_mm_srli_si128(isum[k], 8)))};
EDGEC_UNROLL
                for (int h = 0; h < 2; h++) {
                    float *a = acc + 8 * k + 4 * h;
                    __m128 v = _mm_add_ps(_mm_mul_ps(_mm_mul_ps(f[h], xd), d[h]), _mm_loadu_ps(a));
                    if (fmt == EDGEC_LUT_Q4_1) m[h] = _mm_add_ps(_mm_mul_ps(d[h], _mm_set1_ps(8.0f)), m[h]); /* m' = m + 8d */
                    else if (fmt == EDGEC_LUT_TQ2) m[h] = _mm_sub_ps(m[h], d[h]);                             /* m' = -d */
                    if (fmt != EDGEC_LUT_Q4_0) v = _mm_add_ps(_mm_mul_ps(m[h], xs), v);
                    _mm_storeu_ps(a, v);
                }
            }
        }
    }
    const int left = rows - EDGEC_LUT_ROWS * g;
    float *o = out + (size_t)t * ldo + EDGEC_LUT_ROWS * g;
    for (int r = 0; r < (left < EDGEC_LUT_ROWS ? left : EDGEC_LUT_ROWS); r++) o[r] = acc[r];
}

/* One token at a time.  Decode: group by group, one sequential weight stream.  Batches: groups in
 * chunks of about 128 KiB of weights (a Nehalem core's L2 is 256 KiB, an Atom pair shares 1-4 MiB),
 * each chunk swept once per token, so the token's tables stay in L1. */
EDGEC_ALWAYS_INLINE void edgec_lutssse3_matmul(int fmt, float *out, int ldo, const void *w, int g0, int g1, int rows,
                                               const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lut_sweep(edgec_lutssse3_group, (size_t)128 << 10, fmt, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }

#endif
