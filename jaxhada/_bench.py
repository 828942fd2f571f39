"""Self-check and benchmark behind ``python -m jaxhada``.

Timing method.
* GPU: each op runs K times inside one jitted program, the steps separated by
  ``lax.optimization_barrier`` so XLA can neither fuse nor reorder them, and
  steps update in place (the transform with ``inplace=True``); our transform
  is also timed out of place (``inplace=False``: each step writes a buffer
  other than the one it reads), as most callers use it. The program
  runs a few times under ``jax.profiler``; each run's device activity, from
  its first GPU operation's start to its last one's end, over K, is one
  estimate, and the median counts: device time, as CUDA events would give,
  including the gaps between a step's kernels but not the host's dispatch.
  (Timing the program from the host instead, as the difference of a short
  and a long chain, scattered single estimates by ±15% on an H200, because
  the host's own time per call varied by ±0.3 ms.) Where the trace holds no
  GPU operations (a jax without CUPTI), its runs do not split into the same
  operations, or a profile is already running, that host method is the
  fallback, with a warning.
  The floor is a raw device-to-device copy of the same bytes in the same run,
  timed with CUDA events around batches of 4 and 28 copies.
* CPU: the median of single jitted calls, out of place, as a user calls them;
  the floor is a jitted elementwise op (negation) over the same array, timed
  the same way. (XLA's CPU compiler drops optimization barriers and fuses an
  elementwise chain into one pass, so the GPU method cannot be used there.)
The transform is normalized, hence an involution: repeated steps keep the
data bounded and real (never zeros).
"""

from __future__ import annotations

import functools
import glob
import math
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _hadamard, _matrix

_FEW_STEPS, _MANY_STEPS = 4, 28
_DECODE_STEPS = (8, 144)


def fwht_reference(x: np.ndarray) -> np.ndarray:
    """Normalized FWHT in float64 along the last axis (the test oracle)."""
    y = np.array(x, dtype=np.float64, copy=True)
    d = y.shape[-1]
    h = 1
    while h < d:
        y = y.reshape(*y.shape[:-1], d // (2 * h), 2, h)
        a, b = y[..., 0, :], y[..., 1, :]
        y = np.stack([a + b, a - b], axis=-2).reshape(*x.shape)
        h *= 2
    return y / math.sqrt(d)


def relative_error(y, reference: np.ndarray) -> float:
    y = np.asarray(y, dtype=np.float64)
    return float(np.linalg.norm(y - reference) / np.linalg.norm(reference))


def _platform(x: jax.Array) -> str:
    # Not x.devices().pop(): jax caches that set on the sharding, and popping
    # from it corrupts the array's sharding for every later use.
    return next(iter(x.devices())).platform


def _chain(step: Callable, steps: int) -> Callable:
    def run(x, *operands):
        for _ in range(steps):
            x = lax.optimization_barrier(step(x, *operands))
        return x

    return jax.jit(run, donate_argnums=0)


def _median_seconds(fn, x, operands, repeats) -> float:
    """Median wall time of fn(x, *operands), after one call to compile."""
    jax.block_until_ready(fn(x, *operands))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(x, *operands))
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _chain_pair(step: Callable, steps: tuple[int, int]) -> tuple[Callable, Callable]:
    return _chain(step, steps[0]), _chain(step, steps[1])


def _seconds_per_step(chains: tuple[Callable, Callable], steps: tuple[int, int],
                      x: jax.Array, operands, repeats: int) -> float:
    """Seconds per step from two chains (`_chain_pair`) of steps[0] and
    steps[1] steps, run alternately for `repeats` rounds: each round's
    difference of their times over the difference in steps is one estimate
    (dispatch and launch overheads cancel), and the median counts. Timing
    every run of one chain and then every run of the other, and subtracting
    their best times, moved single cases by up to 20% between runs on an
    H200 (bf16 d = 16384 read 1.02 of the copy in one run, 1.21 in another,
    on the same kernel)."""
    # Each chain donates its input, so each is fed its own previous output.
    carried = [jax.block_until_ready(chain(jnp.copy(x), *operands)) for chain in chains]
    estimates = []
    for _ in range(repeats):
        seconds = []
        for i, chain in enumerate(chains):
            start = time.perf_counter()
            carried[i] = jax.block_until_ready(chain(carried[i], *operands))
            seconds.append(time.perf_counter() - start)
        estimates.append((seconds[1] - seconds[0]) / (steps[1] - steps[0]))
    return max(statistics.median(estimates), 1e-9)


def _run_spans(ops: list[tuple[int, int, str]], runs: int) -> list[int] | None:
    """Nanoseconds from first start to last end of each of `runs` identical
    runs of one program, given one device's (start, end, name) operations in
    time order: each run launches the same operations, so run i is the i-th
    equal share. None if they do not split into shares of the same
    operations."""
    if not ops or len(ops) % runs:
        return None
    share = len(ops) // runs
    shares = [ops[i * share:(i + 1) * share] for i in range(runs)]
    first = sorted(name for _, _, name in shares[0])
    if any(sorted(name for _, _, name in run) != first for run in shares[1:]):
        return None
    return [max(end for _, end, _ in run) - run[0][0] for run in shares]


def _device_spans(logdir: str, runs: int) -> list[float] | None:
    """Seconds each of `runs` runs of one program took on the GPU, from the
    trace at `logdir`: on several devices, the slowest device's own span
    (launch skew between devices is not in it). None where the trace holds
    no GPU operations or they do not split into equal runs."""
    files = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
    if not files:
        return None
    per_device = []
    for plane in jax.profiler.ProfileData.from_file(files[0]).planes:
        if not plane.name.startswith("/device:GPU"):
            continue
        # Operations sit on the stream lines; the others summarize them.
        ops = sorted((e.start_ns, e.start_ns + e.duration_ns, e.name) for line in plane.lines
                     if "Stream" in line.name for e in line.events)
        if ops:
            per_device.append(_run_spans(ops, runs))
    if not per_device or None in per_device:
        return None
    return [max(spans) / 1e9 for spans in zip(*per_device)]


def _profiled_seconds_per_step(chain: Callable, steps: int, x: jax.Array, operands,
                               repeats: int) -> float | None:
    """Device seconds per step of a chain of `steps` steps (see the module's
    timing method), or None where the profile shows no GPU operations or a
    profile cannot be taken (one is already running)."""
    carried = jax.block_until_ready(chain(jnp.copy(x), *operands))
    with tempfile.TemporaryDirectory() as logdir:
        try:
            jax.profiler.start_trace(logdir)
        except RuntimeError:
            return None
        try:
            for _ in range(repeats):
                carried = jax.block_until_ready(chain(carried, *operands))
        finally:
            jax.profiler.stop_trace()
        spans = _device_spans(logdir, repeats)
    return None if spans is None else max(statistics.median(spans) / steps, 1e-12)


def time_per_step(step: Callable, x: jax.Array, *operands, repeats: int = 9,
                  steps: tuple[int, int] = (_FEW_STEPS, _MANY_STEPS)) -> float:
    """Seconds per application of `step(x, *operands)`, dispatch overhead
    removed. Large operands (a dense matrix) are passed, not closed over, so
    they are not baked into the program as constants."""
    if _platform(x) == "cpu":
        return _median_seconds(jax.jit(step), x, operands, repeats)
    return _gpu_seconds_per_step(_chain_pair(step, steps), steps, x, operands, repeats)


def _gpu_seconds_per_step(chains: tuple[Callable, Callable], steps: tuple[int, int],
                          x: jax.Array, operands, repeats: int) -> float:
    """From the profile of the longer chain; from the host where the profile
    has no GPU operations (the short chain is compiled only then)."""
    profiled = _profiled_seconds_per_step(chains[1], steps[1], x, operands, repeats)
    if profiled is not None:
        return profiled
    warnings.warn("no usable GPU profile of the program; timing from the host instead",
                  RuntimeWarning, stacklevel=2)
    return _seconds_per_step(chains, steps, x, operands, repeats)


def device_copy_seconds(x: jax.Array, repeats: int = 9,
                        copies: tuple[int, int] = (_FEW_STEPS, _MANY_STEPS)) -> float | None:
    """A raw device-to-device copy of x's bytes (cudaMemcpyAsync via CuPy),
    timed like the chains: batches of copies[0] and copies[1] back-to-back
    copies between two CUDA events, alternately for `repeats` rounds, and the
    median of each round's difference over the difference in copies. (One
    copy between two events also counts the gap before it: 2-9% of a 256 MiB
    copy on an H200.) None where there is no CUDA device or no CuPy."""
    if _platform(x) != "gpu":
        return None
    try:
        import cupy
    except ImportError:
        return None
    src = cupy.empty(x.nbytes, dtype=cupy.uint8)
    dst = cupy.empty_like(src)
    src[:] = 1
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()

    def batch_seconds(n: int) -> float:
        start.record()
        for _ in range(n):
            dst.data.copy_from_device_async(src.data, x.nbytes)
        stop.record()
        stop.synchronize()
        return cupy.cuda.get_elapsed_time(start, stop) / 1e3

    batch_seconds(copies[1])  # warm up
    estimates = [(batch_seconds(copies[1]) - batch_seconds(copies[0])) / (copies[1] - copies[0])
                 for _ in range(repeats)]
    return statistics.median(estimates)


# The seed's dense path: one (d, d) matmul. Quadratic in d, so only timed up
# to this length (a 4096 x 4096 float32 matrix is 64 MiB).
_SEED_DENSE_MAX_D = 4096


def _seed_dense_step(x, matrix):
    acc = jnp.float64 if x.dtype == jnp.float64 else jnp.float32
    y = jnp.matmul(x, matrix, precision=lax.Precision.HIGHEST,
                   preferred_element_type=acc)
    return y.astype(x.dtype)


def _transform_step(lowering: str, inplace: bool = True):
    # inplace=True only aliases when the caller donates, which the GPU chain
    # does; on the CPU a step is one call without donation, so out of place.
    return functools.partial(
        _hadamard.transform, scale=None, inplace=inplace, lowering=lowering
    )


def self_check(dtypes: Iterable, dims: Iterable[int] = (1, 16, 128, 1024, 4096, 32768)):
    """Each (dtype, d): relative L2 error vs float64 on fresh random rows."""
    bounds = {"float32": 2e-6, "float16": 5e-4, "bfloat16": 4e-3, "float64": 1e-12}
    rng = np.random.default_rng()
    results = []
    for dtype in dtypes:
        name = np.dtype(dtype).name
        for d in dims:
            x = jnp.asarray(rng.standard_normal((7, d)), dtype=dtype)
            reference = fwht_reference(np.asarray(x, dtype=np.float64))
            error = relative_error(_hadamard.hadamard_transform(x), reference)
            ok = bool(np.isfinite(error) and error <= bounds.get(name, 4e-3))
            results.append({"dtype": name, "d": d, "error": error, "ok": ok})
    return results


def benchmark(
    dtypes: Iterable,
    dims: Iterable[int],
    nbytes: int,
    progress: Callable[[str], None] | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> list[dict]:
    """Per (dtype, d): our path, the dense path, an elementwise op, a raw copy.

    `on_row` gets each case's results as soon as they are measured, so that
    a run cut short (by a job's time limit, say) keeps what it measured.
    """
    rng = np.random.default_rng()
    cases = [(np.dtype(t), d) for t in dtypes for d in dims]
    rows = []
    for i, (dtype, d) in enumerate(cases, 1):
        if progress:
            progress(f"[{i}/{len(cases)}] {dtype.name} d={d}")
        elements = max(nbytes // dtype.itemsize, d)
        x = jnp.asarray(
            rng.standard_normal((elements // d, d), dtype=np.float32), dtype=dtype
        )
        # The copy right after ours, so that both run at the same clocks:
        # an H200 lowers its SM clock once a run of work reaches its 700 W
        # power cap (notes v17), and the dense path's matmuls would otherwise
        # come between them.
        on_gpu = _platform(x) == "gpu"
        ours_out_of_place = (time_per_step(_transform_step("auto", inplace=False), x)
                             if on_gpu else None)
        ours = time_per_step(_transform_step("auto"), x)
        copy = device_copy_seconds(x)
        dense = time_per_step(_transform_step("dense"), x)
        seed_dense = None
        if d <= _SEED_DENSE_MAX_D:
            matrix = _matrix.hadamard_matrix(d, dtype)
            seed_dense = time_per_step(_seed_dense_step, x, matrix)
        elementwise = time_per_step(jnp.negative, x)
        floor = copy if copy is not None else elementwise
        rows.append({
            "dtype": dtype.name,
            "d": d,
            "rows": int(x.shape[0]),
            "bytes": int(x.nbytes),
            "ours_ms": ours * 1e3,
            "ours_out_of_place_ms": None if ours_out_of_place is None else ours_out_of_place * 1e3,
            "dense_ms": dense * 1e3,
            "seed_dense_ms": None if seed_dense is None else seed_dense * 1e3,
            "seed_dense_vs_ours": None if seed_dense is None else seed_dense / ours,
            "elementwise_ms": elementwise * 1e3,
            "copy_ms": None if copy is None else copy * 1e3,
            "ours_vs_floor": ours / floor,
            "ours_out_of_place_vs_floor": (None if ours_out_of_place is None
                                           else ours_out_of_place / floor),
            "dense_vs_floor": dense / floor,
            "dense_vs_ours": dense / ours,
            "floor": "copy" if copy is not None else "elementwise",
            "ours_GBps": 2 * x.nbytes / ours / 1e9,
        })
        if on_row:
            on_row(rows[-1])
        del x
    return rows


def decode_benchmark(progress: Callable[[str], None] | None = None,
                     rounds: int = 7) -> list[dict]:
    """The seed's use: rotating bf16 q/k of a decode step, (tokens, 32, 128).

    A step takes microseconds, near the GPU's launch floor, so the two paths
    are timed in alternating rounds (drift in clocks hits both alike) and
    each reports the median of its rounds. A step's time includes the gap
    to the next step's kernel inside the program."""
    rng = np.random.default_rng()
    rows = []
    for tokens in (1, 16, 256):
        if progress:
            progress(f"decode tokens={tokens}")
        x = jnp.asarray(rng.standard_normal((tokens, 32, 128)), dtype=jnp.bfloat16)
        chains = {lowering: _chain_pair(_transform_step(lowering), _DECODE_STEPS)
                  for lowering in ("auto", "dense")}
        samples = {lowering: [] for lowering in chains}
        for _ in range(rounds):
            for lowering, pair in chains.items():
                samples[lowering].append(
                    _gpu_seconds_per_step(pair, _DECODE_STEPS, x, (), repeats=5))
        ours = statistics.median(samples["auto"])
        dense = statistics.median(samples["dense"])
        rows.append({
            "tokens": tokens, "shape": list(x.shape), "ours_us": ours * 1e6,
            "dense_us": dense * 1e6, "dense_vs_ours": dense / ours,
            "ours_rounds_us": [s * 1e6 for s in samples["auto"]],
            "dense_rounds_us": [s * 1e6 for s in samples["dense"]],
        })
    return rows


def format_table(rows: list[dict]) -> str:
    """One line a case. On a GPU "ours" is the in-place step and "out of
    place" the same transform into a second buffer; on the CPU "ours" is
    already out of place."""
    floor = rows[0]["floor"] if rows else "copy"
    header = (f"| dtype | d | ours ms | {floor} ms | ours/{floor} | out of place/{floor} | "
              f"dense/{floor} | dense/ours | seed dense/ours | ours GB/s |")
    lines = [header, "|" + "---|" * 10]
    for r in rows:
        floor_ms = r["copy_ms"] if r["copy_ms"] is not None else r["elementwise_ms"]
        seed = "—" if r["seed_dense_vs_ours"] is None else f"{r['seed_dense_vs_ours']:.1f}"
        out_of_place = r.get("ours_out_of_place_vs_floor")
        out_of_place = "—" if out_of_place is None else f"{out_of_place:.2f}"
        lines.append(
            f"| {r['dtype']} | {r['d']} | {r['ours_ms']:.3f} | {floor_ms:.3f} | "
            f"{r['ours_vs_floor']:.2f} | {out_of_place} | {r['dense_vs_floor']:.2f} | "
            f"{r['dense_vs_ours']:.1f} | {seed} | {r['ours_GBps']:.0f} |"
        )
    return "\n".join(lines)


def stderr_progress(message: str) -> None:
    sys.stderr.write(f"\r{message:<40}")
    sys.stderr.flush()
