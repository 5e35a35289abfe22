/* kernels/x86/avx512/i16.h - i16-layout matmul on AVX-512 F+BW, with VNNI vpdpbusd when
 * __AVX512VNNI__ is defined (else vpmaddubsw + vpmaddwd).
 *
 * Int32 lane r of every vector is row r of a 16-row group.  Per 32-column block a tile gives
 * 8 weight operands (see kernels/i16.h); operand i times the broadcast activation dword i
 * adds 4 columns to all 16 rows, so the block's integer dots come out lane per row with no
 * horizontal reduction, and one fp16->fp32 convert of the tile's 16 scales plus an FMA
 * accumulates them in float.  Only the final 16 floats are stored (masked for a partial group).
 *   q4_1: acc += d_w * (d_x * isum) + m_w * s_x           isum = sum nib*qx
 *   q4_0: acc += d_w * (d_x * isum - 8 s_x)               isum = sum nib*qx
 *   q8_0: acc += d_w * (d_x * isum - 128 s_x)  (VNNI)     isum = sum (w+128)*qx, s_x = d_x*sum qx
 *         acc += d_w * (d_x * isum)            (no VNNI)  isum = sum w*qx
 * Row groups are done one after another, so decode reads the weights as one sequential
 * stream; a prompt batch unpacks each tile once into registers and reuses it for up to 8 tokens.
 * Included only by kernels/i16.h, after its scalar helpers.
 */
#ifndef EDGEC_KERNELS_I16_AVX512_H
#define EDGEC_KERNELS_I16_AVX512_H

#include <immintrin.h>

/* One tile unpacked: operand i meets activation dword i. */
typedef struct {
    __m512i op[EDGEC_I16_OPERANDS]; /* q4: nibbles (odd ones 16*nib when split); q8_0: w+128 (VNNI) or |w| */
#if !defined(__AVX512VNNI__)
    __mmask64 neg[EDGEC_I16_OPERANDS]; /* q8_0 without VNNI: bytes whose weight is negative */
#endif
    __m512 d, m; /* per-row scale, and q4_1's per-row offset */
} edgec_i16_avx512_tile;

/* Prefetches into L2 the line EDGEC_I16_PREFETCH bytes past the tile's start.  Tiles are read
 * in order, so one prefetch per tile keeps the stream that far ahead; one per 64 bytes was no
 * faster from DRAM and up to 25% slower on cache-resident q8_0 (docs/layout_i16.md). */
EDGEC_ALWAYS_INLINE void edgec_i16_avx512_prefetch(const uint8_t *tile)
{
#if EDGEC_I16_PREFETCH > 0
    _mm_prefetch((const char *)tile + EDGEC_I16_PREFETCH, _MM_HINT_T1);
#else
    (void)tile;
#endif
}

/* Loads and unpacks a tile.  split (a constant, decode with VNNI): q4's odd operands keep the
 * high nibbles in place (16*nib, one op less per chunk); edgec_i16_avx512_dot shifts their sum. */
EDGEC_ALWAYS_INLINE edgec_i16_avx512_tile edgec_i16_avx512_load(int fmt, int split, const uint8_t *tile)
{
    edgec_i16_avx512_tile t;
    const uint8_t *q = tile + edgec_i16_scale_bytes(fmt);
    (void)split; /* used with VNNI only */
    t.d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)tile));
    t.m = fmt == EDGEC_FMT_Q4_1 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(tile + 32))) : _mm512_setzero_ps();
    if (fmt == EDGEC_FMT_Q8_0) {
EDGEC_UNROLL
        for (int c = 0; c < 8; c++) {
            t.op[c] = _mm512_loadu_si512((const void *)(q + 64 * c));
#if !defined(__AVX512VNNI__)
            /* maddubs wants an unsigned side: |w| here, w's sign moved onto the activation */
            __m512i w = _mm512_xor_si512(t.op[c], _mm512_set1_epi8((char)0x80));
            t.neg[c] = _mm512_movepi8_mask(w);
            t.op[c] = _mm512_abs_epi8(w);
#endif
        }
    } else {
        const __m512i low4 = _mm512_set1_epi8(0x0f);
EDGEC_UNROLL
        for (int c = 0; c < 4; c++) {
            __m512i v = _mm512_loadu_si512((const void *)(q + 64 * c));
            t.op[2 * c] = _mm512_and_si512(v, low4);
#if defined(__AVX512VNNI__)
            if (split) {
                t.op[2 * c + 1] = _mm512_andnot_si512(low4, v);
                continue;
            }
#endif
            t.op[2 * c + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low4);
        }
    }
    return t;
}

/* Activation dword i (qs[4i..4i+3]) in every int32 lane. */
EDGEC_ALWAYS_INLINE __m512i edgec_i16_avx512_xdword(const int8_t *qx, int i)
{
    return _mm512_set1_epi32((int)edgec_load_u32(qx + 4 * i));
}

/* Lane r = the tile's integer dot for row r (see the header comment for what it sums), exact.
 * split (a constant, as given to edgec_i16_avx512_load): even and odd operands in two vpdpbusd
 * chains, for decode, where nothing else hides their latency; q4's odd chain then sums
 * 16*nib*qx (at most 16 columns * 16*15*127, far inside int32) and is shifted back exactly. */
EDGEC_ALWAYS_INLINE __m512i edgec_i16_avx512_dot(int fmt, int split, const edgec_i16_avx512_tile *w, const int8_t *qx)
{
#if defined(__AVX512VNNI__)
    __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_I16_OPERANDS; i += 2) {
        a = _mm512_dpbusd_epi32(a, w->op[i], edgec_i16_avx512_xdword(qx, i));
        if (split) b = _mm512_dpbusd_epi32(b, w->op[i + 1], edgec_i16_avx512_xdword(qx, i + 1));
        else a = _mm512_dpbusd_epi32(a, w->op[i + 1], edgec_i16_avx512_xdword(qx, i + 1));
    }
    if (!split) return a;
    return _mm512_add_epi32(a, fmt == EDGEC_FMT_Q8_0 ? b : _mm512_srai_epi32(b, 4));
#else
    (void)split;
    const __m512i ones = _mm512_set1_epi16(1);
    if (fmt == EDGEC_FMT_Q8_0) {
        /* |w| <= 128, |qx| <= 127: a pair sum of 32512 fits int16, two would not */
        __m512i s = _mm512_setzero_si512();
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_I16_OPERANDS; i++) {
            __m512i x = edgec_i16_avx512_xdword(qx, i);
            x = _mm512_mask_sub_epi8(x, w->neg[i], _mm512_setzero_si512(), x);
            s = _mm512_add_epi32(s, _mm512_madd_epi16(_mm512_maddubs_epi16(w->op[i], x), ones));
        }
        return s;
    }
    /* nibbles: each maddubs pair is at most 2*15*127 = 3810, all 8 summed 30480 < 32767 */
    __m512i p = _mm512_setzero_si512();
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_I16_OPERANDS; i++) p = _mm512_add_epi16(p, _mm512_maddubs_epi16(w->op[i], edgec_i16_avx512_xdword(qx, i)));
    return _mm512_madd_epi16(p, ones);
#endif
}

/* The constant times s_x that the integer dot over-counts: nibble bias 8, q8_0's +128 (VNNI). */
static inline float edgec_i16_avx512_bias(int fmt)
{
#if defined(__AVX512VNNI__)
    if (fmt == EDGEC_FMT_Q8_0) return 128.0f;
#endif
    return fmt == EDGEC_FMT_Q4_0 ? 8.0f : 0.0f;
}

/* acc += this block's contribution for 16 rows (formulas in the header comment). */
EDGEC_ALWAYS_INLINE __m512 edgec_i16_avx512_accumulate(int fmt, __m512 acc, __m512i isum, const edgec_i16_avx512_tile *w,
                                                       const edgec_block_q8a *x)
{
    const float bias = edgec_i16_avx512_bias(fmt);
    __m512 fi = _mm512_cvtepi32_ps(isum), dx = _mm512_set1_ps(x->d);
    __m512 v = bias != 0.0f ? _mm512_fmsub_ps(fi, dx, _mm512_set1_ps(bias * x->s)) : _mm512_mul_ps(fi, dx);
    acc = _mm512_fmadd_ps(v, w->d, acc);
    if (fmt == EDGEC_FMT_Q4_1) acc = _mm512_fmadd_ps(w->m, _mm512_set1_ps(x->s), acc);
    return acc;
}

/* Group g x tokens t..t+T-1 (T <= 8, a constant) over all nb blocks:
 * out[(t+j)*ldo + 16g + lane], lanes past `rows` not written. */
EDGEC_ALWAYS_INLINE void edgec_i16_avx512_group(int fmt, int T, float *out, int ldo, const uint8_t *w, int g, int rows,
                                                const edgec_block_q8a *xq, int t, int nb)
{
    const size_t tb = (size_t)edgec_i16_tile_bytes(fmt);
    const uint8_t *group = w + (size_t)g * nb * tb;
    __m512 acc[EDGEC_TILE_TOKENS];
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++) acc[j] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *tile = group + (size_t)b * tb;
        edgec_i16_avx512_prefetch(tile);
        edgec_i16_avx512_tile wt = edgec_i16_avx512_load(fmt, T == 1, tile);
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_TILE_TOKENS; j++) {
            if (j >= T) continue;
            const edgec_block_q8a *x = xq + (size_t)(t + j) * nb + b;
            acc[j] = edgec_i16_avx512_accumulate(fmt, acc[j], edgec_i16_avx512_dot(fmt, T == 1, &wt, x->qs), &wt, x);
        }
    }
    const int left = rows - EDGEC_I16_ROWS * g;
    const __mmask16 mask = left >= EDGEC_I16_ROWS ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_TILE_TOKENS; j++)
        if (j < T) _mm512_mask_storeu_ps(out + (size_t)(t + j) * ldo + EDGEC_I16_ROWS * g, mask, acc[j]);
}

/* Group by group, so the weights are read as one sequential stream (that measured 1.5x faster
 * from DRAM than two interleaved groups).  Batches: tiles of 8, then 4, then single tokens,
 * each tile reading the group's weights once from cache. */
EDGEC_ALWAYS_INLINE void edgec_i16_avx512_matmul(int fmt, float *out, int ldo, const void *w, int g0, int g1, int rows,
                                                 const edgec_block_q8a *xq, int n_tok, int n)
{
    const uint8_t *wb = (const uint8_t *)w;
    const int nb = n / EDGEC_QK, groups = edgec_i16_groups(rows);
    if (g1 > groups) g1 = groups;
    for (int g = g0; g < g1; g++) {
        int t = 0;
        for (; t + 8 <= n_tok; t += 8) edgec_i16_avx512_group(fmt, 8, out, ldo, wb, g, rows, xq, t, nb);
        for (; t + 4 <= n_tok; t += 4) edgec_i16_avx512_group(fmt, 4, out, ldo, wb, g, rows, xq, t, nb);
        for (; t < n_tok; t++) edgec_i16_avx512_group(fmt, 1, out, ldo, wb, g, rows, xq, t, nb);
    }
}

static inline void edgec_i16_avx512_matmul_q4_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_avx512_matmul(EDGEC_FMT_Q4_0, out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_i16_avx512_matmul_q4_1(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_avx512_matmul(EDGEC_FMT_Q4_1, out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_i16_avx512_matmul_q8_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_avx512_matmul(EDGEC_FMT_Q8_0, out, ldo, w, g0, g1, rows, xq, n_tok, n); }

#endif
