// Argument checks shared by the CPU and CUDA FFI handlers, so a direct
// custom call with a bad buffer gets the same InvalidArgument on both.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "hadamard_limits.h"
#include "xla/ffi/api/ffi.h"

namespace jaxhada {

struct TransformShape {
  int64_t rows = 0;
  int log2_d = 0;
};

// Validates x (rank >= 1, supported last dim) and that y matches it; fills
// `shape` on success.
inline xla::ffi::Error CheckTransformBuffers(std::string_view target,
                                             const xla::ffi::AnyBuffer& x,
                                             const xla::ffi::AnyBuffer& y,
                                             TransformShape& shape) {
  namespace ffi = xla::ffi;
  const std::string prefix = std::string(target) + ": ";
  const auto dims = x.dimensions();
  if (dims.size() == 0) {
    return ffi::Error::InvalidArgument(prefix + "input must have rank >= 1");
  }
  const int64_t d = dims.back();
  shape.log2_d = Log2IfSupported(d);
  if (shape.log2_d < 0) {
    return ffi::Error::InvalidArgument(
        prefix + "last dimension must be a power of two <= " +
        std::to_string(kMaxDim) + ", got " + std::to_string(d));
  }
  if (y.element_type() != x.element_type() ||
      y.element_count() != x.element_count()) {
    return ffi::Error::InvalidArgument(
        prefix + "result must match the input's shape and dtype");
  }
  shape.rows = static_cast<int64_t>(x.element_count()) / d;
  return ffi::Error::Success();
}

inline xla::ffi::Error UnsupportedDtype(std::string_view target,
                                        xla::ffi::DataType dtype) {
  return xla::ffi::Error::InvalidArgument(
      std::string(target) +
      ": unsupported dtype (expected f16, bf16, f32 or f64), got XLA type " +
      std::to_string(static_cast<int>(dtype)));
}

}  // namespace jaxhada
