// Timing by CUDA events, shared by the GPU harness (kernel_check.cu) and
// the copy probes that report against it (layout_copy.cu), so that their
// figures are taken the same way.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <vector>

// A failed CUDA call while timing ends the run: a figure after it would mean
// nothing.
inline void TimingCheck(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    std::fprintf(stderr, "%s -> %s\n", what, cudaGetErrorString(err));
    std::exit(2);
  }
}

inline float MedianMs(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Milliseconds a call of each of fns: the median of kReps event pairs, each
// around `batch` back-to-back calls, so the host enqueues call k+1 while the
// device runs call k and launch work on the host is not counted (a single
// call between events would count it, since the device idles until it
// arrives). The fns' batches are interleaved, so that each sees the same
// clocks and power: on the H200 a run of heavy calls can reach the 700 W cap
// and lower the SM clock within a second (notes v17), so a copy timed once
// before a table is not timed under the conditions of the calls compared
// with it.
template <int kN>
std::array<float, kN> TimeInterleavedMs(const std::array<std::function<void()>, kN>& fns,
                                        cudaEvent_t a, cudaEvent_t b, int batch = 5) {
  constexpr int kWarmup = 3, kReps = 11;
  for (const auto& fn : fns)
    for (int i = 0; i < kWarmup; ++i) fn();
  TimingCheck(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  std::array<std::vector<float>, kN> ms;
  for (int i = 0; i < kReps; ++i)
    for (int f = 0; f < kN; ++f) {
      TimingCheck(cudaEventRecord(a), "cudaEventRecord");
      for (int k = 0; k < batch; ++k) fns[f]();
      TimingCheck(cudaEventRecord(b), "cudaEventRecord");
      TimingCheck(cudaEventSynchronize(b), "cudaEventSynchronize");
      float t = 0;
      TimingCheck(cudaEventElapsedTime(&t, a, b), "cudaEventElapsedTime");
      ms[f].push_back(t / batch);
    }
  std::array<float, kN> median;
  for (int f = 0; f < kN; ++f) median[f] = MedianMs(ms[f]);
  return median;
}

template <typename Fn>
float TimeMs(Fn&& fn, cudaEvent_t a, cudaEvent_t b, int batch = 5) {
  return TimeInterleavedMs<1>({std::function<void()>(fn)}, a, b, batch)[0];
}
