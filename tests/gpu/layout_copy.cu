// Does it matter, for bandwidth, where a block's loads lie? Copies whose
// blocks of 256 threads hold V 16-byte vectors a thread, placed three ways:
//   block-strided:     vector c of thread t at c * 256 + t (each warp load
//                      512 contiguous bytes, a warp's V loads 4 KB apart);
//   warp-contiguous:   warp w's V loads cover V * 512 contiguous bytes;
//   thread-contiguous: thread t's V vectors side by side.
// Optionally a block barrier between the loads and the stores (where a row
// kernel exchanges through shared memory), and shared memory that caps the
// blocks an SM at three (the row kernels' occupancy). Then the loads and
// the stores placed differently, at three blocks an SM. Each shape is timed
// out of place and in place (writing back every word with the sign bits of
// its 16-bit halves flipped, so that the values change), against
// cudaMemcpy of the same 256 MiB. `bulk`: loads by bulk copies into shared
// memory, as the in-place kernels load, and each placement of the stores;
// `pair`: a pair of blocks that each need the whole row, loaded six ways
// (see PairCopy).
// A measurement aid for docs/cuda_kernel_notes.md (v18-v20, v23), not part of
// the library:
//   nvcc -O3 -gencode arch=compute_90,code=sm_90 -std=c++17 --expt-relaxed-constexpr \
//     -o build/layout_copy tests/gpu/layout_copy.cu && build/layout_copy [all | bulk | pair]
// (without an argument, only the mixed placements).
// The kernel's translation unit, for its cp.async and shared-address helpers.
#include "../../xla_ffi/hadamard_cuda_kernel.cu"
#include "event_timing.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#define CUDA_CHECK(x)                                                          \
  do {                                                                         \
    const cudaError_t e = (x);                                                 \
    if (e != cudaSuccess) {                                                    \
      std::printf("%s: %s\n", #x, cudaGetErrorString(e));                      \
      return 1;                                                                \
    }                                                                          \
  } while (0)

namespace {

enum Placement { kBlockStrided = 0, kWarpContiguous = 1, kThreadContiguous = 2 };
const char* const kPlacementNames[] = {"block-strided", "warp-contiguous", "thread-contiguous"};

// The vector of a block's V * 256 that thread t's vector c is, placed as
// `placement` says.
template <int V>
__device__ __forceinline__ int PlacedVector(int placement, int t, int c) {
  if (placement == kBlockStrided) return c * 256 + t;
  if (placement == kWarpContiguous) return ((t >> 5) * V + c) * 32 + (t & 31);
  return t * V + c;
}

template <int V, int kLoadPlacement, bool kBarrier, int kStorePlacement = kLoadPlacement>
__global__ void __launch_bounds__(256) LayoutCopy(const uint4* in, uint4* out, uint32_t flip) {
  const int t = threadIdx.x;
  const int64_t block = int64_t{blockIdx.x} * 256 * V;
  auto at = [&](int placement, int c) { return block + PlacedVector<V>(placement, t, c); };
  uint4 r[V];
#pragma unroll
  for (int c = 0; c < V; ++c) r[c] = in[at(kLoadPlacement, c)];
  if (kBarrier) __syncthreads();
#pragma unroll
  for (int c = 0; c < V; ++c)
    out[at(kStorePlacement, c)] =
        make_uint4(r[c].x ^ flip, r[c].y ^ flip, r[c].z ^ flip, r[c].w ^ flip);
}

// Until the phase of the mbarrier at shared address `bar` whose parity is
// `parity` has completed.
__device__ __forceinline__ void MbarrierWait(uint32_t bar, uint32_t parity) {
#if __CUDA_ARCH__ >= 900
  asm volatile(
      "{\n.reg .pred done;\nwait:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra wait;\n}\n" ::"r"(bar),
      "r"(parity) : "memory");
#endif
}

// The mbarrier at shared address `bar` completes a phase after kCount
// arrivals (and the bytes its arrivals announce). Thread 0 only.
template <int kCount>
__device__ __forceinline__ void MbarrierInit(uint32_t bar) {
#if __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "n"(kCount) : "memory");
#endif
}

// One arrival on `bar` whose phase also waits for kBytes to land.
template <int kBytes>
__device__ __forceinline__ void MbarrierArriveExpecting(uint32_t bar) {
#if __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar),
               "n"(kBytes) : "memory");
#endif
}

// kBytes from device memory at `src` into shared address `dst` of both
// blocks of the pair, each block's arrival counted on its mbarrier at `bar`
// (the same offset in both).
template <int kBytes>
__device__ __forceinline__ void MulticastToPair(uint32_t dst, const void* src, uint32_t bar) {
#if __CUDA_ARCH__ >= 900
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes.multicast::cluster"
      " [%0], [%1], %2, [%3], %4;\n" ::"r"(dst),
      "l"(src), "n"(kBytes), "r"(bar), "h"(static_cast<unsigned short>(0x3)) : "memory");
#endif
}

// The in-place 16-bit pair's loads from notes v15 to v22 (the kernel's
// then, kept here as a form to time). Each block's thread 0 copies the
// block's half of the row, in kGroups pieces, into the same offsets of both blocks'
// shared memory (multicast bulk copies); piece g of either half completes on
// mbarrier g of each block, which so expects both halves' piece g.
// Two pieces a half measured fastest (in place 1.09-1.10; one 1.09-1.11,
// four 1.11-1.13, eight 1.14-1.15, sixteen 1.16-1.18; notes v15).
struct PairRowLoad {
  static constexpr int kGroups = 2;

  // Thread 0, before the pair's first row: the mbarriers, made visible to
  // the partner's copies by the cluster barrier that every thread then meets
  // (Sync).
  static __device__ __forceinline__ void InitBarriers(uint64_t* bars) {
#if __CUDA_ARCH__ >= 900
    for (int g = 0; g < kGroups; ++g) MbarrierInit<1>(jaxhada::SharedAddress(&bars[g]));
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#else
    jaxhada::TrapIf(true);
#endif
  }
  // Every thread of both blocks. `reuse`: before a further row (a launch
  // serves more than one row a pair only past 2^24 rows), both blocks'
  // reads and writes of shared memory are ordered before the copies that
  // overwrite it: a proxy fence and a releasing arrive.
  static __device__ __forceinline__ void Sync(bool reuse) {
#if __CUDA_ARCH__ >= 900
    if (reuse)
      asm volatile("fence.proxy.async.shared::cta;\n"
                   "barrier.cluster.arrive.release.aligned;\n" ::: "memory");
    else
      asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
    asm volatile("barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
#else
    jaxhada::TrapIf(true);
#endif
  }
  // Thread 0: this block's half, from src to dst in both blocks, in kGroups
  // pieces of kPieceBytes; each block's mbarrier g expects both halves'
  // piece g.
  template <int kPieceBytes>
  static __device__ __forceinline__ void Start(uint64_t* bars, void* dst, const void* src) {
    for (int g = 0; g < kGroups; ++g)
      MbarrierArriveExpecting<2 * kPieceBytes>(jaxhada::SharedAddress(&bars[g]));
    for (int g = 0; g < kGroups; ++g)
      MulticastToPair<kPieceBytes>(jaxhada::SharedAddress(dst) + g * kPieceBytes,
                                   static_cast<const char*>(src) + g * kPieceBytes,
                                   jaxhada::SharedAddress(&bars[g]));
  }
  // Every thread: until piece g of both halves has landed.
  static __device__ __forceinline__ void Wait(uint64_t* bar, uint32_t parity) {
    MbarrierWait(jaxhada::SharedAddress(bar), parity);
  }
};

// One bulk copy of kBytes from global to this block's shared memory,
// counted on the mbarrier at `bar`.
template <int kBytes>
__device__ __forceinline__ void BulkCopy(uint32_t dst, const void* src, uint32_t bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n"
      ::"r"(dst), "l"(src), "n"(kBytes), "r"(bar) : "memory");
}

// The in-place kernels' loading (notes v19): thread 0 brings the block's
// V * 4 KB into shared memory with bulk copies of kPieceBytes, counted on
// an mbarrier (the pair kernels' pieces, without the cluster), or with
// kWarpIssue lane 0 of each warp copies the warp's V * 512 bytes; then
// every thread stores V vectors read back from shared memory where
// kStorePlacement says.
template <int V, int kStorePlacement, int kPieceBytes = 16 << 10, bool kWarpIssue = false>
__global__ void __launch_bounds__(256) BulkLoadCopy(const uint4* in, uint4* out, uint32_t flip) {
  using namespace jaxhada;
  constexpr int kBytes = V * 256 * 16;
  constexpr int kIssued = kWarpIssue ? kPieceBytes : kBytes;  // by each issuing thread
  static_assert(kWarpIssue ? kPieceBytes == kBytes / 8 : kBytes % kPieceBytes == 0,
                "whole pieces");
  extern __shared__ uint4 tile[];
  __shared__ alignas(8) uint64_t bar;
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
  const int64_t block = int64_t{blockIdx.x} * 256 * V;
  if (t == 0) {
    MbarrierInit<kWarpIssue ? 8 : 1>(SharedAddress(&bar));
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  if (kWarpIssue ? lane == 0 : t == 0) {
    const int first = kWarpIssue ? warp * kPieceBytes : 0;  // bytes into the tile
    MbarrierArriveExpecting<kIssued>(SharedAddress(&bar));
    for (int p = 0; p < kIssued / kPieceBytes; ++p)
      BulkCopy<kPieceBytes>(SharedAddress(tile) + first + p * kPieceBytes,
                            in + block + (first + p * kPieceBytes) / 16, SharedAddress(&bar));
  }
  MbarrierWait(SharedAddress(&bar), 0);
  auto at = [&](int c) { return PlacedVector<V>(kStorePlacement, t, c); };
#pragma unroll
  for (int c = 0; c < V; ++c) {
    const uint4 r = tile[at(c)];
    out[block + at(c)] = make_uint4(r.x ^ flip, r.y ^ flip, r.z ^ flip, r.w ^ flip);
  }
}

// Six ways the in-place pairs could give both blocks of a pair the whole
// row (notes v19, v23). Each block's tile, V * 4 KB, is half of a row; each block
// stores its own half combined with the partner's (own ^ partner ^ flip at
// the same place, as a pair block stores lo +- hi), so it needs both halves
// before it stores, and in place it must not overwrite its half before the
// partner has read it.
//   kPairMulticast: thread 0 multicasts the block's half into both blocks
//     (PairRowLoad above, the in-place 16-bit pair's loading before notes
//     v23: two pieces, an mbarrier each);
//   kPairThreads: every thread loads its V vectors of the half
//     (warp-contiguous) and writes them into both blocks' shared memory,
//     the partner's through st.shared::cluster; a cluster barrier orders
//     those writes before the reads;
//   kPairBothHalves: every thread loads its V vectors of both halves into
//     registers (so each half is read twice, the second time mostly from
//     L2), and a cluster barrier keeps either block from storing before
//     the partner has read its half;
//   kPairBothHalvesStaged: the same through cp.async into this block's
//     shared memory (as the pair kernels stage the row), read back after
//     the cluster barrier;
//   kPairPush: every thread stages its V vectors of the half by cp.async
//     (device memory sees each half read once, by the block that
//     overwrites it, as with the multicast), then thread 0 copies the
//     staged half into the partner's shared memory with one shared-to-
//     shared bulk copy, counted on the partner's mbarrier;
//   kPairPushWarps: the same a warp at a time: lane 0 of each warp copies
//     the warp's 4 KB piece once the warp's own copies have landed, with
//     no block barrier before it.
enum PairLoad {
  kPairMulticast = 0,
  kPairThreads = 1,
  kPairBothHalves = 2,
  kPairBothHalvesStaged = 3,
  kPairPush = 4,
  kPairPushWarps = 5
};
const char* const kPairLoadNames[] = {"pair, multicast bulk copies", "pair, threads into both",
                                      "pair, threads load both halves",
                                      "pair, both halves staged by cp.async",
                                      "pair, own half staged, bulk copy to partner",
                                      "pair, own half staged, a warp's piece to partner"};

// kBytes of this block's shared memory at `src` into the partner's (block
// `rank` of the cluster) at the same offset as `dst`, counted on the
// partner's mbarrier at the offset of `bar`.
template <int kBytes>
__device__ __forceinline__ void BulkCopyToPartner(uint32_t dst, uint32_t src, uint32_t bar,
                                                  uint32_t rank) {
  asm volatile(
      "{\n.reg .b32 rdst, rbar;\n"
      "mapa.shared::cluster.u32 rdst, %0, %3;\n"
      "mapa.shared::cluster.u32 rbar, %2, %3;\n"
      "cp.async.bulk.shared::cluster.shared::cta.mbarrier::complete_tx::bytes"
      " [rdst], [%1], %4, [rbar];\n}\n" ::"r"(dst),
      "r"(src), "r"(bar), "r"(rank), "n"(kBytes) : "memory");
}

template <int V, int kLoad>
__global__ void __cluster_dims__(2, 1, 1) __launch_bounds__(256)
    PairCopy(const uint4* in, uint4* out, uint32_t flip) {
  using namespace jaxhada;
  constexpr int kHalf = V * 256;  // vectors
  extern __shared__ uint4 row[];  // half 0, then half 1
  __shared__ alignas(8) uint64_t bars[PairRowLoad::kGroups];
  const int t = threadIdx.x;
  const int half = static_cast<int>(blockIdx.x & 1);
  const int64_t mine = int64_t{blockIdx.x / 2} * 2 * kHalf + half * kHalf;
  auto at = [&](int c) { return PlacedVector<V>(kWarpContiguous, t, c); };
  if (kLoad == kPairBothHalves) {
    const int64_t theirs = mine + (half ? -kHalf : kHalf);
    uint4 r[V], o[V];
#pragma unroll
    for (int c = 0; c < V; ++c) {
      r[c] = in[mine + at(c)];
      o[c] = in[theirs + at(c)];
    }
    // The releasing arrive orders these loads before the partner's stores.
    asm volatile("barrier.cluster.arrive.release.aligned;\n"
                 "barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
#pragma unroll
    for (int c = 0; c < V; ++c)
      out[mine + at(c)] = make_uint4(r[c].x ^ o[c].x ^ flip, r[c].y ^ o[c].y ^ flip,
                                     r[c].z ^ o[c].z ^ flip, r[c].w ^ o[c].w ^ flip);
    return;
  }
  if (kLoad == kPairBothHalvesStaged) {
    const int64_t theirs = mine + (half ? -kHalf : kHalf);
#pragma unroll
    for (int c = 0; c < V; ++c) {
      CpAsync16(row + half * kHalf + at(c), in + mine + at(c));
      CpAsync16(row + (half ^ 1) * kHalf + at(c), in + theirs + at(c));
    }
    CpAsyncCommit();
    CpAsyncWaitAll();  // each thread reads back only what it staged
    asm volatile("barrier.cluster.arrive.release.aligned;\n"
                 "barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
  } else if (kLoad == kPairPush || kLoad == kPairPushWarps) {
    const uint32_t bar = SharedAddress(&bars[0]);
    if (t == 0) {
      MbarrierInit<1>(bar);
      asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();
    // The partner's mbarrier is initialized before anything lands on it.
    asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
    if (t == 0) MbarrierArriveExpecting<kHalf * 16>(bar);
#pragma unroll
    for (int c = 0; c < V; ++c) CpAsync16(row + half * kHalf + at(c), in + mine + at(c));
    CpAsyncCommit();
    CpAsyncWaitAll();
    // The bulk copy reads what this thread's copies wrote: a proxy fence.
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");
    if (kLoad == kPairPush) {
      __syncthreads();
      if (t == 0)
        BulkCopyToPartner<kHalf * 16>(SharedAddress(row + half * kHalf),
                                      SharedAddress(row + half * kHalf), bar, half ^ 1);
    } else {
      __syncwarp();
      if ((t & 31) == 0) {
        const int first = half * kHalf + (t >> 5) * V * 32;  // the warp's piece
        BulkCopyToPartner<V * 512>(SharedAddress(row + first), SharedAddress(row + first), bar,
                                   half ^ 1);
      }
    }
    MbarrierWait(bar, 0);
  } else if (kLoad == kPairMulticast) {
    if (t == 0) PairRowLoad::InitBarriers(bars);
    PairRowLoad::Sync(false);
    if (t == 0) PairRowLoad::Start<kHalf * 16 / PairRowLoad::kGroups>(bars, row + half * kHalf, in + mine);
    for (int g = 0; g < PairRowLoad::kGroups; ++g) PairRowLoad::Wait(&bars[g], 0);
  } else {
    uint4 r[V];
#pragma unroll
    for (int c = 0; c < V; ++c) r[c] = in[mine + at(c)];
    // The partner must be running before its shared memory is written.
    asm volatile("barrier.cluster.arrive.relaxed.aligned;\n"
                 "barrier.cluster.wait.aligned;\n" ::: "memory");
#pragma unroll
    for (int c = 0; c < V; ++c) {
      const uint32_t local = SharedAddress(row + half * kHalf + at(c));
      asm volatile(
          "{\n.reg .b32 remote;\n"
          "st.shared.v4.u32 [%0], {%2, %3, %4, %5};\n"
          "mapa.shared::cluster.u32 remote, %0, %1;\n"
          "st.shared::cluster.v4.u32 [remote], {%2, %3, %4, %5};\n}\n" ::"r"(local),
          "r"(half ^ 1), "r"(r[c].x), "r"(r[c].y), "r"(r[c].z), "r"(r[c].w) : "memory");
    }
    asm volatile("barrier.cluster.arrive.release.aligned;\n"
                 "barrier.cluster.wait.acquire.aligned;\n" ::: "memory");
  }
#pragma unroll
  for (int c = 0; c < V; ++c) {
    const uint4 r = row[half * kHalf + at(c)], o = row[(half ^ 1) * kHalf + at(c)];
    out[mine + at(c)] =
        make_uint4(r.x ^ o.x ^ flip, r.y ^ o.y ^ flip, r.z ^ o.z ^ flip, r.w ^ o.w ^ flip);
  }
  // Neither block leaves while its copy to the partner may still read its
  // shared memory: the partner arrives once that copy has landed.
  if (kLoad == kPairPush || kLoad == kPairPushWarps)
    asm volatile("barrier.cluster.arrive.relaxed.aligned;\n"
                 "barrier.cluster.wait.aligned;\n" ::: "memory");
}

__global__ void Fill(uint4* x, int64_t n, unsigned seed) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    unsigned h = static_cast<unsigned>(i) * 2654435761u ^ seed;
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    x[i] = make_uint4(h, h * 3u + 1u, h * 7u + 5u, h ^ 0x9e3779b9u);
  }
}

// One table row: `kernel` with `smem` bytes of dynamic shared memory (0, or
// enough to leave room for three blocks an SM), out of place and in place,
// each against a copy timed just before it.
template <class Kernel>
int TimeRow(const char* what, Kernel kernel, int v, int smem, uint4* x, uint4* y, int64_t n,
            cudaEvent_t a, cudaEvent_t b) {
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  int per_sm = 0;
  CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, 256, smem));
  const unsigned grid = static_cast<unsigned>(n / (256 * v));
  const float copy = TimeMs([&] { cudaMemcpyAsync(y, x, n * 16, cudaMemcpyDeviceToDevice); }, a, b);
  const float out_of_place = TimeMs([&] { kernel<<<grid, 256, smem>>>(x, y, 0u); }, a, b);
  const float in_place = TimeMs([&] { kernel<<<grid, 256, smem>>>(y, y, 0x80008000u); }, a, b);
  CUDA_CHECK(cudaGetLastError());
  std::printf("| %2d | %-44s | %d | %.4f | %.3f | %.3f |\n", v, what, per_sm, copy,
              out_of_place / copy, in_place / copy);
  return 0;
}

// V vectors a thread placed one way: no barrier, a barrier, a barrier at
// three blocks an SM.
template <int V, int kPlacement>
int Placed(uint4* x, uint4* y, int64_t n, cudaEvent_t a, cudaEvent_t b) {
  char what[64];
  std::snprintf(what, sizeof what, "%s", kPlacementNames[kPlacement]);
  if (TimeRow(what, LayoutCopy<V, kPlacement, false>, V, 0, x, y, n, a, b)) return 1;
  std::snprintf(what, sizeof what, "%s, barrier", kPlacementNames[kPlacement]);
  if (TimeRow(what, LayoutCopy<V, kPlacement, true>, V, 0, x, y, n, a, b)) return 1;
  std::snprintf(what, sizeof what, "%s, barrier, smem for 3 an SM", kPlacementNames[kPlacement]);
  return TimeRow(what, LayoutCopy<V, kPlacement, true>, V, 64 << 10, x, y, n, a, b);
}

// Loads placed one way and stores another, a barrier between, three an SM.
template <int V, int kLoad, int kStore>
int Mixed(uint4* x, uint4* y, int64_t n, cudaEvent_t a, cudaEvent_t b) {
  char what[64];
  std::snprintf(what, sizeof what, "load %s, store %s", kPlacementNames[kLoad],
                kPlacementNames[kStore]);
  return TimeRow(what, LayoutCopy<V, kLoad, true, kStore>, V, 64 << 10, x, y, n, a, b);
}

// Counts the vectors of y that differ from x ^ flip, or for a pair (`half`,
// the vectors in a half) from x ^ (x's partner vector) ^ flip.
__global__ void CountMismatches(const uint4* x, const uint4* y, int64_t n, int64_t half,
                                uint32_t flip, unsigned long long* count) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const uint4 p = x[i], o = half ? x[i ^ half] : make_uint4(0, 0, 0, 0), q = y[i];
    if ((p.x ^ o.x ^ flip) != q.x || (p.y ^ o.y ^ flip) != q.y || (p.z ^ o.z ^ flip) != q.z ||
        (p.w ^ o.w ^ flip) != q.w)
      atomicAdd(count, 1ull);
  }
}

// Checks `kernel` (V vectors a thread, 64 KB of shared memory; `pair_half`:
// the vectors in a pair's half, 0 for a plain copy) over every vector, out
// of place and in place (on a copy of x in y, with the sign flips).
template <class Kernel>
int CopiesEverything(Kernel kernel, int v, int64_t pair_half, uint4* x, uint4* y, int64_t n) {
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 << 10));
  const unsigned grid = static_cast<unsigned>(n / (256 * v));
  unsigned long long* count = nullptr;
  CUDA_CHECK(cudaMalloc(&count, sizeof *count));
  for (const uint32_t flip : {0u, 0x80008000u}) {
    if (flip == 0) {
      CUDA_CHECK(cudaMemset(y, 0, n * 16));
      kernel<<<grid, 256, 64 << 10>>>(x, y, flip);
    } else {
      CUDA_CHECK(cudaMemcpy(y, x, n * 16, cudaMemcpyDeviceToDevice));
      kernel<<<grid, 256, 64 << 10>>>(y, y, flip);
    }
    unsigned long long mismatches = 0;
    CUDA_CHECK(cudaMemset(count, 0, sizeof *count));
    CountMismatches<<<1024, 256>>>(x, y, n, pair_half, flip, count);
    CUDA_CHECK(cudaMemcpy(&mismatches, count, sizeof *count, cudaMemcpyDeviceToHost));
    if (mismatches != 0) {
      std::printf("V = %d, %s: %llu vectors wrong\n", v, flip ? "in place" : "out of place",
                  mismatches);
      return 1;
    }
  }
  CUDA_CHECK(cudaFree(count));
  return 0;
}

// Bulk-copy loads, stores placed one way, three an SM.
template <int V, int kStore, int kPieceBytes = 16 << 10, bool kWarpIssue = false>
int Bulk(uint4* x, uint4* y, int64_t n, cudaEvent_t a, cudaEvent_t b) {
  const auto kernel = BulkLoadCopy<V, kStore, kPieceBytes, kWarpIssue>;
  if (CopiesEverything(kernel, V, 0, x, y, n)) return 1;
  char what[64];
  std::snprintf(what, sizeof what, "load bulk %d KB%s, store %s", kPieceBytes >> 10,
                kWarpIssue ? " a warp" : "", kPlacementNames[kStore]);
  return TimeRow(what, kernel, V, 64 << 10, x, y, n, a, b);
}

// A pair's two blocks share a row of 2 V * 4 KB, loaded one way (64 KB of
// shared memory at V = 8, three blocks an SM, as the 16-bit pair).
template <int V, int kLoad>
int Pair(uint4* x, uint4* y, int64_t n, cudaEvent_t a, cudaEvent_t b) {
  const auto kernel = PairCopy<V, kLoad>;
  if (CopiesEverything(kernel, V, V * 256, x, y, n)) return 1;
  return TimeRow(kPairLoadNames[kLoad], kernel, V, 64 << 10, x, y, n, a, b);
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = (int64_t{1} << 28) / 16;  // 256 MiB of 16-byte vectors
  uint4 *x = nullptr, *y = nullptr;
  CUDA_CHECK(cudaMalloc(&x, n * 16));
  CUDA_CHECK(cudaMalloc(&y, n * 16));
  Fill<<<1024, 256>>>(x, n, 1);
  Fill<<<1024, 256>>>(y, n, 2);
  CUDA_CHECK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  std::printf("| V | placement | blocks an SM | copy ms | out of place | in place |\n"
              "|---|---|---|---|---|---|\n");
  const std::string mode = argc > 1 ? argv[1] : "";
  const bool bulk = mode == "bulk", pair = mode == "pair";
  for (int round = 0; pair && round < 3; ++round)
    if (Mixed<8, kWarpContiguous, kWarpContiguous>(x, y, n, a, b) ||
        Bulk<8, kWarpContiguous>(x, y, n, a, b) || Pair<8, kPairMulticast>(x, y, n, a, b) ||
        Pair<8, kPairThreads>(x, y, n, a, b) || Pair<8, kPairBothHalves>(x, y, n, a, b) ||
        Pair<8, kPairBothHalvesStaged>(x, y, n, a, b) || Pair<8, kPairPush>(x, y, n, a, b) ||
        Pair<8, kPairPushWarps>(x, y, n, a, b))
      return 1;
  for (int round = 0; bulk && round < 3; ++round)
    if (Mixed<8, kBlockStrided, kBlockStrided>(x, y, n, a, b) ||
        Mixed<8, kWarpContiguous, kWarpContiguous>(x, y, n, a, b) ||
        Bulk<8, kBlockStrided>(x, y, n, a, b) || Bulk<8, kWarpContiguous>(x, y, n, a, b) ||
        Bulk<8, kWarpContiguous, 4 << 10>(x, y, n, a, b) ||
        Bulk<8, kWarpContiguous, 4 << 10, true>(x, y, n, a, b) ||
        Mixed<16, kBlockStrided, kBlockStrided>(x, y, n, a, b) ||
        Mixed<16, kWarpContiguous, kWarpContiguous>(x, y, n, a, b) ||
        Bulk<16, kBlockStrided>(x, y, n, a, b) || Bulk<16, kWarpContiguous>(x, y, n, a, b) ||
        Bulk<16, kWarpContiguous, 4 << 10>(x, y, n, a, b) ||
        Bulk<16, kWarpContiguous, 8 << 10, true>(x, y, n, a, b))
      return 1;
  for (int round = 0; mode.empty() && round < 3; ++round)
    if (Mixed<8, kBlockStrided, kBlockStrided>(x, y, n, a, b) ||
        Mixed<8, kWarpContiguous, kWarpContiguous>(x, y, n, a, b) ||
        Mixed<8, kWarpContiguous, kBlockStrided>(x, y, n, a, b) ||
        Mixed<8, kBlockStrided, kWarpContiguous>(x, y, n, a, b) ||
        Mixed<16, kBlockStrided, kBlockStrided>(x, y, n, a, b) ||
        Mixed<16, kWarpContiguous, kWarpContiguous>(x, y, n, a, b) ||
        Mixed<16, kWarpContiguous, kBlockStrided>(x, y, n, a, b) ||
        Mixed<16, kBlockStrided, kWarpContiguous>(x, y, n, a, b))
      return 1;
  if (mode == "all" &&
      (Placed<1, kBlockStrided>(x, y, n, a, b) || Placed<2, kBlockStrided>(x, y, n, a, b) ||
       Placed<2, kWarpContiguous>(x, y, n, a, b) || Placed<4, kBlockStrided>(x, y, n, a, b) ||
       Placed<4, kWarpContiguous>(x, y, n, a, b) || Placed<4, kThreadContiguous>(x, y, n, a, b) ||
       Placed<8, kBlockStrided>(x, y, n, a, b) || Placed<8, kWarpContiguous>(x, y, n, a, b) ||
       Placed<8, kThreadContiguous>(x, y, n, a, b) || Placed<16, kBlockStrided>(x, y, n, a, b) ||
       Placed<16, kWarpContiguous>(x, y, n, a, b)))
    return 1;
  CUDA_CHECK(cudaFree(x));
  CUDA_CHECK(cudaFree(y));
  return 0;
}
