/* kernels/x86/avx2/float.h - AVX2 + FMA + F16C: float-weight matmul (f32, f16, bf16) and the float vector
 * helpers (dot, rmsnorm, axpy, add, max, exp, softmax blocks, swiglu), i.e. kernels/float_matmul.h and
 * kernels/vector_math.h over this folder's vector layer (vec.h). */
#ifndef EDGEC_KERNELS_AVX2_FLOAT_H
#define EDGEC_KERNELS_AVX2_FLOAT_H

#include "kernels/x86/avx2/vec.h"
#include "kernels/float_matmul.h"

#endif
