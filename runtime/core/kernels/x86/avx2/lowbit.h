/* kernels/x86/avx2/lowbit.h - q2 / q3 matmul microkernels, AVX2 + FMA + F16C.
 *
 * The design of kernels/x86/avx512/lowbit.h at half the width: chunks of 4 blocks (128 weights),
 * qword k of code vector s holding weights 8s..8s+7 of block k (one shift and mask; q3 adds bit 2
 * from qh by a byte broadcast, a bit test and an and), qs and (d, m) headers gathered from two
 * 32-byte loads by dword permutes, activations rearranged once per call to the same slices.
 * Integer dots use vpmaddubsw (unsigned codes x signed activations) + vpmaddwd, leaving block k's
 * sum in int32 lanes 2k and 2k+1.  The tiling is kernels/tiled_matmul.h's, shaped as
 * kernels/x86/avx2/dense.h's: 1 row x 8 tokens, 2 rows x 1 token; a slab of prepared activations
 * takes 18 KB of stack.
 */
#ifndef EDGEC_KERNELS_LOWBIT_AVX2_H
#define EDGEC_KERNELS_LOWBIT_AVX2_H

#include <immintrin.h>

#include "kernels/scalar/dense.h"
#include "kernels/x86/avx2/vec.h"

#define EDGEC_L256_CHUNK 4 /* blocks per chunk: block k's slice in qword k of each code vector */
#define EDGEC_L256_SLAB 12 /* activation chunks (48 blocks) prepared per pass over the rows */

/* One row's weights for a chunk of blocks. */
typedef struct {
    __m256i c[4];  /* unsigned codes: qword k of c[s] = weights 8s..8s+7 of block k */
    __m256 dm;     /* [d0, m0, d1, m1, d2, m2, d3, m3] */
    __m256 dw;     /* d_w of block k in lanes 2k and 2k+1 */
} edgec_l256_wchunk;

/* One token's activations for a chunk of blocks, in the weights' slices. */
typedef struct {
    __m256i q[4];  /* qword k of q[s] = qs[8s..8s+7] of activation block k */
    __m256 d;      /* d_x of block k in lanes 2k and 2k+1 */
    __m256 s;      /* s_x of block k in lane 2k+1, 0 in lane 2k: meets m_w in dm */
} edgec_l256_xchunk;

/* ---- chunk loading --------------------------------------------------------------- */

/* dwords [first, first + 8) of the chunk, those at or past `dwords` read as zero (and not read). */
EDGEC_ALWAYS_INLINE __m256i edgec_l256_load_dwords(const uint8_t *blk, int first, int dwords, int whole)
{
    if (whole) return _mm256_loadu_si256((const __m256i *)(blk + 4 * first));
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(dwords - first), lane);
    return _mm256_maskload_epi32((const int *)(const void *)(blk + 4 * first), keep);
}

/* Loads `count` (1..4) blocks of a weight row from blk and unpacks them; blocks past count are
 * zero codes with zero d and m. */
EDGEC_ALWAYS_INLINE edgec_l256_wchunk edgec_l256_load_wchunk(int fmt, const uint8_t *blk, int count)
{
    const __m256i three = _mm256_set1_epi8(3);
    const int whole = count == EDGEC_L256_CHUNK;
    edgec_l256_wchunk c;
    __m256i qs, dm, qh = _mm256_setzero_si256();
    _mm_prefetch((const char *)blk + EDGEC_PREFETCH_BYTES, _MM_HINT_T1);
    if (fmt == EDGEC_FMT_Q2) {
        /* block k = chunk dwords 3k (d, m), 3k+1, 3k+2 (qs); a = dwords 0..7, b = dwords 4..11 */
        __m256i a = edgec_l256_load_dwords(blk, 0, 3 * count, whole), b = edgec_l256_load_dwords(blk, 4, 3 * count, whole);
        const __m256i qs_idx = _mm256_setr_epi32(1, 2, 4, 5, 3, 4, 6, 7); /* lanes 0-3 from a, 4-7 from b */
        const __m256i dm_idx = _mm256_setr_epi32(0, 3, 6, 5, 0, 0, 0, 0); /* lanes 0-2 from a, 3 from b */
        qs = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(a, qs_idx), _mm256_permutevar8x32_epi32(b, qs_idx), 0xf0);
        dm = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(a, dm_idx), _mm256_permutevar8x32_epi32(b, dm_idx), 0x08);
    } else {
        /* block k = chunk dwords 4k (d, m), 4k+1, 4k+2 (qs), 4k+3 (qh); a = blocks 0, 1, b = blocks 2, 3 */
        __m256i a = edgec_l256_load_dwords(blk, 0, 4 * count, whole), b = edgec_l256_load_dwords(blk, 8, 4 * count, whole);
        const __m256i qs_idx = _mm256_setr_epi32(1, 2, 5, 6, 1, 2, 5, 6);
        const __m256i dm_idx = _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4);
        const __m256i qh_idx = _mm256_setr_epi32(3, 3, 7, 7, 3, 3, 7, 7); /* qword k = block k's qh twice */
        qs = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(a, qs_idx), _mm256_permutevar8x32_epi32(b, qs_idx), 0xf0);
        dm = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(a, dm_idx), _mm256_permutevar8x32_epi32(b, dm_idx), 0x0c);
        qh = _mm256_blend_epi32(_mm256_permutevar8x32_epi32(a, qh_idx), _mm256_permutevar8x32_epi32(b, qh_idx), 0xf0);
    }
    c.c[0] = _mm256_and_si256(qs, three);
    c.c[1] = _mm256_and_si256(_mm256_srli_epi16(qs, 2), three);
    c.c[2] = _mm256_and_si256(_mm256_srli_epi16(qs, 4), three);
    c.c[3] = _mm256_and_si256(_mm256_srli_epi16(qs, 6), three);
    if (fmt == EDGEC_FMT_Q3) {
        /* byte s of each qword's qh spread over its 8 bytes, then byte i tests bit i:
         * weight 8s+i gets +4 where it is set */
        const __m256i lanes = _mm256_setr_epi64x(0, 0x0808080808080808ll, 0, 0x0808080808080808ll);
        const __m256i bit_of_byte = _mm256_set1_epi64x((long long)0x8040201008040201ull);
        const __m256i four = _mm256_set1_epi8(4);
EDGEC_UNROLL
        for (int s = 0; s < 4; s++) {
            __m256i spread = _mm256_shuffle_epi8(qh, _mm256_add_epi8(lanes, _mm256_set1_epi8((char)s)));
            __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit_of_byte), bit_of_byte);
            c.c[s] = _mm256_or_si256(c.c[s], _mm256_and_si256(set, four));
        }
    }
    c.dm = _mm256_cvtph_ps(_mm256_castsi256_si128(dm));
    c.dw = _mm256_moveldup_ps(c.dm);
    return c;
}

/* Loads `count` (1..4) activation blocks of one token into the weights' slices; the rest zeros. */
EDGEC_ALWAYS_INLINE edgec_l256_xchunk edgec_l256_load_xchunk(const edgec_block_q8a *x, int count)
{
    edgec_l256_xchunk c;
    __m256i r[EDGEC_L256_CHUNK];
EDGEC_UNROLL
    for (int k = 0; k < EDGEC_L256_CHUNK; k++)
        r[k] = k < count ? _mm256_loadu_si256((const __m256i *)x[k].qs) : _mm256_setzero_si256();
    /* 4 x 4 qwords (block k, slice s) -> slice s of every block */
    __m256i t0 = _mm256_unpacklo_epi64(r[0], r[1]); /* slices 0 | 2 of blocks 0, 1 */
    __m256i t1 = _mm256_unpackhi_epi64(r[0], r[1]); /* slices 1 | 3 of blocks 0, 1 */
    __m256i t2 = _mm256_unpacklo_epi64(r[2], r[3]);
    __m256i t3 = _mm256_unpackhi_epi64(r[2], r[3]);
    c.q[0] = _mm256_permute2x128_si256(t0, t2, 0x20);
    c.q[1] = _mm256_permute2x128_si256(t1, t3, 0x20);
    c.q[2] = _mm256_permute2x128_si256(t0, t2, 0x31);
    c.q[3] = _mm256_permute2x128_si256(t1, t3, 0x31);
    __m128i ds01 = _mm_loadl_epi64((const __m128i *)&x[0].d), ds23 = _mm_setzero_si128(); /* (d, s) pairs */
    if (count > 1) ds01 = _mm_unpacklo_epi64(ds01, _mm_loadl_epi64((const __m128i *)&x[1].d));
    if (count > 2) ds23 = _mm_loadl_epi64((const __m128i *)&x[2].d);
    if (count > 3) ds23 = _mm_unpacklo_epi64(ds23, _mm_loadl_epi64((const __m128i *)&x[3].d));
    __m256 ds = _mm256_castsi256_ps(_mm256_setr_m128i(ds01, ds23)); /* [d0, s0, d1, s1, d2, s2, d3, s3] */
    c.d = _mm256_moveldup_ps(ds);
    c.s = _mm256_blend_ps(_mm256_setzero_ps(), ds, 0xaa);
    return c;
}

/* Integer dot of a weight chunk with an activation chunk: int32 lanes 2k, 2k+1 sum to block k's
 * sum(q * qx), exact (int16 pair sums: |4 slices * 2 * 7 * 127| = 7112, no saturation). */
EDGEC_ALWAYS_INLINE __m256i edgec_l256_isum(const edgec_l256_wchunk *w, const edgec_l256_xchunk *x)
{
    __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(w->c[0], x->q[0]), _mm256_maddubs_epi16(w->c[1], x->q[1]));
    p = _mm256_add_epi16(p, _mm256_add_epi16(_mm256_maddubs_epi16(w->c[2], x->q[2]), _mm256_maddubs_epi16(w->c[3], x->q[3])));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* ---- matmul: the fold and the tiling (kernels/tiled_matmul.h) ----------------------- */

/* acc + a row's chunk times a token's: isum * d_w*d_x + m_w*s_x, per block's lanes. */
EDGEC_ALWAYS_INLINE __m256 edgec_l256_fold(__m256 acc, const edgec_l256_wchunk *w, const edgec_l256_xchunk *x)
{
    __m256 dd = _mm256_mul_ps(w->dw, x->d);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(edgec_l256_isum(w, x)), dd, acc);
    return _mm256_fmadd_ps(w->dm, x->s, acc);
}

#define EDGEC_TM_NAME(name) edgec_l256_##name
#define EDGEC_TM_WCHUNK edgec_l256_wchunk
#define EDGEC_TM_XPREP edgec_l256_xchunk
#define EDGEC_TM_SLAB(T) EDGEC_L256_SLAB
#define EDGEC_TM_SLAB_SLOTS (EDGEC_TILE_TOKENS * EDGEC_L256_SLAB)
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_TILE_TOKENS
#define EDGEC_TM_BATCH_ROWS(fmt) 1
#define EDGEC_TM_MATVEC_ROWS(fmt) 2
#define EDGEC_TM_BLOCK_BYTES(fmt) edgec_lowbit_block_bytes(fmt)
#define EDGEC_TM_CHUNK_BLOCKS(fmt) EDGEC_L256_CHUNK
#define EDGEC_TM_ROWS_FIRST 1
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_l256_load_wchunk(fmt, blk, count)
#define EDGEC_TM_PREPARE(fmt, xp, x, count) (*(xp) = edgec_l256_load_xchunk(x, count))
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_l256_fold(acc, w, xp)
#include "kernels/tiled_matmul.h"

static inline void edgec_l256_matmul_q2(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_l256_matmul(EDGEC_FMT_Q2, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_l256_matmul_q3(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_l256_matmul(EDGEC_FMT_Q3, out, ldo, w, r0, r1, xq, n_tok, n); }

#endif
