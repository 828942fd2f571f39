#!/usr/bin/env bash
# Builds tests/gpu/kernel_check.cu and runs it on the local GPU.
#   kernel_check.sh              full check (all dtypes, d = 1..32768) + timing table
#   kernel_check.sh --check      the full check alone
#   kernel_check.sh --sanitize   quick mode (small row counts, no timing) under
#                                compute-sanitizer memcheck
#   kernel_check.sh --racecheck  the quick check from d = 2048 on (the sizes
#                                that kernels with shared memory serve)
#                                under racecheck
#   kernel_check.sh --synccheck  the same under synccheck (barriers)
#   kernel_check.sh --time [N]   the timing table only, at 2^N elements a call
#   kernel_check.sh --soak [S]   a few cases, each back to back for S seconds: time,
#                                SM clock and board power (nvidia-smi) over the last second
#   kernel_check.sh --sweep      d = 4096..32768 at 2^26..2^28 elements a call: each
#                                case's excess over the copy as a fixed cost a call
#                                and a cost a byte
#   kernel_check.sh --build-only build, run nothing
# KERNEL_CHECK_NVCC_FLAGS adds nvcc flags (e.g. -DJAXHADA_WARP_MAX_LOG2_D=10
# to time another build); KERNEL_CHECK_GENCODE replaces the target (default
# sm_90 code; e.g. "-gencode arch=compute_80,code=compute_80" for sm_80 PTX
# that the driver JIT-compiles, as a build without sm_90 runs on an H100);
# give each build its own KERNEL_CHECK_BUILD_DIR, or let compare_builds.sh
# build and time several in alternation.
set -euo pipefail
cd "$(dirname "$0")/../.."

build_dir="${KERNEL_CHECK_BUILD_DIR:-build/kernel_check}"
mode="${1:-}"
bin="$build_dir/kernel_check"
mkdir -p "$build_dir"

# Rebuild only when a source is newer than the binary: the sanitizer run that
# follows a full run reuses it.
if [[ ! -x "$bin" || tests/gpu/kernel_check.cu -nt "$bin" ||
      xla_ffi/hadamard_cuda_kernel.cu -nt "$bin" || xla_ffi/hadamard_cuda.h -nt "$bin" ||
      tests/gpu/event_timing.h -nt "$bin" ]]; then
  nvcc -O3 ${KERNEL_CHECK_GENCODE:--gencode arch=compute_90,code=sm_90} -std=c++17 --expt-relaxed-constexpr \
    -Xptxas -v ${KERNEL_CHECK_NVCC_FLAGS:-} -o "$bin" tests/gpu/kernel_check.cu 2> "$build_dir/ptxas.log" ||
    { cat "$build_dir/ptxas.log"; exit 1; }
  # Name each kernel that uses a stack frame or spills: expected of none
  # but the bf16 d = 16384 kernel (two words, loaded once a row, at its
  # 80-register cap; notes v29).
  spilling=$(awk '/Function properties for/ { name = $NF }
                  /bytes stack frame/ && !/ 0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads/ {
                    sub(/^ +/, ""); print name ": " $0 }' "$build_dir/ptxas.log")
  if [[ -n "$spilling" ]]; then
    echo "kernels with a stack frame or spills (see $build_dir/ptxas.log):" >&2
    if command -v c++filt >/dev/null; then c++filt <<<"$spilling"; else echo "$spilling"; fi >&2
  fi
fi

if [[ "$mode" == "--build-only" ]]; then
  exit 0
elif [[ "$mode" == "--sanitize" ]]; then
  compute-sanitizer --tool memcheck --error-exitcode 3 "$bin" --quick
elif [[ "$mode" == "--racecheck" || "$mode" == "--synccheck" ]]; then
  compute-sanitizer --tool "${mode#--}" --error-exitcode 3 "$bin" --shared-memory
else
  "$bin" "$@"
fi
