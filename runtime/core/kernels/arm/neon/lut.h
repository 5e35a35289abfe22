/* kernels/arm/neon/lut.h - LUT matmul on AArch64 NEON, ARMv8.0 only (tbl, no sdot): runs on a Cortex-A53;
 * on 32-bit ARMv7 (Cortex-A7) each 16-byte tbl is two 64-bit vtbl2 (a32.h).
 *
 * A table entry needs 10 bits (|entry| <= 508), tbl looks up bytes, so each group's table is
 * stored as 16 low bytes and 16 high bytes (two's complement: entry = 256*hi + lo).  A quad's
 * 16 bytes hold 8 rows' index words (A|B<<4 in byte 2r, C|D<<4 in byte 2r+1); uzp1 / uzp2 of
 * two such loads give 16 rows' A|B and C|D bytes, so every byte of a vector meets one group's
 * table and one-register tbl serves 16 rows.  Low bytes are widened into uint16 row sums
 * (uaddw), high bytes (-2..1) summed in int8 over a plane's 8 lookups; a plane's sum is then
 * lows + (highs << 8), exact modulo 2^16, and the final isum' fits int16 (see kernels/lut.h).
 * Each (plane, quad) loads its 8 table registers once for all 32 rows.  The small loops over
 * vector arrays are unrolled (EDGEC_UNROLL): without it gcc 12 kept the arrays on the stack
 * and ran 1.5x the instructions.
 *
 * Tables (edgec_lut_build_tables): per token, per column group q (n/4 of them), 32 bytes at
 * q*32: the 16 low bytes, then the 16 high bytes of T_q (as on AVX2).  8n bytes per token.
 * Included only by kernels/lut.h, after its scalar helpers.
 */
#ifndef EDGEC_KERNELS_LUT_NEON_H
#define EDGEC_KERNELS_LUT_NEON_H

#include "kernels/arm/neon/a32.h" /* <arm_neon.h>, and on 32-bit ARM the AArch64-only intrinsics */
#include "kernels/lut_sweep.h"   /* the matrix walk shared with the other ISAs */

/* ---- tables --------------------------------------------------------------------------- */

static inline void edgec_lutneon_build_tables(void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{
    /* lane i of a table is entry i; bit k of i says whether activation k is in */
    static const uint8_t bits[4][16] = {
        {0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255},
        {0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 255, 255},
        {0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255, 255, 255, 255},
        {0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255},
    };
    const uint8x16_t b0 = vld1q_u8(bits[0]), b1 = vld1q_u8(bits[1]), b2 = vld1q_u8(bits[2]), b3 = vld1q_u8(bits[3]);
    const int nb = n / EDGEC_QK;
    for (int t = 0; t < n_tok; t++) {
        uint8_t *tt = (uint8_t *)tables + (size_t)t * EDGEC_LUT_TABLE_BYTES(n);
        for (int b = 0; b < nb; b++) {
            const int8_t *qs = xq[(size_t)t * nb + b].qs;
EDGEC_UNROLL
            for (int q = 0; q < 8; q++) {
                const int8_t *x = qs + 4 * q;
                /* entries as int16 in two halves (0..7, 8..15), from masked broadcasts */
                const int8x16_t e0 = vreinterpretq_s8_u8(vandq_u8(vreinterpretq_u8_s8(vdupq_n_s8(x[0])), b0));
                const int8x16_t e1 = vreinterpretq_s8_u8(vandq_u8(vreinterpretq_u8_s8(vdupq_n_s8(x[1])), b1));
                const int8x16_t e2 = vreinterpretq_s8_u8(vandq_u8(vreinterpretq_u8_s8(vdupq_n_s8(x[2])), b2));
                const int8x16_t e3 = vreinterpretq_s8_u8(vandq_u8(vreinterpretq_u8_s8(vdupq_n_s8(x[3])), b3));
                const int16x8_t lo = vaddq_s16(vaddl_s8(vget_low_s8(e0), vget_low_s8(e1)), vaddl_s8(vget_low_s8(e2), vget_low_s8(e3)));
                const int16x8_t hi = vaddq_s16(vaddl_high_s8(e0, e1), vaddl_high_s8(e2, e3));
                uint8_t *dst = tt + ((size_t)b * 8 + q) * 32;
                vst1q_u8(dst, vuzp1q_u8(vreinterpretq_u8_s16(lo), vreinterpretq_u8_s16(hi)));      /* low bytes of entries 0..15 */
                vst1q_u8(dst + 16, vuzp2q_u8(vreinterpretq_u8_s16(lo), vreinterpretq_u8_s16(hi))); /* high bytes */
            }
        }
    }
}

/* ---- matmul ----------------------------------------------------------------------------- */

/* 8 fp16 values at p as floats (low 4, high 4). */
EDGEC_ALWAYS_INLINE void edgec_lutneon_halves8(const uint8_t *p, float32x4_t *lo, float32x4_t *hi)
{
#if EDGEC_NEON_F16
    uint16x8_t h = vld1q_u16((const uint16_t *)(const void *)p);
    *lo = edgec_neon_cvt_f16(vget_low_u16(h));
    *hi = edgec_neon_cvt_f16(vget_high_u16(h));
#else
    float f[8];
    for (int i = 0; i < 8; i++) f[i] = edgec_fp16_to_fp32_c(edgec_load_u16(p + 2 * i));
    *lo = vld1q_f32(f);
    *hi = vld1q_f32(f + 4);
#endif
}

/* Adds table tab's entries at idx to 16 rows: lows (uint16, rows 0..7 and 8..15), highs (int8). */
EDGEC_ALWAYS_INLINE void edgec_lutneon_lookup(uint16x8_t lows[2], int8x16_t *highs, uint8x16_t idx, uint8x16_t tl, uint8x16_t th)
{
    const uint8x16_t l = vqtbl1q_u8(tl, idx);
    lows[0] = vaddw_u8(lows[0], vget_low_u8(l));
    lows[1] = vaddw_high_u8(lows[1], l);
    *highs = vaddq_s8(*highs, vreinterpretq_s8_u8(vqtbl1q_u8(th, idx)));
}

/* isum' of the 32 rows (isum[k]: rows 8k..8k+7) over one 32-column block, one token (tab: the
 * block's 8 group tables).  Each (plane, quad) loads its 8 table registers once for all rows. */
EDGEC_ALWAYS_INLINE void edgec_lutneon_block(int fmt, const uint8_t *planes, const uint8_t *tab, int16x8_t isum[4])
{
    const int P = edgec_lut_planes(fmt);
    const uint8x16_t low4 = vdupq_n_u8(15);
EDGEC_UNROLL
    for (int k = 0; k < 4; k++) isum[k] = vdupq_n_s16(0);
    for (int p = 0; p < P; p++) { /* planes in memory order (hardware prefetchers follow ascending streams) */
        const int flip = p == P - 1 && edgec_lut_signed(fmt);
        uint16x8_t lows[4];
        int8x16_t highs[2]; /* per plane: 8 lookups of -2..1 fit int8 */
EDGEC_UNROLL
        for (int k = 0; k < 4; k++) lows[k] = vdupq_n_u16(0);
        highs[0] = highs[1] = vdupq_n_s8(0);
EDGEC_UNROLL
        for (int c = 0; c < 2; c++) {
            const uint8_t *t = tab + c * 128;
            uint8x16_t tl[4], th[4];
EDGEC_UNROLL
            for (int g = 0; g < 4; g++) {
                tl[g] = vld1q_u8(t + 32 * g);
                th[g] = vld1q_u8(t + 32 * g + 16);
            }
EDGEC_UNROLL
            for (int h = 0; h < 2; h++) { /* rows 16h..16h+15 */
                const uint8_t *q = planes + p * EDGEC_LUT_PLANE_BYTES + c * EDGEC_LUT_QUAD_BYTES + 32 * h;
                uint8x16_t v0 = vld1q_u8(q), v1 = vld1q_u8(q + 16);
                if (flip) { /* q4's top plane: bits of 1 - b3 */
                    v0 = vmvnq_u8(v0);
                    v1 = vmvnq_u8(v1);
                }
                const uint8x16_t ab = vuzp1q_u8(v0, v1), cd = vuzp2q_u8(v0, v1); /* byte r: row 16h+r's A|B<<4, C|D<<4 */
                edgec_lutneon_lookup(&lows[2 * h], &highs[h], vandq_u8(ab, low4), tl[0], th[0]);
                edgec_lutneon_lookup(&lows[2 * h], &highs[h], vshrq_n_u8(ab, 4), tl[1], th[1]);
                edgec_lutneon_lookup(&lows[2 * h], &highs[h], vandq_u8(cd, low4), tl[2], th[2]);
                edgec_lutneon_lookup(&lows[2 * h], &highs[h], vshrq_n_u8(cd, 4), tl[3], th[3]);
            }
        }
        const int16x8_t shift = vdupq_n_s16((int16_t)p);
EDGEC_UNROLL
        for (int k = 0; k < 4; k++) {
            /* this plane's sums (exact mod 2^16), times 2^p; q4's top plane -8 */
            const int16x8_t hi = k % 2 ? vreinterpretq_s16_u16(vshll_high_n_u8(vreinterpretq_u8_s8(highs[k / 2]), 8))
                                       : vreinterpretq_s16_u16(vshll_n_u8(vget_low_u8(vreinterpretq_u8_s8(highs[k / 2])), 8));
            const int16x8_t e = vshlq_s16(vaddq_s16(vreinterpretq_s16_u16(lows[k]), hi), shift);
            isum[k] = flip ? vsubq_s16(isum[k], e) : vaddq_s16(isum[k], e);
        }
    }
}

/* Group g x token t over all n columns: out[t*ldo + 32g + lane], lanes past `rows` not written. */
EDGEC_ALWAYS_INLINE void edgec_lutneon_group(int fmt, float *out, int ldo, const uint8_t *w, int g, int rows,
                                             const uint8_t *tables, const edgec_block_q8a *xq, int t, int n)
{
    const int S = edgec_lut_unit_cols(fmt) / EDGEC_QK, nu = n / edgec_lut_unit_cols(fmt), nb = n / EDGEC_QK;
    const size_t tb = (size_t)edgec_lut_tile_bytes(fmt);
    const uint8_t *tile = w + (size_t)g * nu * tb, *tt = tables + (size_t)t * EDGEC_LUT_TABLE_BYTES(n);
    float acc[EDGEC_LUT_ROWS] = {0}; /* in memory: the registers go to tables and sums */
    for (int u = 0; u < nu; u++, tile += tb)
EDGEC_UNROLL
        for (int s = 0; s < S; s++) {
            const int b = u * S + s;
            int16x8_t isum[4];
            edgec_lutneon_block(fmt, edgec_lut_planes_of(fmt, tile, s), tt + (size_t)b * 256, isum);
            const edgec_block_q8a *x = xq + (size_t)t * nb + b;
EDGEC_UNROLL
            for (int k = 0; k < 4; k++) { /* rows 8k..8k+7 */
                float32x4_t d[2], m[2] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
                edgec_lutneon_halves8(tile + 16 * k, &d[0], &d[1]);
                if (edgec_lut_has_m(fmt)) edgec_lutneon_halves8(tile + 64 + 16 * k, &m[0], &m[1]);
                const float32x4_t f[2] = {vcvtq_f32_s32(vmovl_s16(vget_low_s16(isum[k]))), vcvtq_f32_s32(vmovl_high_s16(isum[k]))};
EDGEC_UNROLL
                for (int h = 0; h < 2; h++) {
                    float32x4_t a = vfmaq_f32(vld1q_f32(acc + 8 * k + 4 * h), vmulq_n_f32(f[h], x->d), d[h]);
                    if (fmt == EDGEC_LUT_Q4_1) m[h] = vfmaq_n_f32(m[h], d[h], 8.0f); /* m' = m + 8d */
                    else if (fmt == EDGEC_LUT_TQ2) m[h] = vsubq_f32(m[h], d[h]);     /* m' = -d */
                    if (fmt != EDGEC_LUT_Q4_0) a = vfmaq_n_f32(a, m[h], x->s);
                    vst1q_f32(acc + 8 * k + 4 * h, a);
                }
            }
        }
    const int left = rows - EDGEC_LUT_ROWS * g;
    float *o = out + (size_t)t * ldo + EDGEC_LUT_ROWS * g;
    for (int r = 0; r < (left < EDGEC_LUT_ROWS ? left : EDGEC_LUT_ROWS); r++) o[r] = acc[r];
}

/* One token at a time.  Decode: group by group, one sequential weight stream.  Batches: groups
 * in chunks of about 128 KiB of weights (an A53's L2 is 128 KiB to 1 MiB), each chunk swept
 * once per token, so the token's tables stay in L1. */
EDGEC_ALWAYS_INLINE void edgec_lutneon_matmul(int fmt, float *out, int ldo, const void *w, int g0, int g1, int rows,
                                              const void *tables, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_lut_sweep(edgec_lutneon_group, (size_t)128 << 10, fmt, out, ldo, w, g0, g1, rows, tables, xq, n_tok, n); }

#endif
