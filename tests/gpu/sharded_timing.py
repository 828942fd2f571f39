"""A batch-sharded transform over every GPU against one GPU doing its share.

    python tests/gpu/sharded_timing.py [--gib N] [--json PATH]

For each d: a bf16 array of N GiB (default 1) with its rows sharded over all
visible GPUs, against the same program on one GPU holding only its share
(1/n of the rows), in two forms:
* out of place: `jax.jit` of the transform on the sharded array;
* in place: the transform with `inplace=True` inside `jax.shard_map`,
  donated. (Under `jax.jit` alone, XLA's batch partitioner drops the call's
  output-to-operand alias, so that form runs out of place and then copies;
  the script reports whether it still does.)
Both are timed with the benchmark's method (jaxhada._bench.time_per_step:
chains of steps separated by optimization barriers, device time from the
profile). With no communication the ratio is about 1. Also checked: no
collective in the compiled sharded program, our kernel in it, the output
sharded like the input, and values against float64 on rows from every shard.
"""

import argparse
import datetime
import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from jaxhada import _hadamard
from jaxhada._bench import fwht_reference, relative_error, time_per_step

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))  # tests/, run as a script
from sharding_checks import assert_local  # noqa: E402


def _transform(inplace):
    return lambda x: _hadamard.transform(x, scale=None, inplace=inplace, lowering="auto")


def _forms(mesh):
    """{form: (sharded step, one-GPU step)}."""
    local = jax.shard_map(_transform(True), mesh=mesh, in_specs=P("batch"),
                          out_specs=P("batch"))
    return {"out of place": (_transform(False), _transform(False)),
            "in place": (local, _transform(True))}


def _random(shape, sharding, seed):
    fill = jax.jit(lambda key: jax.random.normal(key, shape, jnp.bfloat16),
                   out_shardings=sharding)
    return fill(jax.random.key(seed))


def _check(step, x, devices):
    f = jax.jit(step)
    y = f(x)
    assert_local(f, x, y, lowering="auto")
    share = x.shape[0] // len(devices)
    rows = np.concatenate([np.arange(i * share, i * share + 4) for i in range(len(devices))])
    sample = np.asarray(x[rows], np.float64)
    return relative_error(np.asarray(y[rows]), fwht_reference(sample))


def _jit_keeps_alias(x):
    """Whether jit alone, donating a sharded x, keeps the call in place."""
    f = jax.jit(_transform(True), donate_argnums=0)
    return "output_to_operand_aliasing" in f.lower(x).compile().as_text()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 4096, 32768])
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    devices = jax.devices()
    n = len(devices)
    assert devices[0].platform == "gpu", f"needs GPUs, found {devices}"
    mesh = jax.sharding.Mesh(np.array(devices), ("batch",))
    results = {"date": datetime.date.today().isoformat(), "devices": n,
               "device": devices[0].device_kind, "jax": jax.__version__, "cases": []}
    for i, d in enumerate(args.sizes):
        rows = int(args.gib * (1 << 30)) // 2 // d // n * n
        for form, (sharded_step, alone_step) in _forms(mesh).items():
            x = _random((rows, d), NamedSharding(mesh, P("batch")), seed=i)
            error = _check(sharded_step, x, devices)
            if form == "in place":
                results["jit_alone_keeps_alias"] = _jit_keeps_alias(x)
            sharded = time_per_step(sharded_step, x)
            del x
            share = _random((rows // n, d), jax.sharding.SingleDeviceSharding(devices[0]), seed=i)
            alone = time_per_step(alone_step, share)
            del share
            case = {"d": d, "form": form, "rows": rows, "gib": rows * d * 2 / (1 << 30),
                    "sharded_ms": sharded * 1e3, "one_share_alone_ms": alone * 1e3,
                    "ratio": sharded / alone, "error": error,
                    "aggregate_GBps": 2 * rows * d * 2 / sharded / 1e9}
            results["cases"].append(case)
            print(f"d={d} {form}: sharded {case['sharded_ms']:.3f} ms, one share alone "
                  f"{case['one_share_alone_ms']:.3f} ms, ratio {case['ratio']:.3f}, "
                  f"error {error:.1e}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    print(f"\nbatch-sharded bf16, {args.gib:g} GiB over {n} x {results['device']}, "
          f"{results['date']} (rows sharded; ratio = sharded / one share alone, same form):")
    print("| d | form | sharded ms | one share alone ms | ratio | aggregate GB/s | rel. L2 error |")
    print("|---|---|---|---|---|---|---|")
    for c in results["cases"]:
        print(f"| {c['d']} | {c['form']} | {c['sharded_ms']:.3f} | {c['one_share_alone_ms']:.3f} | "
              f"{c['ratio']:.3f} | {c['aggregate_GBps']:.0f} | {c['error']:.1e} |")
    print(f"jit alone, donating a sharded array, keeps the call in place: "
          f"{results.get('jit_alone_keeps_alias')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
