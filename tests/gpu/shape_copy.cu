// How close the *shape* of the row kernels can get to cudaMemcpy on this GPU:
// copies with no transform, one block a row, each thread loading kLoads
// 16-byte vectors (a warp's load 512 contiguous bytes), a barrier, then the
// stores; optionally kStages float butterfly stages in between, as a stand-in
// for the transform's arithmetic. Shared memory sets the blocks an SM. Each
// shape is timed out of place and in place (output = input, as under
// donation), both against the same out-of-place cudaMemcpy. The same rows
// also go through the bulk-copy engine (BulkRowCopy), and through a
// persistent grid that streams each block's next row in while it works on
// this one (PipelinedRowCopy). A measurement aid for
// docs/cuda_kernel_notes.md (v11 to v14), not part of the library:
//   nvcc -O3 -gencode arch=compute_90,code=sm_90 -std=c++17 \
//     -o build/shape_copy tests/gpu/shape_copy.cu && build/shape_copy
#include <cuda_bf16.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#define CUDA_CHECK(x)                                                          \
  do {                                                                         \
    const cudaError_t e = (x);                                                 \
    if (e != cudaSuccess) {                                                    \
      std::printf("%s: %s\n", #x, cudaGetErrorString(e));                      \
      std::exit(1);                                                            \
    }                                                                          \
  } while (0)

namespace {

// Bytes each way: 256 MiB (128 Mi bf16 elements) unless the first argument
// names another size in MiB, to see how a shape's ratio moves with size.
int64_t g_bytes = int64_t{1} << 28;
// Only the shapes whose description contains this (the second argument).
const char* g_only = "";

bool Wanted(const char* what) { return std::strstr(what, g_only) != nullptr; }
constexpr int kReps = 20;

__host__ __device__ constexpr int Log2(int n) { return n > 1 ? 1 + Log2(n / 2) : 0; }

// The stand-in for the transform's arithmetic: kStages float butterfly
// stages on a thread's kLoads vectors of bf16, cycling through the register
// bits, then scaled and rounded back.
template <int kLoads, int kStages>
__device__ __forceinline__ void ButterflyStages(uint4 (&raw)[kLoads]) {
  constexpr int kBits = Log2(kLoads * 8);
  float v[kLoads * 8];
#pragma unroll
  for (int c = 0; c < kLoads; ++c) {
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw[c]);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __bfloat1622float2(h[i]);
      v[8 * c + 2 * i] = f.x;
      v[8 * c + 2 * i + 1] = f.y;
    }
  }
#pragma unroll
  for (int k = 0; k < kStages; ++k) {
    const int bit = 1 << (k % kBits);
#pragma unroll
    for (int j = 0; j < kLoads * 8; ++j) {
      if (j & bit) continue;
      const float a = v[j], b = v[j | bit];
      v[j] = a + b;
      v[j | bit] = a - b;
    }
  }
#pragma unroll
  for (int c = 0; c < kLoads; ++c) {
    __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&raw[c]);
#pragma unroll
    for (int i = 0; i < 4; ++i)
      h[i] = __floats2bfloat162_rn(v[8 * c + 2 * i] * 0.01f, v[8 * c + 2 * i + 1] * 0.01f);
  }
}

// kMinBlocks as in the kernels' __launch_bounds__: the registers a thread
// may use so that many blocks fit an SM.
template <int kThreads, int kLoads, int kStages, int kMinBlocks>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    RowCopy(const uint4* in, uint4* out, int64_t rows) {
  const int t = threadIdx.x;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const uint4* src = in + row * kThreads * kLoads + t;
    uint4 raw[kLoads];
#pragma unroll
    for (int c = 0; c < kLoads; ++c) raw[c] = src[c * kThreads];
    if constexpr (kStages > 0) ButterflyStages<kLoads, kStages>(raw);
    __syncthreads();  // where the transform exchanges through shared memory
    uint4* dst = out + row * kThreads * kLoads + t;
#pragma unroll
    for (int c = 0; c < kLoads; ++c) dst[c * kThreads] = raw[c];
  }
}

// The same row copies through the bulk-copy engine: one thread starts
// kPieces bulk copies of the row into shared memory, completing on an
// mbarrier; the block waits, optionally runs kStages butterfly stages on
// shared memory (each thread on its own vectors), then either one thread
// starts a bulk store of the row (kBulkStore) or every thread stores its
// vectors from registers. Tests whether a row kernel fed by the copy engine,
// which needs no registers for loads in flight, escapes the register-load
// shapes' cost.
__device__ __forceinline__ uint32_t SharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Thread 0: each of `count` mbarriers expects one arrival a phase, and the
// initializations are made visible to the copy engine.
__device__ __forceinline__ void InitBarriers(uint64_t* bars, int count) {
  for (int i = 0; i < count; ++i)
    asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\n" ::"r"(SharedAddress(&bars[i])) : "memory");
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// Thread 0 arrives on `bar` for a phase that also waits for kBytes.
template <int kBytes>
__device__ __forceinline__ void ArriveExpecting(uint32_t bar) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "n"(kBytes)
               : "memory");
}

// A bulk copy of kBytes from device memory into shared memory at `dst`,
// counted on `bar` as it lands.
template <int kBytes>
__device__ __forceinline__ void BulkLoad(uint32_t dst, const void* src, uint32_t bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::"r"(
          dst),
      "l"(src), "n"(kBytes), "r"(bar) : "memory");
}

__device__ __forceinline__ void WaitParity(uint32_t bar, uint32_t phase) {
  asm volatile(
      "{\n.reg .pred done;\nwait:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra wait;\n}\n" ::"r"(bar),
      "r"(phase) : "memory");
}

template <int kThreads, int kLoads, int kStages, int kPieces, bool kBulkStore, int kMinBlocks>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    BulkRowCopy(const uint4* in, uint4* out, int64_t rows) {
  constexpr int kRowBytes = kThreads * kLoads * 16;
  constexpr int kPieceBytes = kRowBytes / kPieces;
  extern __shared__ __align__(128) uint4 row_smem[];
  __shared__ __align__(8) uint64_t full;
  const int t = threadIdx.x;
  const uint32_t bar = SharedAddress(&full);
  if (t == 0) InitBarriers(&full, 1);
  __syncthreads();
  uint32_t phase = 0;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const char* src = reinterpret_cast<const char*>(in + row * kThreads * kLoads);
    if (t == 0) {
      ArriveExpecting<kRowBytes>(bar);
#pragma unroll
      for (int p = 0; p < kPieces; ++p)
        BulkLoad<kPieceBytes>(SharedAddress(row_smem) + p * kPieceBytes, src + p * kPieceBytes, bar);
    }
    WaitParity(bar, phase);
    phase ^= 1;
    uint4 raw[kLoads];
    if (kStages > 0 || !kBulkStore) {
#pragma unroll
      for (int c = 0; c < kLoads; ++c) raw[c] = row_smem[t + c * kThreads];
    }
    if constexpr (kStages > 0) {
      ButterflyStages<kLoads, kStages>(raw);
      if constexpr (kBulkStore) {
#pragma unroll
        for (int c = 0; c < kLoads; ++c) row_smem[t + c * kThreads] = raw[c];
        // Generic stores that the copy engine reads next.
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
      }
    }
    char* dst = reinterpret_cast<char*>(out + row * kThreads * kLoads);
    if constexpr (kBulkStore) {
      __syncthreads();
      if (t == 0) {
        asm volatile("cp.async.bulk.global.shared::cta.bulk_group [%0], [%1], %2;\n" ::"l"(dst),
                     "r"(SharedAddress(row_smem)), "n"(kRowBytes) : "memory");
        asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
        // Shared memory is reused (next row) or released (exit) only once read.
        asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
      }
      __syncthreads();
    } else {
      uint4* d = reinterpret_cast<uint4*>(dst) + t;
#pragma unroll
      for (int c = 0; c < kLoads; ++c) d[c * kThreads] = raw[c];
      __syncthreads();  // the row buffer is refilled next
    }
  }
}

// A persistent grid whose rows are streamed ahead through the bulk-copy
// engine: kSlots row buffers in shared memory, each filled by one bulk copy
// that completes on its mbarrier. A block reads the current row's buffer
// into registers, runs kStages butterfly stages, meets a barrier (where the
// transform exchanges; it also marks the buffer read), then thread 0 starts
// the copy of the block's next row into that buffer while every thread
// stores the current row from registers. So a block always has a row in
// flight while it computes, which one block a row cannot have. kDynamic:
// thread 0 takes each next row from a counter in device memory (rows in the
// order they are handed out, as the hardware hands out blocks), else the
// grid-stride order. The last block to finish resets the counter.
__device__ unsigned long long g_next_row = 0, g_blocks_done = 0;

template <int kThreads, int kLoads, int kStages, int kSlots, bool kDynamic, int kMinBlocks,
          bool kHostReset = false>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    PipelinedRowCopy(const uint4* in, uint4* out, int64_t rows) {
  constexpr int kRowVectors = kThreads * kLoads;
  extern __shared__ __align__(128) uint4 slots[];
  __shared__ __align__(8) uint64_t full[kSlots];
  __shared__ int64_t slot_row[kSlots];
  const int t = threadIdx.x;
  int64_t static_next = blockIdx.x;
  // Thread 0: the block's next row, its copy started into buffer s.
  auto fill = [&](int s) {
    int64_t row;
    if constexpr (kDynamic) {
      row = static_cast<int64_t>(atomicAdd(&g_next_row, 1ull));
    } else {
      row = static_next;
      static_next += gridDim.x;
    }
    slot_row[s] = row;
    const uint32_t bar = SharedAddress(&full[s]);
    if (row < rows) {
      ArriveExpecting<kRowVectors * 16>(bar);
      BulkLoad<kRowVectors * 16>(SharedAddress(slots + s * kRowVectors), in + row * kRowVectors, bar);
    } else {
      asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
    }
  };
  if (t == 0) {
    InitBarriers(full, kSlots);
    for (int s = 0; s < kSlots; ++s) fill(s);
  }
  __syncthreads();
  uint32_t phase = 0;
  for (int s = 0;;) {
    WaitParity(SharedAddress(&full[s]), phase);
    const int64_t row = slot_row[s];  // published by thread 0's arrive
    if (row >= rows) break;
    uint4 raw[kLoads];
#pragma unroll
    for (int c = 0; c < kLoads; ++c) raw[c] = slots[s * kRowVectors + t + c * kThreads];
    if constexpr (kStages > 0) ButterflyStages<kLoads, kStages>(raw);
    __syncthreads();  // the exchange's barrier; buffer s and slot_row[s] are read
    if (t == 0) fill(s);
    uint4* dst = out + row * kRowVectors + t;
#pragma unroll
    for (int c = 0; c < kLoads; ++c) dst[c * kThreads] = raw[c];
    if (++s == kSlots) {
      s = 0;
      phase ^= 1;
    }
  }
  if (kDynamic && !kHostReset && t == 0 && atomicAdd(&g_blocks_done, 1ull) == gridDim.x - 1) {
    g_next_row = 0;  // every block has taken its last row: ready for the next call
    g_blocks_done = 0;
  }
}

// Best of three batches of kReps back-to-back calls, in ms a call.
template <class F>
float TimeMs(F&& call) {
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  float best = 1e30f;
  for (int batch = 0; batch < 3; ++batch) {
    call();
    CUDA_CHECK(cudaEventRecord(a));
    for (int i = 0; i < kReps; ++i) call();
    CUDA_CHECK(cudaEventRecord(b));
    CUDA_CHECK(cudaEventSynchronize(b));
    CUDA_CHECK(cudaGetLastError());
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    best = ms / kReps < best ? ms / kReps : best;
  }
  CUDA_CHECK(cudaEventDestroy(a));
  CUDA_CHECK(cudaEventDestroy(b));
  return best;
}

// Whether `kernel` (a plain copy) moves every byte to its place: `in` gets a
// pattern that differs from byte to byte of a row, then the shapes' common
// fill again (the timings all run on the same data).
template <class Launch>
bool CopiesEveryByte(uint4* in, uint4* out, Launch&& launch) {
  static unsigned char *ha = nullptr, *hb = nullptr;
  if (!ha) {
    ha = static_cast<unsigned char*>(std::malloc(g_bytes));
    hb = static_cast<unsigned char*>(std::malloc(g_bytes));
  }
  for (int64_t i = 0; i < g_bytes; ++i) ha[i] = static_cast<unsigned char>((i * 2654435761u) >> 13);
  CUDA_CHECK(cudaMemcpy(in, ha, g_bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemset(out, 0, g_bytes));
  launch(in, out);
  CUDA_CHECK(cudaDeviceSynchronize());
  CUDA_CHECK(cudaMemcpy(hb, out, g_bytes, cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemset(in, 0x3c, g_bytes));
  return std::memcmp(ha, hb, g_bytes) == 0;
}

// Every shape's kernel: (in, out, rows).
using RowKernel = void (*)(const uint4*, uint4*, int64_t);

// How a shape runs: its kernel on blocks of `threads` with `smem` bytes of
// dynamic shared memory (its limit already raised) over `rows` rows, one
// block a row, or with `persistent` one wave of blocks; `reset` (a counter in
// device memory) is set to zero before each launch.
class Shape {
 public:
  Shape(RowKernel kernel, int threads, int smem, int64_t rows, bool persistent = false,
        void* reset = nullptr)
      : kernel_(kernel), threads_(threads), smem_(smem), rows_(rows), grid_(rows), reset_(reset) {
    CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&resident_, kernel, threads, smem));
    if (persistent) {
      int sms = 0;
      CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
      grid_ = int64_t{resident_} * sms;
    }
  }
  void Launch(const uint4* in, uint4* out) const {
    if (reset_) CUDA_CHECK(cudaMemsetAsync(reset_, 0, 8));
    kernel_<<<grid_, threads_, smem_>>>(in, out, rows_);
  }
  RowKernel kernel() const { return kernel_; }
  int resident() const { return resident_; }  // blocks an SM

 private:
  RowKernel kernel_;
  int threads_, smem_;
  int64_t rows_, grid_;
  void* reset_;
  int resident_ = 0;
};

// Dynamic shared memory a block for `blocks_per_sm` blocks an SM (1 KB a
// block is reserved, and `static_bytes` are the kernel's own), with the
// kernel's limit raised to it; -1, and a table row saying so, when that is
// less than the `needed` bytes.
int SmemFor(const char* what, RowKernel kernel, int blocks_per_sm, int static_bytes, int needed) {
  int optin = 0;
  CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerMultiprocessor, 0));
  const int smem = optin / blocks_per_sm - 1024 - static_bytes;
  if (smem < needed) {
    std::printf("| %-48s | does not fit |\n", what);
    return -1;
  }
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  return smem;
}

// Times `shape` out of place, and in place on `out` so that `in` keeps the
// values every shape starts from; prints its table row. With `check`, first
// makes sure it copies every byte (`in` is refilled by the check and
// restored).
void TimeRow(const char* what, const Shape& shape, uint4* in, uint4* out, float copy_ms,
             bool check = false) {
  if (check && !CopiesEveryByte(in, out, [&](const uint4* i, uint4* o) { shape.Launch(i, o); })) {
    std::printf("| %-48s | WRONG RESULT |\n", what);
    return;
  }
  cudaFuncAttributes attributes = {};
  CUDA_CHECK(cudaFuncGetAttributes(&attributes, shape.kernel()));
  const float ms = TimeMs([&] { shape.Launch(in, out); });
  const float in_place_ms = TimeMs([&] { shape.Launch(out, out); });
  std::printf("| %-48s | %d | %3d | %4zu | %5.3f | %5.3f |\n", what, shape.resident(),
              attributes.numRegs, attributes.localSizeBytes, ms / copy_ms, in_place_ms / copy_ms);
}

template <int kThreads, int kLoads, int kStages, int kMinBlocks = 1>
void Row(const char* what, uint4* in, uint4* out, int blocks_per_sm, float copy_ms) {
  if (!Wanted(what)) return;
  auto kernel = RowCopy<kThreads, kLoads, kStages, kMinBlocks>;
  const int smem = SmemFor(what, kernel, blocks_per_sm, 0, 0);
  TimeRow(what, Shape(kernel, kThreads, smem, g_bytes / 16 / (kThreads * kLoads)), in, out,
          copy_ms);
}

// The plain copies through the engine are checked before they are timed.
template <int kThreads, int kLoads, int kStages, int kPieces, bool kBulkStore, int kMinBlocks = 1>
void BulkRow(const char* what, uint4* in, uint4* out, int blocks_per_sm, float copy_ms) {
  if (!Wanted(what)) return;
  auto kernel = BulkRowCopy<kThreads, kLoads, kStages, kPieces, kBulkStore, kMinBlocks>;
  const int row_bytes = kThreads * kLoads * 16;
  const int smem = SmemFor(what, kernel, blocks_per_sm, 128, row_bytes);  // 128: the mbarrier
  if (smem < 0) return;
  TimeRow(what, Shape(kernel, kThreads, smem, g_bytes / row_bytes), in, out, copy_ms,
          /*check=*/kStages == 0);
}

// The shared memory beyond the row buffers stands in for the transform's X.
// kHostReset: the counter is set to zero by a memset before each launch
// instead of by the kernel's last block.
template <int kThreads, int kLoads, int kStages, int kSlots, bool kDynamic, int kMinBlocks = 1,
          bool kHostReset = false>
void PipelinedRow(const char* what, uint4* in, uint4* out, int blocks_per_sm, float copy_ms) {
  if (!Wanted(what)) return;
  auto kernel = PipelinedRowCopy<kThreads, kLoads, kStages, kSlots, kDynamic, kMinBlocks, kHostReset>;
  const int row_bytes = kThreads * kLoads * 16;
  // 256: the static mbarriers and row numbers.
  const int smem = SmemFor(what, kernel, blocks_per_sm, 256, kSlots * row_bytes);
  if (smem < 0) return;
  void* counter = nullptr;
  if (kHostReset) CUDA_CHECK(cudaGetSymbolAddress(&counter, g_next_row));
  TimeRow(what, Shape(kernel, kThreads, smem, g_bytes / row_bytes, /*persistent=*/true, counter),
          in, out, copy_ms, /*check=*/kStages == 0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) g_bytes = std::atoll(argv[1]) << 20;
  if (argc > 2) g_only = argv[2];
  uint4 *in = nullptr, *out = nullptr;
  CUDA_CHECK(cudaMalloc(&in, g_bytes));
  CUDA_CHECK(cudaMalloc(&out, g_bytes));
  CUDA_CHECK(cudaMemset(in, 0x3c, g_bytes));
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  const float copy_ms =
      TimeMs([&] { CUDA_CHECK(cudaMemcpyAsync(out, in, g_bytes, cudaMemcpyDeviceToDevice)); });
  std::printf("%s: copy of %lld MiB %.4f ms (%.0f GB/s read + write)\n", prop.name,
              static_cast<long long>(g_bytes >> 20), copy_ms, 2.0 * g_bytes / copy_ms * 1e-6);
  std::printf("| threads x 16-byte loads a thread (row bytes) | blocks an SM | registers | "
              "local bytes | ratio to copy | in place |\n|---|---|---|---|---|---|\n");
  Row<128, 16, 0>("128 x 16 (32 KB): the 128-thread 16-bit kernel's", in, out, 3, copy_ms);
  Row<128, 16, 0>("128 x 16, smem for 6 blocks an SM", in, out, 6, copy_ms);
  Row<128, 32, 0>("128 x 32 (64 KB): f32 d = 16384's shape", in, out, 3, copy_ms);
  Row<256, 8, 0>("256 x 8 (32 KB)", in, out, 3, copy_ms);
  Row<512, 4, 0>("512 x 4 (32 KB)", in, out, 3, copy_ms);
  Row<128, 8, 0>("128 x 8 (16 KB)", in, out, 6, copy_ms);
  Row<128, 4, 0>("128 x 4 (8 KB)", in, out, 8, copy_ms);
  Row<128, 16, 6>("128 x 16, 6 float butterfly stages", in, out, 3, copy_ms);
  Row<128, 16, 10>("128 x 16, 10 stages (the 16-bit kernel's)", in, out, 3, copy_ms);
  Row<128, 16, 14>("128 x 16, 14 stages", in, out, 3, copy_ms);
  // 256 threads a row: the same butterflies a row on 64 values a thread.
  Row<256, 8, 0>("256 x 8, 2 blocks an SM", in, out, 2, copy_ms);
  Row<256, 8, 10>("256 x 8, 10 stages", in, out, 3, copy_ms);
  Row<256, 8, 10, 3>("256 x 8, 10 stages, registers for 3 blocks an SM", in, out, 3, copy_ms);
  Row<256, 8, 12, 3>("256 x 8, 12 stages, registers for 3 blocks an SM", in, out, 3, copy_ms);
  // 512 threads a row, 32 values a thread (v17): two blocks an SM at 64
  // registers, or three at 40.
  Row<512, 4, 0>("512 x 4, 2 blocks an SM", in, out, 2, copy_ms);
  Row<512, 4, 10, 2>("512 x 4, 10 stages, registers for 2 an SM", in, out, 2, copy_ms);
  Row<512, 4, 12, 2>("512 x 4, 12 stages, registers for 2 an SM", in, out, 2, copy_ms);
  Row<512, 4, 10, 3>("512 x 4, 10 stages, registers for 3 an SM", in, out, 3, copy_ms);
  // Near a flat copy: one or two vectors a thread, many blocks an SM.
  Row<256, 1, 0>("256 x 1 (4 KB)", in, out, 8, copy_ms);
  Row<256, 2, 0>("256 x 2 (8 KB)", in, out, 8, copy_ms);
  // Through the bulk-copy engine (one thread moves the row). Measured at the
  // blocks an SM named (notes v13).
  BulkRow<256, 8, 0, 1, true>("bulk in + bulk out, 32 KB, 2 blocks an SM", in, out, 2, copy_ms);
  BulkRow<256, 8, 0, 4, true>("bulk in (4 pieces) + bulk out, 32 KB, 2 an SM", in, out, 2, copy_ms);
  BulkRow<256, 8, 0, 1, true>("bulk in + bulk out, 32 KB, 5 blocks an SM", in, out, 5, copy_ms);
  BulkRow<256, 4, 0, 1, true>("bulk in + bulk out, 16 KB, 8 blocks an SM", in, out, 8, copy_ms);
  BulkRow<256, 16, 0, 1, true>("bulk in + bulk out, 64 KB, 2 blocks an SM", in, out, 2, copy_ms);
  BulkRow<256, 8, 0, 1, false>("bulk in, register stores, 32 KB, 2 an SM", in, out, 2, copy_ms);
  BulkRow<256, 8, 10, 1, true, 2>("bulk in/out, 256 x 8 with 10 stages, 2 an SM", in, out, 2, copy_ms);
  BulkRow<256, 8, 10, 1, false, 2>("bulk in, 10 stages, register stores, 2 an SM", in, out, 2, copy_ms);
  BulkRow<128, 16, 10, 1, true, 2>("bulk in/out, 128 x 16 with 10 stages, 2 an SM", in, out, 2, copy_ms);
  // Persistent, the next row streamed in through the engine while this one
  // is computed (notes v14).
  PipelinedRow<256, 8, 0, 1, false>("pipelined copy, 1 buffer, grid-stride, 2 an SM", in, out, 2, copy_ms);
  PipelinedRow<256, 8, 0, 1, true>("pipelined copy, 1 buffer, counter, 2 an SM", in, out, 2, copy_ms);
  PipelinedRow<256, 8, 0, 2, true>("pipelined copy, 2 buffers, counter, 2 an SM", in, out, 2, copy_ms);
  PipelinedRow<256, 8, 10, 1, false, 2>("pipelined, 10 stages, 1 buffer, grid-stride, 2", in, out, 2, copy_ms);
  PipelinedRow<256, 8, 10, 1, true, 2>("pipelined, 10 stages, 1 buffer, counter, 2", in, out, 2, copy_ms);
  PipelinedRow<256, 8, 10, 2, true, 2>("pipelined, 10 stages, 2 buffers, counter, 2", in, out, 2, copy_ms);
  PipelinedRow<256, 8, 10, 1, true, 3>("pipelined, 10 stages, 1 buffer, counter, 3", in, out, 3, copy_ms);
  PipelinedRow<256, 8, 0, 1, true, 1, true>("pipelined copy, counter set by a memset, 2 an SM", in, out, 2, copy_ms);
  PipelinedRow<256, 8, 10, 1, true, 2, true>("pipelined, 10 stages, memset counter, 2", in, out, 2, copy_ms);
  PipelinedRow<512, 8, 10, 1, true, 1>("pipelined, 512 x 8 (64 KB), 10 stages, 1 an SM", in, out, 1, copy_ms);
  PipelinedRow<512, 8, 10, 2, true, 1>("pipelined, 512 x 8, 10 stages, 2 buffers, 1 an SM", in, out, 1, copy_ms);
  CUDA_CHECK(cudaFree(in));
  CUDA_CHECK(cudaFree(out));
  return 0;
}
