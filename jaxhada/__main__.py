"""python -m jaxhada: build info, a self-check against float64, a benchmark."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys

import jax
import jax.numpy as jnp

from . import _bench, _ffi

_DTYPES = {"bfloat16": jnp.bfloat16, "float16": jnp.float16, "float32": jnp.float32}


def _parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m jaxhada", description=__doc__)
    parser.add_argument("--info", action="store_true", help="print build_info() and exit")
    parser.add_argument("--dtype", nargs="+", choices=sorted(_DTYPES), default=None,
                        help="dtypes to benchmark (default: float32 on CPU, "
                             "bfloat16 float16 float32 on GPU)")
    parser.add_argument("--sizes", nargs="+", type=int, default=None,
                        help="transform lengths d (default: 16 ... 32768)")
    parser.add_argument("--mib", type=int, default=None,
                        help="array size per case in MiB (default: 64 on CPU, 256 on GPU)")
    parser.add_argument("--decode", action="store_true",
                        help="also time decode-sized bf16 q/k (tokens x 32 x 128)")
    parser.add_argument("--no-bench", action="store_true", help="self-check only")
    parser.add_argument("--json", metavar="PATH",
                        help="write all results as JSON (rewritten after every case)")
    return parser.parse_args(argv)


def _write_json(path, results) -> None:
    # Whole or not at all: a run killed mid-write keeps the previous file.
    if path:
        partial = f"{path}.partial"
        with open(partial, "w") as f:
            json.dump(results, f, indent=2)
        os.replace(partial, path)


def main(argv=None) -> int:
    args = _parse_args(argv)
    info = _ffi.build_info()
    print("build_info:", json.dumps(info, indent=2))
    if args.info:
        return 0
    backend = jax.default_backend()
    on_gpu = backend == "gpu"
    dtypes = [_DTYPES[n] for n in (args.dtype or
              (["bfloat16", "float16", "float32"] if on_gpu else ["float32"]))]
    check = _bench.self_check([jnp.bfloat16, jnp.float16, jnp.float32])
    print(f"\nself-check on {backend} ({jax.devices()[0].device_kind}), relative L2 "
          "error vs float64:")
    for r in check:
        print(f"  {r['dtype']:>9} d={r['d']:<6} {r['error']:.2e}  "
              f"{'ok' if r['ok'] else 'FAIL'}")
    passed = all(r["ok"] for r in check)
    results = {"date": datetime.date.today().isoformat(), "backend": backend,
               "device": jax.devices()[0].device_kind, "build_info": info,
               "self_check": check, "complete": False}
    _write_json(args.json, results)
    if not args.no_bench:
        sizes = args.sizes or [16, 64, 128, 256, 1024, 4096, 16384, 32768]
        mib = args.mib or (256 if on_gpu else 64)
        results["benchmark"] = []

        def keep(row):
            # The JSON file is rewritten after every case: a run cut short
            # leaves the cases it finished, marked incomplete.
            results["benchmark"].append(row)
            _write_json(args.json, results)

        _bench.benchmark(dtypes, sizes, mib << 20, _bench.stderr_progress, keep)
        rows = results["benchmark"]
        if args.decode:
            results["decode"] = _bench.decode_benchmark(_bench.stderr_progress)
        sys.stderr.write("\n")
        print(f"\nbenchmark on {results['device']}, {mib} MiB per case, "
              f"{results['date']} (ratios: time / time of the "
              f"{rows[0]['floor']}):")
        print(_bench.format_table(rows))
        for r in results.get("decode", []):
            print(f"decode {r['shape']} bf16: ours {r['ours_us']:.1f} us, dense "
                  f"{r['dense_us']:.1f} us ({r['dense_vs_ours']:.1f}x)")
    results["complete"] = True
    _write_json(args.json, results)
    if not passed:
        print("SELF-CHECK FAILED", file=sys.stderr)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
