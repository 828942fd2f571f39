// CUDA kernels of the fast Walsh-Hadamard transform, their size traits and
// the launcher declared in hadamard_cuda.h. Design and measurements:
// docs/cuda_kernel_notes.md.
//
// Every path reads each element from device memory once and writes it once;
// all butterflies run in Acc (float, or double for double) and the result is
// scaled and rounded once, at the store. A butterfly on index bit b pairs
// elements i and i^(1<<b) in place, so the stages may run in any order of
// bits and the output lands in natural order.
#include "hadamard_cuda.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

namespace jaxhada {
namespace detail {

// What the launcher may use, so that a test can take the paths of smaller or
// older GPUs: the shared memory a block may have (-1: the device's), and
// whether the row path (and the pair path built on it) may run. And the most
// rows the row and pair paths launch blocks (pairs; for f32 at d = 8192,
// blocks of two rows, at 4096 of four) for at once (0: 2^24),
// so that a test can run their loop over further rows, which otherwise runs
// only past 2^24 rows.
struct PathLimits {
  int smem_per_block = -1;
  bool row_path = true;
  int64_t rows_per_launch = 0;
};

}  // namespace detail

namespace {

// ---------------------------------------------------------------- numerics

template <typename T>
struct Num;
template <>
struct Num<__half> {
  using Acc = float;
  static __device__ __forceinline__ float ToAcc(__half x) { return __half2float(x); }
  static __device__ __forceinline__ __half FromAcc(float x) { return __float2half_rn(x); }
};
template <>
struct Num<__nv_bfloat16> {
  using Acc = float;
  static __device__ __forceinline__ float ToAcc(__nv_bfloat16 x) { return __bfloat162float(x); }
  static __device__ __forceinline__ __nv_bfloat16 FromAcc(float x) { return __float2bfloat16_rn(x); }
};
template <>
struct Num<float> {
  using Acc = float;
  static __device__ __forceinline__ float ToAcc(float x) { return x; }
  static __device__ __forceinline__ float FromAcc(float x) { return x; }
};
template <>
struct Num<double> {
  using Acc = double;
  static __device__ __forceinline__ double ToAcc(double x) { return x; }
  static __device__ __forceinline__ double FromAcc(double x) { return x; }
};

constexpr int ConstLog2(int x) { return x <= 1 ? 0 : 1 + ConstLog2(x / 2); }
constexpr int ConstMax(int a, int b) { return a > b ? a : b; }

// Elements in one 16-byte access: the width of every vector load and store.
template <typename T>
constexpr int kVec = 16 / static_cast<int>(sizeof(T));

// ------------------------------------------------- register-level building blocks

// A 16-byte load into kVec<T> accumulators starting at v[first].
template <typename T, int kN, typename Acc>
__device__ __forceinline__ void LoadVec(const T* p, Acc (&v)[kN], int first) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int i = 0; i < kVec<T>; ++i) v[first + i] = Num<T>::ToAcc(e[i]);
}

// Scales, rounds once and writes kVec<T> accumulators from v[first] as one
// 16-byte store.
template <typename T, int kN, typename Acc>
__device__ __forceinline__ void StoreVec(T* p, const Acc (&v)[kN], int first, Acc scale) {
  alignas(16) T e[kVec<T>];
#pragma unroll
  for (int i = 0; i < kVec<T>; ++i) e[i] = Num<T>::FromAcc(v[first + i] * scale);
  *reinterpret_cast<uint4*>(p) = *reinterpret_cast<const uint4*>(e);
}

// Butterflies over every register-index bit k set in `mask` (k below
// log2(kSpan)) of the kSpan accumulators v[base .. base+kSpan). Called only
// with constant masks and bases from fully unrolled code, so every v[] index
// is a compile-time constant and v stays in registers.
template <int kSpan, int kN, typename Acc>
__device__ __forceinline__ void RegButterfliesAt(Acc (&v)[kN], int base, unsigned mask) {
  static_assert(kSpan <= kN, "the span lies within v");
#pragma unroll
  for (int k = 0; (1 << k) < kSpan; ++k) {
    if (!((mask >> k) & 1u)) continue;
#pragma unroll
    for (int j = 0; j < kSpan; ++j) {
      if (j & (1 << k)) continue;
      const Acc a = v[base + j];
      const Acc b = v[base + (j | (1 << k))];
      v[base + j] = a + b;
      v[base + (j | (1 << k))] = a - b;
    }
  }
}
// The same over all of v.
template <int kN, typename Acc>
__device__ __forceinline__ void RegButterflies(Acc (&v)[kN], unsigned mask) {
  RegButterfliesAt<kN>(v, 0, mask);
}

// Butterflies across lanes for every lane bit set in `mask`. The upper lane of
// a pair needs other - mine: fma(mine, -1, other) is that subtraction exactly
// (the product is exact), so one FFMA per element replaces a select.
template <int kN, typename Acc>
__device__ __forceinline__ void LaneButterflies(Acc (&v)[kN], unsigned mask, int lane) {
#pragma unroll
  for (int b = 0; b < 5; ++b) {
    if (!((mask >> b) & 1u)) continue;
    const Acc sign = ((lane >> b) & 1) ? Acc(-1) : Acc(1);
#pragma unroll
    for (int j = 0; j < kN; ++j) {
      const Acc other = __shfl_xor_sync(0xffffffffu, v[j], 1 << b);
      v[j] = fma(v[j], sign, other);
    }
  }
}

// d = a · b (+ d, with kAdd) for one m16n8k16 tensor-core tile: a (16 x 16,
// row-major: four registers) and b (16 x 8, column-major: two) are this
// lane's fragments of packed 16-bit values, d its four floats. Products of
// 16-bit values with ±1 are exact and the MMA sums them at float precision
// (not bit for bit the sequential float additions, and a row of -0 comes
// out +0; both far below the 16-bit output's rounding).
template <typename T, bool kAdd>
__device__ __forceinline__ void MmaM16N8K16(float& d0, float& d1, float& d2, float& d3,
                                            const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  const float zero = 0.0f;
#define JAXHADA_MMA_H16(TYPE)                                                             \
  asm("mma.sync.aligned.m16n8k16.row.col.f32." TYPE "." TYPE ".f32 {%0, %1, %2, %3}, " \
      "{%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"                              \
      : "=f"(d0), "=f"(d1), "=f"(d2), "=f"(d3)                                           \
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1),                    \
        "f"(kAdd ? d0 : zero), "f"(kAdd ? d1 : zero), "f"(kAdd ? d2 : zero),            \
        "f"(kAdd ? d3 : zero))
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    JAXHADA_MMA_H16("bf16");
  } else {
    JAXHADA_MMA_H16("f16");
  }
#undef JAXHADA_MMA_H16
}

// The bits of a 16-bit value.
__device__ __forceinline__ uint32_t Bits16(__half x) { return __half_as_ushort(x); }
__device__ __forceinline__ uint32_t Bits16(__nv_bfloat16 x) { return __bfloat16_as_ushort(x); }

// This lane's part of H16 as an MMA's A operand (row-major 16 x 16; the
// warp path uses its registers as B, H16 being symmetric): its registers
// hold (row g, cols 2q, 2q+1), (g+8, 2q..), (g, 2q+8..), (g+8, 2q+8..) for
// g = lane / 4, q = lane % 4; H[m][k] = (-1)^popcount(m & k).
template <typename T>
constexpr uint32_t kOneBits = std::is_same_v<T, __nv_bfloat16> ? 0x3F80u : 0x3C00u;
template <typename T>
__device__ __forceinline__ void H16Fragment(int lane, uint32_t (&a)[4]) {
  constexpr uint32_t kOne = kOneBits<T>;
  constexpr uint32_t kSign = 0x8000u;
  const int g = lane >> 2, q = lane & 3;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int m = g + 8 * (i & 1), k = 2 * q + 8 * (i >> 1);
    const uint32_t lo = kOne | (__popc(m & k) & 1 ? kSign : 0u);
    const uint32_t hi = kOne | (__popc(m & (k + 1)) & 1 ? kSign : 0u);
    a[i] = lo | (hi << 16);
  }
}
// The same times `entry`, a 16-bit value: each ±1 entry's bits XOR (one's
// bits XOR entry's) are ±entry's, a negative entry's sign flipping H16's.
// (Built into H16Fragment itself, a runtime entry cost the callers with
// entry 1 six instructions of constant folding.)
template <typename T>
__device__ __forceinline__ void H16Fragment(int lane, uint32_t (&a)[4], T entry) {
  H16Fragment<T>(lane, a);
  const uint32_t swap = (kOneBits<T> ^ Bits16(entry)) * 0x00010001u;
#pragma unroll
  for (int i = 0; i < 4; ++i) a[i] ^= swap;
}

// The first four index bits of a 16-bit warp-path vector through tensor
// cores. Each 16-byte vector (8 values, index bits 0..2) with the other
// three lanes of its quad (lane bits 0, 1: index bits 3, 4) and the rest of
// the warp (lane bits 2..4: index bits 5..7) is the A operand of two MMAs,
// as loaded: row m = lane / 4 + 8 (index bit 2), column k = 2 (lane % 4) +
// index bit 0 + 8 (index bit 1), so word j of a vector is A register
// {0, 2, 1, 3}[j]. Times H16 (its n = 0..7 and n = 8..15 column halves,
// which H's symmetry makes H16Fragment's registers {0, 2} and {1, 3}), each
// row's 16 values come out transformed over index bits 0, 1, 3, 4, in float,
// at the same lanes and vector positions they came from: no shuffle, no
// conversion, and four index bits in two instructions per vector.
template <typename T>
__device__ __forceinline__ void VectorMmaH16(const uint32_t (&w)[4], const uint32_t (&h16)[4],
                                             float (&f)[8]) {
  const uint32_t a[4] = {w[0], w[2], w[1], w[3]};
  MmaM16N8K16<T, false>(f[0], f[1], f[4], f[5], a, h16[0], h16[2]);  // index bit 1 = 0
  MmaM16N8K16<T, false>(f[2], f[3], f[6], f[7], a, h16[1], h16[3]);  // index bit 1 = 1
}

// ------------------------------------------- programmatic dependent launch
// On sm_90 every kernel here is launched so that it may start before the
// kernel ahead of it in the stream has finished (LaunchKernel), which takes
// part of a launch's latency out of the gap between two calls (at 256 MiB
// 0.5-1.3 points of the copy for 16-bit, 0.3-0.6 for f32; 0.25 us a
// decode-sized call; notes v24).
// So the first thing
// each kernel does is wait for the grids it depends on to complete, their
// memory visible; nothing touches device memory before, neither a read of
// what they wrote nor a write over what they read. Without the launch
// attribute (before sm_90, or a build that runs sm_80 code) the wait is a
// no-op. -DJAXHADA_PDL=0 launches without it, to time against.
// No kernel here lets the next one launch early
// (griddepcontrol.launch_dependents): triggered at a kernel's start, the
// next kernel's blocks would sit in their wait through this one's last
// wave, holding SM slots and shared memory that kernels of other streams
// could use, and it measured the same as leaving the trigger to the
// kernel's end (notes v24).
#ifndef JAXHADA_PDL
#define JAXHADA_PDL 1
#endif
__device__ __forceinline__ void WaitForPreviousGrids() {
#if __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// ------------------------------------------------------------ warp path
// For d <= 1024 (f64: also <= 1024), and for 16-bit and f32 up to
// kWarpMaxLog2D. A warp owns a contiguous tile of 32 * kV elements: element
// bits [0, w) are a thread's 16-byte vector, bits [w, w+5) the lane, bits
// above the vector's chunk number. Each lane's loads are 16-byte and a warp's
// accesses for one chunk are 512 contiguous bytes. Index bits below log2_d
// are transformed: vector and chunk bits in registers, lane bits by
// shuffles (16-bit rows of d >= 32 first do bits 0, 1, 3, 4 on tensor cores:
// VectorMmaH16); higher bits only select the row, so one tile holds many short
// rows and tiny d needs no special case. No shared memory and no barrier:
// warps only wait on their own loads.

// Rows up to 2^kWarpMaxLog2D take the warp path: 16 accumulators a thread up
// to d = 512, then 32 (d = 1024), 64 (2048) and 128 (4096), one whole row a
// warp from d = 512 on. (Rows of 4096 take it only where a larger kernel
// cannot take them several at a time, and for the rows of a call past a
// multiple of that: two rows through the wide kernel at 8192 for 16-bit,
// four through the f32 row kernel: LaunchLong.)
// -DJAXHADA_WARP_MMA=0 builds the shuffle-only form, to time against.
#ifndef JAXHADA_WARP_MMA
#define JAXHADA_WARP_MMA 1
#endif
#ifndef JAXHADA_WARP_MAX_LOG2_D
#define JAXHADA_WARP_MAX_LOG2_D 12
#endif
constexpr int kWarpMaxLog2D = JAXHADA_WARP_MAX_LOG2_D;

template <typename T, int L>
struct WarpTraits {
  using Acc = typename Num<T>::Acc;
  static constexpr int kW = kVec<T>;
  static constexpr int kLogW = ConstLog2(kW);
  // 16 accumulators a thread (2 to 8 loads in flight a thread) while a tile
  // of 512 elements holds whole rows; longer rows take as many chunks as one
  // row needs. Not 32 for short rows: bandwidth is the same either way, but
  // a small batch (decode: 1-256 tokens x 32 heads x 128) then spreads over
  // twice the warps, each with half the shuffle chain, and runs 0.8 us a
  // call faster on the H100 (2.3 against 3.1 us at 256 tokens in a graph).
  static constexpr int kLogChunks = ConstMax(4 - kLogW, L - 5 - kLogW);
  static constexpr int kV = kW << kLogChunks;
  static constexpr int kTile = 32 * kV;
  // Long rows: 128 threads a block, so the 128-accumulator threads still fit
  // a few blocks an SM.
  static constexpr int kThreads = L > 10 ? 128 : 256;
  static constexpr int RegBitToIdx(int k) { return k < kLogW ? k : k + 5; }
  static constexpr unsigned RegMask() {
    unsigned m = 0;
    for (int k = 0; (1 << k) < kV; ++k)
      if (RegBitToIdx(k) < L) m |= 1u << k;
    return m;
  }
  static constexpr unsigned LaneMask() {
    unsigned m = 0;
    for (int b = 0; b < 5; ++b)
      if (kLogW + b < L) m |= 1u << b;
    return m;
  }
  // 16-bit rows of 32 or more elements start with tensor cores (below).
  static constexpr bool kMma = sizeof(T) == 2 && L >= 5 && JAXHADA_WARP_MMA;
  // After the MMA (index bits 0, 1, 3, 4), what is left: a vector's own
  // register bits and the lane bits, then the chunk bits, which span chunks.
  static constexpr unsigned kVectorMask = RegMask() & (kW - 1) & ~0x3u;
  static constexpr unsigned kLaneMask = LaneMask() & ~0x3u;
  static constexpr unsigned kChunkMask = RegMask() & ~(kW - 1u);
  static_assert(kV == (16 << ConstMax(0, L - 9)), "accumulators a thread");
  static_assert(L <= kLogW + 5 + kLogChunks, "a row must fit in one warp tile");
  static_assert(kTile % (1 << L) == 0, "a tile holds whole rows");
};

template <typename T, int L>
__global__ void __launch_bounds__(WarpTraits<T, L>::kThreads)
    HadamardWarpKernel(const T* in, T* out, int64_t n, typename Num<T>::Acc scale) {
  WaitForPreviousGrids();
  using Tr = WarpTraits<T, L>;
  using Acc = typename Tr::Acc;
  constexpr int kW = Tr::kW;
  constexpr int kChunks = Tr::kV / kW;
  const int lane = threadIdx.x & 31;
  const int64_t first_warp = (int64_t{blockIdx.x} * blockDim.x + threadIdx.x) >> 5;
  const int64_t num_warps = (int64_t{gridDim.x} * blockDim.x) >> 5;
  uint32_t h16[4] = {};
  if constexpr (Tr::kMma) H16Fragment<T>(lane, h16);
  // The loop bound and `full` depend on the tile only: warp-uniform, as the
  // shuffles and MMAs need.
  for (int64_t tile = first_warp; tile * Tr::kTile < n; tile += num_warps) {
    const int64_t base = tile * Tr::kTile + lane * kW;
    const bool full = (tile + 1) * Tr::kTile <= n;
    // The last, partial tile goes element by element: `in_tile(f)` calls
    // f(register, element index) for each of this thread's elements before n.
    // Rows past the end are zeros and never stored.
    auto in_tile = [&](auto&& f) {
#pragma unroll
      for (int c = 0; c < kChunks; ++c)
#pragma unroll
        for (int e = 0; e < kW; ++e) {
          const int64_t i = base + c * 32 * kW + e;
          if (i < n) f(c * kW + e, i);
        }
    };
    Acc v[Tr::kV];
    if constexpr (Tr::kMma) {
      uint32_t w[kChunks][4];  // 16-bit values as loaded, two a word
      // Plain loads, which L1 keeps as usual: with L1::no_allocate or
      // L1::evict_first this path measured 3-5 points slower out of place and
      // 1-3 in place, and the wide kernel 0.5-3 (notes v20).
      if (full) {
#pragma unroll
        for (int c = 0; c < kChunks; ++c) {
          const uint4 raw = *reinterpret_cast<const uint4*>(in + base + c * 32 * kW);
          w[c][0] = raw.x, w[c][1] = raw.y, w[c][2] = raw.z, w[c][3] = raw.w;
        }
      } else {
#pragma unroll
        for (int c = 0; c < kChunks; ++c) w[c][0] = w[c][1] = w[c][2] = w[c][3] = 0u;
        const uint16_t* bits = reinterpret_cast<const uint16_t*>(in);
        in_tile([&](int r, int64_t i) {
          w[r / kW][(r % kW) / 2] |= uint32_t{bits[i]} << (16 * (r % 2));
        });
      }
      // Where the row spans chunks (d >= 512), chunk by chunk in the order
      // their loads return: the vector's and the lanes' index bits, so that
      // most of the arithmetic overlaps the wait for the last loads; then
      // the chunk bits, which need every chunk. (Shorter rows keep the
      // whole-tile order: per chunk, each shuffle stage has only 8
      // independent values and d = 256 measured 5% slower.)
      constexpr bool kPerChunk = Tr::kChunkMask != 0u;
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        float f[kW];
        VectorMmaH16<T>(w[c], h16, f);
        if constexpr (kPerChunk) {
          RegButterflies(f, Tr::kVectorMask);
          LaneButterflies(f, Tr::kLaneMask, lane);
        }
#pragma unroll
        for (int i = 0; i < kW; ++i) v[c * kW + i] = f[i];
      }
      if constexpr (kPerChunk) {
        RegButterflies(v, Tr::kChunkMask);
      } else {
        RegButterflies(v, Tr::kVectorMask);
        LaneButterflies(v, Tr::kLaneMask, lane);
      }
    } else {
      if (full) {
#pragma unroll
        for (int c = 0; c < kChunks; ++c) LoadVec<T>(in + base + c * 32 * kW, v, c * kW);
      } else {
#pragma unroll
        for (int r = 0; r < Tr::kV; ++r) v[r] = Acc(0);
        in_tile([&](int r, int64_t i) { v[r] = Num<T>::ToAcc(in[i]); });
      }
      RegButterflies(v, Tr::RegMask());
      LaneButterflies(v, Tr::LaneMask(), lane);
    }
    if (full) {
#pragma unroll
      for (int c = 0; c < kChunks; ++c) StoreVec<T>(out + base + c * 32 * kW, v, c * kW, scale);
    } else {
      in_tile([&](int r, int64_t i) { out[i] = Num<T>::FromAcc(v[r] * scale); });
    }
  }
}

// ------------------------------------------------------------ block path
// For 16-bit and f32 at d = 8192 .. 32768 where the row and pair paths
// below cannot run (no room, no clusters, or a test turns them off), and
// the odd last row of an f32 call at 8192: one block of d/32 threads
// transforms a whole row, 32 float accumulators a thread, in three register
// phases joined by two exchanges through shared memory X:
//   P1: register bits [a1, a1+5), read from the staged row S;
//   P2: register bits [w, w+5);
//   P3: register bits [0, w) and [L-5+w, L), the layout of the 16-byte
//       coalesced stores (thread t owns vector t of each of 32/W chunks).
// P1 and P2 are chosen so that the three cover [0, L); bits seen twice are
// transformed once. The grid is persistent: while a block computes row r,
// cp.async streams row r + gridDim.x into S, so device memory stays busy
// through the arithmetic even at one block per SM (d = 32768).

// X is padded by one word after every 32: physical = x + x/32. Every warp
// access pattern of the three maps below (lane bits {0..4}, {0..w-1} +
// {w+5..9}, {w..w+4}) then hits 32 distinct banks, and since padding and
// DropBit (which removes the split bit) are additive over disjoint bits,
// each address is a per-thread base plus a compile-time constant: an
// immediate offset, no per-access arithmetic.
__host__ __device__ constexpr int Pad(int x) { return x + (x >> 5); }
__host__ __device__ constexpr int DropBit(int x, int b) {
  return b < 0 ? x : ((x & ((1 << b) - 1)) | ((x >> (b + 1)) << b));
}

// Register bits [A, A+5); thread bits fill the rest of [0, L) bottom up, so
// the lane bits are index bits [0, 5) whenever A >= 5.
template <int A>
struct RangeMap {
  static __device__ __forceinline__ int Base(int t) {
    return (t & ((1 << A) - 1)) | ((t >> A) << (A + 5));
  }
  static constexpr int Off(int j) { return j << A; }
  static constexpr int RegBitToIdx(int k) { return A + k; }
  static constexpr int ThreadBit(int b) { return b < A ? b : (b >= A + 5 ? b - 5 : -1); }
};

// Register bits [0, W) and [Top, Top + 5 - W); thread t owns vector t, with
// thread bits kSwapA and kSwapB (warp-level, or -1) exchanged. The swap only
// changes which warp stores which 512-byte segment; it lets the split
// exchange into this map keep the split bit at the same thread bit as in P2.
template <int kLogW, int kTop, int kSwapA, int kSwapB>
struct VecMap {
  static __device__ __forceinline__ int Base(int t) {
    if constexpr (kSwapA >= 0) {
      const int x = ((t >> kSwapA) ^ (t >> kSwapB)) & 1;
      t ^= (x << kSwapA) | (x << kSwapB);
    }
    return t << kLogW;
  }
  static constexpr int Off(int j) {
    return (j & ((1 << kLogW) - 1)) | ((j >> kLogW) << kTop);
  }
  static constexpr int RegBitToIdx(int k) { return k < kLogW ? k : kTop + k - kLogW; }
  static constexpr int ThreadBit(int b) {
    const int tb = (b >= kLogW && b < kTop) ? b - kLogW : -1;
    return tb < 0 ? tb : (tb == kSwapA ? kSwapB : (tb == kSwapB ? kSwapA : tb));
  }
};

template <typename T, int L, bool kStaged>
struct BlockTraits {
  static constexpr int kD = 1 << L;
  static constexpr int kW = kVec<T>;
  static constexpr int kLogW = ConstLog2(kW);
  static constexpr int kV = 32;
  static constexpr int kThreads = kD / kV;
  static constexpr int kA1 = ConstMax(5, L - 10 + kLogW);
  static constexpr int kA2 = kLogW;
  static constexpr int kTop = L - 5 + kLogW;
  // f32 at d >= 16384 halves X so that the staged row plus X stays at
  // 97 KB (two blocks an SM at 16384) or 194 KB (32768). Each exchange then
  // runs in two halves split on an index bit that is the same warp-level
  // thread bit in both maps, so a thread writes and reads in the same half and
  // never overwrites registers it has not yet written out.
  static constexpr bool kSplitX = sizeof(T) == 4 && L >= 14;
  static constexpr int kSplit1 = kSplitX ? L - 1 : -1;
  static constexpr int kSplit2 = kSplitX ? kTop - 1 : -1;
  using P1 = RangeMap<kA1>;
  using P2 = RangeMap<kA2>;
  using P3 = VecMap<kLogW, kTop, kSplitX ? kSplit2 - 5 : -1, kSplitX ? kSplit2 - kLogW : -1>;
  // An index bit is transformed in the first phase that holds it in
  // registers.
  static constexpr bool InP1(int b) { return b >= kA1 && b < kA1 + 5; }
  static constexpr bool InP2(int b) { return b >= kA2 && b < kA2 + 5; }
  static constexpr unsigned MaskP2() {
    unsigned m = 0;
    for (int k = 0; k < 5; ++k)
      if (!InP1(P2::RegBitToIdx(k))) m |= 1u << k;
    return m;
  }
  static constexpr unsigned MaskP3() {
    unsigned m = 0;
    for (int k = 0; k < 5; ++k) {
      const int b = P3::RegBitToIdx(k);
      if (!InP1(b) && !InP2(b)) m |= 1u << k;
    }
    return m;
  }
  static constexpr bool Covers() {
    for (int b = 0; b < L; ++b) {
      bool reg3 = false;
      for (int k = 0; k < 5; ++k) reg3 = reg3 || P3::RegBitToIdx(k) == b;
      if (!InP1(b) && !InP2(b) && !reg3) return false;
    }
    return true;
  }
  static constexpr int kXParts = kSplitX ? 2 : 1;
  static constexpr int kSmemS = kStaged ? kD * static_cast<int>(sizeof(T)) : 0;
  static constexpr int kSmemX = Pad(kD / kXParts) * static_cast<int>(sizeof(float));
  static constexpr int kSmem = kSmemS + kSmemX;
  static constexpr int kMinBlocks = 32 / (kThreads / 32) > 0 ? 32 / (kThreads / 32) : 1;
  static constexpr int kStageChunks = kD / kW / kThreads;  // 16-byte cp.async a thread

  static_assert(sizeof(T) <= 4, "the block path accumulates in float");
  static_assert(L >= 11 && L <= 15, "block path sizes");
  static_assert(kThreads >= 64 && kThreads <= 1024, "block size");
  static_assert(kA1 + 5 <= L && kA1 <= kA2 + 5 && kA2 >= 2, "phase ranges");
  static_assert(Covers(), "the three phases must cover every index bit");
  static_assert(P1::ThreadBit(0) == 0 && P1::ThreadBit(4) == 4,
                "P1's lanes read 32 consecutive elements of S");
  static_assert(!kSplitX || (P1::ThreadBit(kSplit1) >= 5 &&
                             P1::ThreadBit(kSplit1) == P2::ThreadBit(kSplit1) &&
                             P2::ThreadBit(kSplit2) >= 5 &&
                             P2::ThreadBit(kSplit2) == P3::ThreadBit(kSplit2)),
                "split bits: warp-uniform and the same thread bit on both sides");
  static_assert(kStageChunks * kThreads * kW == kD, "staging covers the row");
  static_assert(kSmemS % 16 == 0, "X starts 16-byte aligned");
  static_assert(kMinBlocks * kThreads <= 1024 * 2, "launch bounds");
};


// v (laid out by From) -> X -> v (laid out by To), the two halves of X in
// turn when kSplit names a (warp-uniform) index bit.
// kLeadSync = false when a barrier since the last read of X is already
// guaranteed (the staged kernel's barrier after reading S).
// `after_mid` runs once, right after the first barrier that follows the
// writes to X: every thread has then finished what it did before the call.
template <class From, class To, int kSplit, bool kLeadSync, class F>
__device__ __forceinline__ void Exchange(float (&v)[32], float* X, int t, F&& after_mid) {
  const int bw = From::Base(t);
  const int br = To::Base(t);
  float* xw = X + Pad(DropBit(bw, kSplit));
  const float* xr = X + Pad(DropBit(br, kSplit));
  constexpr int kParts = kSplit < 0 ? 1 : 2;
  constexpr int kBit = kSplit < 0 ? 0 : kSplit;
  // Not unrolled: the second half reuses the first half's registers.
#pragma unroll 1
  for (int p = 0; p < kParts; ++p) {
    if (kLeadSync || p > 0) __syncthreads();  // the previous reader of X is done
    if (kSplit < 0 || ((bw >> kBit) & 1) == p) {
#pragma unroll
      for (int j = 0; j < 32; ++j) xw[Pad(DropBit(From::Off(j), kSplit))] = v[j];
    }
    __syncthreads();
    if (p == 0) after_mid();
    if (kSplit < 0 || ((br >> kBit) & 1) == p) {
#pragma unroll
      for (int j = 0; j < 32; ++j) v[j] = xr[Pad(DropBit(To::Off(j), kSplit))];
    }
  }
}

// The 32-bit shared-memory address that PTX's .shared operands take.
__device__ __forceinline__ uint32_t SharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// .cg, past L1: the L1-allocating .ca measured 6-12 points slower in the
// kernels that stage with it (notes v20).
__device__ __forceinline__ void CpAsync16(void* smem, const void* gmem) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(SharedAddress(smem)), "l"(gmem)
               : "memory");
}
__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
__device__ __forceinline__ void CpAsyncWaitAll() { asm volatile("cp.async.wait_group 0;\n" ::: "memory"); }
// Waits until at most `pending` (0..kMax) of this thread's committed groups
// are in flight. The instruction takes a constant: called from unrolled code
// with a constant `pending`, the chain folds to one wait.
template <int kMax>
__device__ __forceinline__ void CpAsyncWaitPending(int pending) {
  if (pending == kMax) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kMax) : "memory");
  } else if constexpr (kMax > 0) {
    CpAsyncWaitPending<kMax - 1>(pending);
  }
}

template <typename T, int L, bool kStaged>
__global__ void __launch_bounds__(BlockTraits<T, L, kStaged>::kThreads,
                                  BlockTraits<T, L, kStaged>::kMinBlocks)
    HadamardBlockKernel(const T* in, T* out, int64_t rows, float scale) {
  WaitForPreviousGrids();
  using Tr = BlockTraits<T, L, kStaged>;
  using P1 = typename Tr::P1;
  using P2 = typename Tr::P2;
  using P3 = typename Tr::P3;
  constexpr int kD = Tr::kD;
  constexpr int kW = Tr::kW;
  extern __shared__ uint4 smem[];
  T* S = reinterpret_cast<T*>(smem);
  float* X = reinterpret_cast<float*>(reinterpret_cast<char*>(smem) + Tr::kSmemS);
  const int t = threadIdx.x;

  auto stage = [&](int64_t r) {
    const T* src = in + r * kD;
#pragma unroll
    for (int k = 0; k < Tr::kStageChunks; ++k) {
      const int c = (t + k * Tr::kThreads) * kW;
      CpAsync16(S + c, src + c);
    }
    CpAsyncCommit();
  };

  int64_t row = blockIdx.x;
  if constexpr (kStaged) {
    if (row < rows) stage(row);
  }
  for (; row < rows; row += gridDim.x) {
    float v[32];
    const int b1 = P1::Base(t);
    if constexpr (kStaged) {
      CpAsyncWaitAll();
      __syncthreads();
#pragma unroll
      for (int j = 0; j < 32; ++j) v[j] = Num<T>::ToAcc(S[b1 | P1::Off(j)]);
      // S is free once every thread is past the first barrier of the first
      // exchange: the next row is streamed in from there (no barrier of its
      // own).
    } else {
      // Without room for S (devices with less shared memory): P1 reads
      // device memory directly; its lanes still read 32 consecutive elements.
      const T* src = in + row * kD;
#pragma unroll
      for (int j = 0; j < 32; ++j) v[j] = Num<T>::ToAcc(src[b1 | P1::Off(j)]);
    }
    RegButterflies(v, 0x1Fu);
    Exchange<P1, P2, Tr::kSplit1, !kStaged>(v, X, t, [&] {
      if constexpr (kStaged) {
        if (row + gridDim.x < rows) stage(row + gridDim.x);
      }
    });
    RegButterflies(v, Tr::MaskP2());
    Exchange<P2, P3, Tr::kSplit2, true>(v, X, t, [] {});
    RegButterflies(v, Tr::MaskP3());
    T* dst = out + row * kD + P3::Base(t);
#pragma unroll
    for (int g = 0; g < 32 / kW; ++g) StoreVec<T>(dst + P3::Off(g * kW), v, g * kW, scale);
  }
}

// ------------------------------------------------------------ pair path
// For d = 32768 (16-bit and f32) on GPUs with thread-block clusters. With lo
// and hi a row's two halves, H32768 (lo, hi) = (H16384 (lo + hi),
// H16384 (lo - hi)): a pair of blocks takes a row, each reading the whole row
// and computing one output half with a d = 16384 kernel below (the
// 128-thread tensor-core row kernel for 16-bit, the row path for f32),
// adding or subtracting hi as it loads (16-bit: as it reads
// back the row it staged in shared memory). Device memory still sees each
// element read once (the two blocks of a pair run side by side, so the
// second read of a line hits L2) and written once, and each block needs only
// a 16384-element row's registers: three blocks an SM, one pair a row, where
// a whole row an SM allows one block an SM (the block path).
//
// The two blocks of a pair each read the whole row, so in place neither may
// store before the other has read. The pair is a cluster, which makes both
// blocks resident at once. Out of place the blocks share no written data and
// never wait for each other: coupling the pair's timing costs about 2% of
// bandwidth (notes v10).
//
// In place (16-bit and f32, since notes v23): each block loads the whole row
// as out of place, arrives on the cluster barrier once its loads have landed
// (in its registers or, by cp.async it has waited for, in shared memory),
// and waits on it before its first store. The arrive is relaxed. A release
// would order the loads before the partner's stores in the PTX memory
// model's terms, but at cluster scope it compiles to a GPU-wide fence
// (MEMBAR.ALL.GPU, notes v13) in each warp that executes it, and one such
// fence a block cost f32 7 points (1.12 of the copy against 1.054
// relaxed, on the H200; a 16-bit form fenced that way read 1.12 in notes
// v14, against 1.07 now). On the hardware nothing is left for it to order:
// every value a load returns is in this block before the arrive issues,
// and the partner's stores issue only after its wait returns, so none of
// them can be what a load read. A warp issues in order: for 16-bit,
// cp.async.wait_group precedes the arrive in the source; for f32, the FFMAs
// that read the loaded registers precede the block barrier before the
// arrive, which the source does not force but the SASS of this build shows
// (notes v23), and tests/test_cuda_pair_order.py checks it in every build.
// (Moving the arrive after the first exchange, whose stores to X would force
// it, made this kernel 7-9 points slower in and out of place: notes v24.) By
// the memory model's letter the relaxed arrive orders nothing, and no
// sanitizer checks this (racecheck watches shared memory only): the
// harness's in-place checks at d = 32768 are the evidence.
// Before notes v23 each block read only its own half from device memory, so
// that only the block that overwrites a half ever reads it: 16-bit with
// multicast bulk copies that landed in both blocks' shared memory (1.10 of
// the copy in place, notes v15), f32 through a ring of two slots refilled
// once both blocks had read them (1.07, notes v17); bulk loads cost them
// 5-7.5 points (notes v19), so both forms are gone.
// -DJAXHADA_PAIR_FENCE=1 puts back, for f32 only, one fence a block
// (PairArrive): thread 0
// fences right after a block barrier that follows all of the block's loads
// (the barrier orders every thread's loads before the fence, which is
// cumulative), and then every thread arrives relaxed.
// Predicated rather than branched on `when` (uniform across the block): a
// branch where the arrive used to be split the f32 kernel's load phase and
// it spilled.
// Before sm_90 (no clusters): the pair's barrier is never reached, since the
// launcher takes the pair path only where clusters exist; if it were, the
// kernel stops. Predicated, not branched, like the barrier it stands in for.
__device__ __forceinline__ void TrapIf(bool when) {
  asm volatile("{\n .reg .pred p;\n setp.ne.b32 p, %0, 0;\n @p trap;\n}\n" ::"r"(
                   static_cast<int>(when)) : "memory");
}
#ifndef JAXHADA_PAIR_FENCE
#define JAXHADA_PAIR_FENCE 0
#endif
__device__ __forceinline__ void PairArrive(bool when, int t) {
#if __CUDA_ARCH__ >= 900
  asm volatile(
      "{\n .reg .pred p, q;\n setp.ne.b32 p, %0, 0;\n setp.eq.and.b32 q, %1, 0, p;\n"
      " @q fence.acq_rel.cluster;\n"
      " @p barrier.cluster.arrive.relaxed.aligned;\n}\n" ::"r"(static_cast<int>(when)),
      "r"(JAXHADA_PAIR_FENCE ? t : 1) : "memory");
#else
  TrapIf(when);
#endif
}
__device__ __forceinline__ void PairWait(bool when) {
#if __CUDA_ARCH__ >= 900
  asm volatile(
      "{\n .reg .pred p;\n setp.ne.b32 p, %0, 0;\n"
      " @p barrier.cluster.wait.acquire.aligned;\n}\n" ::"r"(static_cast<int>(when))
      : "memory");
#else
  TrapIf(when);
#endif
}

// ------------------------------------------------------------ row path
// For f32 at d = 16384, and two rows of 8192 or four of 4096 at a time
// (16-bit rows take the tensor-core path below). A block of 128 threads holds the whole
// row in registers, 128 float accumulators a thread, in two layouts of the
// index bits [0, 14), joined by exchanges through shared memory X:
//   A (load and store): thread bits are index bits [w, w+7), so each warp
//     load and store is 512 contiguous bytes; registers hold [0, w) and
//     [w+7, 14);
//   B: registers hold [w, w+7); thread bits are [0, w) and [w+7, 14).
// A -> B -> A transforms all 14 bits in registers, with no shuffles. Unlike
// the block path, most loads go straight to registers (no staged copy of the
// whole row in shared memory), barriers span only 4 warps, and 3 blocks an
// SM take turns at memory and arithmetic, one block a row (the hardware
// hands rows to whichever SM frees up first). A thread writes, in B -> A,
// exactly the words of X it read in A -> B, and in the next row's A -> B
// exactly the words it read in B -> A, so a row needs only two barriers.

// X is addressed by a sum of per-bit word strides: a permutation of the
// index bits onto address bits, padded so that every warp access is free of
// bank conflicts, and being a sum over disjoint bits, an address is a
// per-thread base plus a compile-time constant per register (an immediate
// offset).
//   A's lane bits [w, w+5) get strides 1..16: scalar accesses, 32 banks.
//   B's register bits w, w+1 get strides 1 and 2, every other bit a multiple
//     of 4, so B moves 4 registers per 16-byte access; its first three lane
//     bits (one quarter-warp's access) get 2048, 4096 and 8192 padded by 4
//     each, which puts them on 16-byte slots 1, 2 and 4 of the 8.
//   The other six bits get 32 .. 1024.
template <int kLogW>
struct RowXLayout {
  static constexpr bool ALane(int bit) { return bit >= kLogW && bit < kLogW + 5; }
  // 0..2 for B's first three lane bits ([0, w) then [w+7, 12)), else -1.
  static constexpr int BQuarterLane(int bit) {
    const int lane = bit < kLogW ? bit : (bit >= kLogW + 7 && bit < 12 ? bit - 7 : -1);
    return lane < 3 ? lane : -1;
  }
  static constexpr int Stride(int bit) {
    if (ALane(bit)) return 1 << (bit - kLogW);
    if (BQuarterLane(bit) >= 0) return (2048 + 4) << BQuarterLane(bit);
    int rank = 0;
    for (int b = 0; b < bit; ++b) rank += !ALane(b) && BQuarterLane(b) < 0;
    return 32 << rank;
  }
  static constexpr int Words() {
    int sum = 0;
    for (int b = 0; b < 14; ++b) sum += Stride(b);
    return sum + 1;
  }
  // Distinct indices get distinct words: the unpadded bits span less than
  // the smallest padded stride.
  static constexpr bool Injective() {
    int low = 0;
    for (int b = 0; b < 14; ++b) low += BQuarterLane(b) < 0 ? Stride(b) : 0;
    return low < 2048 + 4;
  }
  static_assert(Stride(kLogW) == 1 && Stride(kLogW + 1) == 2, "B's 16-byte accesses");
  static_assert(Injective(), "one word an element");
};
template <int kLogW, int kBit>
constexpr int kRowXStride = RowXLayout<kLogW>::Stride(kBit);

// The word offset of 7 bits x placed on index bits [w, w+7) (kMid) or on
// [0, w) and [w+7, 14): A's thread bits and B's register bits are the first,
// A's register bits and B's thread bits the second.
template <int kLogW, bool kMid, int... K>
__device__ __forceinline__ int RowXWord(int x, std::integer_sequence<int, K...>) {
  return (0 + ... +
          (((x >> K) & 1) * kRowXStride<kLogW, kMid ? kLogW + K : (K < kLogW ? K : K + 7)>));
}
template <int kLogW, bool kMid>
__device__ __forceinline__ int RowXWord(int x) {
  return RowXWord<kLogW, kMid>(x, std::make_integer_sequence<int, 7>{});
}

#ifndef JAXHADA_ROW_WARP_LOADS
#define JAXHADA_ROW_WARP_LOADS 1
#endif
template <typename T>
struct RowTraits {
  static constexpr int kW = kVec<T>;
  static constexpr int kLogW = ConstLog2(kW);
  static constexpr int kD = 1 << 14;
  static constexpr int kThreads = 128;
  static constexpr int kV = 128;
  static constexpr int kChunks = kV / kW;  // 16-byte loads a thread
  // 168 registers a thread allow three blocks an SM.
  static constexpr int kMinBlocks = 3;
  static constexpr int kSmem = RowXLayout<kLogW>::Words() * static_cast<int>(sizeof(float));
  static_assert(std::is_same_v<T, float>, "16-bit rows take the tensor-core path");
  static_assert(kLogW + 7 + ConstLog2(kChunks) == 14, "A covers the row's 14 bits");
  static_assert(kThreads * kV == kD, "128 accumulators a thread");
  static_assert(kSmem >= kD * static_cast<int>(sizeof(float)), "the pair path stages hi in X");

  // Where in device memory thread t's chunk c of A lies (its element
  // LoadElement(t) + c ChunkElements() of the row), on the row kernel's
  // loads and stores. kWarpPieces relabels the index bits in memory only:
  // A's lane bits stay on [w, w+5), its chunk bits go to [w+5, 12) and its
  // warp bits to 12, 13, so that each warp's 32 loads (and stores) cover
  // 16 KB in one piece rather than 32 pieces 2 KB apart (notes v18). A
  // permutation of the index bits commutes with the transform (H = P H
  // P^T), so nothing else changes. On the H200 that took f32 d = 16384 from
  // 1.044-1.047 of the copy to 1.029-1.032 out of place, and from 1.052-1.055
  // to 1.033-1.038 in place (notes v19). The pair's halves (d = 32768) take
  // it too since v31: 1.054 / 1.056 -> 1.041 / 1.035 of the copy at 256 MiB,
  // 1.029 / 1.033 -> 1.015 / 1.018 at 512 MiB. (Before v27's loads fix the
  // same change cost the pair 5 points, v25.) -DJAXHADA_ROW_WARP_LOADS=0
  // builds without it, to time against.
  template <bool kWarpPieces>
  static __device__ __forceinline__ int LoadElement(int t) {
    return kWarpPieces ? (t & 31) * kW + (t >> 5) * (kD / 4) : t * kW;
  }
  template <bool kWarpPieces>
  static constexpr int ChunkElements() { return kWarpPieces ? 32 * kW : kThreads * kW; }
  static_assert(kChunks * 32 * kW == kD / 4, "a warp's chunks fill its quarter");
};

// B's 16-byte accesses: registers 4m .. 4m+3 are index bits w and w+1.
__device__ __forceinline__ void LoadQuad(const float* p, float (&v)[128], int m) {
  const float4 q = *reinterpret_cast<const float4*>(p);
  v[4 * m] = q.x;
  v[4 * m + 1] = q.y;
  v[4 * m + 2] = q.z;
  v[4 * m + 3] = q.w;
}
__device__ __forceinline__ void StoreQuad(float* p, const float (&v)[128], int m) {
  *reinterpret_cast<float4*>(p) = make_float4(v[4 * m], v[4 * m + 1], v[4 * m + 2], v[4 * m + 3]);
}

// The row's 14 index bits in registers, layout A -> B -> A: seven bits,
// the exchange into B, seven more, the exchange back. A thread writes, in
// B -> A, exactly the words of X it read in A -> B, so two barriers do; the
// caller guards X against the previous row (or its staged data) itself.
// kMaskA and kMaskB say which register bits each layout transforms: all
// seven, less those HadamardRowKernel transformed while its loads landed
// (in A) and, for two rows of 8192 or four of 4096, the one or two bits
// that select the row.
template <int kLogW, unsigned kMaskA = 0x7Fu, unsigned kMaskB = 0x7Fu>
__device__ __forceinline__ void RowTransform(float (&v)[128], float* xa, float* xb) {
  RegButterflies(v, kMaskA);
#pragma unroll
  for (int j = 0; j < 128; ++j) xa[RowXWord<kLogW, false>(j)] = v[j];
  __syncthreads();
#pragma unroll
  for (int m = 0; m < 32; ++m) LoadQuad(xb + RowXWord<kLogW, true>(4 * m), v, m);
  RegButterflies(v, kMaskB);
#pragma unroll
  for (int m = 0; m < 32; ++m) StoreQuad(xb + RowXWord<kLogW, true>(4 * m), v, m);
  __syncthreads();
#pragma unroll
  for (int j = 0; j < 128; ++j) v[j] = xa[RowXWord<kLogW, false>(j)];
}

// Every load of a row issued before any arithmetic that waits for one.
// A warp issues in order, so the first instruction that needs a load's
// value holds back every load after it. Left to itself, ptxas (nvcc 13.0)
// interleaves the second half of a thread's 32 loads with the first
// butterflies: a block had half its row in flight, then the other half a
// whole latency later (f32 d = 16384 and 8192: 1.025 of the copy a byte;
// 1.012 with this, notes v27). A warp barrier keeps every load above it, a
// shared-memory load below it, and the first stage multiplies by the 1.0
// that load returns (fma(b, ±1, a) is a ± b exactly), so no butterfly
// moves above the last load. `own` is a word of X no other thread touches
// until the next block barrier.
__device__ __forceinline__ float OneAfterIssuedLoads(float* own) {
  asm volatile("st.shared.f32 [%0], %1;" ::"r"(SharedAddress(own)), "f"(1.0f) : "memory");
  __syncwarp();
  float one;
  asm volatile("ld.shared.f32 %0, [%1];" : "=f"(one) : "r"(SharedAddress(own)) : "memory");
  return one;
}

// kHalves = 1: d = 16384, one block a row. kHalves = 2: d = 32768, block h
// of a row's pair (the pair path above) transforms lo ± hi, hi added as
// fma(hi, ±1, lo): one exact product, one rounding, like any butterfly.
// kRowsABlock (kHalves = 1): d = 8192, two rows a block, or d = 4096, four,
// as one row of 16384 whose top one or two index bits in memory are left
// alone. Those are register bits in layout B with the warp pieces (their
// relabeling puts them there), in A without. On the H200 the block path,
// the kernel for d = 8192 before, read 1.12 of the copy; for d = 4096 see
// JAXHADA_ROW_FOUR_ROWS.
template <typename T, int kHalves, int kRowsABlock = 1>
__global__ void __launch_bounds__(RowTraits<T>::kThreads, RowTraits<T>::kMinBlocks)
    HadamardRowKernel(const T* in, T* out, int64_t rows, float scale) {
  WaitForPreviousGrids();
  using Tr = RowTraits<T>;
  static_assert(kHalves == 1 || kHalves == 2, "a row is one or two blocks' work");
  static_assert(kRowsABlock == 1 || kRowsABlock == 2 || kRowsABlock == 4, "1, 2 or 4 rows a block");
  static_assert(kHalves == 1 || kRowsABlock == 1, "several rows a block, not a pair");
  constexpr int kLogW = Tr::kLogW;
  constexpr int kW = Tr::kW;
  constexpr int64_t kRowD = int64_t{kHalves} * Tr::kD;
  extern __shared__ uint4 smem[];
  float* X = reinterpret_cast<float*>(smem);
  const int t = threadIdx.x;
  constexpr bool kWarpPieces = JAXHADA_ROW_WARP_LOADS;
  constexpr int kChunkElements = Tr::template ChunkElements<kWarpPieces>();
  constexpr int kPairGroups = 4;
  constexpr int kGroupChunks = Tr::kChunks / kPairGroups;
  float v[Tr::kV];
  // A pair's loads of row r: hi into X, lo into v (below).
  auto load_pair_row = [&](int64_t r) {
    const T* src = in + r * kRowD + Tr::template LoadElement<kWarpPieces>(t);
#pragma unroll
    for (int g = 0; g < kPairGroups; ++g) {
#pragma unroll
      for (int c = g * kGroupChunks; c < (g + 1) * kGroupChunks; ++c)
        CpAsync16(X + (c * Tr::kThreads + t) * kW, src + Tr::kD + c * kChunkElements);
      CpAsyncCommit();
#pragma unroll
      for (int c = g * kGroupChunks; c < (g + 1) * kGroupChunks; ++c)
        LoadVec<T>(src + c * kChunkElements, v, c * kW);
      __syncwarp();
    }
  };
  float* const xa = X + RowXWord<kLogW, true>(t);
  float* const xb = X + RowXWord<kLogW, false>(t);
  const int half = kHalves == 2 ? static_cast<int>(blockIdx.x & 1) : 0;
  const bool pair_sync = kHalves == 2 && static_cast<const void*>(in) == out;
  const float hi_sign = half ? -1.0f : 1.0f;
  // Register bits of layout A that the load phase transforms: the pair's
  // first five (RegButterfliesAt, a group at a time), or bit 0 (the stage behind
  // OneAfterIssuedLoads).
  constexpr unsigned kLoadPhaseBits = kHalves == 2 ? kGroupChunks * kW - 1 : 1u;
  // One block (pair) a row (a grid-stride loop only past 2^24 rows): the
  // hardware hands rows to whichever SM frees up first. (A persistent grid,
  // and prefetching each block's next row into L2, both measured slower.)
  for (int64_t row = blockIdx.x / kHalves; row < rows; row += gridDim.x / kHalves) {
    if constexpr (kHalves == 2) {
      // hi streams into X (free until the first exchange) while lo loads
      // into registers: holding both in registers would spill. Both come
      // in four groups of chunks, hi's then lo's, and each group is
      // combined and put through its first five register stages as soon as
      // it has landed, while the rest is in flight. A warp barrier after
      // each group keeps ptxas from sinking lo's loads below the waits
      // (it did: three quarters of them issued only once all of hi had
      // landed). On the H200 at 256 MiB: 1.078 -> 1.054 of the copy
      // (notes v27).
      // From a block's second row on: the previous row's reads of X are done.
      if (row != blockIdx.x / kHalves) __syncthreads();
      load_pair_row(row);
#pragma unroll
      for (int g = 0; g < kPairGroups; ++g) {
        // Each thread reads back only what it staged.
        CpAsyncWaitPending<kPairGroups - 1>(kPairGroups - 1 - g);
#pragma unroll
        for (int c = g * kGroupChunks; c < (g + 1) * kGroupChunks; ++c) {
          float hi[kW];
          LoadVec<float>(X + (c * Tr::kThreads + t) * kW, hi, 0);
#pragma unroll
          for (int i = 0; i < kW; ++i) v[c * kW + i] = fmaf(hi[i], hi_sign, v[c * kW + i]);
        }
        // The group's own register bits: its vectors' and its chunks'.
        RegButterfliesAt<kGroupChunks * kW>(v, g * kGroupChunks * kW, kGroupChunks * kW - 1);
      }
      __syncthreads();  // all of hi is out of X before the exchange writes it
      // Reached out of place too, predicated off: one kernel serves both.
      // Split in two by a template argument, the out-of-place form lost
      // this instruction and ran 5% slower: the compiler had scheduled the
      // kernel around it (notes v13).
      PairArrive(pair_sync, t);
    } else {
      const T* src = in + row * kRowD + Tr::template LoadElement<kWarpPieces>(t);
#pragma unroll
      for (int c = 0; c < Tr::kChunks; ++c) LoadVec<T>(src + c * kChunkElements, v, c * kW);
      const float one = OneAfterIssuedLoads(xa);  // xa[0]: written first in RowTransform
#pragma unroll
      for (int j = 0; j < Tr::kV; j += 2) {  // register bit 0
        const float a = v[j], b = v[j + 1];
        v[j] = fmaf(b, one, a);
        v[j + 1] = fmaf(b, -one, a);
      }
    }
    // Rows of 8192 (4096): register bit 6 (5 and 6), index bit 13 (12, 13)
    // in memory, or 8 (7, 8) in the transform's labels with the warp pieces.
    constexpr unsigned kSkip = kRowsABlock == 4 ? 0x60u : kRowsABlock == 2 ? 0x40u : 0u;
    RowTransform<kLogW, 0x7Fu & ~(kWarpPieces ? 0u : kSkip) & ~kLoadPhaseBits,
                 0x7Fu & ~(kWarpPieces ? kSkip : 0u)>(v, xa, xb);
    PairWait(pair_sync);
    T* dst = out + row * kRowD + half * Tr::kD + Tr::template LoadElement<kWarpPieces>(t);
#pragma unroll
    for (int c = 0; c < Tr::kChunks; ++c)
      StoreVec<T>(dst + c * kChunkElements, v, c * kW, scale);
  }
}


// ------------------------------------ layouts of the tensor-core row paths
// Compile-time checks of a row's placement (which lane, warp and register
// bits hold each of its index bits: 14 at d = 16384, 13 at 8192) and of X's
// word strides.

// A block's 5 lane bits, kWarpBits warp bits and the register bits (the
// rest) place each of the row's kBits index bits once.
template <int kWarpBits, int kBits = 14>
constexpr bool PlacesEveryBit(int (*lane)(int), int (*warp)(int), int (*reg)(int)) {
  unsigned seen = 0;
  for (int i = 0; i < 5; ++i) seen |= 1u << lane(i);
  for (int i = 0; i < kWarpBits; ++i) seen |= 1u << warp(i);
  for (int i = 0; i < kBits - 5 - kWarpBits; ++i) seen |= 1u << reg(i);
  return seen == (1u << kBits) - 1;
}

// The words of X: one past the last element's.
constexpr int XWords(int (*stride)(int), int bits = 14) {
  int sum = 1;
  for (int b = 0; b < bits; ++b) sum += stride(b);
  return sum;
}

// Every stride exceeds the sum of the others that are not larger, so
// distinct elements get distinct words.
constexpr bool Superincreasing(int (*stride)(int), int bits = 14) {
  for (int b = 0; b < bits; ++b) {
    int not_larger = 0;
    for (int o = 0; o < bits; ++o) not_larger += o != b && stride(o) <= stride(b) ? stride(o) : 0;
    if (stride(b) <= not_larger) return false;
  }
  return true;
}

// No bank conflicts: an access of `words` words a lane is served
// 32 / words lanes at a time, and those lanes (lane bits below
// log2(32 / words)) must hit distinct slots of `words` words.
constexpr bool DistinctSlots(int (*stride)(int), int (*lane)(int), int words) {
  const int lanes = 32 / words;
  unsigned long long seen = 0;
  for (int l = 0; l < lanes; ++l) {
    int word = 0;
    for (int k = 0; (1 << k) < lanes; ++k) word += ((l >> k) & 1) * stride(lane(k));
    seen |= 1ull << (word / words % lanes);
  }
  return seen == (1ull << lanes) - 1;
}

// ------------------------------------------------------- tensor-core row path
// For the halves of the pair path's 16-bit rows (d = 32768). Rows of d =
// 16384 take the two-product kernel below; the wide kernel below measured
// 4-8% faster than this one there on the H200 (this one serves them in a
// build with -DJAXHADA_MMA_ROW_WIDE=0 -DJAXHADA_TWO_MMA_ROW=0, to time
// against). A block of 128 threads holds the whole row in
// registers, 128 float accumulators a thread, in two layouts joined by one
// exchange through shared memory X:
//   A (load): thread t reads 16-byte vectors t * 8 + 1024 c, c = 0..15 (each
//     warp load 512 contiguous bytes; a pair stages them in X first);
//     relabeled (a pair's halves, below), lane l of warp w
//     reads elements 8 l + 4096 w + 256 c instead. Index bits 0 and 1
//     (inside each thread's vector) and 3, 4 (across lanes) go through one m16n8k16
//     tensor-core product with H16 per 8 elements a thread. Its inputs are the
//     16-bit values themselves, exact in the MMA; the ±1 products are exact
//     and the sums accumulate in float, so the MMA rounds no more than float
//     butterflies would. Butterflies in registers then do six more bits.
//   B (store): the remaining index bits 6..9 (relabeled: 6, 7, 12, 13) sit
//     in registers beside bits 0..2, the output's 16-byte vector, so B transforms them and stores
//     straight to device memory, each warp store covering four whole 128-byte
//     lines.
// One exchange a row where the f32 row path needs two (A -> B -> A), under
// two thirds of its instructions, no conversions on the way in. That lighter
// row is what lets one block a row (3 blocks an SM) keep device memory busy:
// the same kernel as a persistent grid streaming rows ahead is slower.
//
// The MMA's fragments fix where index bits go. With k the 16 points
// transformed and n 8 independent columns, the B operand (our data) holds
// k bit 0 in a register's two halves (index bit 0), k bits 1, 2 on lane bits
// 0, 1 (index bits 3, 4), k bit 3 on the choice of register (index bit 1),
// n on lane bits 2..4 (index bits 5..7). The product leaves m (k's bits) on
// lane bits 2..4 and register bit 1, n on register bit 0 and lane bits 0, 1.
// MmaRowLayout lists where each index bit sits on both sides.
// Every index bit from 8 up is relabeled by 8->12, 9->13,
// 10->8, 11->9, 12->10, 13->11 (kWarpLoads), so that A's chunks hold bits
// 8..11 and its warps 12, 13, and each warp's 16 loads cover 8 KB of the half
// in one piece (the wide kernel's change, notes v18): 0.5-0.8 points closer
// to the copy on the H200 (medians of three rounds, notes v19; f16 at 1 GiB,
// held back by the power cap there, 0.1). A relabeling of the bits changes no
// sum, and B's bits follow it, so no bit stays on warps on both sides. In
// place it applies too, since the pair loads there as out of place (notes
// v23: 1.067-1.068 of the copy against 1.082-1.085 in the row's order; with
// the multicast loads before it, it had cost 2-3 points, notes v19).
// -DJAXHADA_PAIR_WARP_LOADS=0 builds without it, to time against.
#ifndef JAXHADA_PAIR_WARP_LOADS
#define JAXHADA_PAIR_WARP_LOADS 1
#endif
template <bool kWarpLoads>
struct MmaRowLayout {
  static constexpr int kLog2D = 14;
  // The relabeling (the identity without kWarpLoads) and its inverse.
  __host__ __device__ static constexpr int Relabel(int bit) {
    return !kWarpLoads || bit < 8 ? bit : bit < 10 ? bit + 4 : bit - 2;
  }
  __host__ __device__ static constexpr int Unlabel(int bit) {
    return !kWarpLoads || bit < 8 ? bit : bit >= 12 ? bit - 4 : bit + 2;
  }
  // A, after the MMA. Register j = 8 c + 4 f + r: r's bits hold index bits 5
  // and 1, f (the half of the 16-byte vector) bit 2, the chunk c bits 10..13
  // (relabeled: 8..11).
  __host__ __device__ static constexpr int ALane(int b) { return b == 0 ? 6 : b == 1 ? 7 : b == 2 ? 0 : b; }
  __host__ __device__ static constexpr int AWarp(int b) { return Relabel(8 + b); }
  __host__ __device__ static constexpr int AReg(int k) { return k == 0 ? 5 : k == 1 ? 1 : k == 2 ? 2 : Relabel(7 + k); }
  // B. Registers: index bits 6, 7 (one 16-byte read of X), the output vector
  // 0, 1, 2, then 8, 9. Lanes: 3, 4, 5 (a quarter warp), 10, 11. (Before
  // the relabeling.)
  __host__ __device__ static constexpr int BReg(int k) { return k < 2 ? 6 + k : k < 5 ? k - 2 : Relabel(k + 3); }
  __host__ __device__ static constexpr int BLane(int b) { return b < 3 ? 3 + b : Relabel(7 + b); }
  __host__ __device__ static constexpr int BWarp(int b) { return Relabel(12 + b); }
  // A's load: thread (lane, warp)'s first element of a half, and the
  // elements between its chunks (relabeled: lane 8 l + 4096 w, chunks 256
  // apart; before, thread t at 8 t, chunks 1024 apart).
  __host__ __device__ static constexpr int LoadElement(int lane, int warp) {
    return 8 * lane + warp * (1 << AWarp(0));
  }
  __host__ __device__ static constexpr int ChunkElements() { return 1 << AReg(3); }

  // Register-bit masks: A transforms every register bit but index bit 1,
  // which the MMA did; B transforms 6..9 (j bits 0, 1, 5, 6; relabeled:
  // 6, 7, 12, 13).
  static constexpr unsigned kMaskA = 0x7Du;
  static constexpr unsigned kMaskB = 0x63u;

  // X word stride of each index bit. A's lane bits get 1..16 (a warp's
  // scalar stores hit 32 banks); B's 16-byte reads take bits 6, 7 at strides
  // 1, 2; B's quarter-warp lanes 3, 4, 5 land on 16-byte slots 2, 4 and,
  // through a top stride padded by 4, slot 1, so each quarter warp reads 8
  // distinct slots. The other bits take 32, 64, ... 4096: distinct powers of
  // two below the top stride, so each element has its own word.
  static constexpr int kTop = 8192 + 4;
  __host__ __device__ static constexpr int Stride(int bit) {
    if (bit == 6) return 1;
    if (bit == 7) return 2;
    if (bit == 0) return 4;
    if (bit == 3) return 8;
    if (bit == 4) return 16;
    if (bit == 5) return kTop;
    return 32 << (bit == 1 ? 0 : bit == 2 ? 1 : Unlabel(bit) - 6);
  }
};
// Both placements checked at compile time.
template <class L>
struct MmaRowLayoutChecks {
  static_assert(PlacesEveryBit<2>(L::ALane, L::AWarp, L::AReg), "A places every index bit once");
  static_assert(PlacesEveryBit<2>(L::BLane, L::BWarp, L::BReg), "B places every index bit once");
  static_assert(L::BReg(2) == 0 && L::BReg(3) == 1 && L::BReg(4) == 2,
                "B's output vector: j bits 2..4");
  static_assert(Superincreasing(L::Stride), "one word an element");
  static_assert(L::AWarp(1) == L::AWarp(0) + 1 && L::AReg(4) == L::AReg(3) + 1 &&
                    L::AReg(5) == L::AReg(3) + 2 && L::AReg(6) == L::AReg(3) + 3,
                "LoadElement and ChunkElements: A's warp bits and chunk bits each consecutive");
  static_assert(DistinctSlots(L::Stride, L::ALane, 1) && DistinctSlots(L::Stride, L::BLane, 4),
                "no bank conflicts: A's scalar stores, B's 16-byte reads");
};
template struct MmaRowLayoutChecks<MmaRowLayout<false>>;
template struct MmaRowLayoutChecks<MmaRowLayout<true>>;

// The sum of Weight(Where(k)) over the set bits k of x: a compile-time
// constant when x is.
template <int (*Where)(int), int (*Weight)(int), int... K>
__device__ __forceinline__ int SumBits(int x, std::integer_sequence<int, K...>) {
  return (0 + ... + (((x >> K) & 1) * Weight(Where(K))));
}
template <int N, int (*Where)(int), int (*Weight)(int)>
__device__ __forceinline__ int SumBits(int x) {
  return SumBits<Where, Weight>(x, std::make_integer_sequence<int, N>{});
}
__host__ __device__ constexpr int ElementOffset(int bit) { return 1 << bit; }

// A row of d = 2^Layout::kLog2D in one block of kThreads threads, X laid
// out by Layout: each thread loads kChunks 16-byte vectors where
// Layout::LoadElement and Layout::ChunkElements say (each warp load 512
// contiguous bytes), and holds kValues float accumulators. kMinBlocks an SM,
// registers capped to match. At d = 16384, 64 KB of X: three blocks an SM on
// sm_90 (228 KB of shared memory an SM), 168 registers a thread at 128
// threads, 80 at 256.
template <typename T, int kThreadsA, class LayoutA, int kMinBlocksA = 3>
struct MmaRowShape {
  using Layout = LayoutA;
  static constexpr int kLog2D = Layout::kLog2D;
  static constexpr int kD = 1 << kLog2D;
  static constexpr int kThreads = kThreadsA;
  static constexpr int kValues = kD / kThreads;  // accumulators a thread
  static constexpr int kChunks = kValues / 8;    // 16-byte loads a thread
  static constexpr int kMinBlocks = kMinBlocksA;
  static constexpr int kSmem = XWords(Layout::Stride, kLog2D) * static_cast<int>(sizeof(float));
  static constexpr int kWarpBits = ConstLog2(kThreads / 32);
  static constexpr int kRegBits = kLog2D - 5 - kWarpBits;  // a thread's values: 2^kRegBits
  static_assert(sizeof(T) == 2, "the tensor-core path takes 16-bit values");
  static_assert(kSmem >= kD * static_cast<int>(sizeof(float)), "X holds the row in float");
  static_assert(kValues == 1 << kRegBits, "lane, warp and register bits make the row's");

  // Where Layout puts thread (lane, warp)'s first value: its word of X on
  // side A and on side B, and its element of the output row (side B).
  static __device__ __forceinline__ int XWordA(int lane, int warp) {
    return SumBits<5, Layout::ALane, Layout::Stride>(lane) +
           SumBits<kWarpBits, Layout::AWarp, Layout::Stride>(warp);
  }
  static __device__ __forceinline__ int XWordB(int lane, int warp) {
    return SumBits<5, Layout::BLane, Layout::Stride>(lane) +
           SumBits<kWarpBits, Layout::BWarp, Layout::Stride>(warp);
  }
  static __device__ __forceinline__ int OutputElement(int lane, int warp) {
    return SumBits<5, Layout::BLane, ElementOffset>(lane) +
           SumBits<kWarpBits, Layout::BWarp, ElementOffset>(warp);
  }
};

// One 16-byte vector a thread (8 values) as the B operand of two MMAs with
// H16: words 0, 1 into f[0..3], words 2, 3 into f[4..7]; kAdd accumulates.
template <typename T, bool kAdd>
__device__ __forceinline__ void RowMmaH16(float* f, const uint32_t (&h16)[4], uint4 v) {
  MmaM16N8K16<T, kAdd>(f[0], f[1], f[2], f[3], h16, v.x, v.y);
  MmaM16N8K16<T, kAdd>(f[4], f[5], f[6], f[7], h16, v.z, v.w);
}

template <typename T, bool kWarpLoads = false>
using MmaRowTraits = MmaRowShape<T, 128, MmaRowLayout<kWarpLoads>>;

// kHalves = 1: d = 16384, one block a row (only in a build with
// -DJAXHADA_MMA_ROW_WIDE=0 -DJAXHADA_TWO_MMA_ROW=0; rows of 16384 take the
// two-product kernel below).
// kHalves = 2: d = 32768, block h of a row's pair (the pair path above)
// computes H16384 (lo ± hi): the MMA adds hi's product with H16 to lo's,
// H16's signs flipped for h = 1, so the inputs stay exact in the MMA and the
// rest of the kernel is unchanged.
// A pair block stages its 64 KB of the row in X with cp.async and reads it
// back: loaded straight to registers, its 32 vectors a thread do not all fit
// beside the accumulators, so fewer loads are in flight (1.14-1.18 of the
// copy on the H200 against 1.05-1.10 staged, notes v12).
// kInPlace (pairs only): the output is the input (the launcher compares the
// pointers). Each block stages both halves as out of place, and the relaxed
// cluster barrier of the pair path's comment, arrived once a thread's
// copies have landed (after its MMAs, since notes v24) and waited on before
// its first store, keeps a block from overwriting its half before the
// partner has it: 1.049-1.058 of the copy on the H200, against 1.096-1.101
// with the multicast loads before it (notes v23, v24).
__device__ __forceinline__ void PairArriveRelaxed() {
#if __CUDA_ARCH__ >= 900
  asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
#else
  TrapIf(true);
#endif
}
template <typename T, int kHalves, bool kInPlace>
__global__ void __launch_bounds__(MmaRowTraits<T>::kThreads, MmaRowTraits<T>::kMinBlocks)
    HadamardMmaRowKernel(const T* in, T* out, int64_t rows, float scale) {
  WaitForPreviousGrids();
  using Tr = MmaRowTraits<T, kHalves == 2 && JAXHADA_PAIR_WARP_LOADS>;
  using Lay = typename Tr::Layout;
  static_assert(kHalves == 1 || kHalves == 2, "a row is one or two blocks' work");
  static_assert(kHalves == 2 || !kInPlace, "only a pair needs to know");
  constexpr bool kStaged = kHalves == 2;  // a single row loads to registers
  static_assert(!kStaged || Tr::kSmem >= 2 * Tr::kD * static_cast<int>(sizeof(T)),
                "the staged row fits in X");
  constexpr int64_t kRowD = int64_t{kHalves} * Tr::kD;
  extern __shared__ uint4 smem[];
  float* X = reinterpret_cast<float*>(smem);
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
  constexpr int kGroups = 4, kPerGroup = Tr::kChunks / kGroups;
  // Vector (p, c) of this thread at smem[(16 p + c) * 128 + t]: each
  // thread reads back only what it staged, so no barrier before that. Four
  // groups of chunks, so that the MMAs start on the first group while the
  // rest are in flight.
  auto stage_row = [&](int64_t r) {
    const T* src = in + r * kRowD + Lay::LoadElement(lane, warp);
#pragma unroll
    for (int g = 0; g < kGroups; ++g) {
#pragma unroll
      for (int p = 0; p < 2; ++p)
#pragma unroll
        for (int c = g * kPerGroup; c < (g + 1) * kPerGroup; ++c)
          CpAsync16(smem + (p * Tr::kChunks + c) * Tr::kThreads + t,
                    src + p * Tr::kD + c * Lay::ChunkElements());
      CpAsyncCommit();
    }
  };
  // A block's first row is staged before the setup below (H16, the X
  // addresses: some 85 instructions), which runs while it flies; the first
  // copy went out at instruction 125 of the SASS, now at 46. On the H200,
  // d = 32768: 1.039-1.045 / 1.050-1.057 of the copy at 2^27 elements ->
  // 1.027-1.032 / 1.037-1.046 (notes v28). The same in the f32 pair, and
  // the loads of the wide kernel's first row before its setup, gained
  // nothing or lost (the wide kernel then spilled a register).
  if constexpr (kStaged)
    if (blockIdx.x / kHalves < rows) stage_row(blockIdx.x / kHalves);
  float* const xa = X + Tr::XWordA(lane, warp);
  const float* const xb = X + Tr::XWordB(lane, warp);
  const int half = kHalves == 2 ? static_cast<int>(blockIdx.x & 1) : 0;
  const int out_base = half * Tr::kD + Tr::OutputElement(lane, warp);
  uint32_t h16[4], h16_hi[4];
  H16Fragment<T>(lane, h16);
#pragma unroll
  for (int i = 0; i < 4; ++i) h16_hi[i] = half ? h16[i] ^ 0x80008000u : h16[i];
  float v[128];
  // Chunk c's 8 values a thread (lo, and for a pair hi) through the MMA.
  auto mma_chunk = [&](int c, uint4 lo, uint4 hi) {
    RowMmaH16<T, false>(v + 8 * c, h16, lo);
    if constexpr (kHalves == 2) RowMmaH16<T, true>(v + 8 * c, h16_hi, hi);
  };
  // One block (pair) a row (a grid-stride loop only past 2^24 rows).
  for (int64_t row = blockIdx.x / kHalves; row < rows; row += gridDim.x / kHalves) {
    const bool first_row = row == blockIdx.x / kHalves;
    if constexpr (kStaged) {
      if (!first_row) {
        __syncthreads();  // the previous row's reads of X are done
        stage_row(row);
      }
#pragma unroll
      for (int g = 0; g < kGroups; ++g) {
        CpAsyncWaitPending<kGroups - 1>(kGroups - 1 - g);
#pragma unroll
        for (int c = g * kPerGroup; c < (g + 1) * kPerGroup; ++c)
          mma_chunk(c, smem[c * Tr::kThreads + t], smem[(Tr::kChunks + c) * Tr::kThreads + t]);
      }
      // In place: this thread's reads are done (its last cp.async group was
      // waited for above). Arriving here rather than between that wait and
      // the last group's MMAs took the in-place pair from 1.062-1.069 to
      // 1.049-1.058 of the copy at 256 MiB; arriving after the barrier
      // below, or after the exchange's, read 1.051-1.066 (notes v24). Why,
      // the SASS does not say: either way the in-place kernel waits for two
      // groups before its first MMA (out of place, one); this place only
      // puts the last group's MMAs ahead of the arrive.
      if constexpr (kInPlace) PairArriveRelaxed();
      __syncthreads();  // the whole row is out of X before the exchange writes it
      RegButterflies(v, Lay::kMaskA);
    } else {
      const T* src = in + row * kRowD + Lay::LoadElement(lane, warp);
      uint4 raw[Tr::kChunks];
#pragma unroll
      for (int c = 0; c < Tr::kChunks; ++c)
        raw[c] = *reinterpret_cast<const uint4*>(src + c * Lay::ChunkElements());
#pragma unroll
      for (int c = 0; c < Tr::kChunks; ++c) mma_chunk(c, raw[c], raw[c]);  // no hi
      RegButterflies(v, Lay::kMaskA);
      if (!first_row) __syncthreads();  // the previous row's reads of X are done
    }
#pragma unroll
    for (int j = 0; j < 128; ++j) xa[SumBits<Tr::kRegBits, Lay::AReg, Lay::Stride>(j)] = v[j];
    __syncthreads();
#pragma unroll
    for (int m = 0; m < 32; ++m)
      LoadQuad(xb + SumBits<Tr::kRegBits, Lay::BReg, Lay::Stride>(4 * m), v, m);
    RegButterflies(v, Lay::kMaskB);
    // Staged in place: the partner has read this block's half. (Waiting
    // earlier, after the exchange's barrier or after B's loads from X, read
    // 1.060-1.070 and 1.12 of the copy, notes v24.)
    if constexpr (kInPlace) PairWait(true);
    // Output vectors: registers j0 + 4i, i = 0..7 (index bits 0..2).
    T* dst = out + row * kRowD + out_base;
#pragma unroll
    for (int s = 0; s < 16; ++s) {
      const int j0 = (s & 3) | ((s >> 2) << 5);
      alignas(16) T e[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) e[i] = Num<T>::FromAcc(v[j0 | (i << 2)] * scale);
      *reinterpret_cast<uint4*>(dst + SumBits<Tr::kRegBits, Lay::BReg, ElementOffset>(j0)) =
          *reinterpret_cast<const uint4*>(e);
    }
  }
}

// ------------------------------------------------ wide tensor-core row path
// For 16-bit rows at d = 8192 and rows of 4096 two a block; at 16384 only
// in a build with -DJAXHADA_TWO_MMA_ROW=0, the two-product kernel below
// serving them otherwise (this one's d = 16384 figures are from before it).
// The pair path keeps the 128-thread kernel above for its halves: this one
// as a pair, loading to registers or staging in X, measured 1.22 and
// 1.25-1.32 of the copy (notes v12). The same MMA with 64 values a thread. A block of
// 2^(L-6) threads (128 at d = 8192, 256 at 16384) holds the row, 64 float
// accumulators and 8 loads of 16 bytes a thread, because on the H200 a
// thread with 16 loads in flight costs bandwidth that one with 8 does not,
// even at the same bytes in flight an SM: at d = 16384 this kernel runs
// about 4% closer to the copy than the 128-thread one there (notes v11,
// `tests/gpu/shape_copy.cu`).
//   A (load): lane l of warp w reads the 16-byte vectors at elements
//     8 l + 256 c + 2048 w, c = 0..7: each warp load is 512 contiguous
//     bytes, and a warp's eight cover 4 KB. The MMA does index bits 0, 1,
//     3, 4 and leaves bits 5, 1, 2 and the chunk bits 8..10 in registers,
//     where butterflies do 5, 2 and as many chunk bits as there are warp
//     bits (8..10 at 16384, 8, 9 at 8192), and bits 6, 7 on lane bits 0, 1,
//     where shuffles do them.
//   B (store): registers hold the output vector (bits 0..2), A's warp bits
//     (11.. L-1) and at d = 8192 chunk bit 10: the bits left, done there;
//     warps hold the chunk bits A did; each warp store writes 512
//     contiguous bytes.
// -DJAXHADA_MMA_ROW_WIDE=0 -DJAXHADA_TWO_MMA_ROW=0 builds the 128-thread
// form at d = 16384, to time against.
#ifndef JAXHADA_MMA_ROW_WIDE
#define JAXHADA_MMA_ROW_WIDE 1
#endif

// A's chunks hold index bits 8..10 and its warps 11 and up (B the other way
// round), so that each warp loads 4 KB of the row in one piece rather than
// eight pieces 4 KB apart: a copy of this shape ran at 1.02 of cudaMemcpy
// against 1.03 (tests/gpu/layout_copy.cu, notes v18), and the kernel at
// d = 16384 0.3-0.6 points closer to the copy. -DJAXHADA_WIDE_WARP_LOADS=0
// builds the previous placement at d = 16384 (chunks 11..13, warps 8..10;
// with -DJAXHADA_TWO_MMA_ROW=0), to time against; the smaller rows have no
// other.
#ifndef JAXHADA_WIDE_WARP_LOADS
#define JAXHADA_WIDE_WARP_LOADS 1
#endif
template <int L>
struct MmaRowWideLayout {
  static constexpr int kLog2D = L;
  static constexpr int kWarpBits = L - 11;
  static_assert(L >= 13 && L <= 14, "d = 8192 or 16384");
  static constexpr bool kWarpLoads = JAXHADA_WIDE_WARP_LOADS || L != 14;
  static constexpr int kChunkBit = kWarpLoads ? 8 : 11;  // A's chunk bits from here
  static constexpr int kWarpBit = kWarpLoads ? 11 : 8;   // A's warp bits from here
  // A, after the MMA. Register j = 8 c + 4 f + r, as in MmaRowLayout.
  __host__ __device__ static constexpr int ALane(int b) { return b == 0 ? 6 : b == 1 ? 7 : b == 2 ? 0 : b; }
  __host__ __device__ static constexpr int AWarp(int b) { return kWarpBit + b; }
  __host__ __device__ static constexpr int AReg(int k) { return k == 0 ? 5 : k == 1 ? 1 : k == 2 ? 2 : kChunkBit + k - 3; }
  // B. Registers: the output vector, A's warp bits, then A's chunk bits
  // that no warp bit of B takes. Lanes 3..7; warps A's first chunk bits.
  __host__ __device__ static constexpr int BReg(int k) {
    return k < 3 ? k : k < 3 + kWarpBits ? kWarpBit + k - 3 : kChunkBit + k - 3;
  }
  __host__ __device__ static constexpr int BLane(int b) { return 3 + b; }
  __host__ __device__ static constexpr int BWarp(int b) { return kChunkBit + b; }
  // A's load: thread (lane, warp)'s first element, and the elements between
  // its chunks.
  __host__ __device__ static constexpr int LoadElement(int lane, int warp) { return 8 * lane + (warp << kWarpBit); }
  __host__ __device__ static constexpr int ChunkElements() { return 1 << kChunkBit; }
  // Index bits 5, 2 and the chunk bits B's warps take; 6, 7; A's warp bits
  // and the rest of the chunk bits.
  static constexpr unsigned kMaskA = 0x05u | (((1u << kWarpBits) - 1) << 3);
  static constexpr unsigned kLaneMaskA = 0x03u;
  static constexpr unsigned kMaskB = 0x38u;

  // X word stride of each index bit. A stores one word at a time, its lane
  // bits (6, 7, 0, 3, 4) on strides 2, 4, 1, 8, 16: 32 banks. B reads 8
  // bytes at a time (index bit 0 on stride 1), served a half warp at a
  // time, whose lane bits (3, 4, 5, 6) must then hit 16 distinct 8-byte
  // slots: 8 and 16 give slots 4 and 8, 2 slot 1, and bit 5 takes a top
  // stride padded by 4 for slot 2. The other bits take 32 .. d / 4.
  static constexpr int kTop = 1 << (L - 1);
  __host__ __device__ static constexpr int Stride(int bit) {
    switch (bit) {
      case 0: return 1;
      case 6: return 2;
      case 7: return 4;
      case 3: return 8;
      case 4: return 16;
      case 5: return kTop + 4;
      case 1: return 32;
      case 2: return 64;
      default: return 128 << (bit - 8);  // 8 .. L - 1
    }
  }
  // Every index bit is transformed once: MMA, A's registers and lanes, B's
  // registers.
  static constexpr bool TransformsEachBitOnce() {
    unsigned done = (1u << 0) | (1u << 1) | (1u << 3) | (1u << 4);
    for (int k = 0; k < 6; ++k)
      if ((kMaskA >> k) & 1u) {
        if (done & (1u << AReg(k))) return false;
        done |= 1u << AReg(k);
      }
    for (int k = 0; k < 5; ++k)
      if ((kLaneMaskA >> k) & 1u) {
        if (done & (1u << ALane(k))) return false;
        done |= 1u << ALane(k);
      }
    for (int k = 0; k < 6; ++k)
      if ((kMaskB >> k) & 1u) {
        if (done & (1u << BReg(k))) return false;
        done |= 1u << BReg(k);
      }
    return done == (1u << L) - 1;
  }
};
template <int L>
struct MmaRowWideLayoutChecks {
  using Lay = MmaRowWideLayout<L>;
  static_assert(PlacesEveryBit<Lay::kWarpBits, L>(Lay::ALane, Lay::AWarp, Lay::AReg) &&
                    PlacesEveryBit<Lay::kWarpBits, L>(Lay::BLane, Lay::BWarp, Lay::BReg),
                "A and B place every index bit once");
  static_assert(Lay::TransformsEachBitOnce(), "every index bit transformed once");
  static_assert(Superincreasing(Lay::Stride, L), "one word an element");
  static_assert(DistinctSlots(Lay::Stride, Lay::ALane, 1) && DistinctSlots(Lay::Stride, Lay::BLane, 2),
                "no bank conflicts: A's scalar stores, B's 8-byte reads");
  static_assert(Lay::Stride(0) == 1 && Lay::BReg(0) == 0,
                "B's 8-byte reads: index bit 0, register bit 0, stride 1");
};
template struct MmaRowWideLayoutChecks<13>;
template struct MmaRowWideLayoutChecks<14>;

// -DJAXHADA_ROW_TWO_ROWS=0 sends f32 rows of d = 8192 down the block path
// instead of two at a time through the f32 row kernel, to time against.
#ifndef JAXHADA_ROW_TWO_ROWS
#define JAXHADA_ROW_TWO_ROWS 1
#endif
// f32 rows of d = 4096 go four at a time through the same kernel, the rows
// past a multiple of four to the warp path: on the H200 1.011-1.015 /
// 1.009-1.016 of the copy at 256 MiB, out of place / in place, against the
// warp path's 1.030-1.032 / 1.042-1.048 (notes v27; before v27's loads
// fix, the same design read as the warp path, v26).
// -DJAXHADA_ROW_FOUR_ROWS=0 keeps them on the warp path, to time against.
#ifndef JAXHADA_ROW_FOUR_ROWS
#define JAXHADA_ROW_FOUR_ROWS 1
#endif
// -DJAXHADA_WIDE_8192=0 sends 16-bit rows of d = 8192 down the block path
// instead, as before, to time against.
#ifndef JAXHADA_WIDE_8192
#define JAXHADA_WIDE_8192 1
#endif
// Blocks an SM at d = 8192 (X 32 KB): five fit the 196 KB shared-memory
// configuration, which leaves L1 60 KB; six would need all 228 KB and leave
// L1 its 28 KB minimum, where loads measured 10-14 points slower (notes v20).
#ifndef JAXHADA_WIDE_8192_BLOCKS
#define JAXHADA_WIDE_8192_BLOCKS 5
#endif

// 16-bit rows of d = 4096 go two at a time through the d = 8192 form
// (kTwoRows), an odd last row to the warp path: on the H200 1.008-1.016 /
// 1.027-1.035 of the copy at 256 MiB, out of place / in place, against the
// warp path's 1.031-1.042 / 1.050-1.057; the wide kernel at L = 12 on its
// own (64 threads, ten blocks an SM) read 1.10 / 1.14 (notes v22).
// -DJAXHADA_WIDE_4096=0 keeps them on the warp path, to time against.
#ifndef JAXHADA_WIDE_4096
#define JAXHADA_WIDE_4096 1
#endif

// Where `scale` is a value of T (ScaleInMma: 1/sqrt(d) at d = 4096 and
// 16384, and 1), the wide kernel, and the two-product kernel at 16384, put
// it in H16's entries (kScaleInMma): the MMA's products with it are
// exact, as with ±1, so the MMA's output comes out scaled (for a power of
// two, bit for bit as when multiplied after the butterflies) and B stores
// without a multiply, 64 FMULs a thread fewer: the wide kernel read
// 1.041-1.047 / 1.048-1.057 of the copy at d = 16384, 2^27 elements,
// against 1.046-1.053 / 1.053-1.061 (notes v28). The same FMULs folded
// into B's last butterflies instead (an FMUL and two FFMAs a pair where two
// FADDs and two FMULs were) read 0.5-1 point slower than either.
// -DJAXHADA_SCALE_IN_MMA=0 multiplies at the store always, to time against.
#ifndef JAXHADA_SCALE_IN_MMA
#define JAXHADA_SCALE_IN_MMA 1
#endif
// Only scales from 2^-14 to 1 in magnitude: a product with one cannot
// overflow where the sum scaled at the store might not, and a bf16 input's
// product is subnormal in float only below 2^-112 (2^-119 at d = 16384).
template <typename T>
bool ScaleInMma(float scale) {
  uint32_t bits = 0;
  std::memcpy(&bits, &scale, sizeof bits);
  const int exponent = static_cast<int>((bits >> 23) & 0xFFu) - 127;
  const bool fits = std::is_same_v<T, __nv_bfloat16> ? (bits & 0xFFFFu) == 0  // 7 mantissa bits
                                                     : (bits & 0x1FFFu) == 0;  // 10
  const bool at_most_one = exponent < 0 || (exponent == 0 && (bits & 0x7FFFFFu) == 0);
  return JAXHADA_SCALE_IN_MMA && fits && exponent >= -14 && at_most_one;
}

// At d = 16384 two blocks an SM, with registers to spare, measured 5% slower
// than three (notes v11).
template <typename T, int L>
using MmaRowWideTraits =
    MmaRowShape<T, 32 << MmaRowWideLayout<L>::kWarpBits, MmaRowWideLayout<L>,
                L == 14 ? 3 : JAXHADA_WIDE_8192_BLOCKS>;

// The wide kernel's steps. A: a thread's 8 loaded vectors through the MMA,
// then A's butterflies in registers and across lanes.
template <typename T, class Lay>
__device__ __forceinline__ void TransformLayoutA(const uint4 (&raw)[8], const uint32_t (&h16)[4],
                                                 int lane, float (&v)[64]) {
#pragma unroll
  for (int c = 0; c < 8; ++c) RowMmaH16<T, false>(v + 8 * c, h16, raw[c]);
  RegButterflies(v, Lay::kMaskA);
  LaneButterflies(v, Lay::kLaneMaskA, lane);
}
// A's writes of X, one word at a time.
template <class Tr, class Lay>
__device__ __forceinline__ void WriteLayoutA(float* xa, const float (&v)[64]) {
#pragma unroll
  for (int j = 0; j < 64; ++j) xa[SumBits<Tr::kRegBits, Lay::AReg, Lay::Stride>(j)] = v[j];
}
// B's reads of X: 8 bytes a read (index bit 0 on register bit 0 and
// stride 1).
template <class Tr, class Lay>
__device__ __forceinline__ void ReadLayoutB(const float* xb, float (&v)[64]) {
#pragma unroll
  for (int m = 0; m < 32; ++m) {
    const float2 q =
        *reinterpret_cast<const float2*>(xb + SumBits<Tr::kRegBits, Lay::BReg, Lay::Stride>(2 * m));
    v[2 * m] = q.x;
    v[2 * m + 1] = q.y;
  }
}
// B's stores: output vector s is registers 8 s .. 8 s + 7.
template <typename T, class Tr, class Lay>
__device__ __forceinline__ void StoreLayoutB(T* dst, const float (&v)[64], float scale) {
#pragma unroll
  for (int s = 0; s < 8; ++s)
    StoreVec<T>(dst + SumBits<Tr::kRegBits, Lay::BReg, ElementOffset>(8 * s), v, 8 * s, scale);
}

// kTwoRows (L = 13): two rows of d = 4096 a block, as one row of 8192 whose
// top index bit (A's warp bit 12, B's register bit 4) is left alone.
// kScaleInMma: the launcher has checked that scale is a value of T that
// the MMA may take (ScaleInMma).
template <typename T, int L, bool kTwoRows = false, bool kScaleInMma = false>
__global__ void __launch_bounds__(MmaRowWideTraits<T, L>::kThreads, MmaRowWideTraits<T, L>::kMinBlocks)
    HadamardMmaRowWideKernel(const T* in, T* out, int64_t rows, float scale) {
  WaitForPreviousGrids();
  using Tr = MmaRowWideTraits<T, L>;
  using Lay = MmaRowWideLayout<L>;
  static_assert(Tr::kValues == 64 && Tr::kChunks == 8, "64 values, 8 loads a thread");
  static_assert(!kTwoRows || (L == 13 && Lay::BReg(4) == 12 && ((Lay::kMaskB >> 4) & 1u)),
                "two rows: index bit 12 is one of B's transformed register bits");
  constexpr unsigned kMaskB = kTwoRows ? Lay::kMaskB & ~0x10u : Lay::kMaskB;
  extern __shared__ uint4 smem[];
  float* X = reinterpret_cast<float*>(smem);
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
  float* const xa = X + Tr::XWordA(lane, warp);
  const float* const xb = X + Tr::XWordB(lane, warp);
  const int out_base = Tr::OutputElement(lane, warp);
  uint32_t h16[4];
  if constexpr (kScaleInMma)
    H16Fragment<T>(lane, h16, Num<T>::FromAcc(scale));
  else
    H16Fragment<T>(lane, h16);
  // One block a row (a grid-stride loop only past 2^24 rows).
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* src = in + row * Tr::kD + Lay::LoadElement(lane, warp);
    uint4 raw[Tr::kChunks];
#pragma unroll
    for (int c = 0; c < Tr::kChunks; ++c)
      raw[c] = *reinterpret_cast<const uint4*>(src + c * Lay::ChunkElements());
    float v[64];
    TransformLayoutA<T, Lay>(raw, h16, lane, v);
    // From a block's second row on: the previous row's reads of X are done.
    if (row != blockIdx.x) __syncthreads();
    WriteLayoutA<Tr, Lay>(xa, v);
    __syncthreads();
    ReadLayoutB<Tr, Lay>(xb, v);
    RegButterflies(v, kMaskB);
    StoreLayoutB<T, Tr, Lay>(out + row * Tr::kD + out_base, v, kScaleInMma ? 1.0f : scale);
  }
}

// The wide kernel's form for this scale (ScaleInMma).
template <typename T, int L, bool kTwoRows = false>
auto WideKernelFor(float scale) {
  return ScaleInMma<T>(scale) ? HadamardMmaRowWideKernel<T, L, kTwoRows, true>
                              : HadamardMmaRowWideKernel<T, L, kTwoRows>;
}

// ------------------------------------- two-product tensor-core row path
// 16-bit rows of d = 16384: the wide kernel's block (256 threads, 64 values
// and 8 loads of 16 bytes a thread, three blocks an SM), with a second
// tensor-core product where the wide kernel shuffles and adds.
//   The first product (H16 in T, exact on the 16-bit inputs) does index
//     bits 0, 1, 3, 4, as in the wide kernel. Its output fragments, as they
//     lie in the registers, are the B operands of a second m16n8k16 product
//     whose k bits are the first one's n bits (index bit 5 in a register
//     pair; 6, 7 on lane bits 0, 1) and the choice between a 16-byte
//     vector's two products (bit 2). So the second product (H16 in bf16)
//     does bits 2, 5, 6, 7: two of them lane bits, which the wide kernel did
//     with 128 shuffles and 128 FFMAs a thread, and two register bits, 128
//     FADDs.
//   Its operands are float, so each goes in as a bf16 pair hi + lo (hi: the
//     value truncated to bf16, so that the rest is exact in float; lo: the
//     rest rounded to bf16), two products summed in float: the value to
//     2^-16 of itself, far below a 16-bit output's rounding (2^-9 for bf16,
//     2^-12 for f16). Measured at d = 16384, the bf16 error is the wide
//     kernel's to five digits, f16's 0.02% above it (notes v29). An infinite
//     value in the first product's output (an infinite input) makes its rest
//     inf - inf, so such a row comes out NaN rather than partly infinite
//     (mapping that rest to a finite value cost bf16 1.3 points, notes v30).
//   After it, lane bits 0..4 hold index bits 3..7, and a thread's 8 values
//     of a chunk are bits 0..2: 8 consecutive elements, each product's four
//     registers two pairs of them (bits 0, 2). Registers do the chunk bits
//     8..10; X trades them for the warp bits 11..13 in 16-byte writes and
//     reads (16 of each a thread, against the wide kernel's 64 scalar
//     writes and 32 8-byte reads), and B does those in registers and stores
//     each vector as it stands.
// 864 instructions a thread a row (bf16; 928 where B multiplies by the
// scale) against the wide kernel's 1080 (1128). At 2^27 elements on the H200:
// bf16 1.014-1.016 / 1.028-1.034 of the copy against the wide kernel's
// 1.043-1.047 / 1.052-1.056, f16 1.009-1.013 / 1.026-1.029 against
// 1.044-1.048 / 1.049-1.056 (notes v29).
// The scale: where ScaleInMma holds (1/sqrt(16384) = 2^-7, and 1) it is
// the first product's entries, as in the wide kernel, so that no sum can
// overflow where the scaled result does not; any other scale's sign is, and
// B multiplies by its magnitude at the store. The second product's entries
// (±1, bf16) are built from the first's in each chunk, from a runtime value:
// where both were the same constant, ptxas shared one fragment between the
// products, scheduled them so that the kernel spilled 80 bytes, and it ran
// at 1.25 of the copy.
// -DJAXHADA_TWO_MMA_ROW=0 builds the wide kernel for d = 16384, to time
// against (the CI's SASS tests expect the default build).
#ifndef JAXHADA_TWO_MMA_ROW
#define JAXHADA_TWO_MMA_ROW 1
#endif
struct TwoMmaRowLayout {
  static constexpr int kLog2D = 14;
  static constexpr int kThreads = 256;
  static constexpr int kMinBlocks = 3;
  static constexpr int kSmem = (1 << kLog2D) * static_cast<int>(sizeof(float));
  // After the second product, A: register j = 8 c + 4 (index bit 1) +
  // 2 (bit 2) + (bit 0), c the chunk bits 8..10; lane bit b index bit 3 + b;
  // warps 11..13. B: the same registers but A's warp bits in place of the
  // chunk bits, which its warps hold.
  __host__ __device__ static constexpr int AReg(int k) {
    return k == 0 ? 0 : k == 1 ? 2 : k == 2 ? 1 : 5 + k;
  }
  __host__ __device__ static constexpr int BReg(int k) { return k < 3 ? AReg(k) : 8 + k; }
  __host__ __device__ static constexpr int Lane(int b) { return 3 + b; }
  __host__ __device__ static constexpr int AWarp(int b) { return 11 + b; }
  __host__ __device__ static constexpr int BWarp(int b) { return 8 + b; }
  // Element i of an output vector is register VectorRegister(i) of its 8.
  __host__ __device__ static constexpr int VectorRegister(int i) {
    return (i & 1) | ((i & 2) << 1) | ((i & 4) >> 1);
  }
  // X word stride of each index bit: 0 and 2 at 1 and 2 (a product's four
  // registers, one float4), 3..5 at 4, 8, 16 (a quarter warp's 16-byte
  // accesses on 8 distinct slots), 1 at 32, the rest at their own place.
  __host__ __device__ static constexpr int Stride(int bit) {
    switch (bit) {
      case 0: return 1;
      case 2: return 2;
      case 3: return 4;
      case 4: return 8;
      case 5: return 16;
      case 1: return 32;
      default: return 1 << bit;  // 6 .. 13
    }
  }
  static constexpr bool VectorsInOrder() {
    for (int i = 0; i < 8; ++i) {
      int element = 0;
      for (int k = 0; k < 3; ++k) element += ((VectorRegister(i) >> k) & 1) << BReg(k);
      if (element != i) return false;
    }
    return true;
  }
};
static_assert(PlacesEveryBit<3>(TwoMmaRowLayout::Lane, TwoMmaRowLayout::AWarp, TwoMmaRowLayout::AReg) &&
                  PlacesEveryBit<3>(TwoMmaRowLayout::Lane, TwoMmaRowLayout::BWarp, TwoMmaRowLayout::BReg),
              "A and B place every index bit once");
static_assert(TwoMmaRowLayout::AReg(0) == 0 && TwoMmaRowLayout::AReg(1) == 2 &&
                  TwoMmaRowLayout::Stride(0) == 1 && TwoMmaRowLayout::Stride(2) == 2,
              "a product's four registers (j bits 0, 1) are one float4 of X");
static_assert(TwoMmaRowLayout::VectorsInOrder(), "VectorRegister lists a vector's elements");
static_assert(Superincreasing(TwoMmaRowLayout::Stride) &&
                  XWords(TwoMmaRowLayout::Stride) * static_cast<int>(sizeof(float)) == TwoMmaRowLayout::kSmem,
              "one word an element, no padding");
static_assert(DistinctSlots(TwoMmaRowLayout::Stride, TwoMmaRowLayout::Lane, 4),
              "no bank conflicts: 16-byte writes and reads");
static_assert(TwoMmaRowLayout::Lane(4) == TwoMmaRowLayout::Lane(0) + 4 &&
                  TwoMmaRowLayout::AWarp(2) == TwoMmaRowLayout::AWarp(0) + 2 &&
                  TwoMmaRowLayout::AReg(5) == TwoMmaRowLayout::AReg(3) + 2,
              "the loads' shifts: A's lane, warp and chunk bits each consecutive");

// x0, x1 as bf16 pairs hi + lo (low halves x0's): hi their top 16 bits,
// lo the rest, exact in float, rounded to bf16. (±inf: hi ±inf, lo NaN.)
__device__ __forceinline__ void SplitBf16(float x0, float x1, uint32_t& hi, uint32_t& lo) {
  const uint32_t b0 = __float_as_uint(x0), b1 = __float_as_uint(x1);
  hi = __byte_perm(b0, b1, 0x7632);
  const __nv_bfloat162 rest = __floats2bfloat162_rn(x0 - __uint_as_float(b0 & 0xFFFF0000u),
                                                    x1 - __uint_as_float(b1 & 0xFFFF0000u));
  lo = *reinterpret_cast<const uint32_t*>(&rest);
}

// kScaleInMma: the launcher has checked that scale is a value of T that
// the first product may take (ScaleInMma).
template <typename T, bool kScaleInMma>
__global__ void __launch_bounds__(TwoMmaRowLayout::kThreads, TwoMmaRowLayout::kMinBlocks)
    HadamardTwoMmaRowKernel(const T* in, T* out, int64_t rows, float scale) {
  WaitForPreviousGrids();
  using Lay = TwoMmaRowLayout;
  constexpr int kD = 1 << Lay::kLog2D;
  extern __shared__ uint4 smem[];
  float* X = reinterpret_cast<float*>(smem);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const T entry = Num<T>::FromAcc(kScaleInMma ? scale : copysignf(1.0f, scale));
  const float store_scale = kScaleInMma ? 1.0f : fabsf(scale);
  uint32_t h16[4];
  H16Fragment<T>(lane, h16, entry);
  // h16's bits XOR these are H16's in bf16, ±1: the second product's A
  // operand, built from h16 in each chunk (volatile: not hoisted) so that
  // it holds no registers through the row.
  const uint32_t to_bf16 = (Bits16(entry) ^ kOneBits<__nv_bfloat16>) * 0x00010001u;
  const int lane_word = SumBits<5, Lay::Lane, Lay::Stride>(lane);
  float* const xa = X + lane_word + SumBits<3, Lay::AWarp, Lay::Stride>(warp);
  const float* const xb = X + lane_word + SumBits<3, Lay::BWarp, Lay::Stride>(warp);
  // One block a row (a grid-stride loop only past 2^24 rows).
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    // A: lane l of warp w loads elements 8 l + 2048 w + 256 c (the wide
    // kernel's 4 KB a warp in one piece), as shifts by where A puts the
    // lane, warp and chunk bits.
    const T* src = in + row * kD + (lane << Lay::Lane(0)) + (warp << Lay::AWarp(0));
    uint4 raw[8];
#pragma unroll
    for (int c = 0; c < 8; ++c) raw[c] = *reinterpret_cast<const uint4*>(src + (c << Lay::AReg(3)));
    float v[64];
#pragma unroll
    for (int c = 0; c < 8; ++c) RowMmaH16<T, false>(v + 8 * c, h16, raw[c]);
#pragma unroll
    for (int c = 0; c < 8; ++c) {
      uint32_t h16_bf16[4];
#pragma unroll
      for (int i = 0; i < 4; ++i)
        asm volatile("xor.b32 %0, %1, %2;" : "=r"(h16_bf16[i]) : "r"(h16[i]), "r"(to_bf16));
      // The first product's output, registers 8 c + 4 f + r: r = 0, 1 its
      // n bit (index bit 5), r = 2, 3 the same with m bit 3 (index bit 1, s
      // below), f the vector half (index bit 2): f = 0 is the second
      // product's b0 (k bits 0..2), f = 1 its b1 (k bit 3). Both s are
      // split first, since each one's output lands where the other's input
      // lies.
      float* const first = v + 8 * c;
      uint32_t b0_hi[2], b0_lo[2], b1_hi[2], b1_lo[2];
#pragma unroll
      for (int s = 0; s < 2; ++s) {
        SplitBf16(first[2 * s], first[2 * s + 1], b0_hi[s], b0_lo[s]);
        SplitBf16(first[4 + 2 * s], first[5 + 2 * s], b1_hi[s], b1_lo[s]);
      }
#pragma unroll
      for (int s = 0; s < 2; ++s) {
        float* const d = first + 4 * s;
        MmaM16N8K16<__nv_bfloat16, false>(d[0], d[1], d[2], d[3], h16_bf16, b0_hi[s], b1_hi[s]);
        MmaM16N8K16<__nv_bfloat16, true>(d[0], d[1], d[2], d[3], h16_bf16, b0_lo[s], b1_lo[s]);
      }
    }
    RegButterflies(v, 0x38u);  // the chunk bits, 8..10
    // From a block's second row on: the previous row's reads of X are done.
    if (row != blockIdx.x) __syncthreads();
#pragma unroll
    for (int m = 0; m < 16; ++m)
      *reinterpret_cast<float4*>(xa + SumBits<6, Lay::AReg, Lay::Stride>(4 * m)) =
          make_float4(v[4 * m], v[4 * m + 1], v[4 * m + 2], v[4 * m + 3]);
    __syncthreads();
#pragma unroll
    for (int m = 0; m < 16; ++m) {
      const float4 q = *reinterpret_cast<const float4*>(xb + SumBits<6, Lay::BReg, Lay::Stride>(4 * m));
      v[4 * m] = q.x, v[4 * m + 1] = q.y, v[4 * m + 2] = q.z, v[4 * m + 3] = q.w;
    }
    RegButterflies(v, 0x38u);  // A's warp bits, 11..13
    // B: lane l of warp w stores elements 8 l + 256 w + 2048 r, r = 0..7
    // (A's warp bits): each warp store 512 contiguous bytes.
    T* const dst = out + row * kD + SumBits<5, Lay::Lane, ElementOffset>(lane) +
                   SumBits<3, Lay::BWarp, ElementOffset>(warp);
#pragma unroll
    for (int r = 0; r < 8; ++r) {
      alignas(16) T e[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) e[i] = Num<T>::FromAcc(v[8 * r + Lay::VectorRegister(i)] * store_scale);
      *reinterpret_cast<uint4*>(dst + SumBits<6, Lay::BReg, ElementOffset>(8 * r)) =
          *reinterpret_cast<const uint4*>(e);
    }
  }
}

// The two-product kernel's form for this scale (ScaleInMma), as
// WideKernelFor picks the wide kernel's.
template <typename T>
auto TwoMmaKernelFor(float scale) {
  return ScaleInMma<T>(scale) ? HadamardTwoMmaRowKernel<T, true> : HadamardTwoMmaRowKernel<T, false>;
}

// --------------------------------------------------------- strided pass (f64)
// f64 rows longer than 1024 take two passes: the warp path transforms each
// 1024-element segment, then this kernel combines the 2^K segments of a row:
// one thread a column (row, j), elements j + 1024 k. Consecutive threads take
// consecutive j, so each access is coalesced. In place on `data`.

constexpr int kSegLog2 = 10;

template <typename T, int K>
__global__ void __launch_bounds__(256)
    HadamardStridedKernel(T* data, int64_t columns, typename Num<T>::Acc scale) {
  WaitForPreviousGrids();
  using Acc = typename Num<T>::Acc;
  constexpr int64_t kSeg = int64_t{1} << kSegLog2;
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t c = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; c < columns; c += stride) {
    T* p = data + (c >> kSegLog2) * (kSeg << K) + (c & (kSeg - 1));
    Acc v[1 << K];
#pragma unroll
    for (int k = 0; k < (1 << K); ++k) v[k] = Num<T>::ToAcc(p[k * kSeg]);
    RegButterflies(v, (1u << K) - 1);
#pragma unroll
    for (int k = 0; k < (1 << K); ++k) p[k * kSeg] = Num<T>::FromAcc(v[k] * scale);
  }
}

// ------------------------------------------------------------ launchers

// Blocks for a grid-stride kernel: enough to cover the work, capped so that
// the index arithmetic and gridDim.x stay far from their limits.
inline unsigned GridFor(int64_t work_items, int per_block) {
  const int64_t blocks = (work_items + per_block - 1) / per_block;
  constexpr int64_t kCap = int64_t{1} << 24;
  return static_cast<unsigned>(blocks < kCap ? (blocks < 1 ? 1 : blocks) : kCap);
}

constexpr int kMaxDevices = 64;

// What the launcher needs on every call but never changes for a kernel on a
// device (its wave, whether it may take the pair path, the device's compute
// capability): `query(value)` runs once per device and its positive result
// is cached (0: not known yet). Not a stream operation, so graph capture is
// unaffected.
template <class Query>
cudaError_t OncePerDevice(std::atomic<int64_t> (&cache)[kMaxDevices], int device, int64_t& value,
                          Query query) {
  value = device < kMaxDevices ? cache[device].load(std::memory_order_relaxed) : 0;
  if (value > 0) return cudaSuccess;
  const cudaError_t err = query(value);
  if (err == cudaSuccess && value > 0 && device < kMaxDevices)
    cache[device].store(value, std::memory_order_relaxed);
  return err;
}

// Whether the code that runs on this device was compiled for sm_90 or
// newer: the kernels' PTX version decides, not the device's. A build whose
// newest code is sm_80 PTX, JIT-compiled for a newer GPU, has neither the
// wait of WaitForPreviousGrids (so its kernels must not overlap the one
// ahead of them: LaunchKernel) nor the pair path's cluster barrier (its
// PairArrive traps: PairPathRuns). Every kernel here comes from this
// translation unit, so one of them answers for all.
inline cudaError_t CodeIsSm90(int device, bool& yes) {
  static std::atomic<int64_t> cached[kMaxDevices] = {};  // 1: no, 2: yes
  int64_t answer = 0;
  const cudaError_t err = OncePerDevice(cached, device, answer, [](int64_t& value) {
    cudaFuncAttributes attributes = {};
    const cudaError_t e = cudaFuncGetAttributes(&attributes, HadamardWarpKernel<float, 0>);
    value = attributes.ptxVersion >= 90 ? 2 : 1;
    return e;
  });
  yes = err == cudaSuccess && answer == 2;
  return err;
}

// Every launch goes through here: `grid` blocks of `threads` with `smem`
// bytes of dynamic shared memory, in clusters of `cluster_blocks` when that
// is more than one, and where the code is sm_90 (CodeIsSm90), allowed to start
// before the previous kernel in the stream ends.
// Under CUDA graph capture that becomes a programmatic edge (or an ordinary
// one after a node that is not a kernel).
// Clusters (the pair path) ask for the load-balancing scheduling policy,
// which lets the hardware place a pair's two blocks wherever slots are free
// rather than by its default rule; the pair still starts as one cluster,
// both blocks resident together. On the H200 at d = 32768 that took 16-bit
// 0.4-1.0 points closer to the copy out of place (0.2 in place) and left
// f32 where it was (two A/B calls, notes v30); the spread policy gained
// nothing. -DJAXHADA_CLUSTER_LOAD_BALANCING=0 keeps the default, to time
// against.
#ifndef JAXHADA_CLUSTER_LOAD_BALANCING
#define JAXHADA_CLUSTER_LOAD_BALANCING 1
#endif
template <typename... Params, typename... Args>
cudaError_t LaunchKernel(void (*kernel)(Params...), unsigned grid, int threads, int smem,
                         int cluster_blocks, cudaStream_t stream, Args... args) {
  int device = 0;
  bool dependent = false;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess && JAXHADA_PDL) err = CodeIsSm90(device, dependent);
  if (err != cudaSuccess) return err;
  cudaLaunchAttribute attributes[3] = {};
  unsigned count = 0;
  if (cluster_blocks > 1) {
    attributes[count].id = cudaLaunchAttributeClusterDimension;
    attributes[count].val.clusterDim.x = cluster_blocks;
    attributes[count].val.clusterDim.y = 1;
    attributes[count].val.clusterDim.z = 1;
    ++count;
    if (JAXHADA_CLUSTER_LOAD_BALANCING) {
      attributes[count].id = cudaLaunchAttributeClusterSchedulingPolicyPreference;
      attributes[count].val.clusterSchedulingPolicyPreference = cudaClusterSchedulingPolicyLoadBalancing;
      ++count;
    }
  }
  if (dependent) {
    attributes[count].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attributes[count].val.programmaticStreamSerializationAllowed = 1;
    ++count;
  }
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(grid);
  config.blockDim = dim3(threads);
  config.dynamicSmemBytes = smem;
  config.stream = stream;
  config.attrs = count > 0 ? attributes : nullptr;
  config.numAttrs = count;
  const cudaError_t launched = cudaLaunchKernelEx(&config, kernel, args...);
  // The runtime also records a failed launch as this thread's last error:
  // read it back, which clears it, so that the next check on the thread
  // (XLA's own, after its launches) does not report our failure as its own.
  const cudaError_t last = cudaGetLastError();
  return launched != cudaSuccess ? launched : last;
}

// On sm_90 the d = 4096 warp kernels (128 accumulators a thread, no shared
// memory; for 16-bit and, since v27, f32 they serve only the rows past a
// multiple of two or four, and calls the larger kernels cannot take) run closer to the copy with 60 KB of L1, the 196 KB shared-memory
// configuration that an 85% carveout preference picks, than with all 256 KB:
// in place by about 0.6 points for 16-bit and 1.1-1.3 for f32, out of place
// by up to half a point (H200, both orders, notes v20). Smaller rows did not
// move, and other architectures split L1 differently: 85% of the A100's
// 164 KB would leave its L1 at the minimum, where the warp path read
// 1.05-1.18 of the copy for 16-bit and 1.21-1.23 for f32 at d = 4096 on the
// H200. So they keep the driver's choice. Set on every call, like the
// shared-memory limit of the kernels that use it; not a stream operation.
template <typename T, int L>
cudaError_t PreferL1OfSm90(void (*kernel)(const T*, T*, int64_t, typename Num<T>::Acc)) {
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  static std::atomic<int64_t> cached_cc[kMaxDevices] = {};
  int64_t cc = 0;
  err = OncePerDevice(cached_cc, device, cc, [&](int64_t& value) {
    int major = 0, minor = 0;
    cudaError_t e = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
    value = 10 * major + minor;
    return e;
  });
  if (err != cudaSuccess || cc != 90) return err;
  return cudaFuncSetAttribute(kernel, cudaFuncAttributePreferredSharedMemoryCarveout, 85);
}

// -DJAXHADA_WARP_L1_MIN_LOG2_D=N extends the preference down to d = 2^N, to
// time against.
#ifndef JAXHADA_WARP_L1_MIN_LOG2_D
#define JAXHADA_WARP_L1_MIN_LOG2_D 12
#endif

template <typename T, int L>
cudaError_t LaunchWarp(cudaStream_t stream, const T* in, T* out, int64_t rows,
                       typename Num<T>::Acc scale) {
  using Tr = WarpTraits<T, L>;
  const int64_t n = rows << L;
  const int64_t tiles = (n + Tr::kTile - 1) / Tr::kTile;
  if constexpr (L >= JAXHADA_WARP_L1_MIN_LOG2_D) {
    const cudaError_t err = PreferL1OfSm90<T, L>(HadamardWarpKernel<T, L>);
    if (err != cudaSuccess) return err;
  }
  return LaunchKernel(HadamardWarpKernel<T, L>, GridFor(tiles, Tr::kThreads / 32), Tr::kThreads,
                      /*smem=*/0, /*cluster_blocks=*/1, stream, in, out, n, scale);
}

// The block path's persistent grid: one wave (the blocks resident on the
// whole device at once: occupancy x SMs, cached per kernel and device), or
// fewer when there are fewer rows. The queries are not stream operations, so
// graph capture is unaffected.
template <typename T, int L, bool kStaged>
cudaError_t BlockLaunch(cudaStream_t stream, const T* in, T* out, int64_t rows, float scale,
                        int device) {
  using Tr = BlockTraits<T, L, kStaged>;
  auto kernel = HadamardBlockKernel<T, L, kStaged>;
  // Per call: the attribute belongs to the current device's context.
  cudaError_t err =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, Tr::kSmem);
  if (err != cudaSuccess) return err;
  static std::atomic<int64_t> cached_wave[kMaxDevices] = {};
  int64_t wave = 0;
  err = OncePerDevice(cached_wave, device, wave, [&](int64_t& value) {
    int per_sm = 0, sms = 0;
    cudaError_t e =
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, Tr::kThreads, Tr::kSmem);
    if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    if (e == cudaSuccess && per_sm <= 0) e = cudaErrorInvalidConfiguration;
    value = int64_t{per_sm} * sms;
    return e;
  });
  if (err != cudaSuccess) return err;
  const unsigned grid = static_cast<unsigned>(rows < wave ? rows : wave);
  return LaunchKernel(kernel, grid, Tr::kThreads, Tr::kSmem, /*cluster_blocks=*/1, stream, in, out,
                      rows, scale);
}

// Whether the pair path can run here: the code that runs has the cluster
// barrier (CodeIsSm90), and the device launches clusters. Asked once per
// device, like CodeIsSm90: neither answer changes while the process runs.
inline cudaError_t PairPathRuns(int device, bool& runs) {
  static std::atomic<int64_t> cached[kMaxDevices] = {};  // 1: no, 2: yes
  int64_t answer = 0;
  const cudaError_t err = OncePerDevice(cached, device, answer, [device](int64_t& value) {
    bool sm90 = false;
    int clusters = 0;
    cudaError_t e = CodeIsSm90(device, sm90);
    if (e == cudaSuccess && sm90) e = cudaDeviceGetAttribute(&clusters, cudaDevAttrClusterLaunch, device);
    value = sm90 && clusters != 0 ? 2 : 1;
    return e;
  });
  runs = err == cudaSuccess && answer == 2;
  return err;
}

// One block a row (d = 8192 for 16-bit, 16384; f32 at 8192 and 16-bit at
// 4096, two rows a block; f32 at 4096, four), or one pair of blocks a row as a cluster
// (d = 32768, the pair path), handed out by the hardware to whichever SM
// frees up first: the row path (f32) and the tensor-core path (16-bit). A
// persistent grid streaming rows ahead measured slower for both (notes v7,
// v9); even the plain one-wave grid of the d = 16384 16-bit kernel of then
// (the wide kernel), rows in
// grid-stride order, read 1.14-1.16 of the copy against 1.05-1.06, and rows
// taken from a counter 1.18-1.26 (notes v20).
// No shared-memory carveout preference is set: with the driver's own
// choice that kernel read 1.05-1.06 of the copy, with any
// preference from 86% to 100%, which leaves L1 28 KB, 1.15-1.16 (notes v20).
template <typename T>
cudaError_t LaunchBlocksPerRow(void (*kernel)(const T*, T*, int64_t, float), int blocks_per_row,
                               int threads, int smem, cudaStream_t stream, const T* in, T* out,
                               int64_t rows, float scale, int64_t rows_per_launch) {
  const cudaError_t err =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
  if (err != cudaSuccess) return err;
  const bool capped = rows_per_launch > 0 && rows > rows_per_launch;
  return LaunchKernel(kernel, blocks_per_row * GridFor(capped ? rows_per_launch : rows, 1), threads,
                      smem, blocks_per_row, stream, in, out, rows, scale);
}

// Whether `blocks` blocks of `smem` bytes of shared memory each fit one SM
// of the device (with what the driver reserves a block).
inline cudaError_t BlocksFitAnSm(int device, int blocks, int smem, bool& fit) {
  int per_sm = 0, reserved = 0;
  cudaError_t err =
      cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device);
  if (err == cudaSuccess)
    err = cudaDeviceGetAttribute(&reserved, cudaDevAttrReservedSharedMemoryPerBlock, device);
  fit = err == cudaSuccess && blocks * (smem + reserved) <= per_sm;
  return err;
}

// The block path, staged where the row fits beside X in a block's shared
// memory (smem_limit bytes), else unstaged.
template <typename T, int L>
cudaError_t LaunchBlockPath(cudaStream_t stream, const T* in, T* out, int64_t rows, float scale,
                            int device, int smem_limit) {
  if (BlockTraits<T, L, true>::kSmem <= smem_limit)
    return BlockLaunch<T, L, true>(stream, in, out, rows, scale, device);
  if (BlockTraits<T, L, false>::kSmem <= smem_limit)
    return BlockLaunch<T, L, false>(stream, in, out, rows, scale, device);
  return cudaErrorInvalidConfiguration;
}

// Rows k = rows_a_block (2 or 4) at a time, one block each, by a kernel
// that takes k rows of 2^log2_d as one of k times the length with its top
// log2(k) index bits left alone (the kernel's own kRowsABlock: the caller
// passes both). The rows past a multiple of k are left to
// the caller: in, out and rows then point at them; otherwise rows comes
// back 0.
template <typename T>
cudaError_t LaunchRowsABlock(void (*kernel)(const T*, T*, int64_t, float), int rows_a_block,
                             int threads, int smem, cudaStream_t stream, const T*& in, T*& out,
                             int64_t& rows, int log2_d, float scale, int64_t rows_per_launch) {
  const cudaError_t err = LaunchBlocksPerRow<T>(kernel, 1, threads, smem, stream, in, out,
                                                rows / rows_a_block, scale, rows_per_launch);
  const int64_t left = rows % rows_a_block;
  if (err != cudaSuccess || left == 0) {
    rows = 0;
    return err;
  }
  in += (rows - left) << log2_d;
  out += (rows - left) << log2_d;
  rows = left;
  return err;
}

// f32 rows kRowsABlock (2 or 4) at a time through the f32 row kernel, where
// the row path may run and there are that many rows (else nothing is
// launched and in, out and rows are left as they are).
template <int kRowsABlock>
cudaError_t LaunchRowKernelRowsABlock(cudaStream_t stream, const float*& in, float*& out,
                                      int64_t& rows, int log2_d, float scale,
                                      const detail::PathLimits& limits, int smem_limit) {
  using Tr = RowTraits<float>;
  if (!limits.row_path || Tr::kSmem > smem_limit || rows < kRowsABlock) return cudaSuccess;
  return LaunchRowsABlock<float>(HadamardRowKernel<float, 1, kRowsABlock>, kRowsABlock,
                                 Tr::kThreads, Tr::kSmem, stream, in, out, rows, log2_d, scale,
                                 limits.rows_per_launch);
}

// 16-bit d = 4096 (two rows a block of the wide kernel at 8192, an odd last
// row on the warp path), f32 d = 4096 (four rows a block of the row kernel,
// the rest on the warp path) and d = 8192 .. 32768 (16-bit and f32): the
// tensor-core paths (16-bit: the wide kernel at 8192, the two-product
// kernel at 16384, pairs of
// 128-thread blocks at 32768, their form chosen by whether the call is in
// place) or the row path (f32: two rows a block at 8192, a pair of blocks
// a row at 32768), one block or one pair of blocks a
// row, where the device has the shared memory (and, for the pair, clusters
// in the device and in the code that runs); else the block path, staged
// when the row fits beside X.
template <typename T, int L>
cudaError_t LaunchLong(cudaStream_t stream, const T* in, T* out, int64_t rows, float scale,
                       const detail::PathLimits& limits) {
  int device = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  int smem_limit = limits.smem_per_block;
  if (smem_limit < 0)
    err = cudaDeviceGetAttribute(&smem_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (err != cudaSuccess) return err;
  if constexpr (L == 12 && sizeof(T) == 2 && JAXHADA_WIDE_4096) {
    using Tr = MmaRowWideTraits<T, 13>;
    bool runs = limits.row_path && Tr::kSmem <= smem_limit && rows >= 2;
    if (runs) err = BlocksFitAnSm(device, Tr::kMinBlocks, Tr::kSmem, runs);
    if (err != cudaSuccess) return err;
    if (runs) {
      // An odd row count leaves the last row to the warp path.
      err = LaunchRowsABlock<T>(WideKernelFor<T, 13, true>(scale), /*rows_a_block=*/2,
                                Tr::kThreads, Tr::kSmem, stream, in, out, rows, L, scale,
                                limits.rows_per_launch);
      if (err != cudaSuccess || rows == 0) return err;
    }
    return LaunchWarp<T, L>(stream, in, out, rows, scale);
  } else if constexpr (L == 12 && std::is_same_v<T, float> && JAXHADA_ROW_FOUR_ROWS) {
    // The rows past a multiple of four are left to the path below.
    err = LaunchRowKernelRowsABlock<4>(stream, in, out, rows, L, scale, limits, smem_limit);
    if (err != cudaSuccess || rows == 0) return err;
    // The warp path, unless the build lowers JAXHADA_WARP_MAX_LOG2_D: then
    // the block path, as for 4096 without this form.
    if constexpr (L <= kWarpMaxLog2D)
      return LaunchWarp<T, L>(stream, in, out, rows, scale);
    else
      return LaunchBlockPath<T, L>(stream, in, out, rows, scale, device, smem_limit);
  } else {
    if constexpr (L == 13 && std::is_same_v<T, float> && JAXHADA_ROW_TWO_ROWS) {
      // An odd row count leaves the last row to the block path.
      err = LaunchRowKernelRowsABlock<2>(stream, in, out, rows, L, scale, limits, smem_limit);
      if (err != cudaSuccess || rows == 0) return err;
    }
    if constexpr (L == 14 || L == 15 || (L == 13 && sizeof(T) == 2 && JAXHADA_WIDE_8192)) {
      constexpr int kHalves = L == 15 ? 2 : 1;
      void (*kernel)(const T*, T*, int64_t, float) = nullptr;
      int threads = 0, smem = 0;
      if constexpr (sizeof(T) == 2 && kHalves == 1 && L == 14 && JAXHADA_TWO_MMA_ROW) {
        kernel = TwoMmaKernelFor<T>(scale);
        threads = TwoMmaRowLayout::kThreads;
        smem = TwoMmaRowLayout::kSmem;
      } else if constexpr (sizeof(T) == 2 && kHalves == 1 && (JAXHADA_MMA_ROW_WIDE || L <= 13)) {
        kernel = WideKernelFor<T, L>(scale);
        threads = MmaRowWideTraits<T, L>::kThreads;
        smem = MmaRowWideTraits<T, L>::kSmem;
      } else if constexpr (sizeof(T) == 2) {
        const bool pair_in_place = kHalves == 2 && static_cast<const void*>(in) == out;
        kernel = pair_in_place ? HadamardMmaRowKernel<T, kHalves, kHalves == 2>
                               : HadamardMmaRowKernel<T, kHalves, false>;
        threads = MmaRowTraits<T>::kThreads;
        smem = MmaRowTraits<T>::kSmem;
      } else {
        kernel = HadamardRowKernel<T, kHalves>;
        threads = RowTraits<T>::kThreads;
        smem = RowTraits<T>::kSmem;
      }
      bool runs = limits.row_path && smem <= smem_limit;
      if (runs && kHalves == 2) err = PairPathRuns(device, runs);
      // The half-block kernels (d <= 8192) were built for as many blocks an
      // SM as they are fast at: at d = 8192 five, on the H200; four, on 127
      // registers, read 1.29-1.38 of the copy there, worse than the block
      // path's 1.22 (notes v21). Where they do not fit (an A100's 164 KB an SM
      // holds four at 8192), the block path stays, as before.
      if constexpr (L <= 13 && sizeof(T) == 2)
        if (runs) err = BlocksFitAnSm(device, MmaRowWideTraits<T, L>::kMinBlocks, smem, runs);
      if (err != cudaSuccess) return err;
      if (runs)
        return LaunchBlocksPerRow<T>(kernel, kHalves, threads, smem, stream, in, out, rows, scale,
                                     limits.rows_per_launch);
    }
    return LaunchBlockPath<T, L>(stream, in, out, rows, scale, device, smem_limit);
  }
}

template <typename T, int L>
cudaError_t LaunchTwoPass(cudaStream_t stream, const T* in, T* out, int64_t rows, double scale) {
  constexpr int K = L - kSegLog2;
  static_assert(K >= 1 && K <= 5, "two-pass sizes");
  cudaError_t err = LaunchWarp<T, kSegLog2>(stream, in, out, rows << K, 1.0);
  if (err != cudaSuccess) return err;
  const int64_t columns = rows << kSegLog2;
  return LaunchKernel(HadamardStridedKernel<T, K>, GridFor(columns, 256), 256, /*smem=*/0,
                      /*cluster_blocks=*/1, stream, out, columns,
                      static_cast<typename Num<T>::Acc>(scale));
}

// Which path each (T, log2 d) takes.
template <typename T, int L>
cudaError_t LaunchFor(cudaStream_t stream, const T* in, T* out, int64_t rows, double scale,
                      const detail::PathLimits& limits) {
  if constexpr (L <= 10 || (L <= kWarpMaxLog2D && !std::is_same_v<T, double> &&
                            !(L == 12 && sizeof(T) == 2 && JAXHADA_WIDE_4096) &&
                            !(L == 12 && std::is_same_v<T, float> && JAXHADA_ROW_FOUR_ROWS))) {
    return LaunchWarp<T, L>(stream, in, out, rows, static_cast<typename Num<T>::Acc>(scale));
  } else if constexpr (std::is_same_v<T, double>) {
    return LaunchTwoPass<T, L>(stream, in, out, rows, scale);
  } else {
    return LaunchLong<T, L>(stream, in, out, rows, static_cast<float>(scale), limits);
  }
}

}  // namespace

namespace detail {

template <typename T>
cudaError_t LaunchHadamardTransformWithLimits(cudaStream_t stream, const T* in, T* out,
                                              int64_t rows, int log2_d, double scale,
                                              const PathLimits& limits) {
  if (log2_d < 0 || log2_d > 15 || rows < 0) return cudaErrorInvalidValue;
  if (rows == 0) return cudaSuccess;
  if (in == nullptr || out == nullptr) return cudaErrorInvalidValue;
  if ((reinterpret_cast<uintptr_t>(in) | reinterpret_cast<uintptr_t>(out)) % 16 != 0)
    return cudaErrorInvalidValue;
  switch (log2_d) {
#define JAXHADA_CASE(L) \
  case L:               \
    return LaunchFor<T, L>(stream, in, out, rows, scale, limits);
    JAXHADA_CASE(0)
    JAXHADA_CASE(1)
    JAXHADA_CASE(2)
    JAXHADA_CASE(3)
    JAXHADA_CASE(4)
    JAXHADA_CASE(5)
    JAXHADA_CASE(6)
    JAXHADA_CASE(7)
    JAXHADA_CASE(8)
    JAXHADA_CASE(9)
    JAXHADA_CASE(10)
    JAXHADA_CASE(11)
    JAXHADA_CASE(12)
    JAXHADA_CASE(13)
    JAXHADA_CASE(14)
    JAXHADA_CASE(15)
#undef JAXHADA_CASE
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace detail

template <typename T>
cudaError_t LaunchHadamardTransform(cudaStream_t stream, const T* in, T* out, int64_t rows,
                                    int log2_d, double scale) {
  return detail::LaunchHadamardTransformWithLimits<T>(stream, in, out, rows, log2_d, scale,
                                                      detail::PathLimits{});
}

template cudaError_t LaunchHadamardTransform<__half>(cudaStream_t, const __half*, __half*,
                                                     int64_t, int, double);
template cudaError_t LaunchHadamardTransform<__nv_bfloat16>(cudaStream_t, const __nv_bfloat16*,
                                                            __nv_bfloat16*, int64_t, int, double);
template cudaError_t LaunchHadamardTransform<float>(cudaStream_t, const float*, float*, int64_t,
                                                    int, double);
template cudaError_t LaunchHadamardTransform<double>(cudaStream_t, const double*, double*, int64_t,
                                                     int, double);

}  // namespace jaxhada
