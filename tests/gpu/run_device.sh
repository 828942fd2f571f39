#!/usr/bin/env bash
# The whole GPU run in one call: build + install, the full test suite with GPU
# tests required (the sharding checks over every visible GPU among them),
# compute-sanitizer over the kernel (memcheck; racecheck and synccheck), and
# the benchmark. Full logs go to $OUT; a short table prints last.
#   bash tests/gpu/run_device.sh [--skip-tests] [--skip-bench]
#   bash tests/gpu/run_device.sh --sharding   (on a machine with 2+ GPUs: build,
#     the sharding tests, and a batch-sharded timing against one GPU alone)
set -uo pipefail
OUT="${OUT:-$(mktemp -d)}"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0
status=0
run_tests=1 run_bench=1 run_sharding=0
for arg in "$@"; do
  case "$arg" in
    --skip-tests) run_tests=0 ;;
    --skip-bench) run_bench=0 ;;
    --sharding) run_sharding=1 run_tests=0 run_bench=0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

step() { echo; echo "=== $* ==="; }

step "environment"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"

step "build and install"
if ! python3 -m pip install --no-build-isolation --no-deps -e . >"$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"; exit 1
fi
python3 -m jaxhada --info | tee "$OUT/build_info.txt"

if [ "$run_tests" = 1 ]; then
  step "pytest (JAXHADA_REQUIRE_GPU=1)"
  JAXHADA_REQUIRE_GPU=1 python3 -m pytest tests -q -x -p no:cacheprovider \
    --ignore=tests/test_notebooks.py >"$OUT/pytest.log" 2>&1 || status=1
  tail -5 "$OUT/pytest.log"

  step "kernel harness + compute-sanitizer memcheck"
  bash tests/gpu/kernel_check.sh --sanitize >"$OUT/sanitizer.log" 2>&1 || status=1
  tail -8 "$OUT/sanitizer.log"

  step "compute-sanitizer racecheck and synccheck (the kernels with shared memory)"
  for tool in racecheck synccheck; do
    bash tests/gpu/kernel_check.sh --$tool >"$OUT/$tool.log" 2>&1 || status=1
    echo "$tool: $(tail -1 "$OUT/$tool.log")"
  done

  step "kernel harness from sm_80 PTX only (JIT here: no clusters in that code, so no pair path)"
  KERNEL_CHECK_BUILD_DIR=build/kernel_check_ptx80 \
    KERNEL_CHECK_GENCODE="-gencode arch=compute_80,code=compute_80" \
    bash tests/gpu/kernel_check.sh --quick >"$OUT/ptx80.log" 2>&1 || status=1
  tail -3 "$OUT/ptx80.log"
fi

if [ "$run_sharding" = 1 ]; then
  step "sharding tests over every GPU (JAXHADA_REQUIRE_GPU=1)"
  JAXHADA_REQUIRE_GPU=1 python3 -m pytest tests/gpu/test_gpu_sharding.py tests/test_sharding.py \
    -v -p no:cacheprovider >"$OUT/sharding_pytest.log" 2>&1 || status=1
  grep -E "PASSED|FAILED|SKIPPED|ERROR" "$OUT/sharding_pytest.log" | sed 's/^tests\///' | tail -40
  tail -1 "$OUT/sharding_pytest.log"

  step "batch-sharded timing against one GPU doing its share alone"
  python3 tests/gpu/sharded_timing.py --json "$OUT/sharded_timing.json" \
    2>"$OUT/sharded_timing.err" | tee "$OUT/sharded_timing.md" || status=1
  tail -4 "$OUT/sharded_timing.err"
fi

if [ "$run_bench" = 1 ]; then
  step "benchmark"
  python3 -m jaxhada --decode --json "$OUT/gpu_benchmark.json" >"$OUT/bench.log" 2>"$OUT/bench.err" || status=1
  tail -40 "$OUT/bench.log"
fi
echo "status=$status"
exit $status
