"""python -m jaxhada: build info, self-check and a (tiny) benchmark run."""

import json
import subprocess
import sys


def _run(*args):
    return subprocess.run([sys.executable, "-m", "jaxhada", *args],
                          capture_output=True, text=True, timeout=300)


def test_info():
    proc = _run("--info")
    assert proc.returncode == 0, proc.stderr
    assert '"lowering"' in proc.stdout


def test_self_check_and_small_benchmark(tmp_path):
    out = tmp_path / "bench.json"
    proc = _run("--sizes", "16", "256", "--mib", "1", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "FAIL" not in proc.stdout
    assert "| float32 | 16 |" in proc.stdout
    results = json.loads(out.read_text())
    assert {r["d"] for r in results["benchmark"]} == {16, 256}
    assert all(r["ok"] for r in results["self_check"])
    row = results["benchmark"][0]
    assert row["ours_ms"] > 0 and row["elementwise_ms"] > 0
    # On a GPU the in-place step and the out-of-place one are both timed; on
    # the CPU a step is already out of place, so the column stays empty.
    if results["backend"] == "gpu":
        assert row["ours_out_of_place_ms"] > 0
    else:
        assert row["ours_out_of_place_ms"] is None
        assert "| — |" in proc.stdout
    assert results["complete"] is True


def test_json_keeps_the_cases_of_a_run_cut_short(tmp_path, monkeypatch):
    # A run killed after its first case (here: the second case raises) must
    # leave a whole JSON file with that case, marked incomplete, in place of
    # whatever an earlier run left there.
    import pytest

    from jaxhada import __main__ as cli, _bench

    real_benchmark = _bench.benchmark

    def first_case_then_killed(dtypes, dims, nbytes, progress=None, on_row=None):
        def on_first_row(row):
            on_row(row)
            raise KeyboardInterrupt

        return real_benchmark(dtypes, dims, nbytes, None, on_first_row)

    monkeypatch.setattr(_bench, "self_check", lambda dtypes: [
        {"dtype": "float32", "d": 16, "error": 0.0, "ok": True}])
    monkeypatch.setattr(_bench, "benchmark", first_case_then_killed)
    out = tmp_path / "bench.json"
    out.write_text('{"complete": true, "benchmark": []}')
    with pytest.raises(KeyboardInterrupt):
        cli.main(["--dtype", "float32", "--sizes", "16", "64", "--mib", "1",
                  "--json", str(out)])
    results = json.loads(out.read_text())
    assert results["complete"] is False
    assert [(r["dtype"], r["d"]) for r in results["benchmark"]] == [("float32", 16)]
    assert results["benchmark"][0]["ours_ms"] > 0
    assert not (tmp_path / "bench.json.partial").exists()


def test_seconds_per_step_alternates_and_takes_the_median():
    # The GPU timing estimator, on stand-in chains whose cost is known: each
    # "step" sleeps 2 ms on top of a fixed 5 ms "dispatch", so the estimate
    # must come out near 2 ms whatever the dispatch costs. Each chain must be
    # fed its own previous output (a donating chain consumes its input).
    import time

    import jax.numpy as jnp

    from jaxhada import _bench

    fed = {4: [], 28: []}

    def chain(steps):
        def run(x):
            fed[steps].append(float(x[0]))
            time.sleep(0.005 + 0.002 * steps)
            return x + steps
        return run

    seconds = _bench._seconds_per_step((chain(4), chain(28)), (4, 28), jnp.zeros(1), (),
                                       repeats=5)
    assert 0.0015 < seconds < 0.003
    assert fed[4] == [0, 4, 8, 12, 16, 20]
    assert fed[28] == [0, 28, 56, 84, 112, 140]


def test_timing_leaves_the_array_usable():
    # jax 0.11 caches an array's device set on its sharding; the timers once
    # popped from it, which emptied it and broke the array (and, sharded, its
    # mesh) for every later call. (jax 0.10 returns a fresh set, so this
    # guards the GPU machines' jax, not CI's.)
    import jax
    import jax.numpy as jnp

    from jaxhada import _bench

    x = jnp.arange(8.0)
    devices = set(x.devices())
    _bench.time_per_step(jnp.negative, x, repeats=1)
    _bench.device_copy_seconds(x, repeats=1)
    assert x.devices() == devices
    assert float(jax.jit(jnp.sum)(x)) == 28.0


def test_profiled_runs_split_into_equal_shares():
    # The GPU timer's reading of a trace: three runs of a two-operation
    # program; each run's span is its first start to its last end, gaps
    # inside a run included, the host's time between runs not. Shares that
    # do not hold the same operations are refused.
    from jaxhada import _bench

    ops = [(0, 10, "a"), (12, 30, "b"), (100, 111, "a"), (111, 140, "b"),
           (500, 505, "a"), (509, 520, "b")]
    assert _bench._run_spans(ops, 3) == [30, 40, 20]
    assert _bench._run_spans(ops, 4) is None
    assert _bench._run_spans([], 1) is None
    assert _bench._run_spans(ops[:4], 2) == [30, 40]
    assert _bench._run_spans(ops[:3] + [(112, 113, "c")], 2) is None
