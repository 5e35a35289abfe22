/* kernels/x86/ssse3/float.h - x86-64-v2 (SSE4.2 + SSSE3): float-weight matmul (f32, f16, bf16) and the float
 * vector helpers (dot, rmsnorm, axpy, add, max, exp, softmax blocks, swiglu), i.e. kernels/float_matmul.h and
 * kernels/vector_math.h over this folder's vector layer (vec.h). */
#ifndef EDGEC_KERNELS_SSSE3_FLOAT_H
#define EDGEC_KERNELS_SSSE3_FLOAT_H

#include "kernels/x86/ssse3/vec.h"
#include "kernels/float_matmul.h"

#endif
