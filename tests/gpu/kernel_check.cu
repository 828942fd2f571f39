// Standalone check and timing of the CUDA Hadamard launcher, no Python:
// built and run by tests/gpu/kernel_check.sh.
//
//   kernel_check           every dtype x d = 2^0..2^15 x several row counts,
//                          out-of-place and in-place, against a float64 host
//                          reference; then the timing table against a D2D copy
//   kernel_check --check   the same check, no timing
//   kernel_check --quick   small row counts, no timing (for compute-sanitizer)
//   kernel_check --shared-memory   --quick from d = 2048 on (for racecheck and
//                          synccheck: the sizes that kernels with shared memory
//                          serve in some build)
//   kernel_check --time [N]  the timing table only (to compare builds), at
//                          2^N elements a call (default 27)
//   kernel_check --soak [S]  each of a few cases back to back for S seconds
//                          (default 2): time, SM clock and power over the
//                          last second
//   kernel_check --sweep   the large-d cases at 2^26..2^28 elements a call,
//                          each call's time fitted as a fixed cost plus a
//                          cost per byte, beside the copy's
//
// The kernel's translation unit is included, not linked, so the test can also
// drive the launcher with a smaller shared-memory budget and so check the
// path that GPUs with less shared memory than an H100 take.
#include "../../xla_ffi/hadamard_cuda_kernel.cu"
#include "event_timing.h"

#include <signal.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using jaxhada::detail::LaunchHadamardTransformWithLimits;
using jaxhada::detail::PathLimits;

int g_failures = 0;

#define CUDA_CHECK(expr)                                                           \
  do {                                                                             \
    const cudaError_t err_ = (expr);                                               \
    if (err_ != cudaSuccess) {                                                     \
      std::fprintf(stderr, "%s:%d: %s -> %s\n", __FILE__, __LINE__, #expr,         \
                   cudaGetErrorString(err_));                                      \
      std::exit(2);                                                                \
    }                                                                              \
  } while (0)

template <typename T>
struct TypeInfo;
template <>
struct TypeInfo<__half> {
  static constexpr const char* kName = "f16";
  static constexpr double kBound = 5e-4;
  static double ToDouble(__half x) { return static_cast<double>(__half2float(x)); }
};
template <>
struct TypeInfo<__nv_bfloat16> {
  static constexpr const char* kName = "bf16";
  static constexpr double kBound = 4e-3;
  static double ToDouble(__nv_bfloat16 x) { return static_cast<double>(__bfloat162float(x)); }
};
template <>
struct TypeInfo<float> {
  static constexpr const char* kName = "f32";
  static constexpr double kBound = 2e-6;
  static double ToDouble(float x) { return x; }
};
template <>
struct TypeInfo<double> {
  static constexpr const char* kName = "f64";
  static constexpr double kBound = 1e-12;
  static double ToDouble(double x) { return x; }
};

template <typename T>
__device__ T FromDouble(double x);
template <>
__device__ __half FromDouble<__half>(double x) { return __float2half_rn(static_cast<float>(x)); }
template <>
__device__ __nv_bfloat16 FromDouble<__nv_bfloat16>(double x) {
  return __float2bfloat16_rn(static_cast<float>(x));
}
template <>
__device__ float FromDouble<float>(double x) { return static_cast<float>(x); }
template <>
__device__ double FromDouble<double>(double x) { return x; }

__device__ uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

// Standard normal values from a counter-based hash (Box-Muller), fresh for
// every seed: no state, so any size fills in one pass on the device.
template <typename T>
__global__ void FillNormal(T* p, int64_t n, uint64_t seed) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride) {
    const uint64_t h = Mix(seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(i));
    const double u1 = (static_cast<double>(h >> 40) + 0.5) / 16777216.0;
    const double u2 = static_cast<double>((h >> 8) & 0xffffffULL) / 16777216.0;
    p[i] = FromDouble<T>(sqrt(-2.0 * log(u1)) * cospi(2.0 * u2));
  }
}

template <typename T>
void Fill(T* p, int64_t n, uint64_t seed) {
  const int64_t blocks = std::min<int64_t>((n + 255) / 256, 65536);
  FillNormal<T><<<static_cast<unsigned>(std::max<int64_t>(blocks, 1)), 256>>>(p, n, seed);
  CUDA_CHECK(cudaGetLastError());
}

// In-place float64 FWHT of each row, natural (Sylvester) order.
void ReferenceFwht(std::vector<double>& x, int64_t rows, int log2_d, double scale) {
  const int64_t d = int64_t{1} << log2_d;
  for (int64_t r = 0; r < rows; ++r) {
    double* v = x.data() + r * d;
    for (int64_t h = 1; h < d; h <<= 1)
      for (int64_t i = 0; i < d; i += 2 * h)
        for (int64_t j = i; j < i + h; ++j) {
          const double a = v[j], b = v[j + h];
          v[j] = a + b;
          v[j + h] = a - b;
        }
    for (int64_t j = 0; j < d; ++j) v[j] *= scale;
  }
}

// ||out - ref|| / ||ref|| over the whole array and over each row of d
// elements; any non-finite output is infinitely wrong. The pooled error
// alone could hide one bad row among many (one wrong warp in 800 rows stays
// under the bf16 bound); a row's error is also held to the dtype's bound,
// which a correct kernel meets row by row: the bounds sit above the
// dtypes' unit roundoff (one rounding at the store) plus float
// accumulation.
struct Errors {
  double pooled = 0, worst_row = 0;
  int64_t row = -1;  // the worst row
};
template <typename T>
Errors RelErrors(const std::vector<T>& out, const std::vector<double>& ref, int64_t d) {
  Errors e;
  double num = 0, den = 0;
  for (size_t start = 0; start < ref.size(); start += d) {
    double row_num = 0, row_den = 0;
    for (size_t i = start; i < start + d; ++i) {
      const double o = TypeInfo<T>::ToDouble(out[i]);
      const double diff = std::isfinite(o) ? o - ref[i] : INFINITY;
      row_num += diff * diff;
      row_den += ref[i] * ref[i];
    }
    num += row_num;
    den += row_den;
    const double row_error = row_den > 0 ? std::sqrt(row_num / row_den) : std::sqrt(row_num);
    if (!(row_error <= e.worst_row)) {
      e.worst_row = row_error;
      e.row = static_cast<int64_t>(start) / d;
    }
  }
  e.pooled = den > 0 ? std::sqrt(num / den) : std::sqrt(num);
  return e;
}

// The worst single row seen for each dtype, and the case of the worst
// pooled error, for the summary.
template <typename T>
double g_worst_row = 0;
struct WorstCase {
  double pooled = 0;
  char where[160] = "none";
};
template <typename T>
WorstCase g_worst_case;

uint64_t g_seed = 12345;

// One size: out-of-place and in-place against the reference, on the paths
// that `limits` allows. The scale is 1 or 1/sqrt(d), times `scale_factor`.
template <typename T>
double CheckCase(int log2_d, int64_t rows, const PathLimits& limits, const char* tag,
                 double scale_factor = 1.0) {
  const int64_t n = rows << log2_d;
  const size_t bytes = static_cast<size_t>(n) * sizeof(T);
  const double scale =
      scale_factor *
      ((log2_d % 3 == 1) ? 1.0 : 1.0 / std::sqrt(static_cast<double>(int64_t{1} << log2_d)));
  T *din = nullptr, *dout = nullptr;
  CUDA_CHECK(cudaMalloc(&din, bytes));
  CUDA_CHECK(cudaMalloc(&dout, bytes));
  Fill(din, n, ++g_seed);
  std::vector<T> hin(n), hout(n), hin_after(n);
  CUDA_CHECK(cudaMemcpy(hin.data(), din, bytes, cudaMemcpyDeviceToHost));
  std::vector<double> ref(n);
  for (int64_t i = 0; i < n; ++i) ref[i] = TypeInfo<T>::ToDouble(hin[i]);
  ReferenceFwht(ref, rows, log2_d, scale);

  double worst = 0;
  for (int in_place = 0; in_place < 2; ++in_place) {
    if (in_place) {
      CUDA_CHECK(cudaMemcpy(dout, din, bytes, cudaMemcpyDeviceToDevice));
    } else {
      CUDA_CHECK(cudaMemset(dout, 0xFF, bytes));  // NaN in every dtype
    }
    const T* src = in_place ? dout : din;
    const cudaError_t err =
        LaunchHadamardTransformWithLimits<T>(nullptr, src, dout, rows, log2_d, scale, limits);
    if (err != cudaSuccess) {
      std::printf("FAIL %s %s d=%lld rows=%lld %s: launch returned %s\n", TypeInfo<T>::kName, tag,
                  (long long)(int64_t{1} << log2_d), (long long)rows,
                  in_place ? "in-place" : "out-of-place", cudaGetErrorString(err));
      ++g_failures;
      continue;
    }
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(hout.data(), dout, bytes, cudaMemcpyDeviceToHost));
    const Errors e = RelErrors(hout, ref, int64_t{1} << log2_d);
    worst = std::max(worst, e.pooled);
    g_worst_row<T> = std::max(g_worst_row<T>, e.worst_row);
    if (e.pooled > g_worst_case<T>.pooled) {
      g_worst_case<T>.pooled = e.pooled;
      std::snprintf(g_worst_case<T>.where, sizeof g_worst_case<T>.where, "d=%lld rows=%lld %s %s",
                    (long long)(int64_t{1} << log2_d), (long long)rows, tag,
                    in_place ? "in-place" : "out-of-place");
    }
    if (!(e.pooled <= TypeInfo<T>::kBound) || !(e.worst_row <= TypeInfo<T>::kBound)) {
      std::printf("FAIL %s %s d=%lld rows=%lld %s: rel. L2 error %.3e, row %lld's %.3e (bound %.1e)\n",
                  TypeInfo<T>::kName, tag, (long long)(int64_t{1} << log2_d), (long long)rows,
                  in_place ? "in-place" : "out-of-place", e.pooled, (long long)e.row, e.worst_row,
                  TypeInfo<T>::kBound);
      ++g_failures;
    }
    if (!in_place) {
      CUDA_CHECK(cudaMemcpy(hin_after.data(), din, bytes, cudaMemcpyDeviceToHost));
      if (std::memcmp(hin_after.data(), hin.data(), bytes) != 0) {
        std::printf("FAIL %s %s d=%lld rows=%lld: out-of-place call changed its input\n",
                    TypeInfo<T>::kName, tag, (long long)(int64_t{1} << log2_d), (long long)rows);
        ++g_failures;
      }
    }
  }
  CUDA_CHECK(cudaFree(din));
  CUDA_CHECK(cudaFree(dout));
  return worst;
}

// The block kernel with the row path off (what d = 8192, 16384 and 32768
// get on a GPU without room for the row path, 32768 also without clusters,
// 16-bit 8192 also where five of its blocks do not fit an SM; and the odd
// last row of an f32 call at 8192), staged and unstaged (a GPU without room
// for the staged row either). At 2048 and 4096 the warp path serves these
// calls unless the build lowers JAXHADA_WARP_MAX_LOG2_D (4096 without the
// row path: 16-bit always the warp path, f32 too unless the build also sets
// JAXHADA_ROW_FOUR_ROWS=0).
template <typename T, int L>
double CheckBlockPaths(int64_t rows) {
  if constexpr (sizeof(T) <= 4 && L >= 11) {
    const double staged = CheckCase<T>(L, rows, PathLimits{-1, false}, "block staged");
    const double unstaged = CheckCase<T>(
        L, rows, PathLimits{jaxhada::BlockTraits<T, L, false>::kSmem, false}, "block unstaged");
    return std::max(staged, unstaged);
  }
  return 0;
}

template <typename T>
double CheckType(bool quick, int min_log2_d) {
  std::vector<int64_t> row_counts = {1, 7, 33};
  if (!quick) {
    row_counts.push_back(1000);
    row_counts.push_back(257);  // rows * d not a multiple of 256 for d < 256
  }
  double worst = 0;
  for (int log2_d = min_log2_d; log2_d <= 15; ++log2_d)
    for (int64_t rows : row_counts) {
      // Keep the host reference affordable: at most ~34M elements a case.
      if ((rows << log2_d) > (int64_t{1} << 25) + (int64_t{1} << 20)) continue;
      worst = std::max(worst, CheckCase<T>(log2_d, rows, PathLimits{}, "default"));
    }
  // Many rows: more than one wave of blocks at 4096 (16-bit: two rows a
  // block, the odd last one on the warp path; f32: four rows a block, the
  // last 1601 % 4 on the warp path) and 8192 (16-bit: five blocks
  // an SM; f32: two rows a block, three blocks an SM) and 16384, and of
  // pairs at 32768; and more rows than the block path's persistent grid at
  // 32768 (one block an SM), whose blocks stream their next row.
  worst = std::max(worst, CheckCase<T>(12, 1601, PathLimits{}, "default, rows > one wave"));
  worst = std::max(worst, CheckCase<T>(13, 1601, PathLimits{}, "default, rows > one wave"));
  worst = std::max(worst, CheckCase<T>(14, 800, PathLimits{}, "default, rows > one wave"));
  worst = std::max(worst, CheckCase<T>(15, 300, PathLimits{}, "default, rows > one wave"));
  // The row and pair paths' loop over further rows (past 2^24 rows otherwise):
  // 33 rows on 4 blocks (pairs), so each runs 8 or 9 rows (f32 at 8192: 16
  // pairs of rows on 4 blocks, and the last row on the block path; 34 rows
  // leave none; 16-bit at 4096 likewise, the last row on the warp path; f32
  // at 4096: 8 blocks of four rows, and 1 or 2 rows on the warp path).
  for (int log2_d : {12, 13, 14, 15})
    worst = std::max(worst, CheckCase<T>(log2_d, 33, PathLimits{-1, true, 4}, "rows loop"));
  for (int log2_d : {12, 13})
    worst = std::max(worst, CheckCase<T>(log2_d, 34, PathLimits{-1, true, 4}, "rows loop"));
  // The scale above is a power of two at d = 4096, 8192 and 16384, which
  // the kernels there (the wide kernel; at 16384 the two-product kernel)
  // put in the MMA (ScaleInMma); one that is not a 16-bit value
  // (multiplied at the store), and a negative one that is but is not a
  // power of two (in the MMA).
  for (int log2_d : {12, 13, 14}) {
    worst = std::max(worst, CheckCase<T>(log2_d, 33, PathLimits{}, "scale not a 16-bit value", 1.1));
    worst = std::max(worst, CheckCase<T>(log2_d, 33, PathLimits{}, "scale -0.75 times", -0.75));
  }
  if (!quick) worst = std::max(worst, CheckBlockPaths<T, 15>(300));
  for (int64_t rows : {int64_t{7}, int64_t{33}}) {
    worst = std::max(worst, CheckBlockPaths<T, 11>(rows));
    worst = std::max(worst, CheckBlockPaths<T, 12>(rows));
    worst = std::max(worst, CheckBlockPaths<T, 13>(rows));
    worst = std::max(worst, CheckBlockPaths<T, 14>(rows));
    worst = std::max(worst, CheckBlockPaths<T, 15>(rows));
  }
  return worst;
}

// Calls back to back, each reading what the one before wrote, with no
// host synchronization between them: on sm_90 each may start before the
// one ahead of it ends (WaitForPreviousGrids), so a kernel that touched
// device memory before its wait would read stale data (or write over data
// still being read) here. A chain is pairs of calls at one d, the second in
// place, each pair the identity (the normalized transform is an
// involution), so that one kernel follows another of another shape. It runs
// on the legacy default stream, on a stream of its own, and as a CUDA graph
// captured on that stream (where the overlap is a programmatic edge). The
// result is the input again, up to one rounding a call: every element
// within 32 times the dtype's bound of the input's RMS (a stale read is off
// by order one, and the poisoned buffers give NaN).
struct BackToBackChain {
  const char* what;
  int64_t n;                 // elements a call
  std::vector<int> log2_ds;  // one pair of calls each, an even count
  PathLimits limits;
};

template <typename T>
void CheckBackToBack(const BackToBackChain& chain) {
  const int64_t n = chain.n;
  const size_t bytes = static_cast<size_t>(n) * sizeof(T);
  T *x = nullptr, *b = nullptr, *c = nullptr;
  CUDA_CHECK(cudaMalloc(&x, bytes));
  CUDA_CHECK(cudaMalloc(&b, bytes));
  CUDA_CHECK(cudaMalloc(&c, bytes));
  Fill(x, n, ++g_seed);
  std::vector<T> hx(n), hout(n);
  CUDA_CHECK(cudaMemcpy(hx.data(), x, bytes, cudaMemcpyDeviceToHost));
  double sum_squares = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = TypeInfo<T>::ToDouble(hx[i]);
    sum_squares += v * v;
  }
  const double bound = 32 * TypeInfo<T>::kBound * std::sqrt(sum_squares / static_cast<double>(n));
  cudaStream_t own = nullptr;
  CUDA_CHECK(cudaStreamCreateWithFlags(&own, cudaStreamNonBlocking));
  T* const bufs[2] = {b, c};
  const auto launch_chain = [&](cudaStream_t stream) {
    const T* src = x;
    for (size_t k = 0; k < chain.log2_ds.size(); ++k) {
      const int log2_d = chain.log2_ds[k];
      T* dst = bufs[k % 2];
      const double scale = 1.0 / std::sqrt(static_cast<double>(int64_t{1} << log2_d));
      for (int step = 0; step < 2; ++step) {
        const cudaError_t err = LaunchHadamardTransformWithLimits<T>(
            stream, step ? dst : src, dst, n >> log2_d, log2_d, scale, chain.limits);
        if (err != cudaSuccess) return err;
      }
      src = dst;
    }
    return cudaSuccess;
  };
  const T* const result = bufs[(chain.log2_ds.size() - 1) % 2];
  const char* names[] = {"default stream", "own stream", "graph"};
  for (int how = 0; how < 3; ++how) {
    CUDA_CHECK(cudaMemset(b, 0xFF, bytes));  // NaN in every dtype
    CUDA_CHECK(cudaMemset(c, 0xFF, bytes));
    // The memsets run on the legacy default stream, which a non-blocking
    // stream does not wait for: they must be over before the chain starts.
    CUDA_CHECK(cudaDeviceSynchronize());
    cudaError_t err = cudaSuccess;
    if (how < 2) {
      err = launch_chain(how == 0 ? nullptr : own);
    } else {
      cudaGraph_t graph = nullptr;
      CUDA_CHECK(cudaStreamBeginCapture(own, cudaStreamCaptureModeThreadLocal));
      err = launch_chain(own);
      const cudaError_t ended = cudaStreamEndCapture(own, &graph);  // ends it even after a failure
      if (err == cudaSuccess) err = ended;
      if (err == cudaSuccess) {
        cudaGraphExec_t exec = nullptr;
        CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
        CUDA_CHECK(cudaGraphLaunch(exec, own));
        CUDA_CHECK(cudaStreamSynchronize(own));
        CUDA_CHECK(cudaGraphExecDestroy(exec));
      }
      if (graph != nullptr) CUDA_CHECK(cudaGraphDestroy(graph));
    }
    CUDA_CHECK(cudaDeviceSynchronize());
    if (err != cudaSuccess) {
      std::printf("FAIL %s back to back%s, %s: launch returned %s\n", TypeInfo<T>::kName,
                  chain.what, names[how], cudaGetErrorString(err));
      ++g_failures;
      continue;
    }
    CUDA_CHECK(cudaMemcpy(hout.data(), result, bytes, cudaMemcpyDeviceToHost));
    int64_t worst = 0;
    double worst_error = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double o = TypeInfo<T>::ToDouble(hout[i]);
      const double error =
          std::isfinite(o) ? std::fabs(o - TypeInfo<T>::ToDouble(hx[i])) : INFINITY;
      if (!(error <= worst_error)) {
        worst_error = error;
        worst = i;
      }
    }
    if (!(worst_error <= bound)) {
      std::printf("FAIL %s back to back%s, %s: element %lld off by %.3e (bound %.3e)\n",
                  TypeInfo<T>::kName, chain.what, names[how], (long long)worst, worst_error, bound);
      ++g_failures;
    }
  }
  CUDA_CHECK(cudaStreamDestroy(own));
  CUDA_CHECK(cudaFree(x));
  CUDA_CHECK(cudaFree(b));
  CUDA_CHECK(cudaFree(c));
}

// The chains, at 2^log2_n elements a call (about that, for odd row counts;
// log2_n >= 15): the default paths from kernel to kernel (the pair path,
// 4096, the d = 16384 kernels, small rows); the block path, whose persistent
// grid launches all its blocks at once; the row and pair paths looping over
// rows on four blocks (pairs); odd row counts at 4096 and 8192, where one
// call is two kernels (16-bit: the last row on the warp path; f32 at 4096:
// the rows past a multiple of four on the warp path; f32 at 8192: the last
// row on the block path).
template <typename T>
void CheckBackToBackChains(int log2_n) {
  const int64_t n = int64_t{1} << log2_n;
  const BackToBackChain chains[] = {
      {"", n, {15, 12, 14, 8}, PathLimits{}},
      {" (block path)", n, {15, 14, 13, 11}, PathLimits{-1, false}},
      {" (rows loop)", n, {15, 14, 13, 12}, PathLimits{-1, true, 4}},
      {" (odd rows at 4096)", n - 4096, {12, 9}, PathLimits{}},
      {" (odd rows at 8192)", n - 8192, {13, 10}, PathLimits{}},
  };
  for (const BackToBackChain& chain : chains) CheckBackToBack<T>(chain);
}

// The launcher's refusals: errors, never silent no-ops.
void CheckErrors() {
  float* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, 1 << 20));
  struct Case {
    const char* what;
    cudaError_t got, want;
  } cases[] = {
      {"log2_d = 16", jaxhada::LaunchHadamardTransform<float>(nullptr, p, p, 1, 16, 1.0),
       cudaErrorInvalidValue},
      {"log2_d = -1", jaxhada::LaunchHadamardTransform<float>(nullptr, p, p, 1, -1, 1.0),
       cudaErrorInvalidValue},
      {"rows = -1", jaxhada::LaunchHadamardTransform<float>(nullptr, p, p, -1, 4, 1.0),
       cudaErrorInvalidValue},
      {"misaligned", jaxhada::LaunchHadamardTransform<float>(nullptr, p + 1, p + 1, 1, 4, 1.0),
       cudaErrorInvalidValue},
      {"rows = 0", jaxhada::LaunchHadamardTransform<float>(nullptr, p, p, 0, 4, 1.0), cudaSuccess},
  };
  for (const Case& c : cases)
    if (c.got != c.want) {
      std::printf("FAIL error path %s: got %s, want %s\n", c.what, cudaGetErrorName(c.got),
                  cudaGetErrorName(c.want));
      ++g_failures;
    }
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaFree(p));
}

// A plain copy through the SMs: one 16-byte vector a thread, each block a
// contiguous 4 KB. Timed beside each case as a second reference, what any
// kernel that streams its data through the SMs pays before it computes
// anything: 0.98-1.00 of cudaMemcpy on the H200 (notes v17). Also timed in
// place (out to out), the same traffic as an in-place transform: what
// writing back over the data just read costs by itself (notes v18). `flip`
// is XORed into every word, so that the in-place copy, like a transform,
// writes back values other than those it read (in place: the sign bits of
// 16-bit values, which keeps every value finite).
__global__ void __launch_bounds__(256) SmCopy(const uint4* in, uint4* out, int64_t n,
                                              uint32_t flip) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i < n) {
    const uint4 v = in[i];
    out[i] = make_uint4(v.x ^ flip, v.y ^ flip, v.z ^ flip, v.w ^ flip);
  }
}

// SmCopy over `bytes` (a multiple of 16) from in to out.
void LaunchSmCopy(const void* in, void* out, size_t bytes, uint32_t flip = 0) {
  const int64_t vectors = static_cast<int64_t>(bytes / 16);
  SmCopy<<<static_cast<unsigned>((vectors + 255) / 256), 256>>>(
      static_cast<const uint4*>(in), static_cast<uint4*>(out), vectors, flip);
  CUDA_CHECK(cudaGetLastError());
}

// Milliseconds a call, timed interleaved: a D2D copy of `elems` elements,
// the transform at 2^log2_d out of place (in -> out) and in place
// (out -> out, as under donation), then each of `extra`.
template <typename T, int kExtra = 0>
std::array<float, 3 + kExtra> TimeCaseMs(const T* in, T* out, int64_t elems, int log2_d,
                                         cudaEvent_t a, cudaEvent_t b,
                                         const std::array<std::function<void()>, kExtra>& extra = {}) {
  const size_t bytes = static_cast<size_t>(elems) * sizeof(T);
  const int64_t rows = elems >> log2_d;
  const double scale = 1.0 / std::sqrt(static_cast<double>(int64_t{1} << log2_d));
  auto transform = [&](const T* src) {
    CUDA_CHECK(jaxhada::LaunchHadamardTransform<T>(nullptr, src, out, rows, log2_d, scale));
  };
  std::array<std::function<void()>, 3 + kExtra> fns = {
      [&] { CUDA_CHECK(cudaMemcpyAsync(out, in, bytes, cudaMemcpyDeviceToDevice, nullptr)); },
      [&] { transform(in); }, [&] { transform(out); }};
  for (int k = 0; k < kExtra; ++k) fns[3 + k] = extra[k];
  return TimeInterleavedMs<3 + kExtra>(fns, a, b);
}

// 2^log2_elems elements per call: by default 128 Mi, 256 MiB (16-bit) or 512
// MiB (f32) each way, far beyond the 60 MB L2, so no buffer rotation is
// needed. Out of place (in -> out) and in place (out -> out, as under
// donation), each against a copy of the same bytes timed beside it. Returns
// the worst out-of-place and in-place ratios.
template <typename T>
void TimeType(void* in_raw, void* out_raw, int log2_elems, double (&worst)[2]) {
  const int64_t elems = int64_t{1} << log2_elems;
  T* in = static_cast<T*>(in_raw);
  T* out = static_cast<T*>(out_raw);
  Fill(in, elems, ++g_seed);
  Fill(out, elems, ++g_seed);
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  const size_t bytes = static_cast<size_t>(elems) * sizeof(T);
  for (int log2_d : {4, 6, 7, 8, 10, 11, 12, 13, 14, 15}) {
    const std::array<float, 5> ms = TimeCaseMs<T, 2>(
        in, out, elems, log2_d, a, b,
        {[&] { LaunchSmCopy(in, out, bytes); }, [&] { LaunchSmCopy(out, out, bytes, 0x80008000u); }});
    const double ratio[2] = {ms[1] / ms[0], ms[2] / ms[0]};
    for (int k = 0; k < 2; ++k) worst[k] = std::max(worst[k], ratio[k]);
    std::printf("| %-4s | %5lld | %9.4f | %7.4f | %5.3f | %5.3f | %6.0f | %5.3f | %5.3f |%s\n",
                TypeInfo<T>::kName, (long long)(int64_t{1} << log2_d), ms[1], ms[0], ratio[0],
                ratio[1], 2.0 * bytes / ms[1] * 1e-6, ms[3] / ms[0], ms[4] / ms[0],
                std::max(ratio[0], ratio[1]) > 1.05 ? " > 1.05" : "");
  }
  CUDA_CHECK(cudaEventDestroy(a));
  CUDA_CHECK(cudaEventDestroy(b));
}

// Least squares of y = a + b x over the points.
struct Line {
  double a, b;
};
Line FitLine(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    sxy += x[i] * y[i];
  }
  const double b = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  return {(sy - b * sx) / n, b};
}

// Where a ratio to the copy comes from: each case timed at 2^26..2^28
// elements a call (all beyond the 60 MB L2) beside the copy, and each time
// fitted as a + b bytes. "fixed us" is the kernel's a less the copy's, a cost
// a call pays once (at the start and the end of a call); "per byte" is the
// ratio of the slopes, what the ratio would tend to on ever larger calls.
// Not 2^29: there the kernels reach the H200's power cap within a case,
// and the line fits the clock instead (notes v26).
template <typename T>
void SweepType(void* in_raw, void* out_raw) {
  T* in = static_cast<T*>(in_raw);
  T* out = static_cast<T*>(out_raw);
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  for (int log2_d : {12, 13, 14, 15}) {
    std::vector<double> bytes_at, copy_ms, ours_ms[2];
    for (int log2_elems = 26; log2_elems <= 28; ++log2_elems) {
      const int64_t elems = int64_t{1} << log2_elems;
      Fill(in, elems, ++g_seed);
      Fill(out, elems, ++g_seed);
      const std::array<float, 3> ms = TimeCaseMs<T>(in, out, elems, log2_d, a, b);
      bytes_at.push_back(static_cast<double>(elems) * sizeof(T));
      copy_ms.push_back(ms[0]);
      for (int k = 0; k < 2; ++k) ours_ms[k].push_back(ms[1 + k]);
    }
    const Line copy = FitLine(bytes_at, copy_ms);
    std::printf("| %-4s | %5lld |", TypeInfo<T>::kName, (long long)(int64_t{1} << log2_d));
    for (int k = 0; k < 2; ++k) {
      const Line ours = FitLine(bytes_at, ours_ms[k]);
      std::printf(" %5.1f | %5.3f |", (ours.a - copy.a) * 1e3, ours.b / copy.b);
      for (size_t i = 0; i < copy_ms.size(); ++i) std::printf(" %5.3f", ours_ms[k][i] / copy_ms[i]);
      std::printf(" |");
    }
    std::printf(" %5.1f |\n", copy.a * 1e3);
  }
  CUDA_CHECK(cudaEventDestroy(a));
  CUDA_CHECK(cudaEventDestroy(b));
}

void SweepTable() {
  void *in = nullptr, *out = nullptr;
  const size_t bytes = (size_t{1} << 28) * sizeof(float);
  CUDA_CHECK(cudaMalloc(&in, bytes));
  CUDA_CHECK(cudaMalloc(&out, bytes));
  std::printf("calls of 2^26..2^28 elements, fitted as a + b bytes: the kernel's fixed cost a call over "
              "the copy's, its cost a byte as a ratio to the copy's, and the ratios at each size\n");
  std::printf("| dtype | d | fixed us | per byte | ratio at 2^26 .. 2^28 | in place: fixed us | per byte | "
              "ratio at 2^26 .. 2^28 | copy's fixed us |\n|---|---|---|---|---|---|---|---|---|\n");
  SweepType<__nv_bfloat16>(in, out);
  SweepType<__half>(in, out);
  SweepType<float>(in, out);
  CUDA_CHECK(cudaFree(in));
  CUDA_CHECK(cudaFree(out));
}

// Decode-sized calls (bf16 tokens x 32 heads x 128), where launch and latency
// rather than bandwidth set the time: 64 launches ping-ponging between two
// buffers are captured in one CUDA graph (as XLA runs them; capture needs a
// stream of its own), and the graph's time per launch is compared with that
// of a D2D copy of the same bytes.
void TimeDecode() {
  using T = __nv_bfloat16;
  constexpr int kLaunches = 64;
  cudaStream_t stream;
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  std::printf("| decode bf16 | kernel us/launch | copy us/launch |\n|---|---|---|\n");
  for (int tokens : {1, 16, 256}) {
    const int64_t rows = int64_t{tokens} * 32, n = rows * 128;
    T *x = nullptr, *y = nullptr;
    CUDA_CHECK(cudaMalloc(&x, n * sizeof(T)));
    CUDA_CHECK(cudaMalloc(&y, n * sizeof(T)));
    Fill(x, n, ++g_seed);
    float us[2];
    for (int copy = 0; copy < 2; ++copy) {
      cudaGraph_t graph;
      cudaGraphExec_t exec;
      CUDA_CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
      for (int i = 0; i < kLaunches; ++i) {
        T* src = i % 2 ? y : x;
        T* dst = i % 2 ? x : y;
        if (copy)
          CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToDevice, stream));
        else
          CUDA_CHECK(jaxhada::LaunchHadamardTransform<T>(stream, src, dst, rows, 7, 0.25));
      }
      CUDA_CHECK(cudaStreamEndCapture(stream, &graph));
      CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
      // Launched on the default stream, where TimeMs records its events.
      us[copy] = TimeMs([&] { CUDA_CHECK(cudaGraphLaunch(exec, nullptr)); }, a, b, 1) * 1e3f /
                 kLaunches;
      CUDA_CHECK(cudaGraphExecDestroy(exec));
      CUDA_CHECK(cudaGraphDestroy(graph));
    }
    std::printf("| %d x 32 x 128 | %.2f | %.2f |\n", tokens, us[0], us[1]);
    CUDA_CHECK(cudaFree(x));
    CUDA_CHECK(cudaFree(y));
  }
  CUDA_CHECK(cudaEventDestroy(a));
  CUDA_CHECK(cudaEventDestroy(b));
  CUDA_CHECK(cudaStreamDestroy(stream));
}

// --soak: each case runs back to back for `seconds`, as a long stretch of
// work would, and is timed over its last second, while a thread samples the
// SM clock, the board power and whether the power cap is holding the clock
// down (nvidia-smi every 50 ms). On the H200 our kernels reach the 700 W cap
// within about a second and the SM clock drops; the copy does not (notes
// v17). 1 GiB each way a call.
class GpuSampler {
 public:
  struct Sample {
    double t;
    int sm_mhz;
    double watts;
    bool capped;
  };
  // Samples the GPU with this PCI bus id: nvidia-smi's own device numbers
  // need not be CUDA's.
  explicit GpuSampler(const char* pci_bus_id) {
    // The shell prints its pid and becomes nvidia-smi, which samples until
    // it is killed.
    char command[256];
    std::snprintf(command, sizeof command,
                  "echo $$; exec nvidia-smi -i %s --query-gpu=clocks.sm,power.draw,"
                  "clocks_event_reasons.sw_power_cap --format=csv,noheader,nounits -lms 50",
                  pci_bus_id);
    pipe_ = popen(command, "r");
    char line[64];
    if (pipe_ && std::fgets(line, sizeof line, pipe_)) {
      pid_ = std::atoi(line);
      reader_ = std::thread([this] { Read(); });
    }
  }
  ~GpuSampler() {
    if (!pipe_) return;
    if (pid_ > 0) kill(pid_, SIGTERM);
    if (reader_.joinable()) reader_.join();
    pclose(pipe_);
  }
  // The samples taken between host times a and b (seconds).
  std::vector<Sample> Between(double a, double b) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Sample> out;
    for (const Sample& s : samples_)
      if (s.t >= a && s.t <= b) out.push_back(s);
    return out;
  }
  static double Now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

 private:
  void Read() {
    char line[256];
    while (std::fgets(line, sizeof line, pipe_)) {
      Sample s{Now(), 0, 0.0, false};
      char reason[64] = {};
      if (std::sscanf(line, "%d, %lf, %63s", &s.sm_mhz, &s.watts, reason) == 3) {
        s.capped = std::strncmp(reason, "Active", 6) == 0;
        std::lock_guard<std::mutex> lock(mutex_);
        samples_.push_back(s);
      }
    }
  }
  FILE* pipe_ = nullptr;
  int pid_ = 0;
  std::thread reader_;
  std::mutex mutex_;
  std::vector<Sample> samples_;
};

// Milliseconds a call over the last second of `seconds` of back-to-back
// batches of 20 calls (median), and the sampler's view of that second.
struct SoakResult {
  float ms;
  int mhz_min, mhz_max;
  double watts_min, watts_max;
  int capped, samples;
};
template <typename Fn>
SoakResult Soak(Fn&& fn, double seconds, GpuSampler& sampler, cudaEvent_t a, cudaEvent_t b) {
  std::vector<float> last;
  const double t0 = GpuSampler::Now();
  for (double t = 0; t < seconds; t = GpuSampler::Now() - t0) {
    CUDA_CHECK(cudaEventRecord(a));
    for (int k = 0; k < 20; ++k) fn();
    CUDA_CHECK(cudaEventRecord(b));
    CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    if (GpuSampler::Now() - t0 > seconds - 1.0) last.push_back(ms / 20);
  }
  SoakResult r{MedianMs(last), 1 << 30, 0, 1e9, 0, 0, 0};
  const double t1 = GpuSampler::Now();
  for (const auto& s : sampler.Between(t1 - 1.0, t1)) {
    r.mhz_min = std::min(r.mhz_min, s.sm_mhz);
    r.mhz_max = std::max(r.mhz_max, s.sm_mhz);
    r.watts_min = std::min(r.watts_min, s.watts);
    r.watts_max = std::max(r.watts_max, s.watts);
    r.capped += s.capped;
    ++r.samples;
  }
  return r;
}

void SoakTable(double seconds) {
  constexpr size_t kBytes = size_t{1} << 30;
  void *in = nullptr, *out = nullptr;
  CUDA_CHECK(cudaMalloc(&in, kBytes));
  CUDA_CHECK(cudaMalloc(&out, kBytes));
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  char pci_bus_id[32];
  CUDA_CHECK(cudaDeviceGetPCIBusId(pci_bus_id, sizeof pci_bus_id, 0));
  GpuSampler sampler(pci_bus_id);
  std::printf("| case (1 GiB each way, %.0f s back to back) | ms a call, last second | ratio | "
              "SM MHz | board W | power-capped samples |\n|---|---|---|---|---|---|\n",
              seconds);
  float copy_ms = 0;
  auto row = [&](const char* what, const SoakResult& r) {
    if (r.samples == 0)
      std::printf("| %s | %.4f | %.3f | n/a | n/a | n/a |\n", what, r.ms, r.ms / copy_ms);
    else
      std::printf("| %s | %.4f | %.3f | %d-%d | %.0f-%.0f | %d/%d |\n", what, r.ms, r.ms / copy_ms,
                  r.mhz_min, r.mhz_max, r.watts_min, r.watts_max, r.capped, r.samples);
    std::fflush(stdout);
  };
  auto copy = [&] { CUDA_CHECK(cudaMemcpyAsync(out, in, kBytes, cudaMemcpyDeviceToDevice, nullptr)); };
  Fill(static_cast<__nv_bfloat16*>(in), kBytes / 2, ++g_seed);
  SoakResult first_copy = Soak(copy, seconds, sampler, a, b);
  copy_ms = first_copy.ms;
  row("cudaMemcpyAsync", first_copy);
  row("SM copy kernel", Soak([&] { LaunchSmCopy(in, out, kBytes); }, seconds, sampler, a, b));
  auto transform = [&](auto tag, const char* name, int log2_d, bool in_place) {
    using T = decltype(tag);
    const int64_t elems = kBytes / sizeof(T), rows = elems >> log2_d;
    Fill(static_cast<T*>(in), elems, ++g_seed);
    Fill(static_cast<T*>(out), elems, ++g_seed);
    const double scale = 1.0 / std::sqrt(static_cast<double>(int64_t{1} << log2_d));
    const T* src = static_cast<const T*>(in_place ? out : in);
    char what[64];
    std::snprintf(what, sizeof what, "%s d = %d %s", name, 1 << log2_d,
                  in_place ? "in place" : "out of place");
    row(what, Soak(
                  [&] {
                    CUDA_CHECK(jaxhada::LaunchHadamardTransform<T>(nullptr, src,
                                                                  static_cast<T*>(out), rows,
                                                                  log2_d, scale));
                  },
                  seconds, sampler, a, b));
  };
  const __nv_bfloat16 bf16{};
  const __half f16{};
  transform(bf16, "bf16", 8, false);
  transform(bf16, "bf16", 12, false);
  transform(bf16, "bf16", 12, true);
  transform(bf16, "bf16", 14, false);
  transform(f16, "f16", 14, false);
  transform(bf16, "bf16", 14, true);
  transform(bf16, "bf16", 15, false);
  transform(bf16, "bf16", 15, true);
  transform(f16, "f16", 15, true);
  transform(0.0f, "f32", 14, true);
  transform(0.0f, "f32", 15, false);
  transform(0.0f, "f32", 15, true);
  Fill(static_cast<__nv_bfloat16*>(in), kBytes / 2, ++g_seed);
  row("cudaMemcpyAsync again", Soak(copy, seconds, sampler, a, b));
  CUDA_CHECK(cudaEventDestroy(a));
  CUDA_CHECK(cudaEventDestroy(b));
  CUDA_CHECK(cudaFree(in));
  CUDA_CHECK(cudaFree(out));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  // --shared-memory: the quick check from d = 2048 on, for
  // compute-sanitizer's racecheck and synccheck. Only the block, row and
  // pair paths use shared memory and barriers: from d = 4096 in the default
  // build, from 2048 in one with a lower
  // JAXHADA_WARP_MAX_LOG2_D; the warp path below uses neither.
  const bool shared_memory = mode == "--shared-memory";
  const bool quick = mode == "--quick" || shared_memory;
  const bool check_only = mode == "--check";  // the full check, no timing
  const int min_log2_d = shared_memory ? 11 : 0;
  if (mode == "--soak") {
    const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
    if (!(seconds >= 1.5)) {  // each case is timed over its last second
      std::printf("--soak S takes S >= 1.5 (seconds a case)\n");
      return 2;
    }
    SoakTable(seconds);
    return 0;
  }
  if (mode == "--sweep") {
    SweepTable();
    return 0;
  }
  const bool check = mode != "--time";
  // --time N: 2^N elements a timed call (default 27, where every call moves
  // 256 MiB or more each way; 26 gives f32 the JAX benchmark's 256 MiB).
  const int log2_elems = mode == "--time" && argc > 2 ? std::atoi(argv[2]) : 27;
  if (log2_elems < 26 || log2_elems > 31) {
    std::printf("--time N takes N in 26..31\n");
    return 2;
  }
  cudaDeviceProp prop;
  CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs, %zu KB smem/block opt-in, L2 %d MB\n", prop.name,
              prop.multiProcessorCount, prop.sharedMemPerBlockOptin / 1024,
              prop.l2CacheSize >> 20);

  if (check) {
    CheckErrors();
    const double e_bf16 = CheckType<__nv_bfloat16>(quick, min_log2_d);
    const double e_f16 = CheckType<__half>(quick, min_log2_d);
    const double e_f32 = CheckType<float>(quick, min_log2_d);
    const double e_f64 = CheckType<double>(quick, min_log2_d);
    // Many waves of every kernel, but for compute-sanitizer (--quick)
    // fewer, and none where racecheck runs: it checks each kernel alone.
    if (!shared_memory) {
      const int log2_n = quick ? 20 : 24;
      CheckBackToBackChains<__nv_bfloat16>(log2_n);
      CheckBackToBackChains<__half>(log2_n);
      CheckBackToBackChains<float>(log2_n);
      CheckBackToBackChains<double>(log2_n);
    }
    std::printf("max rel. L2 error: bf16 %.3e (bound 4e-3), f16 %.3e (5e-4), f32 %.3e (2e-6), "
                "f64 %.3e (1e-12)\n",
                e_bf16, e_f16, e_f32, e_f64);
    std::printf("worst single row (same bounds): bf16 %.3e, f16 %.3e, f32 %.3e, f64 %.3e\n",
                g_worst_row<__nv_bfloat16>, g_worst_row<__half>, g_worst_row<float>,
                g_worst_row<double>);
    std::printf("worst pooled error's case: bf16 %s; f16 %s; f32 %s; f64 %s\n",
                g_worst_case<__nv_bfloat16>.where, g_worst_case<__half>.where,
                g_worst_case<float>.where, g_worst_case<double>.where);
  }

  if (!quick && !check_only) {
    void *in = nullptr, *out = nullptr;
    const size_t bytes = (size_t{1} << log2_elems) * sizeof(float);
    CUDA_CHECK(cudaMalloc(&in, bytes));
    CUDA_CHECK(cudaMalloc(&out, bytes));
    double worst[2] = {0, 0};
    std::printf("2^%d elements a call\n", log2_elems);
    std::printf(
        "| dtype | d | kernel ms | copy ms | ratio | in place | GB/s | SM copy | SM copy in place |\n"
        "|---|---|---|---|---|---|---|---|---|\n");
    TimeType<__nv_bfloat16>(in, out, log2_elems, worst);
    TimeType<__half>(in, out, log2_elems, worst);
    TimeType<float>(in, out, log2_elems, worst);
    std::printf("worst ratio to the copy: %.3f out of place, %.3f in place\n", worst[0], worst[1]);
    CUDA_CHECK(cudaFree(in));
    CUDA_CHECK(cudaFree(out));
    TimeDecode();
  }
  std::printf("%s: %d failure(s)\n", g_failures ? "FAILED" : "PASSED", g_failures);
  return g_failures ? 1 : 0;
}
