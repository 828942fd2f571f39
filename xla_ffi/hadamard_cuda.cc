// XLA FFI handler for the CUDA fast Walsh-Hadamard transform.
#include "hadamard_cuda_handler.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "hadamard_cuda.h"
#include "hadamard_limits.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace jaxhada {
namespace {

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
  const auto dims = x.dimensions();
  if (dims.size() == 0) {
    return ffi::Error::InvalidArgument(
        "jaxhada_hadamard_cuda: input must have rank >= 1");
  }
  const int64_t d = dims.back();
  const int log2_d = Log2IfSupported(d);
  if (log2_d < 0) {
    return ffi::Error::InvalidArgument(
        "jaxhada_hadamard_cuda: last dimension must be a power of two <= " +
        std::to_string(kMaxDim) + ", got " + std::to_string(d));
  }
  if (y->element_type() != x.element_type() ||
      y->element_count() != x.element_count()) {
    return ffi::Error::InvalidArgument(
        "jaxhada_hadamard_cuda: result must match the input's shape and "
        "dtype");
  }
  const int64_t rows = static_cast<int64_t>(x.element_count()) / d;
  if (rows == 0) return ffi::Error::Success();
  switch (x.element_type()) {
    case ffi::DataType::F16:
      return Launch<__half>(stream, x, y, rows, log2_d, scale);
    case ffi::DataType::BF16:
      return Launch<__nv_bfloat16>(stream, x, y, rows, log2_d, scale);
    case ffi::DataType::F32:
      return Launch<float>(stream, x, y, rows, log2_d, scale);
    case ffi::DataType::F64:
      return Launch<double>(stream, x, y, rows, log2_d, scale);
    default:
      return ffi::Error::InvalidArgument(
          "jaxhada_hadamard_cuda: unsupported dtype (expected f16, bf16, f32 "
          "or f64), got XLA type " +
          std::to_string(static_cast<int>(x.element_type())));
  }
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
