// CPU fast Walsh-Hadamard transform, on SIMD vectors of the accumulator type.
//
// A butterfly stage of span h pairs element j with j + h inside blocks of 2h.
// Such blocks never straddle a row boundary (2h <= d), so a tile of many short
// rows is transformed as if it were one long array: short rows cost no
// per-row overhead. Plan for one tile (whole rows, contiguous in memory):
//   1. First pass, straight from the input: a group of 8 vectors is loaded
//      (and widened), the spans inside a vector are done with lane shuffles,
//      the spans of 1, 2 and 4 vectors across the 8 registers. That is the
//      whole transform for d <= 8 vectors (64 floats with AVX2): one read,
//      one write, the scale applied on the way out.
//   2. Larger d: the remaining spans three at a time (radix 8: eight vector
//      streams, eight registers), first inside L1-sized blocks, then over the
//      whole tile, which a row of 32768 floats keeps in L2.
//   3. The last sweep scales, rounds once and stores; there is no separate
//      scale pass.
// Vectors are GCC vector extensions: the baseline build gets SSE2's 16 bytes,
// the AVX2 build 32 bytes, from the same source.
#include "hadamard_cpu_kernel.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>

#include "float16_convert.h"

#if defined(__F16C__)
#include <immintrin.h>
#endif

// CMake compiles this file once per instruction set, naming the namespace.
#ifndef JAXHADA_CPU_ISA
#define JAXHADA_CPU_ISA baseline
#endif

namespace jaxhada {
namespace JAXHADA_CPU_ISA {
namespace {

#if defined(__AVX__)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif

// Vectors per group in the first pass and per radix-8 butterfly: 8 data
// registers plus temporaries fit the 16 vector registers of x86-64.
constexpr int kLog2Radix = 3;
constexpr int kRadix = 1 << kLog2Radix;

// Elements of one L1-resident block for the middle stages: 2^12 floats =
// 16 KiB, half of a typical 32 KiB L1d.
constexpr int kLog2L1Block = 12;

template <typename Acc>
struct Simd {
  static constexpr int kLanes = kVectorBytes / sizeof(Acc);
  static constexpr int kLog2Lanes = kLanes == 8 ? 3 : kLanes == 4 ? 2 : 1;
  using Lane = std::conditional_t<sizeof(Acc) == 4, int32_t, int64_t>;
  typedef Acc V __attribute__((vector_size(kVectorBytes)));
  typedef Lane Mask __attribute__((vector_size(kVectorBytes)));

  static V Load(const Acc* p) {
    V v;
    std::memcpy(&v, p, sizeof(v));
    return v;
  }
  static void Store(Acc* p, V v) { std::memcpy(p, &v, sizeof(v)); }
  static V Splat(Acc a) { return V{} + a; }

  // The butterfly on lane bit `span`: lane l gets (l & span) ? other - mine
  // : mine + other, with `other` the lane l ^ span.
  template <int kSpan>
  static V LaneButterfly(V v) {
    Mask partner{}, sign{};
#pragma GCC unroll 8
    for (int l = 0; l < kLanes; ++l) {
      partner[l] = l ^ kSpan;
      sign[l] = (l & kSpan) ? -1 : 1;
    }
    const V other = __builtin_shuffle(v, partner);
    return other + v * __builtin_convertvector(sign, V);
  }

  static V AllLaneButterflies(V v) {
    if constexpr (kLanes >= 2) v = LaneButterfly<1>(v);
    if constexpr (kLanes >= 4) v = LaneButterfly<2>(v);
    if constexpr (kLanes >= 8) v = LaneButterfly<4>(v);
    return v;
  }
};

// How a storage type is read into and written from the accumulator type:
// one vector of Simd<Acc>::kLanes elements at a time, or one element.
template <typename T>
struct Storage {
  using Acc = T;  // float and double accumulate in their own type
  using V = typename Simd<Acc>::V;
  static Acc LoadOne(T v) { return v; }
  static T StoreOne(Acc v) { return v; }
  static V LoadVector(const T* p) { return Simd<Acc>::Load(p); }
  static void StoreVector(T* p, V v) { Simd<Acc>::Store(p, v); }
};

template <>
struct Storage<Bfloat16Bits> {
  using Acc = float;
  using V = Simd<float>::V;
  static constexpr int kLanes = Simd<float>::kLanes;
  typedef uint16_t Half __attribute__((vector_size(kLanes * 2)));
  typedef uint32_t Word __attribute__((vector_size(kVectorBytes)));

  static Acc LoadOne(Bfloat16Bits v) { return Bfloat16ToFloat(v.bits); }
  static Bfloat16Bits StoreOne(Acc v) { return {FloatToBfloat16(v)}; }
  static V LoadVector(const Bfloat16Bits* p) {
    Half h;
    std::memcpy(&h, p, sizeof(h));
    return reinterpret_cast<V>(__builtin_convertvector(h, Word) << 16);
  }
  // FloatToBfloat16 on every lane: nearest-even, NaN stays NaN.
  static void StoreVector(Bfloat16Bits* p, V v) {
    const Word bits = reinterpret_cast<Word>(v);
    const Word rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    const Word nan = (bits >> 16) | 0x0040u;
    const Word out = (bits & 0x7fffffffu) > 0x7f800000u ? nan : rounded;
    const Half h = __builtin_convertvector(out, Half);
    std::memcpy(p, &h, sizeof(h));
  }
};

template <>
struct Storage<Float16Bits> {
  using Acc = float;
  using V = Simd<float>::V;
  static constexpr int kLanes = Simd<float>::kLanes;

  static Acc LoadOne(Float16Bits v) { return Float16ToFloat(v.bits); }
  static Float16Bits StoreOne(Acc v) { return {FloatToFloat16(v)}; }
#if defined(__F16C__) && defined(__AVX__)
  static V LoadVector(const Float16Bits* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return reinterpret_cast<V>(_mm256_cvtph_ps(h));
  }
  static void StoreVector(Float16Bits* p, V v) {
    const __m128i h = _mm256_cvtps_ph(reinterpret_cast<__m256>(v),
                                      _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), h);
  }
#else
  // Without F16C the conversion is bit manipulation per element.
  static V LoadVector(const Float16Bits* p) {
    V v;
    for (int l = 0; l < kLanes; ++l) v[l] = LoadOne(p[l]);
    return v;
  }
  static void StoreVector(Float16Bits* p, V v) {
    for (int l = 0; l < kLanes; ++l) p[l] = StoreOne(v[l]);
  }
#endif
};

// One butterfly stage of span kSpan over v[0..kCount), fully unrolled so
// that v stays in registers (GCC keeps nested loops with a runtime-looking
// bound rolled and spills the array to the stack).
template <int kSpan, typename V, int kCount>
inline void RegisterStage(V (&v)[kCount]) {
#pragma GCC unroll 16
  for (int p = 0; p < kCount / 2; ++p) {
    const int j = ((p & ~(kSpan - 1)) << 1) | (p & (kSpan - 1));
    const V a = v[j], b = v[j + kSpan];
    v[j] = a + b;
    v[j + kSpan] = a - b;
  }
}

// Stages of span 1, 2, 4 (the first kStages of them) over v[0..kCount).
template <int kStages, typename V, int kCount>
inline void RegisterButterflies(V (&v)[kCount]) {
  static_assert(kStages <= kLog2Radix && kCount <= kRadix);
  if constexpr (kStages >= 1) RegisterStage<1>(v);
  if constexpr (kStages >= 2) RegisterStage<2>(v);
  if constexpr (kStages >= 3) RegisterStage<4>(v);
}

// Stores v[k] at offset + k * stride: scaled and converted into `out` when
// the transform is complete (kFinal), else as is into the accumulator tile.
template <bool kFinal, typename T, typename V, int kCount>
inline void StoreVectors(const V (&v)[kCount], typename Storage<T>::Acc* w,
                         T* out, int64_t offset, int64_t stride, V scale) {
#pragma GCC unroll 8
  for (int k = 0; k < kCount; ++k) {
    if constexpr (kFinal) {
      Storage<T>::StoreVector(out + offset + k * stride, v[k] * scale);
    } else {
      Simd<typename Storage<T>::Acc>::Store(w + offset + k * stride, v[k]);
    }
  }
}

// Step 1 for d >= kLanes: groups of kRadix contiguous vectors, all lane
// stages plus kVectorStages register stages. When that finishes the
// transform (kFinal) the group is scaled and stored to `out`; otherwise it
// goes to the accumulator tile `w`.
template <int kVectorStages, bool kFinal, typename T>
void FirstPass(const T* in, typename Storage<T>::Acc* w, T* out, int64_t n,
               typename Storage<T>::Acc scale) {
  using S = Storage<T>;
  using Acc = typename S::Acc;
  using Vs = Simd<Acc>;
  constexpr int kLanes = Vs::kLanes;
  const typename Vs::V scale_v = Vs::Splat(scale);
  // No __restrict: in place, `in`, `w` and `out` may be one buffer. Each
  // group is read whole before it is written, so that is safe.
  for (int64_t i = 0; i < n; i += kRadix * kLanes) {
    typename Vs::V v[kRadix];
#pragma GCC unroll 8
    for (int k = 0; k < kRadix; ++k) {
      v[k] = Vs::AllLaneButterflies(S::LoadVector(in + i + k * kLanes));
    }
    RegisterButterflies<kVectorStages>(v);
    StoreVectors<kFinal>(v, w, out, i, kLanes, scale_v);
  }
}

// kStages (1..3) butterfly stages with spans h, 2h, ... (h a multiple of the
// vector width) over n elements of `w`. The final sweep scales and stores to
// `out`, which for f32/f64 is `w` itself.
template <int kStages, bool kFinal, typename T>
void RadixSweep(typename Storage<T>::Acc* w, T* out, int64_t n, int64_t h,
                typename Storage<T>::Acc scale) {
  using S = Storage<T>;
  using Vs = Simd<typename S::Acc>;
  constexpr int kCount = 1 << kStages;
  const typename Vs::V scale_v = Vs::Splat(scale);
  for (int64_t base = 0; base < n; base += kCount * h) {
    for (int64_t j = base; j < base + h; j += Vs::kLanes) {
      typename Vs::V v[kCount];
#pragma GCC unroll 8
      for (int k = 0; k < kCount; ++k) v[k] = Vs::Load(w + j + k * h);
      RegisterButterflies<kStages>(v);
      StoreVectors<kFinal>(v, w, out, j, h, scale_v);
    }
  }
}

// Calls fn(std::integral_constant<int, stages>()) for stages in 0..3, so a
// stage count known only at run time picks a fully unrolled instantiation.
template <typename Fn>
void WithStageCount(int stages, const Fn& fn) {
  switch (stages) {
    case 0: return fn(std::integral_constant<int, 0>());
    case 1: return fn(std::integral_constant<int, 1>());
    case 2: return fn(std::integral_constant<int, 2>());
    default: return fn(std::integral_constant<int, 3>());
  }
}

// Stages with spans [2^from, 2^to), in sweeps of up to three; the short
// sweep goes first so the last one, which stores, is a full radix 8.
template <typename T>
void SweepStages(typename Storage<T>::Acc* w, T* out, int64_t n, int from,
                 int to, bool last_is_final, typename Storage<T>::Acc scale) {
  int s = from;
  int stages = (to - from) % kLog2Radix;
  if (stages == 0) stages = kLog2Radix;
  for (; s < to; s += stages, stages = kLog2Radix) {
    const int64_t h = int64_t{1} << s;
    WithStageCount(stages, [&](auto k) {
      if (last_is_final && s + stages == to) {
        RadixSweep<k, true>(w, out, n, h, scale);
      } else {
        RadixSweep<k, false>(w, out, n, h, scale);
      }
    });
  }
}

// Rows too short for one vector, and the few rows left over after the last
// full group: element by element, through a group-sized local buffer (a
// whole number of rows, since d divides the group or the tail).
template <typename T>
void ScalarTransform(const T* in, T* out, int64_t n, int log2_d,
                     typename Storage<T>::Acc scale) {
  using S = Storage<T>;
  using Acc = typename S::Acc;
  constexpr int64_t kGroup = kRadix * Simd<Acc>::kLanes;
  const int64_t d = int64_t{1} << log2_d;
  Acc buffer[kGroup];
  for (int64_t i = 0; i < n; i += kGroup) {
    const int64_t m = std::min(kGroup, n - i);
    for (int64_t j = 0; j < m; ++j) buffer[j] = S::LoadOne(in[i + j]);
    for (int64_t h = 1; h < d; h *= 2) {
      for (int64_t b = 0; b < m; b += 2 * h) {
        for (int64_t j = b; j < b + h; ++j) {
          const Acc a = buffer[j], c = buffer[j + h];
          buffer[j] = a + c;
          buffer[j + h] = a - c;
        }
      }
    }
    for (int64_t j = 0; j < m; ++j) out[i + j] = S::StoreOne(buffer[j] * scale);
  }
}

template <typename T>
void TransformTile(const T* in, T* out, int64_t n, int log2_d, double scale,
                   typename Storage<T>::Acc* scratch) {
  using Acc = typename Storage<T>::Acc;
  constexpr int kLog2Lanes = Simd<Acc>::kLog2Lanes;
  constexpr int kLog2Group = kLog2Lanes + kLog2Radix;
  const Acc s = static_cast<Acc>(scale);
  if (log2_d < kLog2Lanes) {
    ScalarTransform(in, out, n, log2_d, s);
    return;
  }
  if (log2_d <= kLog2Group) {
    // The first pass is the whole transform. A tile of few short rows may
    // end in a partial group.
    const int64_t full = n & ~((int64_t{1} << kLog2Group) - 1);
    WithStageCount(log2_d - kLog2Lanes, [&](auto k) {
      FirstPass<k, true>(in, nullptr, out, full, s);
    });
    ScalarTransform(in + full, out + full, n - full, log2_d, s);
    return;
  }
  // d > one group, so n (whole rows) is a multiple of the group. f32/f64
  // work in the output buffer itself; 16-bit types in float scratch.
  Acc* w = nullptr;
  if constexpr (std::is_same_v<T, Acc>) {
    w = out;
  } else {
    w = scratch;
  }
  FirstPass<kLog2Radix, false>(in, w, out, n, s);
  const int l1_top = std::min(log2_d, kLog2L1Block);
  if (l1_top > kLog2Group) {
    const int64_t block = int64_t{1} << l1_top;
    for (int64_t b = 0; b < n; b += block) {
      SweepStages(w + b, out + b, block, kLog2Group, l1_top,
                  /*last_is_final=*/l1_top == log2_d, s);
    }
  }
  if (log2_d > l1_top) {
    SweepStages(w, out, n, l1_top, log2_d, /*last_is_final=*/true, s);
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
