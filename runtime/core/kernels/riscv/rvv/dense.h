/* kernels/riscv/rvv/dense.h - the dense family (q8_0 / q4_0 / q4_1 / f32 / f16 / bf16 matmuls,
 * quantize_q8a) and the float vector helpers for the RISC-V vector extension 1.0 (RVV), written with
 * the __riscv_-prefixed intrinsics of <riscv_vector.h> (clang 17+; Debian's gcc 12 has none).
 *
 * Length-agnostic: nothing assumes a VLEN beyond the V extension's minimum of 128 bits (Zvl128b),
 * so the same binary runs at VLEN 128 (Kendryte K230 / C908), 256 (SpacemiT K1 / X60) or wider.
 * RVV's vector types are sizeless (no arrays, no struct members, no fixed lane count), so this folder
 * has no vec.h for kernels/float_matmul.h / vector_math.h and no kernels/tiled_matmul.h instance:
 * the float kernels strip-mine with vsetvl (the last strip is shorter; accumulators keep their
 * other lanes, "_tu"), and the quantized tiles are written here.
 *
 * Quantized blocks: a block's 32 weights as two int8 vectors of 16 (lo = weights 0..15, hi = 16..31:
 * q4 nibbles are unpacked by one and / one shift, q4_0 has 8 subtracted), multiplied by the q8a
 * activation halves with vwmul (int8 x int8 -> int16) and vwmacc (+= the hi products, still int16),
 * then vwredsum (int16 -> one int32 sum).  The int16 lanes cannot overflow: a lane holds 2 products,
 * each |w*qx| <= 128*127 (qx in [-127, 127], as edgec_quantize_q8a makes it), 2*16256 < 32768.
 * That exact block sum is then scaled in float32 exactly as the scalar path does (acc += isum *
 * (d_w*d_x), and for q4_1 acc_m += m_w*s_x, per block in order), so the quantized matmuls give the
 * scalar path's sums.  Tiles: 4 rows x 1 token for a matvec (each activation block loaded once for 4 rows) and
 * 2 rows x 4 tokens for a batch (each weight block loaded and unpacked once for 4 tokens).
 */
#ifndef EDGEC_KERNELS_RVV_H
#define EDGEC_KERNELS_RVV_H

#include <riscv_vector.h>

#include "kernels/scalar/dense.h"

#define EDGEC_RVV_HALF 16    /* int8 lanes of half a block: fits an m1 register at VLEN >= 128 */
#define EDGEC_RVV_TILE 4     /* tile bounds: rows of a matvec tile, tokens of a batch tile */
#define EDGEC_RVV_BATCH_ROWS 2 /* rows of a batch tile (x EDGEC_RVV_TILE tokens) */

/* ---- activation quantization -------------------------------------------------------------- */

/* Same float operations as edgec_scalar_quantize_q8a, so the same bytes: amax by vfredmax (exact),
 * x*id by one multiply, and the conversion rounds to nearest with ties away from zero (RMM), which
 * is edgec_round_away.  A block's 32 floats fill an m8 group at VLEN 128. */
static inline void edgec_rvv_quantize_q8a(const float *x, edgec_block_q8a *y, int n)
{
    const size_t vl = EDGEC_QK;
    const vfloat32m1_t zero_f = __riscv_vfmv_s_f_f32m1(0.0f, 1);
    const vint32m1_t zero_i = __riscv_vmv_s_x_i32m1(0, 1);
    for (int b = 0; b < n / EDGEC_QK; b++) {
        const vfloat32m8_t v = __riscv_vle32_v_f32m8(x + (size_t)b * EDGEC_QK, vl);
        const float amax = __riscv_vfmv_f_s_f32m1_f32(__riscv_vfredmax_vs_f32m8_f32m1(__riscv_vfabs_v_f32m8(v, vl), zero_f, vl));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        const vint32m8_t q = __riscv_vfcvt_x_f_v_i32m8_rm(__riscv_vfmul_vf_f32m8(v, id, vl), __RISCV_FRM_RMM, vl);
        const int sum = __riscv_vmv_x_s_i32m1_i32(__riscv_vredsum_vs_i32m8_i32m1(q, zero_i, vl));
        /* |q| <= 127: the narrowing conversions keep every value */
        __riscv_vse8_v_i8m2(y[b].qs, __riscv_vncvt_x_x_w_i8m2(__riscv_vncvt_x_x_w_i16m4(q, vl), vl), vl);
        y[b].d = d;
        y[b].s = d * (float)sum;
    }
}

/* ---- quantized matmul ---------------------------------------------------------------------- */

/* Weights 0..15 (hi: 16..31) of the block at blk (any alignment: byte loads) as signed int8:
 * q8_0 as stored, q4_0 nibble - 8, q4_1 nibble. */
EDGEC_ALWAYS_INLINE vint8m1_t edgec_rvv_weights_half(int fmt, const uint8_t *blk, int hi)
{
    const size_t vl = EDGEC_RVV_HALF;
    if (fmt == EDGEC_FMT_Q8_0) return __riscv_vle8_v_i8m1((const int8_t *)(blk + EDGEC_Q8_0_QS + hi * EDGEC_RVV_HALF), vl);
    const vuint8m1_t q = __riscv_vle8_v_u8m1(blk + (fmt == EDGEC_FMT_Q4_0 ? EDGEC_Q4_0_QS : EDGEC_Q4_1_QS), vl);
    const vint8m1_t nib = __riscv_vreinterpret_v_u8m1_i8m1(hi ? __riscv_vsrl_vx_u8m1(q, 4, vl) : __riscv_vand_vx_u8m1(q, 0x0f, vl));
    return fmt == EDGEC_FMT_Q4_0 ? __riscv_vsub_vx_i8m1(nib, 8, vl) : nib;
}

/* sum_j w[j]*qx[j] over one block, exact: int16 products (2 per lane), one widening reduction. */
EDGEC_ALWAYS_INLINE int edgec_rvv_block_isum(vint8m1_t wlo, vint8m1_t whi, vint8m1_t xlo, vint8m1_t xhi, vint32m1_t zero)
{
    const size_t vl = EDGEC_RVV_HALF;
    const vint16m2_t p = __riscv_vwmacc_vv_i16m2(__riscv_vwmul_vv_i16m2(wlo, xlo, vl), whi, xhi, vl);
    return __riscv_vmv_x_s_i32m1_i32(__riscv_vwredsum_vs_i16m2_i32m1(p, zero, vl));
}

/* Row i's weights of block b (its two halves) and scales, in variables of their own (RVV vectors cannot
 * be array elements); rows past R repeat row 0 and are never used.  A macro: it declares them. */
#define EDGEC_RVV_ROW_BLOCK(i)                                                                                 \
    vint8m1_t wlo##i = wlo0, whi##i = whi0;                                                                    \
    if ((i) < R) {                                                                                             \
        const uint8_t *blk_ = w + (size_t)(r + (i)) * row_bytes + (size_t)b * bb;                              \
        wlo##i = edgec_rvv_weights_half(fmt, blk_, 0);                                                         \
        whi##i = edgec_rvv_weights_half(fmt, blk_, 1);                                                         \
        edgec_scalar_block_scales(fmt, blk_, &dw[i], &mw[i]);                                                  \
    }
/* Row i's block times the token's activations (xlo, xhi, x) into acc[i][j], as the scalar path adds it. */
#define EDGEC_RVV_ROW_FOLD(i)                                                                                  \
    if ((i) < R) {                                                                                             \
        acc[i][j] += (float)edgec_rvv_block_isum(wlo##i, whi##i, xlo, xhi, zero) * (dw[i] * x->d);              \
        if (fmt == EDGEC_FMT_Q4_1) acc_m[i][j] += mw[i] * x->s; /* q8_0 and q4_0 have m = 0 */              \
    }

/* out[(t+j)*ldo + r+i] = row r+i . token t+j for an R x T tile (constants, R <= 4, T <= 4): per block, the
 * R rows' weights are unpacked once for the T tokens and each token's activations loaded once for the R
 * rows; the float sums are the scalar path's, block by block. */
EDGEC_ALWAYS_INLINE void edgec_rvv_tile_q(int fmt, int R, int T, float *out, int ldo, const uint8_t *w, size_t row_bytes,
                                          int r, const edgec_block_q8a *xq, int t, int nb)
{
    const int bb = edgec_block_bytes(fmt);
    const vint32m1_t zero = __riscv_vmv_s_x_i32m1(0, 1);
    float acc[EDGEC_RVV_TILE][EDGEC_RVV_TILE], acc_m[EDGEC_RVV_TILE][EDGEC_RVV_TILE];
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_RVV_TILE; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_RVV_TILE; j++) acc[i][j] = acc_m[i][j] = 0.0f;
    for (int b = 0; b < nb; b++) {
        float dw[EDGEC_RVV_TILE] = {0}, mw[EDGEC_RVV_TILE] = {0}; /* block scales of the R rows */
        const uint8_t *blk0 = w + (size_t)r * row_bytes + (size_t)b * bb;
        const vint8m1_t wlo0 = edgec_rvv_weights_half(fmt, blk0, 0), whi0 = edgec_rvv_weights_half(fmt, blk0, 1);
        edgec_scalar_block_scales(fmt, blk0, &dw[0], &mw[0]);
        EDGEC_RVV_ROW_BLOCK(1)
        EDGEC_RVV_ROW_BLOCK(2)
        EDGEC_RVV_ROW_BLOCK(3)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_RVV_TILE; j++) {
            if (j >= T) continue;
            const edgec_block_q8a *x = xq + (size_t)(t + j) * nb + b;
            const vint8m1_t xlo = __riscv_vle8_v_i8m1(x->qs, EDGEC_RVV_HALF), xhi = __riscv_vle8_v_i8m1(x->qs + EDGEC_RVV_HALF, EDGEC_RVV_HALF);
            EDGEC_RVV_ROW_FOLD(0)
            EDGEC_RVV_ROW_FOLD(1)
            EDGEC_RVV_ROW_FOLD(2)
            EDGEC_RVV_ROW_FOLD(3)
        }
    }
EDGEC_UNROLL
    for (int i = 0; i < EDGEC_RVV_TILE; i++)
EDGEC_UNROLL
        for (int j = 0; j < EDGEC_RVV_TILE; j++)
            if (i < R && j < T) out[(size_t)(t + j) * ldo + r + i] = acc[i][j] + acc_m[i][j];
}
#undef EDGEC_RVV_ROW_BLOCK
#undef EDGEC_RVV_ROW_FOLD

/* Rows [r0, r1) x tokens [0, n_tok): 4-row tiles for one token; 2-row x 4-token tiles for a batch,
 * then single tokens, then the odd row. */
EDGEC_ALWAYS_INLINE void edgec_rvv_matmul_q(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                            const edgec_block_q8a *xq, int n_tok, int n)
{
    const int nb = n / EDGEC_QK;
    const size_t row_bytes = (size_t)nb * edgec_block_bytes(fmt);
    const uint8_t *wb = (const uint8_t *)w;
    int r = r0;
    if (n_tok == 1) {
        for (; r + EDGEC_RVV_TILE <= r1; r += EDGEC_RVV_TILE) edgec_rvv_tile_q(fmt, EDGEC_RVV_TILE, 1, out, ldo, wb, row_bytes, r, xq, 0, nb);
        for (; r < r1; r++) edgec_rvv_tile_q(fmt, 1, 1, out, ldo, wb, row_bytes, r, xq, 0, nb);
        return;
    }
    for (; r + EDGEC_RVV_BATCH_ROWS <= r1; r += EDGEC_RVV_BATCH_ROWS) {
        int t = 0;
        for (; t + EDGEC_RVV_TILE <= n_tok; t += EDGEC_RVV_TILE)
            edgec_rvv_tile_q(fmt, EDGEC_RVV_BATCH_ROWS, EDGEC_RVV_TILE, out, ldo, wb, row_bytes, r, xq, t, nb);
        for (; t < n_tok; t++) edgec_rvv_tile_q(fmt, EDGEC_RVV_BATCH_ROWS, 1, out, ldo, wb, row_bytes, r, xq, t, nb);
    }
    for (; r < r1; r++) {
        int t = 0;
        for (; t + EDGEC_RVV_TILE <= n_tok; t += EDGEC_RVV_TILE) edgec_rvv_tile_q(fmt, 1, EDGEC_RVV_TILE, out, ldo, wb, row_bytes, r, xq, t, nb);
        for (; t < n_tok; t++) edgec_rvv_tile_q(fmt, 1, 1, out, ldo, wb, row_bytes, r, xq, t, nb);
    }
}

static inline void edgec_rvv_matmul_q8_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_rvv_matmul_q(EDGEC_FMT_Q8_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_rvv_matmul_q4_0(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_rvv_matmul_q(EDGEC_FMT_Q4_0, out, ldo, w, r0, r1, xq, n_tok, n); }
static inline void edgec_rvv_matmul_q4_1(float *out, int ldo, const void *w, int r0, int r1, const edgec_block_q8a *xq, int n_tok, int n)
{ edgec_rvv_matmul_q(EDGEC_FMT_Q4_1, out, ldo, w, r0, r1, xq, n_tok, n); }

/* ---- float-weight matmul (LMUL 2: 4 accumulators, 4 weight vectors and the f16 temporaries fit) ---- */

/* IEEE binary16 bits (zero-extended into 32-bit lanes) -> binary32, exact like edgec_fp16_to_fp32_c:
 * a finite half's exponent and mantissa shifted into a float are its value times 2^-112 (subnormal
 * halves become float subnormals; RISC-V never flushes them), so one multiply by 2^112 rebiases exactly;
 * inf and NaN take the all-ones exponent with the payload kept. */
EDGEC_ALWAYS_INLINE vfloat32m2_t edgec_rvv_halves_to_f32(vuint32m2_t h, size_t vl)
{
    const vuint32m2_t em = __riscv_vand_vx_u32m2(h, 0x7fffu, vl);
    const vuint32m2_t sign = __riscv_vsll_vx_u32m2(__riscv_vxor_vv_u32m2(h, em, vl), 16, vl);
    const vuint32m2_t shifted = __riscv_vsll_vx_u32m2(em, 13, vl);
    const vfloat32m2_t finite = __riscv_vfmul_vf_f32m2(__riscv_vreinterpret_v_u32m2_f32m2(shifted), 0x1p112f, vl);
    const vbool16_t special = __riscv_vmsgeu_vx_u32m2_b16(em, 0x7c00u, vl);
    const vuint32m2_t bits = __riscv_vmerge_vvm_u32m2(__riscv_vreinterpret_v_f32m2_u32m2(finite),
                                                      __riscv_vor_vx_u32m2(shifted, 0x7f800000u, vl), special, vl);
    return __riscv_vreinterpret_v_u32m2_f32m2(__riscv_vor_vv_u32m2(bits, sign, vl));
}

/* vl weights of a float-format row from p, as floats.  aligned: p is element-aligned, so vle32 / vle16,
 * which run under the float ops' vtype (no vsetvli between them); else byte loads of the same bytes,
 * reinterpreted (RVV keeps a register group's bytes in memory order whatever the element width; a
 * misaligned element load may trap on hardware). */
EDGEC_ALWAYS_INLINE vfloat32m2_t edgec_rvv_load_weights(int fmt, int aligned, const uint8_t *p, size_t vl)
{
    if (fmt == EDGEC_FMT_F32)
        return aligned ? __riscv_vle32_v_f32m2((const float *)(const void *)p, vl)
                       : __riscv_vreinterpret_v_u32m2_f32m2(__riscv_vreinterpret_v_u8m2_u32m2(__riscv_vle8_v_u8m2(p, 4 * vl)));
    const vuint16m1_t h = aligned ? __riscv_vle16_v_u16m1((const uint16_t *)(const void *)p, vl)
                                  : __riscv_vreinterpret_v_u8m1_u16m1(__riscv_vle8_v_u8m1(p, 2 * vl));
    const vuint32m2_t h32 = __riscv_vzext_vf2_u32m2(h, vl);
    if (fmt == EDGEC_FMT_BF16) return __riscv_vreinterpret_v_u32m2_f32m2(__riscv_vsll_vx_u32m2(h32, 16, vl)); /* upper half of a float */
    return edgec_rvv_halves_to_f32(h32, vl);
}

/* Sum of an accumulator's lanes (all of them: the shorter last strip left the others as they were). */
EDGEC_ALWAYS_INLINE float edgec_rvv_hsum_m2(vfloat32m2_t v)
{
    return __riscv_vfmv_f_s_f32m1_f32(__riscv_vfredusum_vs_f32m2_f32m1(v, __riscv_vfmv_s_f_f32m1(0.0f, 1), __riscv_vsetvlmax_e32m2()));
}

/* One vl-lane strip from element k of an R x 1 or 1 x T tile (see edgec_rvv_tile_float) with FMACC
 * (tail agnostic for whole strips, _tu for the last, shorter one): acc##a += the strip of row
 * (T == 1 ? a : 0) times that of token (T == 1 ? 0 : a).  A macro: the accumulators are sizeless. */
#define EDGEC_RVV_FLOAT_STRIP(FMACC, vl)                                                                             \
    do {                                                                                                             \
        const vfloat32m2_t w0_ = edgec_rvv_load_weights(fmt, aligned, row + k * es, vl);                             \
        const vfloat32m2_t x0_ = __riscv_vle32_v_f32m2(x + (size_t)t * ldx + k, vl);                                \
        acc0 = FMACC(acc0, w0_, x0_, vl);                                                                            \
        EDGEC_RVV_FLOAT_FMA(FMACC, vl, 1);                                                                           \
        EDGEC_RVV_FLOAT_FMA(FMACC, vl, 2);                                                                           \
        EDGEC_RVV_FLOAT_FMA(FMACC, vl, 3);                                                                           \
    } while (0)
#define EDGEC_RVV_FLOAT_FMA(FMACC, vl, a)                                                                            \
    if ((a) < R * T)                                                                                                 \
        acc##a = FMACC(acc##a, T == 1 ? edgec_rvv_load_weights(fmt, aligned, row + (a) * row_bytes + k * es, vl) : w0_, \
                       T == 1 ? x0_ : __riscv_vle32_v_f32m2(x + (size_t)(t + (a)) * ldx + k, vl), vl)

/* R rows x 1 token or 1 row x T tokens (constants, <= 4) of float-weight dots, rows r.., tokens t..:
 * whole vlmax strips (one vtype for the loop: no vsetvli inside it), then the shorter last strip;
 * each weight strip is loaded (and converted) once for the T tokens.  aligned: as edgec_rvv_load_weights. */
EDGEC_ALWAYS_INLINE void edgec_rvv_tile_float(int fmt, int aligned, int R, int T, float *out, int ldo, const void *w, int r,
                                              const float *x, int ldx, int t, int n)
{
    const size_t es = fmt == EDGEC_FMT_F32 ? 4 : 2, row_bytes = (size_t)n * es;
    const uint8_t *row = (const uint8_t *)w + (size_t)r * row_bytes;
    const size_t vlmax = __riscv_vsetvlmax_e32m2();
    vfloat32m2_t acc0 = __riscv_vfmv_v_f_f32m2(0.0f, vlmax), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    size_t k = 0;
    for (; k + vlmax <= (size_t)n; k += vlmax) EDGEC_RVV_FLOAT_STRIP(__riscv_vfmacc_vv_f32m2, vlmax);
    if (k < (size_t)n) EDGEC_RVV_FLOAT_STRIP(__riscv_vfmacc_vv_f32m2_tu, (size_t)n - k);
    /* accumulator a is row r + (T == 1 ? a : 0), token t + (T == 1 ? 0 : a) */
    out[(size_t)t * ldo + r] = edgec_rvv_hsum_m2(acc0);
    if (R * T > 1) out[(size_t)(t + (T == 1 ? 0 : 1)) * ldo + r + (T == 1 ? 1 : 0)] = edgec_rvv_hsum_m2(acc1);
    if (R * T > 2) out[(size_t)(t + (T == 1 ? 0 : 2)) * ldo + r + (T == 1 ? 2 : 0)] = edgec_rvv_hsum_m2(acc2);
    if (R * T > 3) out[(size_t)(t + (T == 1 ? 0 : 3)) * ldo + r + (T == 1 ? 3 : 0)] = edgec_rvv_hsum_m2(acc3);
}
#undef EDGEC_RVV_FLOAT_STRIP
#undef EDGEC_RVV_FLOAT_FMA

/* Rows [r0, r1) x tokens [0, n_tok): 4-row tiles for one token, 1-row x 4-token tiles for a batch. */
EDGEC_ALWAYS_INLINE void edgec_rvv_matmul_float_rows(int fmt, int aligned, float *out, int ldo, const void *w, int r0, int r1,
                                                     const float *x, int ldx, int n_tok, int n)
{
    int r = r0;
    if (n_tok == 1) {
        for (; r + EDGEC_RVV_TILE <= r1; r += EDGEC_RVV_TILE) edgec_rvv_tile_float(fmt, aligned, EDGEC_RVV_TILE, 1, out, ldo, w, r, x, ldx, 0, n);
        for (; r < r1; r++) edgec_rvv_tile_float(fmt, aligned, 1, 1, out, ldo, w, r, x, ldx, 0, n);
        return;
    }
    for (; r < r1; r++) {
        int t = 0;
        for (; t + EDGEC_RVV_TILE <= n_tok; t += EDGEC_RVV_TILE) edgec_rvv_tile_float(fmt, aligned, 1, EDGEC_RVV_TILE, out, ldo, w, r, x, ldx, t, n);
        for (; t < n_tok; t++) edgec_rvv_tile_float(fmt, aligned, 1, 1, out, ldo, w, r, x, ldx, t, n);
    }
}

/* Element-aligned weights (a weights blob aligns its tensors) take element loads, any others byte loads. */
EDGEC_ALWAYS_INLINE void edgec_rvv_matmul_float(int fmt, float *out, int ldo, const void *w, int r0, int r1,
                                                const float *x, int ldx, int n_tok, int n)
{
    const size_t es = fmt == EDGEC_FMT_F32 ? 4 : 2;
    if ((uintptr_t)w % es == 0) edgec_rvv_matmul_float_rows(fmt, 1, out, ldo, w, r0, r1, x, ldx, n_tok, n);
    else edgec_rvv_matmul_float_rows(fmt, 0, out, ldo, w, r0, r1, x, ldx, n_tok, n);
}

static inline void edgec_rvv_matmul_f32(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_rvv_matmul_float(EDGEC_FMT_F32, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_rvv_matmul_f16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_rvv_matmul_float(EDGEC_FMT_F16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }
static inline void edgec_rvv_matmul_bf16(float *out, int ldo, const void *w, int r0, int r1, const float *x, int ldx, int n_tok, int n)
{ edgec_rvv_matmul_float(EDGEC_FMT_BF16, out, ldo, w, r0, r1, x, ldx, n_tok, n); }

/* ---- float vector helpers: strip-mined, LMUL 8 where two or three vectors are live, 4 around exp.
 * An accumulator takes whole vlmax strips (one vtype for the loop), then the shorter last strip "_tu". */

EDGEC_ALWAYS_INLINE float edgec_rvv_hsum_m8(vfloat32m8_t v)
{
    return __riscv_vfmv_f_s_f32m1_f32(__riscv_vfredusum_vs_f32m8_f32m1(v, __riscv_vfmv_s_f_f32m1(0.0f, 1), __riscv_vsetvlmax_e32m8()));
}

static inline float edgec_rvv_dot_f32(const float *a, const float *b, int n)
{
    const size_t vlmax = __riscv_vsetvlmax_e32m8();
    vfloat32m8_t acc = __riscv_vfmv_v_f_f32m8(0.0f, vlmax);
    size_t i = 0;
    for (; i + vlmax <= (size_t)n; i += vlmax)
        acc = __riscv_vfmacc_vv_f32m8(acc, __riscv_vle32_v_f32m8(a + i, vlmax), __riscv_vle32_v_f32m8(b + i, vlmax), vlmax);
    if (i < (size_t)n) {
        const size_t vl = (size_t)n - i;
        acc = __riscv_vfmacc_vv_f32m8_tu(acc, __riscv_vle32_v_f32m8(a + i, vl), __riscv_vle32_v_f32m8(b + i, vl), vl);
    }
    return edgec_rvv_hsum_m8(acc);
}

/* out = x / sqrt(mean(x^2) + eps) * w; out may alias x. */
static inline void edgec_rvv_rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    const float scale = 1.0f / sqrtf(edgec_rvv_dot_f32(x, x, n) / (float)n + eps);
    for (size_t i = 0, vl; i < (size_t)n; i += vl) {
        vl = __riscv_vsetvl_e32m8((size_t)n - i);
        const vfloat32m8_t xs = __riscv_vfmul_vf_f32m8(__riscv_vle32_v_f32m8(x + i, vl), scale, vl);
        __riscv_vse32_v_f32m8(out + i, __riscv_vfmul_vv_f32m8(xs, __riscv_vle32_v_f32m8(w + i, vl), vl), vl);
    }
}

/* y += a*x */
static inline void edgec_rvv_axpy_f32(float *y, float a, const float *x, int n)
{
    for (size_t i = 0, vl; i < (size_t)n; i += vl) {
        vl = __riscv_vsetvl_e32m8((size_t)n - i);
        __riscv_vse32_v_f32m8(y + i, __riscv_vfmacc_vf_f32m8(__riscv_vle32_v_f32m8(y + i, vl), a, __riscv_vle32_v_f32m8(x + i, vl), vl), vl);
    }
}

/* y += x */
static inline void edgec_rvv_add_f32(float *y, const float *x, int n)
{
    for (size_t i = 0, vl; i < (size_t)n; i += vl) {
        vl = __riscv_vsetvl_e32m8((size_t)n - i);
        __riscv_vse32_v_f32m8(y + i, __riscv_vfadd_vv_f32m8(__riscv_vle32_v_f32m8(y + i, vl), __riscv_vle32_v_f32m8(x + i, vl), vl), vl);
    }
}

/* max of x[0..n), n >= 1 (vfmax passes a number over a NaN, as the scalar compare does). */
static inline float edgec_rvv_max_f32(const float *x, int n)
{
    const size_t vlmax = __riscv_vsetvlmax_e32m8();
    vfloat32m8_t mx = __riscv_vfmv_v_f_f32m8(x[0], vlmax);
    size_t i = 0;
    for (; i + vlmax <= (size_t)n; i += vlmax) mx = __riscv_vfmax_vv_f32m8(mx, __riscv_vle32_v_f32m8(x + i, vlmax), vlmax);
    if (i < (size_t)n) mx = __riscv_vfmax_vv_f32m8_tu(mx, mx, __riscv_vle32_v_f32m8(x + i, (size_t)n - i), (size_t)n - i);
    return __riscv_vfmv_f_s_f32m1_f32(__riscv_vfredmax_vs_f32m8_f32m1(mx, __riscv_vfmv_s_f_f32m1(x[0], 1), vlmax));
}

/* exp with the scalar path's range reduction and Taylor polynomial (see edgec_expf_c); k is rounded to
 * nearest even (vector_math.h's choice).  The clamps are merges, not vfmin/vfmax, which would turn a
 * NaN into the bound: NaN stays NaN.  Below EDGEC_EXP_MIN (and -inf): 0. */
EDGEC_ALWAYS_INLINE vfloat32m4_t edgec_rvv_exp(vfloat32m4_t x, size_t vl)
{
    const vbool8_t below = __riscv_vmflt_vf_f32m4_b8(x, EDGEC_EXP_MIN, vl);
    x = __riscv_vfmerge_vfm_f32m4(x, EDGEC_EXP_MIN, below, vl);
    x = __riscv_vfmerge_vfm_f32m4(x, EDGEC_EXP_MAX, __riscv_vmfgt_vf_f32m4_b8(x, EDGEC_EXP_MAX, vl), vl);
    const vint32m4_t k = __riscv_vfcvt_x_f_v_i32m4_rm(__riscv_vfmul_vf_f32m4(x, EDGEC_LOG2E, vl), __RISCV_FRM_RNE, vl);
    const vfloat32m4_t kf = __riscv_vfcvt_f_x_v_f32m4(k, vl);
    vfloat32m4_t r = __riscv_vfnmsac_vf_f32m4(x, EDGEC_LN2_HI, kf, vl);   /* x - k*ln2_hi, exact */
    r = __riscv_vfnmsac_vf_f32m4(r, EDGEC_LN2_LO, kf, vl);
    static const float taylor[] = {1.0f / 720.0f, 1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f};
    vfloat32m4_t p = __riscv_vfmv_v_f_f32m4(1.0f / 5040.0f, vl);
EDGEC_UNROLL
    for (int c = 0; c < 7; c++) p = __riscv_vfmadd_vv_f32m4(p, r, __riscv_vfmv_v_f_f32m4(taylor[c], vl), vl);   /* p*r + c */
    const vint32m4_t biased = __riscv_vsll_vx_i32m4(__riscv_vadd_vx_i32m4(k, 127, vl), 23, vl);
    const vfloat32m4_t e = __riscv_vfmul_vv_f32m4(p, __riscv_vreinterpret_v_i32m4_f32m4(biased), vl);
    return __riscv_vfmerge_vfm_f32m4(e, 0.0f, below, vl);
}

/* x = exp(x - m) in place for a block of scores (m >= every x: the running max); returns their sum. */
static inline float edgec_rvv_exp_sum(float *x, int n, float m)
{
    const size_t vlmax = __riscv_vsetvlmax_e32m4();
    vfloat32m4_t sum = __riscv_vfmv_v_f_f32m4(0.0f, vlmax);
    size_t i = 0;
    for (; i + vlmax <= (size_t)n; i += vlmax) {
        const vfloat32m4_t e = edgec_rvv_exp(__riscv_vfsub_vf_f32m4(__riscv_vle32_v_f32m4(x + i, vlmax), m, vlmax), vlmax);
        __riscv_vse32_v_f32m4(x + i, e, vlmax);
        sum = __riscv_vfadd_vv_f32m4(sum, e, vlmax);
    }
    if (i < (size_t)n) {
        const size_t vl = (size_t)n - i;
        const vfloat32m4_t e = edgec_rvv_exp(__riscv_vfsub_vf_f32m4(__riscv_vle32_v_f32m4(x + i, vl), m, vl), vl);
        __riscv_vse32_v_f32m4(x + i, e, vl);
        sum = __riscv_vfadd_vv_f32m4_tu(sum, sum, e, vl);   /* the lanes past vl keep their sums */
    }
    return __riscv_vfmv_f_s_f32m1_f32(__riscv_vfredusum_vs_f32m4_f32m1(sum, __riscv_vfmv_s_f_f32m1(0.0f, 1), vlmax));
}

/* gate = silu(gate) * up, silu(g) = g / (1 + exp(-g)). */
static inline void edgec_rvv_swiglu(float *gate, const float *up, int n)
{
    for (size_t i = 0, vl; i < (size_t)n; i += vl) {
        vl = __riscv_vsetvl_e32m4((size_t)n - i);
        const vfloat32m4_t g = __riscv_vle32_v_f32m4(gate + i, vl);
        const vfloat32m4_t den = __riscv_vfadd_vf_f32m4(edgec_rvv_exp(__riscv_vfneg_v_f32m4(g, vl), vl), 1.0f, vl);
        const vfloat32m4_t silu = __riscv_vfdiv_vv_f32m4(g, den, vl);
        __riscv_vse32_v_f32m4(gate + i, __riscv_vfmul_vv_f32m4(silu, __riscv_vle32_v_f32m4(up + i, vl), vl), vl);
    }
}

#endif
