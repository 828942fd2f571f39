// Launcher of the CUDA fast Walsh-Hadamard transform (kernels in
// hadamard_cuda_kernel.cu). The FFI handler in hadamard_cuda.cc calls it.
#pragma once

#include <cstdint>

#include <cuda_runtime.h>

namespace jaxhada {

// y[r, :] = scale * H_d x[r, :] for `rows` contiguous rows of d = 2^log2_d
// elements (H_d Sylvester, ±1 entries, H[i,j] = (-1)^popcount(i&j)).
// `in == out` (in-place) works. 0 <= log2_d <= 15, rows >= 0 (64-bit
// indexing throughout). `in` and `out` must be 16-byte aligned (every XLA
// buffer is). T is one of __half, __nv_bfloat16, float, double.
// Returns the launch's cudaError_t; an unsupported log2_d, a negative row
// count or a misaligned pointer returns cudaErrorInvalidValue. rows == 0
// launches nothing and returns cudaSuccess. Never synchronizes or allocates:
// safe inside CUDA graph capture.
template <typename T>
cudaError_t LaunchHadamardTransform(cudaStream_t stream, const T* in, T* out,
                                    int64_t rows, int log2_d, double scale);

}  // namespace jaxhada
