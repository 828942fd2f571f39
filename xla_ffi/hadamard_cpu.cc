// XLA FFI handler for the CPU fast Walsh-Hadamard transform.
#include "hadamard_cpu.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "hadamard_cpu_kernel.h"
#include "hadamard_ffi_checks.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace jaxhada {
namespace {

constexpr char kTarget[] = "jaxhada_hadamard_cpu";

// Below this many elements a second thread costs more to wake than it saves.
constexpr int64_t kMinElementsPerThread = int64_t{1} << 16;

// Work items are claimed from an atomic counter by the calling thread and by
// pool tasks alike. The caller waits only for items that were claimed, so it
// never waits on a task the pool has not started (no deadlock when every pool
// thread is busy elsewhere); tasks that start late find no work and exit. The
// state is shared so a late task never touches a dead stack frame.
struct SharedWork {
  std::atomic<int64_t> next_item{0};
  std::atomic<int64_t> items_done{0};
  int64_t num_items = 0;
  std::mutex mutex;
  std::condition_variable all_done;
};

template <typename Fn>
void RunItems(SharedWork& work, const Fn& run_item) {
  for (;;) {
    const int64_t item = work.next_item.fetch_add(1);
    if (item >= work.num_items) return;
    run_item(item);
    if (work.items_done.fetch_add(1) + 1 == work.num_items) {
      std::lock_guard<std::mutex> lock(work.mutex);
      work.all_done.notify_all();
    }
  }
}

template <typename T>
void TransformAllRows(ffi::ThreadPool& pool, const T* in, T* out, int64_t rows,
                      int log2_d, double scale) {
  const int64_t d = int64_t{1} << log2_d;
  const int64_t total = rows * d;
  const int64_t max_threads = std::max<int64_t>(1, pool.num_threads() + 1);
  const int64_t threads =
      std::clamp<int64_t>(total / kMinElementsPerThread, 1, max_threads);
  if (threads == 1) {
    HadamardRowsCpu(in, out, 0, rows, log2_d, scale);
    return;
  }
  // A few items per thread balance uneven progress without fine-grained
  // scheduling; each item is a whole number of tiles.
  const int64_t tile_rows = RowsPerWorkItem(log2_d);
  const int64_t tiles = (rows + tile_rows - 1) / tile_rows;
  const int64_t items = std::min<int64_t>(tiles, threads * 4);
  const int64_t tiles_per_item = (tiles + items - 1) / items;
  auto work = std::make_shared<SharedWork>();
  work->num_items = (tiles + tiles_per_item - 1) / tiles_per_item;
  auto run_item = [=](int64_t item) {
    const int64_t begin = item * tiles_per_item * tile_rows;
    const int64_t end = std::min(rows, begin + tiles_per_item * tile_rows);
    HadamardRowsCpu(in, out, begin, end, log2_d, scale);
  };
  for (int64_t t = 1; t < threads; ++t) {
    pool.Schedule([work, run_item] { RunItems(*work, run_item); });
  }
  RunItems(*work, run_item);
  std::unique_lock<std::mutex> lock(work->mutex);
  work->all_done.wait(
      lock, [&] { return work->items_done.load() == work->num_items; });
}

ffi::Error HadamardCpuImpl(ffi::ThreadPool pool, ffi::AnyBuffer x,
                           ffi::Result<ffi::AnyBuffer> y, double scale) {
  return CheckAndDispatch<Float16Bits, Bfloat16Bits>(
      kTarget, x, *y, [&](auto element, const TransformShape& shape) {
        using T = decltype(element);
        TransformAllRows(pool, x.reinterpret_data<T>(),
                         y->reinterpret_data<T>(), shape.rows, shape.log2_d,
                         scale);
        return ffi::Error::Success();
      });
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(
    HadamardCpu, HadamardCpuImpl,
    ffi::Ffi::Bind()
        .Ctx<ffi::ThreadPool>()      // XLA's intra-op pool, for big batches
        .Arg<ffi::AnyBuffer>()       // x: (..., d), row-major
        .Ret<ffi::AnyBuffer>()       // y: same shape/dtype; may alias x
        .Attr<double>("scale"));     // multiplies H_d (1/sqrt(d) normalizes)

}  // namespace jaxhada
