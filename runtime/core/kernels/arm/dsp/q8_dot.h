/* kernels/arm/dsp/q8_dot.h - the q8_0 block dot product through the Armv7E-M DSP extension (Cortex-M4,
 * M7, M33 with DSP): SXTB16 widens bytes 0 and 2 (or, rotated by 8, bytes 1 and 3) of four int8 lanes
 * to two int16, SMLAD multiplies both pairs and adds them to the sum: 16 SMLADs for a block's 32
 * products.  Integer and exact, so the logits equal the portable kernel's.  kernels/scalar/dense.h uses
 * it when EDGEC_ARM_DSP is defined (targets/cortex-m7.toml). */
#ifndef EDGEC_KERNELS_ARM_DSP_Q8_DOT_H
#define EDGEC_KERNELS_ARM_DSP_Q8_DOT_H

#if !defined(__ARM_FEATURE_DSP)
#error "EDGEC_ARM_DSP needs a core with the DSP extension (-mcpu=cortex-m4, cortex-m7, cortex-m33); drop -DEDGEC_ARM_DSP for others"
#endif

#include <arm_acle.h>
#include <stdint.h>
#include <string.h>

/* The upper three bytes moved down one lane: SXTB16 then takes bytes 1 and 3 (gcc 12 has no __ror). */
static inline uint32_t edgec_dsp_odd_bytes(uint32_t v) { return (v >> 8) | (v << 24); }

/* sum_j w[j] * x[j] over the 32 int8 of a q8_0 weight block and a q8a activation block. */
static inline int edgec_dsp_isum_q8(const int8_t *w, const int8_t *x)
{
    int32_t s = 0;
    for (int j = 0; j < 32; j += 4) {
        uint32_t wv, xv;
        memcpy(&wv, w + j, 4);   /* a q8_0 block's weights start at byte 2: an unaligned word load */
        memcpy(&xv, x + j, 4);
        s = __smlad(__sxtb16(wv), __sxtb16(xv), s);
        s = __smlad(__sxtb16(edgec_dsp_odd_bytes(wv)), __sxtb16(edgec_dsp_odd_bytes(xv)), s);
    }
    return s;
}

#endif
