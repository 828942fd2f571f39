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
// cudaMemcpy of the same 256 MiB. A measurement aid for
// docs/cuda_kernel_notes.md (v18), not part of the library:
//   nvcc -O3 -gencode arch=compute_90,code=sm_90 -std=c++17 \
//     -o build/layout_copy tests/gpu/layout_copy.cu && build/layout_copy [all]
// (without `all`, only the mixed placements).
#include <algorithm>
#include <cstdint>
#include <cstdio>
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

template <int V, int kLoadPlacement, bool kBarrier, int kStorePlacement = kLoadPlacement>
__global__ void __launch_bounds__(256) LayoutCopy(const uint4* in, uint4* out, uint32_t flip) {
  const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
  const int64_t block = int64_t{blockIdx.x} * 256 * V;
  auto at = [&](int placement, int c) -> int64_t {
    if (placement == kBlockStrided) return block + c * 256 + t;
    if (placement == kWarpContiguous) return block + (warp * V + c) * 32 + lane;
    return block + t * V + c;
  };
  uint4 r[V];
#pragma unroll
  for (int c = 0; c < V; ++c) r[c] = in[at(kLoadPlacement, c)];
  if (kBarrier) __syncthreads();
#pragma unroll
  for (int c = 0; c < V; ++c)
    out[at(kStorePlacement, c)] =
        make_uint4(r[c].x ^ flip, r[c].y ^ flip, r[c].z ^ flip, r[c].w ^ flip);
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

// Milliseconds a call: the median of 11 event pairs around 5 calls each.
template <class F>
float TimeMs(F call, cudaEvent_t a, cudaEvent_t b) {
  std::vector<float> ms;
  for (int i = 0; i < 3; ++i) call();
  for (int i = 0; i < 11; ++i) {
    cudaEventRecord(a);
    for (int k = 0; k < 5; ++k) call();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float t = 0;
    cudaEventElapsedTime(&t, a, b);
    ms.push_back(t / 5);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
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

}  // namespace

int main(int argc, char**) {
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
  for (int round = 0; round < 3; ++round)
    if (Mixed<8, kBlockStrided, kBlockStrided>(x, y, n, a, b) ||
        Mixed<8, kWarpContiguous, kWarpContiguous>(x, y, n, a, b) ||
        Mixed<8, kWarpContiguous, kBlockStrided>(x, y, n, a, b) ||
        Mixed<8, kBlockStrided, kWarpContiguous>(x, y, n, a, b) ||
        Mixed<16, kBlockStrided, kBlockStrided>(x, y, n, a, b) ||
        Mixed<16, kWarpContiguous, kWarpContiguous>(x, y, n, a, b) ||
        Mixed<16, kWarpContiguous, kBlockStrided>(x, y, n, a, b) ||
        Mixed<16, kBlockStrided, kWarpContiguous>(x, y, n, a, b))
      return 1;
  if (argc > 1 &&
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
