// Argument checks and dtype dispatch shared by the CPU and CUDA FFI handlers,
// so a direct custom call with a bad buffer gets the same InvalidArgument on
// both, and both accept the same dtypes.
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

// Checks x and y, then calls run(T{}, shape) with T the element type (Half
// and Bfloat16 name the platform's 16-bit types) and returns its error.
// Empty arrays return success without calling run.
template <typename Half, typename Bfloat16, typename Run>
xla::ffi::Error CheckAndDispatch(std::string_view target,
                                 const xla::ffi::AnyBuffer& x,
                                 const xla::ffi::AnyBuffer& y, const Run& run) {
  namespace ffi = xla::ffi;
  TransformShape shape;
  if (ffi::Error error = CheckTransformBuffers(target, x, y, shape);
      error.failure()) {
    return error;
  }
  if (shape.rows == 0) return ffi::Error::Success();
  switch (x.element_type()) {
    case ffi::DataType::F16:
      return run(Half{}, shape);
    case ffi::DataType::BF16:
      return run(Bfloat16{}, shape);
    case ffi::DataType::F32:
      return run(float{}, shape);
    case ffi::DataType::F64:
      return run(double{}, shape);
    default:
      return UnsupportedDtype(target, x.element_type());
  }
}

}  // namespace jaxhada
