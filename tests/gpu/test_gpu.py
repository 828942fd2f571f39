"""The CUDA kernel: every dtype x every length x awkward row counts, aliasing,
64-bit indexing, and that jit/vmap/grad reach the custom call."""

import gc

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import ALL_D, FLOAT_DTYPES, assert_close_to_reference, random_input
from jaxhada import _hadamard, hadamard_transform

pytestmark = pytest.mark.gpu
ROWS = [1, 7, 33, 1000]


def _poisoned_call(f, x):
    # Free a NaN-filled block the size of the result just before the call, so
    # the allocator likely hands it to the output: unwritten elements stay NaN.
    poison = jnp.full(x.shape, jnp.nan, x.dtype).block_until_ready()
    del poison
    gc.collect()
    return f(x)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("d", ALL_D)
def test_kernel_matches_reference(rng, dtype, d):
    f = jax.jit(hadamard_transform)
    for rows in ROWS:
        if rows * d > (1 << 24):
            continue
        x = random_input(rng, (rows, d), dtype)
        y = _poisoned_call(f, x)
        assert_close_to_reference(y, x)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("d", [16, 128, 4096, 16384, 32768])
def test_in_place_under_donation(rng, dtype, d):
    x = random_input(rng, (9, d), dtype)
    host = np.asarray(x)
    f = jax.jit(lambda a: hadamard_transform(a, inplace=True), donate_argnums=0)
    assert "output_operand_aliases" in f.lower(x).as_text()
    y = f(x)
    assert x.is_deleted()
    assert_close_to_reference(y, host)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16], ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("d", [4096, 8192, 16384])
@pytest.mark.parametrize("scale", [None, 1.0, -0.75, 2.0, 0.3])
def test_scale_inside_and_outside_the_tensor_cores(rng, dtype, d, scale):
    # The kernel for 4096 and 8192 puts a scale that is a 16-bit value of
    # magnitude 2^-14 to 1 (None: 1/sqrt(d), one at 4096; 1.0; -0.75) into
    # its tensor-core products and multiplies by any other (2.0, 0.3) at the
    # store; the one for 16384 puts the scale's sign into its first product
    # and multiplies by its magnitude at the store.
    x = random_input(rng, (33, d), dtype)
    y = _poisoned_call(jax.jit(lambda a: hadamard_transform(a, scale=scale)), x)
    assert_close_to_reference(y, x, scale=scale)


def test_custom_call_in_hlo_under_jit_vmap_grad():
    spec = jax.ShapeDtypeStruct((4, 8, 256), jnp.bfloat16)
    fns = {
        "jit": hadamard_transform,
        "vmap": jax.vmap(hadamard_transform, in_axes=1),
        "grad": jax.grad(lambda x: jnp.sum(hadamard_transform(x).astype(jnp.float32) ** 2)),
        "vmap_of_grad": jax.vmap(jax.grad(
            lambda x: jnp.sum(hadamard_transform(x).astype(jnp.float32)))),
    }
    for name, fn in fns.items():
        text = jax.jit(fn).lower(spec).compile().as_text()
        assert 'custom_call_target="jaxhada_hadamard_cuda"' in text, name


def test_grad_values_on_gpu(rng):
    x = random_input(rng, (3, 1024), jnp.float32)
    w = random_input(rng, (3, 1024), jnp.float32)
    g = jax.jit(jax.grad(lambda a: jnp.sum(hadamard_transform(a) * w)))(x)
    assert_close_to_reference(g, np.asarray(w))


def test_dense_lowering_on_gpu_is_accurate(rng):
    # HIGHEST precision: the TF32 default would miss the f32 bound 100x.
    for d in (256, 4096, 32768):
        x = random_input(rng, (5, d), jnp.float32)
        f = jax.jit(lambda a: _hadamard.transform(a, scale=None, inplace=False,
                                                  lowering="dense"))
        assert_close_to_reference(f(x), x)


@pytest.mark.slow
def test_more_than_2_to_the_31_elements(rng):
    d = 128
    rows = (1 << 31) // d + 3  # 2^31 + 384 elements, 4 GiB in bf16
    x = jnp.ones((rows, d), jnp.bfloat16)
    tail = random_input(rng, (5, d), jnp.bfloat16)
    x = x.at[-5:].set(tail)
    f = jax.jit(lambda a: hadamard_transform(a, inplace=True), donate_argnums=0)
    y = f(x)
    del x
    assert_close_to_reference(y[-5:], np.asarray(tail))
    first = np.asarray(y[:2], np.float64)
    expected = np.zeros((2, d))
    expected[:, 0] = d / np.sqrt(d)
    np.testing.assert_allclose(first, expected, atol=1e-2)


def test_benchmark_reads_device_time_from_the_profile():
    # python -m jaxhada times GPU steps from the profiler's record of the GPU
    # operations; its fallback, timing from the host, scatters by ±15%.
    from jaxhada import _bench

    steps, runs = 8, 3
    x = jnp.ones((256, 1024), jnp.bfloat16)
    chain = _bench._chain(_bench._transform_step("auto"), steps)
    seconds = _bench._profiled_seconds_per_step(chain, steps, x, (), runs)
    assert seconds is not None and 0 < seconds < 1.0
