/* kernels/x86/avx512/lowbit.h - q2 / q3 matmul microkernels, AVX-512 F + BW; VNNI vpdpbusd when __AVX512VNNI__.
 *
 * Work goes in chunks of 8 blocks (256 weights).  A block's 8 qs bytes hold its codes in 4 slices
 * (slice s = bits 2s..2s+1 = weights 8s..8s+7), so a chunk's weights become 4 code vectors: qword k
 * of vector s is slice s of block k, one shift and mask each (q3 adds its bit 2 from qh with a byte
 * broadcast, a bit test and a masked add).  The qs bytes and the fp16 (d, m) headers of the 8 blocks
 * are gathered from two 64-byte loads by dword permutes (q2 blocks are 3 dwords, q3 blocks 4), and
 * the activations are rearranged once per call to the same slices.  An integer dot of the 4 vector
 * pairs then leaves block k's sum(q * qx) in int32 lanes 2k and 2k+1, which one fmadd scales by
 * d_w*d_x, and a second adds m_w*s_x; no horizontal reduction until a row is done.
 * The tiling is kernels/tiled_matmul.h's, shaped as kernels/x86/avx512/dense.h's: 2 rows x 8 tokens
 * for a batch, 4 rows x 1 token for a matvec; a slab of prepared activations takes 18 KB of stack.
 */
#ifndef EDGEC_KERNELS_LOWBIT_AVX512_H
#define EDGEC_KERNELS_LOWBIT_AVX512_H

#include <immintrin.h>

#include "kernels/scalar/dense.h"
#include "kernels/x86/avx512/vec.h"

#define EDGEC_L512_CHUNK 8 /* blocks per chunk: block k's slice in qword k of each code vector */
#define EDGEC_L512_SLAB 6  /* activation chunks (48 blocks) prepared per pass over the rows */

/* One row's weights for a chunk of blocks. */
typedef struct {
    __m512i c[4];  /* unsigned codes: qword k of c[s] = weights 8s..8s+7 of block k */
    __m512 dm;     /* [d0, m0, d1, m1, ..., d7, m7] */
    __m512 dw;     /* d_w of block k in lanes 2k and 2k+1 */
} edgec_l512_wchunk;

/* One token's activations for a chunk of blocks, in the weights' slices. */
typedef struct {
    __m512i q[4];  /* qword k of q[s] = qs[8s..8s+7] of activation block k */
    __m512 d;      /* d_x of block k in lanes 2k and 2k+1 */
    __m512 s;      /* s_x of block k in lane 2k+1, 0 in lane 2k: meets m_w in dm */
} edgec_l512_xchunk;

/* ---- chunk loading --------------------------------------------------------------- */

/* The chunk's first two 64-byte halves (bytes 0..63 and 32..95 for q2, 0..127 for q3), only the
 * `count` blocks' dwords read: a short last chunk must not read past the row. */
EDGEC_ALWAYS_INLINE void edgec_l512_load_halves(int fmt, const uint8_t *blk, int count, __m512i *a, __m512i *b)
{
    const int dwords = (fmt == EDGEC_FMT_Q2 ? 3 : 4) * count;  /* 4-byte words of the chunk */
    const int b_first = fmt == EDGEC_FMT_Q2 ? 8 : 16;          /* chunk dword at b's lane 0 */
    if (count == EDGEC_L512_CHUNK) {
        *a = _mm512_loadu_si512((const void *)blk);
        *b = _mm512_loadu_si512((const void *)(blk + 4 * b_first));
        return;
    }
    const int in_a = dwords < 16 ? dwords : 16, in_b = dwords > b_first ? dwords - b_first : 0;
    *a = _mm512_maskz_loadu_epi32((__mmask16)((1u << in_a) - 1u), (const void *)blk);
    *b = _mm512_maskz_loadu_epi32((__mmask16)((1u << in_b) - 1u), (const void *)(blk + 4 * b_first));
}

/* Loads `count` (1..8) blocks of a weight row from blk and unpacks them; blocks past count are
 * zero codes with zero d and m. */
EDGEC_ALWAYS_INLINE edgec_l512_wchunk edgec_l512_load_wchunk(int fmt, const uint8_t *blk, int count)
{
    /* Permute indices into (a, b): q2 block k is dwords 3k (d, m), 3k+1, 3k+2 (qs) of the chunk,
     * chunk dword g sitting in a at g (g < 16) or in b at g - 8 (index 16 + g - 8); q3 block k is
     * dwords 4k (d, m), 4k+1, 4k+2 (qs), 4k+3 (qh), chunk dword g at index g. */
    const __m512i q2_qs = _mm512_setr_epi32(1, 2, 4, 5, 7, 8, 10, 11, 13, 14, 24, 25, 27, 28, 30, 31);
    const __m512i q2_dm = _mm512_setr_epi32(0, 3, 6, 9, 12, 15, 26, 29, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i q3_qs = _mm512_setr_epi32(1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22, 25, 26, 29, 30);
    const __m512i q3_dm = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i q3_qh = _mm512_setr_epi32(3, 3, 7, 7, 11, 11, 15, 15, 19, 19, 23, 23, 27, 27, 31, 31);
    const __m512i three = _mm512_set1_epi8(3);
    edgec_l512_wchunk c;
    __m512i a, b;
    _mm_prefetch((const char *)blk + EDGEC_PREFETCH_BYTES, _MM_HINT_T1);
    _mm_prefetch((const char *)blk + EDGEC_PREFETCH_BYTES + 64, _MM_HINT_T1);
    edgec_l512_load_halves(fmt, blk, count, &a, &b);
    const int q2 = fmt == EDGEC_FMT_Q2;
    __m512i qs = _mm512_permutex2var_epi32(a, q2 ? q2_qs : q3_qs, b);
    __m512i dm = _mm512_permutex2var_epi32(a, q2 ? q2_dm : q3_dm, b);
    c.c[0] = _mm512_and_si512(qs, three);
    c.c[1] = _mm512_and_si512(_mm512_srli_epi16(qs, 2), three);
    c.c[2] = _mm512_and_si512(_mm512_srli_epi16(qs, 4), three);
    c.c[3] = _mm512_and_si512(_mm512_srli_epi16(qs, 6), three);
    if (fmt == EDGEC_FMT_Q3) {
        /* qword k = block k's qh twice; byte s of it spread over 8 bytes, then byte i of the
         * qword tests bit i: weight 8s+i gets +4 where it is set */
        const __m512i qh = _mm512_permutex2var_epi32(a, q3_qh, b);
        const __m512i lanes = _mm512_set_epi64(0x0808080808080808ll, 0, 0x0808080808080808ll, 0,
                                               0x0808080808080808ll, 0, 0x0808080808080808ll, 0);
        const __m512i bit_of_byte = _mm512_set1_epi64((long long)0x8040201008040201ull);
        const __m512i four = _mm512_set1_epi8(4);
EDGEC_UNROLL
        for (int s = 0; s < 4; s++) {
            __m512i spread = _mm512_shuffle_epi8(qh, _mm512_add_epi8(lanes, _mm512_set1_epi8((char)s)));
            __mmask64 set = _mm512_test_epi8_mask(spread, bit_of_byte);
            c.c[s] = _mm512_mask_add_epi8(c.c[s], set, c.c[s], four);
        }
    }
    c.dm = _mm512_cvtph_ps(_mm512_castsi512_si256(dm));
    c.dw = _mm512_moveldup_ps(c.dm);
    return c;
}

/* Loads `count` (1..8) activation blocks of one token into the weights' slices; the rest zeros. */
EDGEC_ALWAYS_INLINE edgec_l512_xchunk edgec_l512_load_xchunk(const edgec_block_q8a *x, int count)
{
    edgec_l512_xchunk c;
    __m256i r[EDGEC_L512_CHUNK];
    __m128i ds[EDGEC_L512_CHUNK / 2];
EDGEC_UNROLL
    for (int k = 0; k < EDGEC_L512_CHUNK; k++)
        r[k] = k < count ? _mm256_loadu_si256((const __m256i *)x[k].qs) : _mm256_setzero_si256();
EDGEC_UNROLL
    for (int k = 0; k < EDGEC_L512_CHUNK / 2; k++) { /* (d, s) of blocks 2k, 2k+1 */
        __m128i lo = 2 * k < count ? _mm_loadl_epi64((const __m128i *)&x[2 * k].d) : _mm_setzero_si128();
        __m128i hi = 2 * k + 1 < count ? _mm_loadl_epi64((const __m128i *)&x[2 * k + 1].d) : _mm_setzero_si128();
        ds[k] = _mm_unpacklo_epi64(lo, hi);
    }
    /* 8 x 4 qwords (block k, slice s) -> slice s of every block: pairs of blocks, then halves */
    const __m512i even = _mm512_setr_epi64(0, 4, 8, 12, 1, 5, 9, 13), odd = _mm512_setr_epi64(2, 6, 10, 14, 3, 7, 11, 15);
    __m512i p01 = _mm512_inserti64x4(_mm512_castsi256_si512(r[0]), r[1], 1);
    __m512i p23 = _mm512_inserti64x4(_mm512_castsi256_si512(r[2]), r[3], 1);
    __m512i p45 = _mm512_inserti64x4(_mm512_castsi256_si512(r[4]), r[5], 1);
    __m512i p67 = _mm512_inserti64x4(_mm512_castsi256_si512(r[6]), r[7], 1);
    __m512i s01_lo = _mm512_permutex2var_epi64(p01, even, p23); /* slices 0, 1 of blocks 0..3 */
    __m512i s23_lo = _mm512_permutex2var_epi64(p01, odd, p23);  /* slices 2, 3 of blocks 0..3 */
    __m512i s01_hi = _mm512_permutex2var_epi64(p45, even, p67);
    __m512i s23_hi = _mm512_permutex2var_epi64(p45, odd, p67);
    c.q[0] = _mm512_shuffle_i64x2(s01_lo, s01_hi, _MM_SHUFFLE(1, 0, 1, 0));
    c.q[1] = _mm512_shuffle_i64x2(s01_lo, s01_hi, _MM_SHUFFLE(3, 2, 3, 2));
    c.q[2] = _mm512_shuffle_i64x2(s23_lo, s23_hi, _MM_SHUFFLE(1, 0, 1, 0));
    c.q[3] = _mm512_shuffle_i64x2(s23_lo, s23_hi, _MM_SHUFFLE(3, 2, 3, 2));
    __m512i ds16 = _mm512_castsi128_si512(ds[0]); /* [d0, s0, d1, s1, ..., d7, s7] */
    ds16 = _mm512_inserti32x4(ds16, ds[1], 1);
    ds16 = _mm512_inserti32x4(ds16, ds[2], 2);
    ds16 = _mm512_inserti32x4(ds16, ds[3], 3);
    c.d = _mm512_moveldup_ps(_mm512_castsi512_ps(ds16));
    c.s = _mm512_maskz_mov_ps(0xaaaa, _mm512_castsi512_ps(ds16));
    return c;
}

/* Integer dot of a weight chunk with an activation chunk: int32 lanes 2k, 2k+1 sum to block k's
 * sum(q * qx), exact (unsigned codes x signed activations). */
EDGEC_ALWAYS_INLINE __m512i edgec_l512_isum(const edgec_l512_wchunk *w, const edgec_l512_xchunk *x)
{
#if defined(__AVX512VNNI__)
    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w->c[0], x->q[0]);
    s = _mm512_dpbusd_epi32(s, w->c[1], x->q[1]);
    s = _mm512_dpbusd_epi32(s, w->c[2], x->q[2]);
    return _mm512_dpbusd_epi32(s, w->c[3], x->q[3]);
#else
    /* int16 pair sums: |4 slices * 2 * 7 * 127| = 7112, no saturation */
    __m512i p = _mm512_add_epi16(_mm512_maddubs_epi16(w->c[0], x->q[0]), _mm512_maddubs_epi16(w->c[1], x->q[1]));
    p = _mm512_add_epi16(p, _mm512_add_epi16(_mm512_maddubs_epi16(w->c[2], x->q[2]), _mm512_maddubs_epi16(w->c[3], x->q[3])));
    return _mm512_madd_epi16(p, _mm512_set1_epi16(1));
#endif
}

/* ---- matmul: the fold and the tiling (kernels/tiled_matmul.h) ----------------------- */

/* acc + a row's chunk times a token's: isum * d_w*d_x + m_w*s_x, per block's lanes. */
EDGEC_ALWAYS_INLINE __m512 edgec_l512_fold(__m512 acc, const edgec_l512_wchunk *w, const edgec_l512_xchunk *x)
{
    __m512 dd = _mm512_mul_ps(w->dw, x->d);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(edgec_l512_isum(w, x)), dd, acc);
    return _mm512_fmadd_ps(w->dm, x->s, acc);
}

#define EDGEC_TM_NAME(name) edgec_l512_##name
#define EDGEC_TM_WCHUNK edgec_l512_wchunk
#define EDGEC_TM_XPREP edgec_l512_xchunk
#define EDGEC_TM_SLAB(T) EDGEC_L512_SLAB
#define EDGEC_TM_SLAB_SLOTS (EDGEC_TILE_TOKENS * EDGEC_L512_SLAB)
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_TILE_TOKENS
#define EDGEC_TM_BATCH_ROWS(fmt) 2
#define EDGEC_TM_MATVEC_ROWS(fmt) 4
#define EDGEC_TM_BLOCK_BYTES(fmt) edgec_lowbit_block_bytes(fmt)
#define EDGEC_TM_CHUNK_BLOCKS(fmt) EDGEC_L512_CHUNK
#define EDGEC_TM_ROWS_FIRST 1
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_l512_load_wchunk(fmt, blk, count)
#define EDGEC_TM_PREPARE(fmt, xp, x, count) (*(xp) = edgec_l512_load_xchunk(x, count))
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_l512_fold(acc, w, xp)
#include "kernels/tiled_matmul.h"

static inline void edgec_l512_matmul_q2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_l512_matmul(EDGEC_FMT_Q2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_l512_matmul_q3(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_l512_matmul(EDGEC_FMT_Q3, out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
