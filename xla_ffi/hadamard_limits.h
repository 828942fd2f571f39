// Sizes every jaxhada kernel accepts; the Python layer checks the same bounds
// at trace time with the seed's messages, these guard direct custom calls.
#pragma once

#include <cstdint>

namespace jaxhada {

inline constexpr int64_t kMaxDim = 32768;
inline constexpr int kMaxLog2Dim = 15;

// log2(d) for a supported transform length, -1 otherwise.
inline int Log2IfSupported(int64_t d) {
  if (d < 1 || d > kMaxDim || (d & (d - 1)) != 0) return -1;
  int log2_d = 0;
  while ((int64_t{1} << log2_d) < d) ++log2_d;
  return log2_d;
}

}  // namespace jaxhada
