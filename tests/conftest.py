"""Shared fixtures: float64 enabled, both lowerings, the float64 reference."""

import functools
import math
import os
import secrets

import jax

# float64 inputs must stay float64 for the float64 accuracy tests.
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.linalg  # noqa: E402

from jaxhada import _ffi, _hadamard, build_info  # noqa: E402
from jaxhada._bench import relative_error  # noqa: E402

# Relative L2 error bounds vs float64 (the README's Semantics).
BOUNDS = {
    np.dtype(jnp.float32): 2e-6,
    np.dtype(jnp.float16): 5e-4,
    np.dtype(jnp.bfloat16): 4e-3,
    np.dtype(jnp.float64): 1e-13,
}
FLOAT_DTYPES = [jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64]
ALL_D = [2**k for k in range(16)]  # 1 ... 32768


def lowerings():
    """The lowerings this install can run on the default backend."""
    names = ["dense"]
    if _ffi.target_for_backend(jax.default_backend()) is not None:
        names.insert(0, "auto")
    return names


@pytest.fixture(params=lowerings())
def lowering(request):
    return request.param


def transform_for(lowering, scale=None, inplace=False):
    return functools.partial(
        _hadamard.transform, scale=scale, inplace=inplace, lowering=lowering
    )


@pytest.fixture
def rng(request):
    # Fresh inputs every run; the seed is in the test id's report on failure.
    seed = secrets.randbits(32)
    request.node.user_properties.append(("seed", seed))
    return np.random.default_rng(seed)


@functools.lru_cache(maxsize=None)
def sylvester(d):
    return scipy.linalg.hadamard(d).astype(np.float64)


def reference(x, scale=None):
    """float64 x @ H_d * scale, H_d from scipy (the Sylvester construction)."""
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[-1]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    return (x @ sylvester(d)) * scale


def assert_close_to_reference(y, x, scale=None, dtype=None):
    dtype = np.dtype(dtype or np.asarray(x).dtype)
    ref = reference(x, scale)
    err = relative_error(y, ref)
    assert np.isfinite(err), f"non-finite error {err}"
    assert err <= BOUNDS[dtype], f"{dtype} relative error {err:.3e} > {BOUNDS[dtype]:.1e}"
    if dtype.itemsize == 2:
        # Once-rounded f32 result: the best a 16-bit output can be.
        once_rounded = np.asarray(jnp.asarray(ref, jnp.float32).astype(dtype))
        floor = relative_error(once_rounded, ref)
        assert err <= 2 * floor + 1e-12, f"{dtype} error {err:.3e} > 2x once-rounded {floor:.3e}"
    return err


def random_input(rng, shape, dtype):
    return jnp.asarray(rng.standard_normal(shape), dtype=dtype)


REQUIRE_GPU = os.environ.get("JAXHADA_REQUIRE_GPU") == "1"


def _is_gpu_test(item):
    return "tests/gpu/" in str(item.fspath).replace(os.sep, "/")


def pytest_collection_modifyitems(config, items):
    """GPU tests skip without a CUDA device, except under JAXHADA_REQUIRE_GPU=1,
    where a missing GPU or kernel is a failure: a device run never passes
    vacuously."""
    gpu_items = [item for item in items if _is_gpu_test(item)]
    if not gpu_items:
        return
    if REQUIRE_GPU:
        info = build_info()
        assert jax.default_backend() == "gpu", (
            f"JAXHADA_REQUIRE_GPU=1 but the backend is {jax.default_backend()}")
        assert info["cuda"], f"JAXHADA_REQUIRE_GPU=1 but the CUDA kernel is not built: {info}"
        return
    if jax.default_backend() != "gpu":
        skip = pytest.mark.skip(reason="no GPU (JAXHADA_REQUIRE_GPU=1 fails instead)")
        for item in gpu_items:
            item.add_marker(skip)
