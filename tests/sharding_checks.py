"""Sharding checks, run in a subprocess with 8 host devices (see test_sharding).

Usage: python sharding_checks.py LOWERING [--bf16] [--gpu]  -> prints one JSON object
{check name: "ok" or the failure}. With --gpu it runs over every visible GPU
instead (tests/gpu/test_gpu_sharding.py).
"""

import json
import os
import re
import sys
import traceback

# Only when run as a script: the tests import NAMES from here, and must not
# have their own process (or its children) pinned to 8 host devices.
if __name__ == "__main__" and "--gpu" not in sys.argv:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               " --xla_force_host_platform_device_count=8")
    os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402

if __name__ == "__main__":
    # The same config as the test suite (tests/conftest.py), in the script's
    # own process only: tests/gpu/sharded_timing.py imports assert_local.
    jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import NamedSharding, PartitionSpec as P  # noqa: E402

from jaxhada import _ffi, _hadamard  # noqa: E402
from jaxhada._bench import _platform, fwht_reference, relative_error  # noqa: E402

COLLECTIVES = re.compile(
    r"all-gather|all-to-all|all-reduce|collective-permute|reduce-scatter")


def assert_local(f, x, y, lowering):
    """The compiled program of jitted f for x holds no collective and, for
    the "auto" lowering, our custom call (each shard runs our kernel, not a
    dense fallback); y = f(x) is sharded like x."""
    text = f.lower(x).compile().as_text()
    found = sorted(set(COLLECTIVES.findall(text)))
    assert not found, f"collectives in compiled HLO: {found}"
    if lowering == "auto":
        target = _ffi.target_for_backend(_platform(x))
        assert target is not None and target in text, f"no custom call {target} in compiled HLO"
    assert y.sharding.is_equivalent_to(x.sharding, x.ndim), (y.sharding, x.sharding)


def make_mesh(shape, names):
    devices = np.array(jax.devices()[: int(np.prod(shape))]).reshape(shape)
    return jax.sharding.Mesh(devices, names)


class Checks:
    def __init__(self, lowering, dtype):
        self.lowering = lowering
        self.dtype = dtype
        self.rng = np.random.default_rng()
        n = len(jax.devices())
        self.mesh1 = make_mesh((n,), ("x",))
        # On one device both axes have size 1: the 2-D specs still run.
        self.mesh2 = make_mesh((n // 2, 2) if n >= 2 else (1, 1), ("a", "b"))

    def transform(self, inplace=False):
        return lambda x: _hadamard.transform(
            x, scale=None, inplace=inplace, lowering=self.lowering)

    def put(self, shape, mesh, spec):
        x = self.rng.standard_normal(shape)
        return jax.device_put(jnp.asarray(x, self.dtype), NamedSharding(mesh, spec))

    def assert_values(self, y, x):
        err = relative_error(y, fwht_reference(np.asarray(x, np.float64)))
        bound = 2e-6 if self.dtype == jnp.float32 else (4e-3 if self.dtype == jnp.bfloat16 else 1e-12)
        assert err <= bound, f"relative error {err:.2e}"

    def assert_local(self, f, x, y):
        assert_local(f, x, y, self.lowering)

    def batch_sharded_1d(self):
        x = self.put((4 * len(jax.devices()), 7, 256), self.mesh1, P("x"))
        f = jax.jit(self.transform())
        y = f(x)
        self.assert_local(f, x, y)
        self.assert_values(y, x)

    def batch_sharded_2d(self):
        x = self.put((8, 6, 128), self.mesh2, P("a", "b", None))
        f = jax.jit(self.transform())
        y = f(x)
        self.assert_local(f, x, y)
        self.assert_values(y, x)

    def last_axis_sharded(self):
        x = self.put((5, 1024), self.mesh1, P(None, "x"))
        self.assert_values(jax.jit(self.transform())(x), x)

    def mixed_sharding(self):
        x = self.put((8, 512), self.mesh2, P("a", "b"))
        self.assert_values(jax.jit(self.transform())(x), x)

    def shard_map_is_local(self):
        x = self.put((16, 64), self.mesh1, P("x"))
        f = jax.jit(jax.shard_map(self.transform(), mesh=self.mesh1,
                                  in_specs=P("x"), out_specs=P("x")))
        y = f(x)
        self.assert_local(f, x, y)
        self.assert_values(y, x)

    def grad_stays_sharded(self):
        x = self.put((16, 128), self.mesh1, P("x"))
        w = self.put((16, 128), self.mesh1, P("x"))
        t = self.transform()
        f = jax.jit(jax.grad(lambda a, b: jnp.sum(t(a) * b)))
        g = f(x, w)
        text = f.lower(x, w).compile().as_text()
        # Only the loss's own sum may reduce; the transform's cotangent path
        # must not gather.
        assert "all-gather" not in text and "all-to-all" not in text, text[:2000]
        assert g.sharding.is_equivalent_to(x.sharding, x.ndim)
        self.assert_values(g, w)

    def donation_under_sharding(self):
        x = self.put((16, 256), self.mesh1, P("x"))
        expected = fwht_reference(np.asarray(x, np.float64))
        f = jax.jit(self.transform(inplace=True), donate_argnums=0)
        if self.lowering == "auto":
            assert "output_operand_aliases" in f.lower(x).as_text()
        y = f(x)
        # jax 0.10 honours donation on host devices, jax 0.11 may copy
        # instead; either way the donated x must not be readable as before.
        assert x.is_deleted() or jax.__version_info__ >= (0, 11), "x not donated"
        assert relative_error(y, expected) < 4e-3
        assert y.sharding.spec == P("x") or y.sharding.spec == P("x", None)

    def donation_in_shard_map_is_in_place(self):
        # Under jit alone, XLA's batch partitioner rebuilds the custom call
        # per shard without its output-to-operand alias, and the donated
        # result then costs a copy. Inside shard_map the call is local and
        # keeps the alias: the README's form for in-place sharded updates.
        x = self.put((16, 256), self.mesh1, P("x"))
        expected = fwht_reference(np.asarray(x, np.float64))
        sharding = x.sharding
        f = jax.jit(jax.shard_map(self.transform(inplace=True), mesh=self.mesh1,
                                  in_specs=P("x"), out_specs=P("x")), donate_argnums=0)
        if self.lowering == "auto":
            text = f.lower(x).compile().as_text()
            assert "output_to_operand_aliasing" in text, "the per-shard call lost its alias"
            assert " copy(" not in text, "the compiled program copies the result"
        y = f(x)
        assert relative_error(y, expected) < 4e-3
        assert y.sharding.is_equivalent_to(sharding, y.ndim)


NAMES = ["batch_sharded_1d", "batch_sharded_2d", "last_axis_sharded",
         "mixed_sharding", "shard_map_is_local", "grad_stays_sharded",
         "donation_under_sharding", "donation_in_shard_map_is_in_place"]


def main():
    lowering = sys.argv[1]
    dtype = jnp.bfloat16 if "--bf16" in sys.argv else jnp.float32
    checks = Checks(lowering, dtype)
    results = {"devices": [str(d) for d in jax.devices()],
               "platform": jax.devices()[0].platform}
    for name in NAMES:
        try:
            getattr(checks, name)()
            results[name] = "ok"
        except Exception:  # reported to the parent test, which fails on it
            results[name] = traceback.format_exc(limit=3)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
