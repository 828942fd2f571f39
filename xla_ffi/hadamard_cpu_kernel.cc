// CPU fast Walsh-Hadamard transform.
//
// Plan for one work item (a run of whole rows, contiguous in memory):
//   1. load + widen + the first three butterfly stages (radix 8) in registers,
//      written to an accumulator tile (the output itself for f32/f64);
//   2. the stages whose partners lie within an L1-sized block, block by block;
//   3. the remaining stages over the whole tile, two at a time (radix 4), so
//      an L2-resident row of 32768 floats is swept 3 times, not 12;
//   4. scale + round once + store.
// A butterfly stage of span h pairs element j with j + h inside blocks of 2h.
// Such blocks never straddle a row boundary (2h <= d), so a tile of many short
// rows is transformed as if it were one long array: short rows cost no
// per-row overhead. The inner loops run over contiguous j and vectorise with
// the baseline SSE2 of any x86-64 (no -march flags).
#include "hadamard_cpu_kernel.h"

#include <algorithm>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <vector>

#include "float16_convert.h"

// CMake compiles this file once per instruction set, naming the namespace.
#ifndef JAXHADA_CPU_ISA
#define JAXHADA_CPU_ISA baseline
#endif

namespace jaxhada {
namespace JAXHADA_CPU_ISA {
namespace {

// Elements of one L1-resident block: 2048 floats = 8 KiB, a quarter of a
// typical 32 KiB L1d, leaving room for the streams being read and written.
constexpr int kLog2L1Block = 11;

template <typename T>
struct Storage {
  using Acc = T;  // float and double accumulate in their own type
  static Acc Load(T v) { return v; }
  static T Store(Acc v) { return v; }
};
template <>
struct Storage<Float16Bits> {
  using Acc = float;
  static Acc Load(Float16Bits v) { return Float16ToFloat(v.bits); }
  static Float16Bits Store(Acc v) { return {FloatToFloat16(v)}; }
};
template <>
struct Storage<Bfloat16Bits> {
  using Acc = float;
  static Acc Load(Bfloat16Bits v) { return Bfloat16ToFloat(v.bits); }
  static Bfloat16Bits Store(Acc v) { return {FloatToBfloat16(v)}; }
};

// Stage 1: widen `n` elements and apply the butterflies of span 1, 2, 4 (as
// far as log2_d allows) while they are in registers.
template <typename T, typename Acc>
void LoadFirstStages(const T* in, Acc* w, int64_t n, int log2_d) {
  // No __restrict: for f32/f64 in place, `in` and `w` are the same buffer.
  // Each 8-group is read whole before it is written, so that is safe.
  using S = Storage<T>;
  if (log2_d >= 3) {
    for (int64_t i = 0; i < n; i += 8) {
      Acc a0 = S::Load(in[i + 0]), a1 = S::Load(in[i + 1]);
      Acc a2 = S::Load(in[i + 2]), a3 = S::Load(in[i + 3]);
      Acc a4 = S::Load(in[i + 4]), a5 = S::Load(in[i + 5]);
      Acc a6 = S::Load(in[i + 6]), a7 = S::Load(in[i + 7]);
      Acc b0 = a0 + a1, b1 = a0 - a1, b2 = a2 + a3, b3 = a2 - a3;
      Acc b4 = a4 + a5, b5 = a4 - a5, b6 = a6 + a7, b7 = a6 - a7;
      Acc c0 = b0 + b2, c1 = b1 + b3, c2 = b0 - b2, c3 = b1 - b3;
      Acc c4 = b4 + b6, c5 = b5 + b7, c6 = b4 - b6, c7 = b5 - b7;
      w[i + 0] = c0 + c4;
      w[i + 1] = c1 + c5;
      w[i + 2] = c2 + c6;
      w[i + 3] = c3 + c7;
      w[i + 4] = c0 - c4;
      w[i + 5] = c1 - c5;
      w[i + 6] = c2 - c6;
      w[i + 7] = c3 - c7;
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) w[i] = S::Load(in[i]);
  for (int64_t h = 1; h < (int64_t{1} << log2_d); h *= 2) {
    for (int64_t i = 0; i < n; i += 2 * h) {
      for (int64_t j = i; j < i + h; ++j) {
        Acc a = w[j], b = w[j + h];
        w[j] = a + b;
        w[j + h] = a - b;
      }
    }
  }
}

template <typename Acc>
void Radix2Stage(Acc* __restrict w, int64_t n, int64_t h) {
  for (int64_t i = 0; i < n; i += 2 * h) {
    Acc* __restrict p = w + i;
    Acc* __restrict q = w + i + h;
    for (int64_t j = 0; j < h; ++j) {
      Acc a = p[j], b = q[j];
      p[j] = a + b;
      q[j] = a - b;
    }
  }
}

// Spans h and 2h in one sweep: four streams, each element touched once.
template <typename Acc>
void Radix4Stage(Acc* __restrict w, int64_t n, int64_t h) {
  for (int64_t i = 0; i < n; i += 4 * h) {
    Acc* __restrict p0 = w + i;
    Acc* __restrict p1 = p0 + h;
    Acc* __restrict p2 = p1 + h;
    Acc* __restrict p3 = p2 + h;
    for (int64_t j = 0; j < h; ++j) {
      Acc a = p0[j], b = p1[j], c = p2[j], e = p3[j];
      Acc s0 = a + b, d0 = a - b, s1 = c + e, d1 = c - e;
      p0[j] = s0 + s1;
      p1[j] = d0 + d1;
      p2[j] = s0 - s1;
      p3[j] = d0 - d1;
    }
  }
}

// Stages with spans [2^from, 2^to) over n elements.
template <typename Acc>
void StagesInRange(Acc* w, int64_t n, int from, int to) {
  int s = from;
  for (; s + 2 <= to; s += 2) Radix4Stage(w, n, int64_t{1} << s);
  if (s < to) Radix2Stage(w, n, int64_t{1} << s);
}

template <typename T, typename Acc>
void ScaleAndStore(const Acc* __restrict w, T* __restrict out, int64_t n,
                   Acc scale) {
  for (int64_t i = 0; i < n; ++i) out[i] = Storage<T>::Store(w[i] * scale);
}

template <typename Acc>
void ScaleInPlace(Acc* w, int64_t n, Acc scale) {
  for (int64_t i = 0; i < n; ++i) w[i] *= scale;
}

template <typename T>
void TransformTile(const T* in, T* out, int64_t n, int log2_d, double scale,
                   typename Storage<T>::Acc* scratch) {
  using Acc = typename Storage<T>::Acc;
  constexpr bool kInOutput = std::is_same_v<T, Acc>;
  // f32/f64 work directly in the output buffer (no scratch traffic); when
  // in == out the first stage reads each 8-group before writing it.
  Acc* w = nullptr;
  if constexpr (kInOutput) {
    w = out;
  } else {
    w = scratch;
  }
  LoadFirstStages(in, w, n, log2_d);
  const int first_done = std::min(log2_d, 3);
  const int l1_stages = std::min(log2_d, kLog2L1Block);
  if (l1_stages > first_done) {
    const int64_t block = int64_t{1} << l1_stages;
    for (int64_t b = 0; b < n; b += block) {
      StagesInRange(w + b, block, first_done, l1_stages);
    }
  }
  StagesInRange(w, n, l1_stages, log2_d);
  if constexpr (kInOutput) {
    if (scale != 1.0) ScaleInPlace(w, n, static_cast<Acc>(scale));
  } else {
    ScaleAndStore(w, out, n, static_cast<Acc>(scale));
  }
}

}  // namespace

template <typename T>
void HadamardRowsCpu(const T* in, T* out, int64_t row_begin, int64_t row_end,
                     int log2_d, double scale) {
  using Acc = typename Storage<T>::Acc;
  const int64_t d = int64_t{1} << log2_d;
  const int64_t tile_rows = jaxhada::RowsPerWorkItem(log2_d);
  std::unique_ptr<Acc[]> scratch;
  if constexpr (!std::is_same_v<T, Acc>) {
    scratch.reset(new Acc[static_cast<size_t>(tile_rows * d)]);
  }
  for (int64_t r = row_begin; r < row_end; r += tile_rows) {
    const int64_t n = std::min(tile_rows, row_end - r) * d;
    TransformTile(in + r * d, out + r * d, n, log2_d, scale, scratch.get());
  }
}

template void HadamardRowsCpu<Float16Bits>(const Float16Bits*, Float16Bits*,
                                           int64_t, int64_t, int, double);
template void HadamardRowsCpu<Bfloat16Bits>(const Bfloat16Bits*,
                                            Bfloat16Bits*, int64_t, int64_t,
                                            int, double);
template void HadamardRowsCpu<float>(const float*, float*, int64_t, int64_t,
                                     int, double);
template void HadamardRowsCpu<double>(const double*, double*, int64_t,
                                      int64_t, int, double);

}  // namespace JAXHADA_CPU_ISA
}  // namespace jaxhada
