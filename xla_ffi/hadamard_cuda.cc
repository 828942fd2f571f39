// XLA FFI handler for the CUDA fast Walsh-Hadamard transform.
#include "hadamard_cuda_handler.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "hadamard_cuda.h"
#include "hadamard_ffi_checks.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace jaxhada {
namespace {

constexpr char kTarget[] = "jaxhada_hadamard_cuda";

template <typename T>
ffi::Error Launch(cudaStream_t stream, ffi::AnyBuffer x,
                  ffi::Result<ffi::AnyBuffer> y, int64_t rows, int log2_d,
                  double scale) {
  const cudaError_t status = LaunchHadamardTransform<T>(
      stream, x.reinterpret_data<T>(), y->reinterpret_data<T>(), rows, log2_d,
      scale);
  if (status != cudaSuccess) {
    return ffi::Error::Internal(std::string("jaxhada_hadamard_cuda: ") +
                                cudaGetErrorName(status) + ": " +
                                cudaGetErrorString(status));
  }
  return ffi::Error::Success();
}

ffi::Error HadamardCudaImpl(cudaStream_t stream, ffi::AnyBuffer x,
                            ffi::Result<ffi::AnyBuffer> y, double scale) {
  return CheckAndDispatch<__half, __nv_bfloat16>(
      kTarget, x, *y, [&](auto element, const TransformShape& shape) {
        return Launch<decltype(element)>(stream, x, y, shape.rows,
                                         shape.log2_d, scale);
      });
}

}  // namespace

// The kernel never branches on data and never synchronizes, so XLA may
// capture it into a CUDA graph.
XLA_FFI_DEFINE_HANDLER_SYMBOL(
    HadamardCuda, HadamardCudaImpl,
    ffi::Ffi::Bind()
        .Ctx<ffi::PlatformStream<cudaStream_t>>()  // XLA's stream for this op
        .Arg<ffi::AnyBuffer>()                     // x: (..., d), row-major
        .Ret<ffi::AnyBuffer>()                     // y: may alias x
        .Attr<double>("scale"),                    // multiplies H_d
    {ffi::Traits::kCmdBufferCompatible});

}  // namespace jaxhada
