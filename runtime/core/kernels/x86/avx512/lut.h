/* kernels/x86/avx512/lut.h - LUT matmul on AVX-512 F+BW: vpermw / vpermi2w look up int16 tables exactly.
 *
 * A plane's quad (64 bytes of a tile) loaded as 32 uint16 lanes holds row r's index word in
 * lane r: bit i = bit p of column 16c + i.  The layout's 4-column nibbles need 3 shifts and 4
 * lookups per word; this path instead splits the word 6 + 6 + 4: bits 0..5 and 6..11 index
 * 64-entry tables of 6 activations (two-register vpermi2w reads 6 index bits), bits 12..15 a
 * 16-entry one (vpermw), so a word costs 2 shifts and 3 lookups, and bits above an index are
 * ignored by the instruction, so no masking.  Entries are exact int16 (|entry| <= 6*127), no
 * byte splitting or widening.  (Measured on Zen 4: vpermw, vpermi2w, vpermb and vpshufb all
 * issue one per cycle, shifts compete with them; 6+6+4 was 15-23% faster than 4+4+4+4.)
 * Per 32-column block: isum' in int16 lanes (exact, see kernels/lut.h), widened once, and
 * acc += d * (x.d * isum') + m' * x.s in two vectors of 16 floats.
 *
 * Tables (edgec_lut_build_tables): per token, per quad (16 columns 16c'.., c' = 2b + c over
 * the vector) EDGEC_LUT512_QUAD_TABLE = 320 bytes at c'*320: subset sums of columns 0..5
 * (64 int16), of columns 6..11 (64 int16), of columns 12..15 (16 int16, then repeated), all
 * indexed by the word's bits as they are.  20n bytes per token.
 * Included only by kernels/lut.h, after its scalar helpers.
 */
#ifndef EDGEC_KERNELS_LUT_AVX512_H
#define EDGEC_KERNELS_LUT_AVX512_H

#include <immintrin.h>

#define EDGEC_LUT512_QUAD_TABLE 320 /* table bytes per quad: 64 + 64 + 32 int16 (the last 16 repeat) */
#define EDGEC_LUT512_TOKENS 2 /* tokens per register tile: 4 tokens spilled (measured 1.5x slower) */

/* ---- tables --------------------------------------------------------------------------- */

/* Table lanes: bit k of the lane index (entry) says whether activation k is in. */
#define EDGEC_LUT512_BIT0 0xaaaaaaaau
#define EDGEC_LUT512_BIT1 0xccccccccu
#define EDGEC_LUT512_BIT2 0xf0f0f0f0u
#define EDGEC_LUT512_BIT3 0xff00ff00u
#define EDGEC_LUT512_BIT4 0xffff0000u

/* Subset sums of x[c0..c0+k-1] (k <= 5; entries 0..2^k-1 in lanes 0..2^k-1, the rest repeat). */
EDGEC_ALWAYS_INLINE __m512i edgec_lut512_subsets(__m512i x, int c0, int k)
{
    static const uint32_t bit[5] = {EDGEC_LUT512_BIT0, EDGEC_LUT512_BIT1, EDGEC_LUT512_BIT2, EDGEC_LUT512_BIT3, EDGEC_LUT512_BIT4};
    __m512i e = _mm512_maskz_permutexvar_epi16(bit[0], _mm512_set1_epi16((short)c0), x);
EDGEC_UNROLL
    for (int i = 1; i < 5; i++)
        if (i < k) e = _mm512_add_epi16(e, _mm512_maskz_permutexvar_epi16(bit[i], _mm512_set1_epi16((short)(c0 + i)), x));
    return e;
}

/* Per quad (16 columns = one index word per row): a 6-column table of the word's bits 0..5
 * (64 int16), one of bits 6..11 (64 int16), a 4-column table of bits 12..15 (16 int16). */
static inline void edgec_lut512_build_tables(void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK;
    for (int t = 0; t < n_tok; t++) {
        uint8_t *tt = (uint8_t *)tables + (size_t)t * EDGEC_LUT_TABLE_BYTES(n);
        for (int b = 0; b < nb; b++) {
            const __m512i x = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)xq[(size_t)t * nb + b].qs));
EDGEC_UNROLL
            for (int c = 0; c < 2; c++) {
                uint8_t *q = tt + ((size_t)b * 2 + c) * EDGEC_LUT512_QUAD_TABLE;
                const int c0 = 16 * c;
EDGEC_UNROLL
                for (int h = 0; h < 2; h++) { /* columns c0+6h .. c0+6h+5: entries 32..63 add column 5 */
                    __m512i lo = edgec_lut512_subsets(x, c0 + 6 * h, 5);
                    __m512i hi = _mm512_add_epi16(lo, _mm512_permutexvar_epi16(_mm512_set1_epi16((short)(c0 + 6 * h + 5)), x));
                    _mm512_storeu_si512((void *)(q + 128 * h), lo);
                    _mm512_storeu_si512((void *)(q + 128 * h + 64), hi);
                }
                _mm512_storeu_si512((void *)(q + 256), edgec_lut512_subsets(x, c0 + 12, 4)); /* lanes 16..31 repeat 0..15 */
            }
        }
    }
}

/* ---- matmul ----------------------------------------------------------------------------- */

/* Sum of one quad's 3 lookups for 32 rows: bits 0..5, 6..11 (two-register vpermi2w on 64
 * entries; it reads 6 index bits) and 12..15 of each word. */
EDGEC_ALWAYS_INLINE __m512i edgec_lut512_quad(const __m512i idx[3], const uint8_t *tab)
{
    __m512i a = _mm512_permutex2var_epi16(_mm512_loadu_si512((const void *)tab), idx[0], _mm512_loadu_si512((const void *)(tab + 64)));
    __m512i b = _mm512_permutex2var_epi16(_mm512_loadu_si512((const void *)(tab + 128)), idx[1], _mm512_loadu_si512((const void *)(tab + 192)));
    __m512i c = _mm512_permutexvar_epi16(idx[2], _mm512_loadu_si512((const void *)(tab + 256)));
    return _mm512_add_epi16(_mm512_add_epi16(a, b), c);
}

/* Group g x tokens t..t+T-1 (T <= EDGEC_LUT512_TOKENS, a constant) over all n columns:
 * out[(t+j)*ldo + 32g + lane], lanes past `rows` not written. */
EDGEC_ALWAYS_INLINE void edgec_lut512_group(int fmt, int T, float *out, int ldo, const uint8_t *w, int g, int rows,
                                            const uint8_t *tables, const edgec_block_q8a *xq, int t, int n)
{
    const int P = edgec_lut_planes(fmt), S = edgec_lut_unit_cols(fmt) / EDGEC_QK, nu = n / edgec_lut_unit_cols(fmt), nb = n / EDGEC_QK;
    const size_t tb = (size_t)edgec_lut_tile_bytes(fmt), tstride = EDGEC_LUT_TABLE_BYTES(n);
    const uint8_t *tile = w + (size_t)g * nu * tb;
    __m512 acc[EDGEC_LUT512_TOKENS][2];
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_LUT512_TOKENS; j++) acc[j][0] = acc[j][1] = _mm512_setzero_ps();
    for (int u = 0; u < nu; u++, tile += tb) {
#if EDGEC_LUT_PREFETCH > 0
        _mm_prefetch((const char *)tile + EDGEC_LUT_PREFETCH, _MM_HINT_T1);
#endif
        const __m512 d0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)tile));
        const __m512 d1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(tile + 32)));
        __m512 m0 = _mm512_setzero_ps(), m1 = _mm512_setzero_ps();
        if (edgec_lut_has_m(fmt)) {
            m0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(tile + 64)));
            m1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(tile + 96)));
        }
        if (fmt == EDGEC_LUT_Q4_1) { /* m' = m + 8d */
            m0 = _mm512_fmadd_ps(d0, _mm512_set1_ps(8.0f), m0);
            m1 = _mm512_fmadd_ps(d1, _mm512_set1_ps(8.0f), m1);
        } else if (fmt == EDGEC_LUT_TQ2) { /* m' = -d */
            m0 = _mm512_sub_ps(m0, d0);
            m1 = _mm512_sub_ps(m1, d1);
        }
        for (int s = 0; s < S; s++) {
            const uint8_t *planes = edgec_lut_planes_of(fmt, tile, s);
            const int b = u * S + s;
            __m512i isum[EDGEC_LUT512_TOKENS];
            /* planes in memory order (the hardware prefetcher loses a stream read backwards) */
            for (int p = 0; p < P; p++) {
                const int flip = p == P - 1 && edgec_lut_signed(fmt);
                __m512i e[EDGEC_LUT512_TOKENS];
EDGEC_UNROLL
                for (int c = 0; c < 2; c++) {
                    __m512i idx[3];
                    idx[0] = _mm512_loadu_si512((const void *)(planes + p * EDGEC_LUT_PLANE_BYTES + c * EDGEC_LUT_QUAD_BYTES));
                    if (flip) idx[0] = _mm512_ternarylogic_epi32(idx[0], idx[0], idx[0], 0x55); /* ~idx: 1 - b3 */
                    idx[1] = _mm512_srli_epi16(idx[0], 6);
                    idx[2] = _mm512_srli_epi16(idx[0], 12);
EDGEC_UNROLL
                    for (int j = 0; j < EDGEC_LUT512_TOKENS; j++) {
                        if (j >= T) continue;
                        const uint8_t *tab = tables + (size_t)(t + j) * tstride + ((size_t)b * 2 + c) * EDGEC_LUT512_QUAD_TABLE;
                        const __m512i q = edgec_lut512_quad(idx, tab);
                        e[j] = c == 0 ? q : _mm512_add_epi16(e[j], q);
                    }
                }
EDGEC_UNROLL
                for (int j = 0; j < EDGEC_LUT512_TOKENS; j++) {
                    if (j >= T) continue;
                    if (p == 0) isum[j] = e[j];
                    else if (flip) isum[j] = _mm512_sub_epi16(isum[j], _mm512_slli_epi16(e[j], (unsigned)p)); /* top plane: -8 */
                    else isum[j] = _mm512_add_epi16(isum[j], _mm512_slli_epi16(e[j], (unsigned)p));
                }
            }
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_LUT512_TOKENS; j++) {
                if (j >= T) continue;
                const edgec_block_q8a *x = xq + (size_t)(t + j) * nb + b;
                const __m512 xd = _mm512_set1_ps(x->d);
                __m512 f0 = _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm512_castsi512_si256(isum[j])));
                __m512 f1 = _mm512_cvtepi32_ps(_mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(isum[j], 1)));
                acc[j][0] = _mm512_fmadd_ps(_mm512_mul_ps(f0, xd), d0, acc[j][0]);
                acc[j][1] = _mm512_fmadd_ps(_mm512_mul_ps(f1, xd), d1, acc[j][1]);
                if (fmt != EDGEC_LUT_Q4_0) {
                    const __m512 xs = _mm512_set1_ps(x->s);
                    acc[j][0] = _mm512_fmadd_ps(m0, xs, acc[j][0]);
                    acc[j][1] = _mm512_fmadd_ps(m1, xs, acc[j][1]);
                }
            }
        }
    }
    const int left = rows - EDGEC_LUT_ROWS * g;
    const __mmask16 k0 = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
    const __mmask16 k1 = left >= 32 ? (__mmask16)0xffff : left > 16 ? (__mmask16)((1u << (left - 16)) - 1u) : (__mmask16)0;
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_LUT512_TOKENS; j++) {
        if (j >= T) continue;
        float *o = out + (size_t)(t + j) * ldo + EDGEC_LUT_ROWS * g;
        _mm512_mask_storeu_ps(o, k0, acc[j][0]);
        _mm512_mask_storeu_ps(o + 16, k1, acc[j][1]);
    }
}

/* Decode: group by group, one sequential weight stream.  Batches: the groups go in chunks of
 * about 256 KiB of weights (L2), and each chunk is swept once per tile of 2 tokens, so the
 * weights come from L2 and the tile's tables (20n bytes a token) from L1 / L2. */
EDGEC_ALWAYS_INLINE void edgec_lut512_matmul(int fmt, float *out, int ldo, const void *w, int g0, int g1, int rows,
                                             const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{
    const uint8_t *wb = (const uint8_t *)w, *tb = (const uint8_t *)tables;
    const int groups = edgec_lut_groups(rows);
    if (g1 > groups) g1 = groups;
    if (n_tok == 1) {
        for (int g = g0; g < g1; g++) edgec_lut512_group(fmt, 1, out, ldo, wb, g, rows, tb, xq, 0, n);
        return;
    }
    const size_t group_bytes = edgec_lut_bytes(fmt, EDGEC_LUT_ROWS, n);
    const int chunk = group_bytes >= ((size_t)256 << 10) ? 1 : (int)(((size_t)256 << 10) / group_bytes);
    for (int c0 = g0; c0 < g1; c0 += chunk) {
        const int c1 = c0 + chunk < g1 ? c0 + chunk : g1;
        int t = 0;
        for (; t + 2 <= n_tok; t += 2)
            for (int g = c0; g < c1; g++) edgec_lut512_group(fmt, 2, out, ldo, wb, g, rows, tb, xq, t, n);
        for (; t < n_tok; t++)
            for (int g = c0; g < c1; g++) edgec_lut512_group(fmt, 1, out, ldo, wb, g, rows, tb, xq, t, n);
    }
}

#endif
