/* kernels/lut_sweep.h - how the LUT matmuls of AVX2, NEON and SSSE3 walk a matrix, written once.
 *
 * Decode (one token): group by group, one sequential weight stream.  Batches: the row groups go in
 * chunks of about chunk_bytes of weights (sized to the ISA's L2), each chunk swept once per token,
 * so the token's tables stay in L1 and the chunk's weights in L2.  group(fmt, out, ldo, w, g, rows,
 * tables, xq, t, n) is the ISA's kernel for 32 rows x one token; it is always-inline and the call
 * below has a constant target after inlining, so each ISA gets its own specialised loop.
 * Included by those ISAs' lut.h, inside kernels/lut.h after its layout helpers (edgec_lut_groups, _bytes).
 */
#ifndef EDGEC_KERNELS_LUT_SWEEP_H
#define EDGEC_KERNELS_LUT_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/block_formats.h"
#include "kernels/scalar/dense.h"   /* EDGEC_ALWAYS_INLINE */

typedef void (*edgec_lut_group_fn)(int fmt, float *out, int ldo, const uint8_t *w, int g, int rows,
                                   const uint8_t *tables, const edgec_block_q8a *xq, int t, int n);

EDGEC_ALWAYS_INLINE void edgec_lut_sweep(edgec_lut_group_fn group, size_t chunk_bytes, int fmt, float *out, int ldo,
                                         const void *w, int g0, int g1, int rows, const void *tables,
                                         const edgec_block_q8a *xq, int n_tok, int n)
{
    const uint8_t *wb = (const uint8_t *)w, *tb = (const uint8_t *)tables;
    const int groups = edgec_lut_groups(rows);
    if (g1 > groups) g1 = groups;
    const size_t group_bytes = edgec_lut_bytes(fmt, EDGEC_LUT_ROWS, n);
    const int chunk = group_bytes >= chunk_bytes ? 1 : (int)(chunk_bytes / group_bytes);
    for (int c0 = g0; c0 < g1; c0 += chunk) {
        const int c1 = c0 + chunk < g1 ? c0 + chunk : g1;
        for (int t = 0; t < n_tok; t++)
            for (int g = c0; g < c1; g++) group(fmt, out, ldo, wb, g, rows, tb, xq, t, n);
    }
}

#endif
