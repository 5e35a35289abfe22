/* kernels/arm/neon/i16.h - i16-layout matmul on AArch64 NEON: ARMv8.2 sdot and ARMv8.0 (Cortex-A53), whose
 * path also runs on 32-bit ARMv7 NEON (Cortex-A7; the AArch64-only intrinsics from a32.h).
 * Included only by kernels/i16.h, after its scalar helpers; same contract as kernels/x86/avx2/i16.h.
 *
 * A tile's 64-byte chunk c (kernels/i16.h's layout) is 4 q-registers, "quads": quad u holds rows
 * 4u..4u+3, row 4u+k's 4 bytes in int32 lane k.  So one register x one activation dword adds
 * 4 columns to 4 rows, and a row group is 4 quads with no horizontal reduction per block.
 *   __ARM_FEATURE_DOTPROD: vdotq_laneq_s32(acc, operand, x, lane) takes the activation dword
 *     straight from the token's 2 loaded qs registers (no broadcast): 8 sdot per quad per block.
 *   ARMv8.0: smull/smlal(2) of an operand with the dword broadcast (loaded into every lane)
 *     put 8 products per instruction in int16 lanes [row 4u k0..k3, row 4u+1 k0..k3] and
 *     [4u+2, 4u+3]; the lanes are reduced once per block.  Why on the A53: it is in-order and
 *     issues one 128-bit NEON op at a time, so its time is the NEON instruction count, and
 *     8 MACs per smlal with one reduction per block is the fewest (sxtl + 16-bit smlal: 2x).
 *     q4: nibble x qx <= 15*127, so all 8 operands of a block share an int16 lane (15240), and
 *         two lanes still fit one add (30480): addp, saddlp -> rows 4u..4u+3 in int32.
 *     q8_0: |w*qx| <= 128*127, so 2 operands per int16 lane, then sadalp into int32.
 * Weights are unsigned nibbles (the stored form, 0..15), q8_0 bytes are un-biased by xor 0x80;
 * the scales finish the sums as the AVX paths do:
 *   q4_1: acc += d_w*(d_x*isum) + m_w*s_x   q4_0: acc += d_w*(d_x*isum - 8 s_x)   q8_0: acc += d_w*(d_x*isum)
 * Passes (quads x tokens of one row group, over all its tiles): each loaded and unpacked
 * weight register serves every token of the pass; a quad's sums are scaled before the next
 * quad's start.  Shapes below: decode 4 x 1 (ARMv8.0 q8_0: 2 x 1), batch 1 x 4 (sdot),
 * 2 x 2 (ARMv8.0 q4), 1 x 2 (ARMv8.0 q8_0).
 */
#ifndef EDGEC_KERNELS_I16_NEON_H
#define EDGEC_KERNELS_I16_NEON_H

#include "kernels/arm/neon/a32.h" /* <arm_neon.h>, and on 32-bit ARM the AArch64-only intrinsics */

#include "kernels/arm/neon/dense.h"

#define EDGEC_I16_NEON_QUADS 4  /* 4-row registers per 16-row group */
#define EDGEC_I16_NEON_TOKENS 4 /* bound of the token loops (largest batch pass) */

/* Pass shapes, quads x tokens: the largest that gcc 12 keeps in the 32 registers (its -S output,
 * the Pi targets' compiler; its pre-RA scheduler hoists loads, so wider passes spilled).  A
 * narrower pass costs only activation reloads: each weight register is loaded once per pass. */
#if EDGEC_NEON_SDOT
#define EDGEC_I16_NEON_DECODE_QUADS(fmt) 4
#define EDGEC_I16_NEON_BATCH_QUADS(fmt) 1
#define EDGEC_I16_NEON_BATCH_TOKENS(fmt) 4
#else
#define EDGEC_I16_NEON_DECODE_QUADS(fmt) ((fmt) == EDGEC_FMT_Q8_0 ? 2 : 4)
#define EDGEC_I16_NEON_BATCH_QUADS(fmt) ((fmt) == EDGEC_FMT_Q8_0 ? 1 : 2)
#define EDGEC_I16_NEON_BATCH_TOKENS(fmt) 2
#endif

/* Prefetches the line EDGEC_I16_PREFETCH bytes past the tile into L2 (prfm never faults). */
EDGEC_ALWAYS_INLINE void edgec_i16_neon_prefetch(const uint8_t *tile)
{
#if EDGEC_I16_PREFETCH > 0
    __builtin_prefetch(tile + EDGEC_I16_PREFETCH, 0, 2);
#else
    (void)tile;
#endif
}

/* 4 fp16 scales at p (any alignment) as floats. */
EDGEC_ALWAYS_INLINE float32x4_t edgec_i16_neon_scales(const uint8_t *p)
{
#if EDGEC_NEON_F16
    return edgec_neon_cvt_f16(vreinterpret_u16_u8(vld1_u8(p)));
#else
    return edgec_neon_halves(edgec_load_u16(p), edgec_load_u16(p + 2), edgec_load_u16(p + 4), edgec_load_u16(p + 6));
#endif
}

/* A loaded 16-byte weight register as a signed operand: q4 nibbles as stored (hi: the high
 * nibbles), q8_0 un-biased. */
EDGEC_ALWAYS_INLINE int8x16_t edgec_i16_neon_operand(int fmt, uint8x16_t v, int hi)
{
    if (fmt == EDGEC_FMT_Q8_0) return vreinterpretq_s8_u8(veorq_u8(v, vdupq_n_u8(0x80)));
    return vreinterpretq_s8_u8(hi ? vshrq_n_u8(v, 4) : vandq_u8(v, vdupq_n_u8(0x0f)));
}

#if EDGEC_NEON_SDOT

/* acc + operand . dword `lane` (0..7) of the token's qs (x[0] = qs 0..15, x[1] = 16..31).  The
 * lane of vdotq_laneq_s32 must be a literal: the switch folds once the loops are unrolled. */
EDGEC_ALWAYS_INLINE int32x4_t edgec_i16_neon_sdot(int32x4_t acc, int8x16_t w, const int8x16_t x[2], int lane)
{
    switch (lane) {
    case 0: return vdotq_laneq_s32(acc, w, x[0], 0);
    case 1: return vdotq_laneq_s32(acc, w, x[0], 1);
    case 2: return vdotq_laneq_s32(acc, w, x[0], 2);
    case 3: return vdotq_laneq_s32(acc, w, x[0], 3);
    case 4: return vdotq_laneq_s32(acc, w, x[1], 0);
    case 5: return vdotq_laneq_s32(acc, w, x[1], 1);
    case 6: return vdotq_laneq_s32(acc, w, x[1], 2);
    default: return vdotq_laneq_s32(acc, w, x[1], 3);
    }
}

/* The activations of a block for T tokens: token j's qs in x[j][0] (0..15) and x[j][1] (16..31). */
typedef struct { int8x16_t x[EDGEC_I16_NEON_TOKENS][2]; } edgec_i16_neon_xblock;

EDGEC_ALWAYS_INLINE void edgec_i16_neon_load_x(int T, edgec_i16_neon_xblock *xs, const edgec_block_q8a *const xb[EDGEC_I16_NEON_TOKENS])
{
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++) {
        if (j >= T) continue;
        xs->x[j][0] = vld1q_s8(xb[j]->qs);
        xs->x[j][1] = vld1q_s8(xb[j]->qs + 16);
    }
}

/* isum[j] = integer dots of quad u (rows 4u..4u+3) of one tile with token j's block (j < T). */
EDGEC_ALWAYS_INLINE void edgec_i16_neon_dots(int fmt, int T, int32x4_t isum[EDGEC_I16_NEON_TOKENS], const uint8_t *tile, int u,
                                             const edgec_i16_neon_xblock *xs, const edgec_block_q8a *const xb[EDGEC_I16_NEON_TOKENS])
{
    (void)xb;
    const uint8_t *q = tile + edgec_i16_scale_bytes(fmt) + 16 * u;
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++) isum[j] = vdupq_n_s32(0);
    const int chunks = fmt == EDGEC_FMT_Q8_0 ? 8 : 4;
EDGEC_UNROLL
    for (int c = 0; c < 8; c++) {
        if (c >= chunks) continue;
        uint8x16_t v = vld1q_u8(q + 64 * c);
        if (fmt == EDGEC_FMT_Q8_0) { /* operand c meets dword c */
            int8x16_t w = edgec_i16_neon_operand(fmt, v, 0);
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++)
                if (j < T) isum[j] = edgec_i16_neon_sdot(isum[j], w, xs->x[j], c);
            continue;
        }
        int8x16_t lo = edgec_i16_neon_operand(fmt, v, 0), hi = edgec_i16_neon_operand(fmt, v, 1);
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++) { /* low nibbles meet dword 2c, high 2c+1 */
            if (j >= T) continue;
            isum[j] = edgec_i16_neon_sdot(isum[j], lo, xs->x[j], 2 * c);
            isum[j] = edgec_i16_neon_sdot(isum[j], hi, xs->x[j], 2 * c + 1);
        }
    }
}

#else /* ARMv8.0 */

/* ARMv8.0 broadcasts each activation dword from memory where it is used, so nothing is preloaded. */
typedef struct { int unused; } edgec_i16_neon_xblock;

EDGEC_ALWAYS_INLINE void edgec_i16_neon_load_x(int T, edgec_i16_neon_xblock *xs, const edgec_block_q8a *const xb[EDGEC_I16_NEON_TOKENS])
{
    (void)T, (void)xb;
    xs->unused = 0;
}

/* Activation dword i of a token in every int32 lane (a load-and-replicate). */
EDGEC_ALWAYS_INLINE int8x16_t edgec_i16_neon_xdword(const int8_t *qs, int i)
{
    return vreinterpretq_s8_u32(vdupq_n_u32(edgec_load_u32(qs + 4 * i)));
}

/* int16 lanes (+)= operand x broadcast dword: p[0] rows 4u, 4u+1 (4 lanes each), p[1] rows 4u+2, 4u+3. */
EDGEC_ALWAYS_INLINE void edgec_i16_neon_mlal(int16x8_t p[2], int8x16_t w, int8x16_t xd, int first)
{
    if (first) {
        p[0] = vmull_s8(vget_low_s8(w), vget_low_s8(xd));
        p[1] = vmull_high_s8(w, xd);
    } else {
        p[0] = vmlal_s8(p[0], vget_low_s8(w), vget_low_s8(xd));
        p[1] = vmlal_high_s8(p[1], w, xd);
    }
}

/* isum[j] = integer dots of quad u (rows 4u..4u+3) of one tile with token j's block (j < T). */
EDGEC_ALWAYS_INLINE void edgec_i16_neon_dots(int fmt, int T, int32x4_t isum[EDGEC_I16_NEON_TOKENS], const uint8_t *tile, int u,
                                             const edgec_i16_neon_xblock *xs, const edgec_block_q8a *const xb[EDGEC_I16_NEON_TOKENS])
{
    (void)xs;
    const uint8_t *q = tile + edgec_i16_scale_bytes(fmt) + 16 * u;
    if (fmt == EDGEC_FMT_Q8_0) {
        /* a pair of operands per int16 lane, then widened: s[j][0] = rows 4u, 4u+1 as
         * [r k01, r k23, r+1 k01, r+1 k23], s[j][1] = rows 4u+2, 4u+3 */
        int32x4_t s[EDGEC_I16_NEON_TOKENS][2];
EDGEC_UNROLL
        for (int c = 0; c < 8; c += 2) {
            int8x16_t w0 = edgec_i16_neon_operand(fmt, vld1q_u8(q + 64 * c), 0);
            int8x16_t w1 = edgec_i16_neon_operand(fmt, vld1q_u8(q + 64 * (c + 1)), 0);
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++) {
                if (j >= T) continue;
                int16x8_t p[2];
                edgec_i16_neon_mlal(p, w0, edgec_i16_neon_xdword(xb[j]->qs, c), 1);
                edgec_i16_neon_mlal(p, w1, edgec_i16_neon_xdword(xb[j]->qs, c + 1), 0);
                s[j][0] = c == 0 ? vpaddlq_s16(p[0]) : vpadalq_s16(s[j][0], p[0]);
                s[j][1] = c == 0 ? vpaddlq_s16(p[1]) : vpadalq_s16(s[j][1], p[1]);
            }
        }
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++)
            if (j < T) isum[j] = vpaddq_s32(s[j][0], s[j][1]);
        return;
    }
    int16x8_t p[EDGEC_I16_NEON_TOKENS][2];
EDGEC_UNROLL
    for (int c = 0; c < 4; c++) {
        uint8x16_t v = vld1q_u8(q + 64 * c);
        int8x16_t lo = edgec_i16_neon_operand(fmt, v, 0), hi = edgec_i16_neon_operand(fmt, v, 1);
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++) { /* low nibbles meet dword 2c, high 2c+1 */
            if (j >= T) continue;
            edgec_i16_neon_mlal(p[j], lo, edgec_i16_neon_xdword(xb[j]->qs, 2 * c), c == 0);
            edgec_i16_neon_mlal(p[j], hi, edgec_i16_neon_xdword(xb[j]->qs, 2 * c + 1), 0);
        }
    }
EDGEC_UNROLL
    for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++)
        if (j < T) isum[j] = vpaddlq_s16(vpaddq_s16(p[j][0], p[j][1]));
}

#endif

/* Quads q0..q0+Q-1 of group g x tokens t..t+T-1 (Q, q0, T constants) over all nb tiles, one
 * quad at a time within a tile (its integer sums are scaled before the next quad's start):
 * out[(t+j)*ldo + 16g + 4(q0+i) + lane], lanes past `rows` not written. */
EDGEC_ALWAYS_INLINE void edgec_i16_neon_pass(int fmt, int Q, int q0, int T, float *out, int ldo, const uint8_t *w, int g, int rows,
                                             const edgec_block_q8a *xq, int t, int nb)
{
    const size_t tb = (size_t)edgec_i16_tile_bytes(fmt);
    const uint8_t *group = w + (size_t)g * nb * tb;
    float32x4_t acc[EDGEC_I16_NEON_QUADS][EDGEC_I16_NEON_TOKENS];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_I16_NEON_QUADS; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++) acc[i][j] = vdupq_n_f32(0.0f);
    for (int b = 0; b < nb; b++) {
        const uint8_t *tile = group + (size_t)b * tb;
        const edgec_block_q8a *xb[EDGEC_I16_NEON_TOKENS];
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++) xb[j] = xq + (size_t)(t + (j < T ? j : 0)) * nb + b;
        if (q0 == 0) edgec_i16_neon_prefetch(tile); /* a second pass (q0 = 2) reads from cache */
        edgec_i16_neon_xblock xs;
        edgec_i16_neon_load_x(T, &xs, xb);
EDGEC_UNROLL
        for (int i = 0; i < EDGEC_I16_NEON_QUADS; i++) {
            if (i >= Q) continue;
            int32x4_t isum[EDGEC_I16_NEON_TOKENS];
            edgec_i16_neon_dots(fmt, T, isum, tile, q0 + i, &xs, xb);
            const float32x4_t dw = edgec_i16_neon_scales(tile + 8 * (q0 + i));
            const float32x4_t mw = fmt == EDGEC_FMT_Q4_1 ? edgec_i16_neon_scales(tile + 32 + 8 * (q0 + i)) : dw;
EDGEC_UNROLL
            for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++) {
                if (j >= T) continue;
                const float32x4_t fi = vcvtq_f32_s32(isum[j]);
                const float32x4_t v = fmt == EDGEC_FMT_Q4_0 ? vfmaq_n_f32(vdupq_n_f32(-8.0f * xb[j]->s), fi, xb[j]->d)
                                                            : vmulq_n_f32(fi, xb[j]->d);
                acc[i][j] = vfmaq_f32(acc[i][j], v, dw);
                if (fmt == EDGEC_FMT_Q4_1) acc[i][j] = vfmaq_n_f32(acc[i][j], mw, xb[j]->s);
            }
        }
    }
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_I16_NEON_QUADS; i++) {
        if (i >= Q) continue;
        const int r0 = EDGEC_I16_ROWS * g + 4 * (q0 + i), left = rows - r0;
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_I16_NEON_TOKENS; j++) {
            if (j >= T || left <= 0) continue;
            float *o = out + (size_t)(t + j) * ldo + r0;
            if (left >= 4) {
                vst1q_f32(o, acc[i][j]);
                continue;
            }
            /* the padded rows of a partial group are never written */
            vst1q_lane_f32(o, acc[i][j], 0);
            if (left > 1) vst1q_lane_f32(o + 1, acc[i][j], 1);
            if (left > 2) vst1q_lane_f32(o + 2, acc[i][j], 2);
        }
    }
}

/* Per group: passes of a batch shape while whole batches of tokens remain, then the remaining
 * tokens one at a time; passes whose rows are all padding are skipped. */
EDGEC_ALWAYS_INLINE void edgec_i16_neon_matmul(int fmt, float *out, int ldo, const void *w, int g0, int g1, int rows,
                                               const edgec_block_q8a *xq, int n_tok, int n)
{
    const uint8_t *wb = (const uint8_t *)w;
    const int nb = n / EDGEC_QK, groups = edgec_i16_groups(rows);
    const int bq = EDGEC_I16_NEON_BATCH_QUADS(fmt), bt = EDGEC_I16_NEON_BATCH_TOKENS(fmt), dq = EDGEC_I16_NEON_DECODE_QUADS(fmt);
    if (g1 > groups) g1 = groups;
    for (int g = g0; g < g1; g++) {
        int t = 0;
        for (; t + bt <= n_tok; t += bt)
            for (int q0 = 0; q0 < EDGEC_I16_NEON_QUADS && EDGEC_I16_ROWS * g + 4 * q0 < rows; q0 += bq)
                edgec_i16_neon_pass(fmt, bq, q0, bt, out, ldo, wb, g, rows, xq, t, nb);
        for (; t < n_tok; t++)
            for (int q0 = 0; q0 < EDGEC_I16_NEON_QUADS && EDGEC_I16_ROWS * g + 4 * q0 < rows; q0 += dq)
                edgec_i16_neon_pass(fmt, dq, q0, 1, out, ldo, wb, g, rows, xq, t, nb);
    }
}

static inline void edgec_i16_neon_matmul_q4_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_neon_matmul(EDGEC_FMT_Q4_0, out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_i16_neon_matmul_q4_1(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_neon_matmul(EDGEC_FMT_Q4_1, out, ldo, w, g0, g1, rows, xq, n_tok, n); }
static inline void edgec_i16_neon_matmul_q8_0(float *out, int ldo, const void *w, int g0, int g1, int rows, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_i16_neon_matmul(EDGEC_FMT_Q8_0, out, ldo, w, g0, g1, rows, xq, n_tok, n); }

#endif
