#!/usr/bin/env bash
# The whole GPU run in one call: build + install, the full test suite with GPU
# tests required (the sharding checks over every visible GPU among them),
# the kernel harness's full check and compute-sanitizer over it (memcheck;
# racecheck and synccheck), and the benchmarks (python -m jaxhada, then the
# harness's table at 2^27 and 2^29 elements a call). The logs go to
# $OUT/logs.tar.gz, rewritten at every step, so that a run cut short (by a
# time limit) still leaves what it has; the results (the benchmark's JSON,
# the harness's tables) beside it, in $OUT; a short table prints last.
#   bash tests/gpu/run_device.sh [--skip-tests] [--skip-bench] [--pytest-workers=N]
#   bash tests/gpu/run_device.sh --sharding   (on a machine with 2+ GPUs: build,
#     the sharding tests, and a batch-sharded timing against one GPU alone)
# To fit one call of about ten minutes, the checks that time nothing overlap:
# the kernel harness is built (two single-threaded nvcc runs) while the
# package builds, and checked (in full, under the sanitizers, from sm_80
# PTX) while the suite runs. Only the benchmark, last, has the GPU to itself.
# The suite runs in 3 processes where pytest-xdist is installed (else in
# one), each with its share of the half of the GPU's memory that JAX gets:
# on an H200 it took 192 s so, against 338 s in one (notes v25); with the
# suite grown to 565 tests, 204 s of a whole run of 438 s (notes v30), of a
# call's 600. --pytest-workers=N sets N.
set -uo pipefail
cd "$(dirname "$0")/../.."
run_tests=1 run_bench=1 run_sharding=0 pytest_workers=default
for arg in "$@"; do
  case "$arg" in
    --skip-tests) run_tests=0 ;;
    --skip-bench) run_bench=0 ;;
    --sharding) run_sharding=1 run_tests=0 run_bench=0 ;;
    --pytest-workers=*) pytest_workers="${arg#*=}" ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done
if [ "$pytest_workers" = default ]; then
  pytest_workers=1
  python3 -c "import xdist" 2>/dev/null && pytest_workers=3
elif ! [[ "$pytest_workers" =~ ^[1-9][0-9]?$ ]]; then
  echo "--pytest-workers takes a number of processes from 1 to 99, not '$pytest_workers'" >&2
  exit 2
fi
OUT="${OUT:-$(mktemp -d)}"
LOGS="$(mktemp -d)"  # archived into $OUT, as logs.tar.gz, by archive_logs
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0
status=0

# One archive for the logs, so that a caller which fetches only a few files
# from $OUT gets them all: rewritten at every step and at the end.
archive_logs() { tar czf "$OUT/logs.tar.gz.new" -C "$LOGS" . && mv "$OUT/logs.tar.gz.new" "$OUT/logs.tar.gz"; }
start=$SECONDS
step() { archive_logs; echo; echo "=== $* (at $((SECONDS - start)) s) ==="; }

# The harness builds: the default one for the full check and the
# sanitizers; the sm_80-PTX one, JIT-compiled here, as a build without
# sm_90 code would be on an H100.
ptx80=(env KERNEL_CHECK_BUILD_DIR=build/kernel_check_ptx80
       "KERNEL_CHECK_GENCODE=-gencode arch=compute_80,code=compute_80")
build_harnesses() {
  bash tests/gpu/kernel_check.sh --build-only >"$LOGS/harness_build.log" 2>&1 &
  "${ptx80[@]}" bash tests/gpu/kernel_check.sh --build-only >"$LOGS/harness_build_ptx80.log" 2>&1 &
  wait
}
harness_check_names=(check sanitize racecheck synccheck ptx80)
# Each check's verdict goes to $LOGS/harness_checks.txt; it returns non-zero
# if any failed. Nothing runs if the package did not build.
harness_checks() {
  build_harnesses
  [ -e "$LOGS/install_failed" ] && return 1
  local name failed=0
  for name in "${harness_check_names[@]}"; do
    if [ "$name" = ptx80 ]; then
      "${ptx80[@]}" bash tests/gpu/kernel_check.sh --quick >"$LOGS/ptx80.log" 2>&1
    else
      bash tests/gpu/kernel_check.sh --$name >"$LOGS/$name.log" 2>&1
    fi || failed=1
    # racecheck may report a hazard as a warning, which its exit code ignores.
    if [ "$name" = racecheck ] && ! grep -q "RACECHECK SUMMARY: 0 hazards" "$LOGS/racecheck.log"; then
      failed=1
    fi
    echo "$name: $(grep -v '^$' "$LOGS/$name.log" | tail -1)" >>"$LOGS/harness_checks.txt"
  done
  return $failed
}
# The logs' last archive, then the verdict.
finish() {
  archive_logs
  echo "status=$status (logs: $OUT/logs.tar.gz; took $((SECONDS - start)) s)"
  exit $status
}

step "environment"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"

step "build and install"
[ "$run_tests" = 1 ] && { harness_checks & checks=$!; }
if ! python3 -m pip install --no-build-isolation --no-deps -e . >"$LOGS/build.log" 2>&1; then
  tail -40 "$LOGS/build.log"
  touch "$LOGS/install_failed"
  status=1
  [ "$run_tests" = 1 ] && wait "$checks"  # the harness builds, no more
  finish
fi
python3 -m jaxhada --info | tee "$OUT/build_info.txt" || status=1

if [ "$run_tests" = 1 ]; then
  step "pytest (JAXHADA_REQUIRE_GPU=1), the kernel harness's checks beside it"
  # Half the GPU's memory for JAX, not its default three quarters: the
  # harness runs beside it. Shared out among the workers, if several.
  xdist=()
  [ "$pytest_workers" -gt 1 ] && xdist=(-n "$pytest_workers")
  XLA_PYTHON_CLIENT_MEM_FRACTION="$(python3 -c "print(round(0.5 / $pytest_workers, 3))")" \
    JAXHADA_REQUIRE_GPU=1 python3 -m pytest tests -q -x -p no:cacheprovider --durations=15 \
    "${xdist[@]}" --ignore=tests/test_notebooks.py >"$LOGS/pytest.log" 2>&1 || status=1
  tail -1 "$LOGS/pytest.log"
  step "kernel harness: full check, memcheck, racecheck and synccheck (the kernels with shared memory), sm_80 PTX"
  wait "$checks" || status=1
  cat "$LOGS/harness_checks.txt"
  # A check that never ran is not a pass.
  [ "$(wc -l <"$LOGS/harness_checks.txt")" -eq ${#harness_check_names[@]} ] || status=1
fi

if [ "$run_sharding" = 1 ]; then
  step "sharding tests over every GPU (JAXHADA_REQUIRE_GPU=1)"
  JAXHADA_REQUIRE_GPU=1 python3 -m pytest tests/gpu/test_gpu_sharding.py tests/test_sharding.py \
    -v -p no:cacheprovider >"$LOGS/sharding_pytest.log" 2>&1 || status=1
  grep -E "PASSED|FAILED|SKIPPED|ERROR" "$LOGS/sharding_pytest.log" | sed 's/^tests\///' | tail -40
  tail -1 "$LOGS/sharding_pytest.log"

  step "batch-sharded timing against one GPU doing its share alone"
  python3 tests/gpu/sharded_timing.py --json "$OUT/sharded_timing.json" \
    2>"$LOGS/sharded_timing.err" | tee "$OUT/sharded_timing.md" || status=1
  tail -4 "$LOGS/sharded_timing.err"
fi

if [ "$run_bench" = 1 ]; then
  step "benchmark"
  python3 -m jaxhada --decode --json "$OUT/gpu_benchmark.json" >"$LOGS/bench.log" 2>"$LOGS/bench.err" || status=1
  archive_logs
  # The kernel harness's table (the README's), at 2^27 and 2^29 elements a
  # call; it builds the harness if the checks did not.
  for n in 27 29; do
    bash tests/gpu/kernel_check.sh --time "$n" >"$OUT/harness_time_$n.txt" 2>&1 || status=1
    grep -E "^(worst ratio|FAILED)" "$OUT/harness_time_$n.txt" | sed "s/^/2^$n: /"
  done
  tail -40 "$LOGS/bench.log"
fi
finish
