// The CPU fast Walsh-Hadamard transform: y = scale * H_d x on each row.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace jaxhada {

// 16-bit floats arrive as raw bits; the tag types keep f16 and bf16 apart in
// the template below without depending on a compiler's half type.
struct Float16Bits {
  uint16_t bits;
};
struct Bfloat16Bits {
  uint16_t bits;
};

// The kernel is compiled twice: for the x86-64 baseline (SSE2) and, on
// x86-64, for AVX2 with F16C and FMA (every AVX2 CPU has them). The build is
// picked at run time, so the extension runs on any x86-64 and uses 8-wide
// vectors where the CPU has them.
#define JAXHADA_DECLARE_CPU_KERNEL(isa)                                     \
  namespace isa {                                                           \
  template <typename T>                                                     \
  void HadamardRowsCpu(const T* in, T* out, int64_t row_begin,              \
                       int64_t row_end, int log2_d, double scale);          \
  }
JAXHADA_DECLARE_CPU_KERNEL(baseline)
JAXHADA_DECLARE_CPU_KERNEL(avx2)
#undef JAXHADA_DECLARE_CPU_KERNEL

// Whether the AVX2 build runs here. JAXHADA_CPU_ISA=baseline in the
// environment forces the baseline build, so tests can check it on any CPU.
inline bool UseAvx2Kernel() {
#if defined(JAXHADA_HAVE_AVX2_KERNEL)
  static const bool use = [] {
    const char* forced = std::getenv("JAXHADA_CPU_ISA");
    if (forced != nullptr && std::string_view(forced) == "baseline") {
      return false;
    }
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c") &&
           __builtin_cpu_supports("fma");
  }();
  return use;
#else
  return false;
#endif
}

inline const char* CpuKernelIsa() { return UseAvx2Kernel() ? "avx2" : "baseline"; }

// Transforms rows [row_begin, row_end) of a contiguous (rows, 2^log2_d)
// array. `in` and `out` may be the same buffer. 16-bit types accumulate in
// float and round once at the store; float64 stays in float64.
template <typename T>
void HadamardRowsCpu(const T* in, T* out, int64_t row_begin, int64_t row_end,
                     int log2_d, double scale) {
#if defined(JAXHADA_HAVE_AVX2_KERNEL)
  if (UseAvx2Kernel()) {
    avx2::HadamardRowsCpu(in, out, row_begin, row_end, log2_d, scale);
    return;
  }
#endif
  baseline::HadamardRowsCpu(in, out, row_begin, row_end, log2_d, scale);
}

// Rows per work item such that a work item fills the L1/L2-friendly tile:
// short rows are grouped, so a huge batch of d = 16 rows is not scheduled
// row by row.
// 2^12 floats = 16 KiB per item: scheduling overhead is amortised while the
// tile still sits in L1/L2.
inline int64_t RowsPerWorkItem(int log2_d) {
  constexpr int kLog2MinTile = 12;
  return log2_d >= kLog2MinTile ? 1 : int64_t{1} << (kLog2MinTile - log2_d);
}

}  // namespace jaxhada
