/* kernels/arm/neon/dense.h - q8_0 / q4_0 / q4_1 matmul microkernels and quantize_q8a, AArch64 NEON (and ARMv7, a32.h):
 * ARMv8.0 (Cortex-A53) and ARMv8.2 dot product (Cortex-A76).
 *
 * Quantized matmul works on chunks of 4 blocks.  A block's 32 weights sit in two int8x16
 * vectors ("lo" = weights 0..15, "hi" = 16..31), signed (q4_0 nibbles have 8 subtracted,
 * q4_1 nibbles are 0..15, q8_0 as stored), next to the same two vectors of activations.
 * The integer dot of a chunk ends with block k's exact sum in int32 lane k, so one
 * convert and one fma scale all 4 blocks by d_w*d_x (+ m_w*s_x for q4_1) and the only
 * horizontal reduction is one vaddvq per row and token at the end.
 *   __ARM_FEATURE_DOTPROD: sdot (vdotq_s32), 2 per block.
 *   ARMv8.0: smull/smlal(2) into int16 lanes, then widening pairwise adds (vpaddlq/vpadalq);
 *   q4 products are small (|15*127|), so 16 of them share an int16 lane before widening.
 * The tiling is kernels/tiled_matmul.h's, without prepared activations (the fold reads the q8a
 * blocks): 2 rows x 1 token for a matvec (the activation chunk is loaded once for both rows) and
 * 1 row x 4 tokens for a batch (each unpacked weight chunk serves the 4 tokens; 2 for ARMv8.0
 * q8_0, whose tile spills at 4).
 * Written for AArch64; 32-bit ARMv7 NEON (the armv7 target) compiles the same code with the AArch64-only
 * intrinsics (vpaddq, vaddvq, vcvtaq, the _high forms, ...) from a32.h, on the ARMv8.0 path (no sdot).
 */
#ifndef EDGEC_KERNELS_NEON_H
#define EDGEC_KERNELS_NEON_H

#include "kernels/arm/neon/a32.h" /* <arm_neon.h>, and on 32-bit ARM the AArch64-only intrinsics */

#include "kernels/scalar/dense.h"
#include "kernels/arm/neon/float.h"

#define EDGEC_NEON_CHUNK 4 /* blocks per chunk: block k's integer sum ends in int32 lane k */

/* ---- chunk loading --------------------------------------------------------------- */

/* 4 fp16 values as floats. */
EDGEC_ALWAYS_INLINE float32x4_t edgec_neon_halves(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3)
{
#if EDGEC_NEON_F16
    /* packed in a general register: an array would go through the stack and reload */
    uint64_t h = (uint64_t)h0 | (uint64_t)h1 << 16 | (uint64_t)h2 << 32 | (uint64_t)h3 << 48;
    return edgec_neon_cvt_f16(vcreate_u16(h));
#else
    const float f[4] = {edgec_fp16_to_fp32_c(h0), edgec_fp16_to_fp32_c(h1), edgec_fp16_to_fp32_c(h2), edgec_fp16_to_fp32_c(h3)};
    return vld1q_f32(f);
#endif
}

/* One row's weights for a chunk of 4 blocks. */
typedef struct {
    int8x16_t lo[EDGEC_NEON_CHUNK], hi[EDGEC_NEON_CHUNK]; /* signed weights 0..15, 16..31 of block k */
    float32x4_t d, m;                                      /* d_w and m_w (q4_1; else unused) of block k in lane k */
} edgec_neon_wchunk;

/* One token's activations for a chunk of 4 blocks. */
typedef struct {
    int8x16_t lo[EDGEC_NEON_CHUNK], hi[EDGEC_NEON_CHUNK];
    float32x4_t d, s; /* d_x and s_x of block k in lane k */
} edgec_neon_xchunk;

/* Loads and unpacks `count` (1..4) consecutive weight blocks from blk (any alignment); the
 * blocks past count are zero weights with zero scales, so they add nothing. */
EDGEC_ALWAYS_INLINE edgec_neon_wchunk edgec_neon_load_wchunk(int fmt, const uint8_t *blk, int count)
{
    const int bb = edgec_block_bytes(fmt);
    edgec_neon_wchunk c;
    uint16_t hd[EDGEC_NEON_CHUNK] = {0}, hm[EDGEC_NEON_CHUNK] = {0}; /* fp16 d and m of each block */
EDGEC_UNROLL
    for (int k = 0; k < EDGEC_NEON_CHUNK; k++) {
        const uint8_t *b = blk + k * bb;
        if (k >= count) {
            c.lo[k] = c.hi[k] = vdupq_n_s8(0);
            continue;
        }
        hd[k] = edgec_load_u16(b);
        if (fmt == EDGEC_FMT_Q4_1) hm[k] = edgec_load_u16(b + EDGEC_Q4_1_M);
        if (fmt == EDGEC_FMT_Q8_0) {
            c.lo[k] = vreinterpretq_s8_u8(vld1q_u8(b + EDGEC_Q8_0_QS));
            c.hi[k] = vreinterpretq_s8_u8(vld1q_u8(b + EDGEC_Q8_0_QS + 16));
            continue;
        }
        uint8x16_t q = vld1q_u8(b + (fmt == EDGEC_FMT_Q4_0 ? EDGEC_Q4_0_QS : EDGEC_Q4_1_QS));
        int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0f)));
        int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(q, 4));
        if (fmt == EDGEC_FMT_Q4_0) { /* nibble - 8: the weight's signed integer */
            lo = vsubq_s8(lo, vdupq_n_s8(8));
            hi = vsubq_s8(hi, vdupq_n_s8(8));
        }
        c.lo[k] = lo;
        c.hi[k] = hi;
    }
    c.d = edgec_neon_halves(hd[0], hd[1], hd[2], hd[3]);
    c.m = fmt == EDGEC_FMT_Q4_1 ? edgec_neon_halves(hm[0], hm[1], hm[2], hm[3]) : vdupq_n_f32(0.0f);
    return c;
}

/* Loads `count` (1..4) consecutive activation blocks of one token; the rest are zeros. */
EDGEC_ALWAYS_INLINE edgec_neon_xchunk edgec_neon_load_xchunk(const edgec_block_q8a *x, int count)
{
    edgec_neon_xchunk c;
    c.d = c.s = vdupq_n_f32(0.0f);
EDGEC_UNROLL
    for (int k = 0; k < EDGEC_NEON_CHUNK; k++) {
        if (k >= count) {
            c.lo[k] = c.hi[k] = vdupq_n_s8(0);
            continue;
        }
        c.lo[k] = vld1q_s8(x[k].qs);
        c.hi[k] = vld1q_s8(x[k].qs + 16);
    }
    /* lane loads (an array would go through the stack); lane indices must be literals */
    if (count > 0) { c.d = vld1q_lane_f32(&x[0].d, c.d, 0); c.s = vld1q_lane_f32(&x[0].s, c.s, 0); }
    if (count > 1) { c.d = vld1q_lane_f32(&x[1].d, c.d, 1); c.s = vld1q_lane_f32(&x[1].s, c.s, 1); }
    if (count > 2) { c.d = vld1q_lane_f32(&x[2].d, c.d, 2); c.s = vld1q_lane_f32(&x[2].s, c.s, 2); }
    if (count > 3) { c.d = vld1q_lane_f32(&x[3].d, c.d, 3); c.s = vld1q_lane_f32(&x[3].s, c.s, 3); }
    return c;
}

/* ---- integer dot of a chunk: lane k = block k's sum(w*qx), exact ------------------ */

#if EDGEC_NEON_SDOT
EDGEC_ALWAYS_INLINE int32x4_t edgec_neon_chunk_isum(int fmt, const edgec_neon_wchunk *w, const edgec_neon_xchunk *x)
{
    (void)fmt;
    int32x4_t s[EDGEC_NEON_CHUNK];
EDGEC_UNROLL
    for (int k = 0; k < EDGEC_NEON_CHUNK; k++)
        s[k] = vdotq_s32(vdotq_s32(vdupq_n_s32(0), w->lo[k], x->lo[k]), w->hi[k], x->hi[k]);
    return vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
}
#else
EDGEC_ALWAYS_INLINE int32x4_t edgec_neon_chunk_isum(int fmt, const edgec_neon_wchunk *w, const edgec_neon_xchunk *x)
{
    if (fmt == EDGEC_FMT_Q8_0) {
        /* |qw*qx| <= 128*127 (qx in [-127, 127], as edgec_quantize_q8a makes it), so an int16
         * lane holds 2 products: widen after each pair */
        int32x4_t s[EDGEC_NEON_CHUNK];
EDGEC_UNROLL
        for (int k = 0; k < EDGEC_NEON_CHUNK; k++) {
            int16x8_t plo = vmlal_high_s8(vmull_s8(vget_low_s8(w->lo[k]), vget_low_s8(x->lo[k])), w->lo[k], x->lo[k]);
            int16x8_t phi = vmlal_high_s8(vmull_s8(vget_low_s8(w->hi[k]), vget_low_s8(x->hi[k])), w->hi[k], x->hi[k]);
            s[k] = vpadalq_s16(vpaddlq_s16(plo), phi);
        }
        return vpaddq_s32(vpaddq_s32(s[0], s[1]), vpaddq_s32(s[2], s[3]));
    }
    /* q4: |w*qx| <= 15*128, so 16 products fit an int16 lane: 4 per lane per block, then two
     * pairwise adds give [b0,b0,b1,b1,b2,b2,b3,b3] (16 products each) and one widening add */
    int16x8_t p[EDGEC_NEON_CHUNK];
EDGEC_UNROLL
    for (int k = 0; k < EDGEC_NEON_CHUNK; k++) {
        int16x8_t a = vmull_s8(vget_low_s8(w->lo[k]), vget_low_s8(x->lo[k]));
        a = vmlal_high_s8(a, w->lo[k], x->lo[k]);
        a = vmlal_s8(a, vget_low_s8(w->hi[k]), vget_low_s8(x->hi[k]));
        p[k] = vmlal_high_s8(a, w->hi[k], x->hi[k]);
    }
    return vpaddlq_s16(vpaddq_s16(vpaddq_s16(p[0], p[1]), vpaddq_s16(p[2], p[3])));
}
#endif

/* ---- quantized matmul: the fold and the tiling (kernels/tiled_matmul.h) ------------- */

/* acc + a row's chunk times one token's `count` activation blocks from x, read as stored:
 * isum * d_w*d_x (+ m_w*s_x for q4_1), block k in lane k.  Every row of a 1-token tile loads
 * the same activations: compilers keep them in registers. */
EDGEC_ALWAYS_INLINE float32x4_t edgec_neon_fold(int fmt, float32x4_t acc, const edgec_neon_wchunk *w, const edgec_block_q8a *x, int count)
{
    edgec_neon_xchunk xc = edgec_neon_load_xchunk(x, count);
    float32x4_t isum = vcvtq_f32_s32(edgec_neon_chunk_isum(fmt, w, &xc));
    acc = vfmaq_f32(acc, isum, vmulq_f32(w->d, xc.d));
    if (fmt == EDGEC_FMT_Q4_1) acc = vfmaq_f32(acc, w->m, xc.s);
    return acc;
}

/* Tiles of 2 rows x 1 token (one activation load for both rows) and 1 row x 4 tokens (each
 * unpacked weight chunk serves the 4; 2 for ARMv8.0 q8_0, whose tile spills at 4): the largest
 * gcc 12 and clang 14 keep in the 32 registers (checked in their -S output).  The accumulator
 * arrays are bounded at 2 x 4: at the shared 4 x 8 gcc 12 leaves them in memory. */
#define EDGEC_NEON_TILE_ROWS 2
#define EDGEC_NEON_TILE_TOKENS 4
#if EDGEC_NEON_SDOT
#define EDGEC_NEON_BATCH(fmt) 4
#else
#define EDGEC_NEON_BATCH(fmt) ((fmt) == EDGEC_FMT_Q8_0 ? 2 : 4)
#endif

#define EDGEC_TM_NAME(name) edgec_neon_##name
#define EDGEC_TM_WCHUNK edgec_neon_wchunk
#define EDGEC_TM_TILE_ROWS EDGEC_NEON_TILE_ROWS
#define EDGEC_TM_TILE_TOKENS EDGEC_NEON_TILE_TOKENS
#define EDGEC_TM_BATCH_TOKENS(fmt) EDGEC_NEON_BATCH(fmt)
#define EDGEC_TM_BATCH_ROWS(fmt) 1
#define EDGEC_TM_MATVEC_ROWS(fmt) 2
#define EDGEC_TM_BLOCK_BYTES(fmt) edgec_block_bytes(fmt)
#define EDGEC_TM_CHUNK_BLOCKS(fmt) EDGEC_NEON_CHUNK
#define EDGEC_TM_ROWS_FIRST 0
#define EDGEC_TM_TAIL_IN_LOOP 1
#define EDGEC_TM_LOAD_W(fmt, blk, count, part) edgec_neon_load_wchunk(fmt, blk, count)
#define EDGEC_TM_FOLD(fmt, acc, w, xp, x, count, part) edgec_neon_fold(fmt, acc, w, x, count)
#include "kernels/tiled_matmul.h"

static inline void edgec_neon_matmul_q8_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_neon_matmul(EDGEC_FMT_Q8_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_neon_matmul_q4_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_neon_matmul(EDGEC_FMT_Q4_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_neon_matmul_q4_1(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_neon_matmul(EDGEC_FMT_Q4_1, out, ldo, w, r0, r1, xq, n_tok, n); }

/* ---- activation quantization ------------------------------------------------------ */

/* Same float operations as edgec_scalar_quantize_q8a, so the same bytes: vcvtaq rounds
 * half away from zero, exactly like edgec_round_away. */
static inline void edgec_neon_quantize_q8a(const float *x, edgec_block_q8a *y, int n)
{
    for (int b = 0; b < n / EDGEC_QK; b++) {
        float32x4_t v[8];
        float32x4_t amax4 = vdupq_n_f32(0.0f);
        for (int k = 0; k < 8; k++) {
            v[k] = vld1q_f32(x + b * EDGEC_QK + 4 * k);
            amax4 = vmaxq_f32(amax4, vabsq_f32(v[k]));
        }
        float d = vmaxvq_f32(amax4) / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int32x4_t q[8], sum4 = vdupq_n_s32(0);
        for (int k = 0; k < 8; k++) {
            q[k] = vcvtaq_s32_f32(vmulq_f32(v[k], vdupq_n_f32(id)));
            sum4 = vaddq_s32(sum4, q[k]);
        }
        for (int k = 0; k < 8; k += 2) /* |q| <= 127: the narrowing never saturates */
            vst1_s8(y[b].qs + 4 * k, vqmovn_s16(vcombine_s16(vqmovn_s32(q[k]), vqmovn_s32(q[k + 1]))));
        y[b].d = d;
        y[b].s = d * (float)vaddvq_s32(sum4);
    }
}

#endif
