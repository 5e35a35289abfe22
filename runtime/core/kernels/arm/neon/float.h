/* kernels/arm/neon/float.h - AArch64 (and ARMv7, a32.h) NEON: float-weight matmul (f32, f16, bf16) and the float vector
 * helpers (dot, rmsnorm, axpy, add, max, exp, softmax blocks, swiglu), i.e. kernels/float_matmul.h and
 * kernels/vector_math.h over this folder's vector layer (vec.h). */
#ifndef EDGEC_KERNELS_NEON_FLOAT_H
#define EDGEC_KERNELS_NEON_FLOAT_H

#include "kernels/arm/neon/vec.h"
#include "kernels/float_matmul.h"

#endif
