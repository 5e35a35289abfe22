/* kernels/x86/ssse3/dense.h - q8_0 / q4_0 / q4_1 matmul microkernels and quantize_q8a for x86-64-v2:
 * SSE4.2 + SSSE3 (pmaddubsw, psignb, pabsb, phadd), no AVX, no FMA, no F16C (Nehalem, Atom/Celeron).
 *
 * Quantized matmul works on chunks of 2 blocks.  A block's 32 weights sit in two __m128i ("lo" =
 * weights 0..15, "hi" = 16..31), next to the same two vectors of activations.  The integer dot of a
 * block is pmaddubsw (unsigned x signed bytes into int16 pairs) then pmaddwd by 1 (int32); one phadd
 * over the chunk's two blocks leaves block k's exact sum split over int32 lanes 2k and 2k+1, so one
 * convert, one multiply by [d_w*d_x of block 0 twice, block 1 twice] and one add fold the chunk into
 * a float accumulator (+ m_w*s_x for q4_1); no horizontal reduction until a row is done.
 *   q8_0: |w| times x with w's sign moved onto x (psignb), as on AVX2: |w| <= 128, |x| <= 127, so an
 *         int16 pair sum (<= 32512) cannot saturate; each half widens to int32 before the two add.
 *   q4_x: unsigned nibbles (pand / psrlw), products <= 15*127, so lo + hi and the phaddw over the two
 *         blocks stay int16 before one pmaddwd; q4_0's -8 is subtracted there as 8*(pair sums of qx),
 *         computed once per activation chunk (exact: the result fits int16, the arithmetic wraps).
 * fp16 block headers are widened by integer SSE (vec.h), two blocks per conversion.
 * The tiling is kernels/tiled_matmul.h's: 1 row x 4 tokens for a batch (each unpacked weight chunk
 * serves the 4 tokens from registers) and 2 rows x 1 token for a matvec, rows loaded and folded one
 * after the other (16 xmm registers); activation chunks are prepared once per call, a slab at a time,
 * in 14 KB of stack.
 */
#ifndef EDGEC_KERNELS_SSSE3_H
#define EDGEC_KERNELS_SSSE3_H

#include <immintrin.h>

#include "kernels/scalar/dense.h"
#include "kernels/x86/ssse3/float.h"

#define EDGEC_SSSE3_CHUNK 2 /* blocks per chunk: block k's integer sum in int32 lanes 2k, 2k+1 */

/* ---- chunk loading --------------------------------------------------------------- */

/* One row's weights for a chunk of 2 blocks. */
typedef struct {
    __m128i lo[EDGEC_SSSE3_CHUNK], hi[EDGEC_SSSE3_CHUNK]; /* q4_x: unsigned nibbles; q8_0: signed qs */
    __m128 scale;                                          /* [d0, d0, d1, d1]: d_w of block k in lanes 2k, 2k+1 */
    __m128 m;                                              /* q4_1: [0, m0, 0, m1]; else unused */
} edgec_ssse3_wchunk;

/* One token's activations for a chunk of 2 blocks, prepared once for every row. */
typedef struct {
    __m128i lo[EDGEC_SSSE3_CHUNK], hi[EDGEC_SSSE3_CHUNK]; /* qs, weights' layout */
    __m128i corr;                                          /* q4_0: 8*(qx quad sums) as int16, see edgec_ssse3_isum */
    __m128 scale;                                          /* [dx0, dx0, dx1, dx1] */
    __m128 ds;                                             /* [dx0, sx0, dx1, sx1]: s_x meets q4_1's m_w in lane 2k+1 */
} edgec_ssse3_xchunk;

/* Loads `count` (1 or 2) blocks of a weight row starting at blk (any alignment) and unpacks them; a
 * missing block is zero weights with a zero scale. */
EDGEC_ALWAYS_INLINE edgec_ssse3_wchunk edgec_ssse3_load_wchunk(int fmt, const uint8_t *blk, int count)
{
    const int bb = edgec_block_bytes(fmt);
    const __m128i low4 = _mm_set1_epi8(0x0f);
    edgec_ssse3_wchunk c;
    _mm_prefetch((const char *)blk + EDGEC_PREFETCH_BYTES, _MM_HINT_T1);
EDGEC_UNROLL
    for (int k = 0; k < EDGEC_SSSE3_CHUNK; k++) {
        const uint8_t *b = blk + k * bb;
        if (k >= count) {
            c.lo[k] = c.hi[k] = _mm_setzero_si128();
        } else if (fmt == EDGEC_FMT_Q8_0) {
            c.lo[k] = _mm_loadu_si128((const __m128i *)(b + EDGEC_Q8_0_QS));
            c.hi[k] = _mm_loadu_si128((const __m128i *)(b + EDGEC_Q8_0_QS + 16));
        } else {
            const __m128i q = _mm_loadu_si128((const __m128i *)(b + (fmt == EDGEC_FMT_Q4_0 ? EDGEC_Q4_0_QS : EDGEC_Q4_1_QS)));
            c.lo[k] = _mm_and_si128(q, low4);                     /* weights 0..15 */
            c.hi[k] = _mm_and_si128(_mm_srli_epi16(q, 4), low4);  /* weights 16..31 */
        }
    }
    /* Block headers as fp16: q4_1 (d, m) is one 32-bit word, the others d alone. */
    const int hb = fmt == EDGEC_FMT_Q4_1;
    const uint32_t h0 = hb ? edgec_load_u32(blk) : edgec_load_u16(blk);
    const uint32_t h1 = count < 2 ? 0 : hb ? edgec_load_u32(blk + bb) : edgec_load_u16(blk + bb);
    __m128i h = _mm_setr_epi32((int)h0, (int)h1, 0, 0);
    if (hb) { /* [d0, m0, d1, m1] */
        const __m128 dm = edgec_ssse3_halves_to_floats(_mm_unpacklo_epi16(h, _mm_setzero_si128()));
        c.scale = _mm_shuffle_ps(dm, dm, _MM_SHUFFLE(2, 2, 0, 0));
        c.m = _mm_and_ps(dm, _mm_castsi128_ps(_mm_setr_epi32(0, -1, 0, -1)));
    } else { /* [d0, d1, 0, 0] */
        const __m128 d = edgec_ssse3_halves_to_floats(h);
        c.scale = _mm_unpacklo_ps(d, d);
        c.m = _mm_setzero_ps();
    }
    return c;
}

/* Loads `count` activation blocks of one token and precomputes what every row reuses. */
EDGEC_ALWAYS_INLINE edgec_ssse3_xchunk edgec_ssse3_load_xchunk(int fmt, const edgec_block_q8a *x, int count)
{
    edgec_ssse3_xchunk c;
EDGEC_UNROLL
    for (int k = 0; k < EDGEC_SSSE3_CHUNK; k++) {
        c.lo[k] = k < count ? _mm_loadu_si128((const __m128i *)x[k].qs) : _mm_setzero_si128();
        c.hi[k] = k < count ? _mm_loadu_si128((const __m128i *)(x[k].qs + 16)) : _mm_setzero_si128();
    }
    /* d and s lead each q8a block: 8 bytes per block */
    const __m128i ds1 = count > 1 ? _mm_loadl_epi64((const __m128i *)&x[1].d) : _mm_setzero_si128();
    c.ds = _mm_castsi128_ps(_mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)&x[0].d), ds1));
    c.scale = _mm_shuffle_ps(c.ds, c.ds, _MM_SHUFFLE(2, 2, 0, 0));
    c.corr = _mm_setzero_si128();
    if (fmt == EDGEC_FMT_Q4_0) { /* sum((nib-8)*qx) = sum(nib*qx) - 8*sum(qx), in the lanes of edgec_ssse3_isum */
        const __m128i c8 = _mm_set1_epi8(8);
        const __m128i c0 = _mm_add_epi16(_mm_maddubs_epi16(c8, c.lo[0]), _mm_maddubs_epi16(c8, c.hi[0]));
        const __m128i c1 = _mm_add_epi16(_mm_maddubs_epi16(c8, c.lo[1]), _mm_maddubs_epi16(c8, c.hi[1]));
        c.corr = _mm_hadd_epi16(c0, c1);
    }
    return c;
}

/* Integer dot of a weight chunk with an activation chunk: lanes 2k and 2k+1 sum to block k's
 * sum(w*qx) (q4_0: (nib-8)*qx, q4_1: nib*qx, q8_0: qw*qx), exact. */
EDGEC_ALWAYS_INLINE __m128i edgec_ssse3_isum(int fmt, const edgec_ssse3_wchunk *w, const edgec_ssse3_xchunk *x)
{
    const __m128i ones = _mm_set1_epi16(1);
    if (fmt == EDGEC_FMT_Q8_0) {
        __m128i s[EDGEC_SSSE3_CHUNK];
EDGEC_UNROLL
        for (int k = 0; k < EDGEC_SSSE3_CHUNK; k++) {
            const __m128i plo = _mm_maddubs_epi16(_mm_abs_epi8(w->lo[k]), _mm_sign_epi8(x->lo[k], w->lo[k]));
            const __m128i phi = _mm_maddubs_epi16(_mm_abs_epi8(w->hi[k]), _mm_sign_epi8(x->hi[k], w->hi[k]));
            s[k] = _mm_add_epi32(_mm_madd_epi16(plo, ones), _mm_madd_epi16(phi, ones));
        }
        return _mm_hadd_epi32(s[0], s[1]);
    }
    /* nibble products: |lo + hi| <= 4*15*127 and a phaddw pair of them still fit int16 */
    const __m128i p0 = _mm_add_epi16(_mm_maddubs_epi16(w->lo[0], x->lo[0]), _mm_maddubs_epi16(w->hi[0], x->hi[0]));
    const __m128i p1 = _mm_add_epi16(_mm_maddubs_epi16(w->lo[1], x->lo[1]), _mm_maddubs_epi16(w->hi[1], x->hi[1]));
    __m128i p = _mm_hadd_epi16(p0, p1); /* block 0 in int16 lanes 0..3, block 1 in 4..7 */
    if (fmt == EDGEC_FMT_Q4_0) p = _mm_sub_epi16(p, x->corr);
    return _mm_madd_epi16(p, ones);
}

/* ---- quantized matmul: the fold and the tiling (kernels/tiled_matmul.h) ------------- */

/* acc + a row's chunk times a token's: isum * d_w*d_x (+ m_w*s_x for q4_1), per block's lanes;
 * a multiply and an add (no FMA). */
EDGEC_ALWAYS_INLINE __m128 edgec_ssse3_fold(int fmt, __m128 acc, const edgec_ssse3_wchunk *w, const edgec_ssse3_xchunk *x)
{
    const __m128 dd = _mm_mul_ps(w->scale, x->scale);
    acc = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(edgec_ssse3_isum(fmt, w, x)), dd), acc);
    if (fmt == EDGEC_FMT_Q4_1) acc = _mm_add_ps(_mm_mul_ps(w->m, x->ds), acc);
    return acc;
}

#define EDGEC_SSSE3_SLAB_SLOTS 128 /* prepared activation chunks on the stack: 128 x 112 bytes */

/* Tiles of 1 row x 4 tokens (batch) and 2 rows x 1 token, rows loaded and folded one at a time:
 * a chunk (4-5 registers) plus the 4 accumulators leave room in the 16 xmm registers. */
#define EDGEC_TM_NAME(name) edgec_ssse3_##name
#define EDGEC_TM_WCHUNK edgec_ssse3_wchunk
#define EDGEC_TM_XPREP edgec_ssse3_xchunk
#define EDGEC_TM_SLAB(T) (EDGEC_SSSE3_SLAB_SLOTS / (T))
#define EDGEC_TM_SLAB_SLOTS EDGEC_SSSE3_SLAB_SLOTS
#define EDGEC_TM_TILE_ROWS 2
#define EDGEC_TM_TILE_TOKENS 4
#define EDGEC_TM_BATCH_TOKENS(fmt) 4
#define EDGEC_TM_BATCH_ROWS(fmt) 1
#define EDGEC_TM_MATVEC_ROWS(fmt) 2
#define EDGEC_TM_BLOCK_BYTES(fmt) edgec_block_bytes(fmt)
#define EDGEC_TM_CHUNK_BLOCKS(fmt) EDGEC_SSSE3_CHUNK
#define EDGEC_TM_ROWS_FIRST 0
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_ssse3_load_wchunk(fmt, blk, count)
#define EDGEC_TM_PREPARE(fmt, xp, x, count) (*(xp) = edgec_ssse3_load_xchunk(fmt, x, count))
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_ssse3_fold(fmt, acc, w, xp)
#include "kernels/tiled_matmul.h"

static inline void edgec_ssse3_matmul_q8_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_ssse3_matmul(EDGEC_FMT_Q8_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_ssse3_matmul_q4_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_ssse3_matmul(EDGEC_FMT_Q4_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_ssse3_matmul_q4_1(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_ssse3_matmul(EDGEC_FMT_Q4_1, out, ldo, w, r0, r1, xq, n_tok, n); }

/* ---- activation quantization ------------------------------------------------------ */

/* Rounds half away from zero, exactly: trunc(v) +- 1 where |v - trunc(v)| >= 0.5 (roundps is SSE4.1). */
EDGEC_ALWAYS_INLINE __m128i edgec_ssse3_round_away(__m128 v)
{
    const __m128 sign_bit = _mm_set1_ps(-0.0f);
    const __m128 t = _mm_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m128 up = _mm_cmpge_ps(_mm_andnot_ps(sign_bit, _mm_sub_ps(v, t)), _mm_set1_ps(0.5f));
    const __m128 one = _mm_or_ps(_mm_and_ps(v, sign_bit), _mm_set1_ps(1.0f));
    return _mm_cvttps_epi32(_mm_add_ps(t, _mm_and_ps(up, one)));
}

/* Same float operations as edgec_scalar_quantize_q8a, so the same bytes (a NaN input leaves amax
 * alone there, and here: maxps returns its second operand, amax, when the first is NaN). */
static inline void edgec_ssse3_quantize_q8a(const float *x, edgec_block_q8a *y, int n)
{
    const __m128 sign_bit = _mm_set1_ps(-0.0f);
    for (int b = 0; b < n / EDGEC_QK; b++) {
        __m128 v[8];
        __m128 amax4 = _mm_setzero_ps();
        for (int k = 0; k < 8; k++) {
            v[k] = _mm_loadu_ps(x + b * EDGEC_QK + 4 * k);
            amax4 = _mm_max_ps(_mm_andnot_ps(sign_bit, v[k]), amax4);
        }
        amax4 = _mm_max_ps(amax4, _mm_movehl_ps(amax4, amax4));
        const float amax = _mm_cvtss_f32(_mm_max_ss(amax4, _mm_movehdup_ps(amax4)));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        __m128i q[8], sum4 = _mm_setzero_si128();
        for (int k = 0; k < 8; k++) {
            q[k] = edgec_ssse3_round_away(_mm_mul_ps(v[k], _mm_set1_ps(id)));
            sum4 = _mm_add_epi32(sum4, q[k]);
        }
        for (int k = 0; k < 8; k += 4) /* |q| <= 127: the packs never saturate, and keep element order */
            _mm_storeu_si128((__m128i *)(y[b].qs + 4 * k),
                             _mm_packs_epi16(_mm_packs_epi32(q[k], q[k + 1]), _mm_packs_epi32(q[k + 2], q[k + 3])));
        sum4 = _mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, 0x4e));
        sum4 = _mm_add_epi32(sum4, _mm_shuffle_epi32(sum4, 0xb1));
        y[b].d = d;
        y[b].s = d * (float)_mm_cvtsi128_si32(sum4);
    }
}

#endif
