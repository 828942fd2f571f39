"""Values against the float64 Sylvester reference, every dtype and length."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import (
    ALL_D,
    BOUNDS,
    FLOAT_DTYPES,
    assert_close_to_reference,
    random_input,
    reference,
    transform_for,
)


def _leading_shapes(d):
    # One row, 7 rows, a 3-D batch; element counts that are not multiples of 256.
    if d >= 8192:
        return [(1,), (3,)]
    return [(1,), (7,), (3, 5)]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("d", ALL_D)
def test_matches_sylvester_reference(lowering, rng, dtype, d):
    f = jax.jit(transform_for(lowering))
    for lead in _leading_shapes(d):
        x = random_input(rng, (*lead, d), dtype)
        y = f(x)
        assert y.shape == x.shape and y.dtype == x.dtype
        assert_close_to_reference(y, x)


@pytest.mark.parametrize("d", [16, 1024])
def test_rank_one_input(lowering, rng, d):
    x = random_input(rng, (d,), jnp.float32)
    assert_close_to_reference(transform_for(lowering)(x), x)


@pytest.mark.parametrize("scale", [1.0, 0.5, -2.0])
def test_explicit_scale(lowering, rng, scale):
    x = random_input(rng, (5, 64), jnp.float64)
    assert_close_to_reference(transform_for(lowering, scale=scale)(x), x, scale=scale)


@pytest.mark.parametrize("shape", [(0, 16), (3, 0), (0,), (2, 0, 8)])
def test_empty_input_is_returned_unchanged(lowering, shape):
    x = jnp.zeros(shape, jnp.float32)
    y = transform_for(lowering)(x)
    assert y is x


def test_eager_and_jit_agree(lowering, rng):
    x = random_input(rng, (7, 256), jnp.float32)
    f = transform_for(lowering)
    np.testing.assert_array_equal(np.asarray(f(x)), np.asarray(jax.jit(f)(x)))


@pytest.mark.parametrize("dtype", [jnp.int8, jnp.int32, jnp.uint8, jnp.int64])
def test_integer_inputs_compute_in_float32_and_truncate(lowering, rng, dtype):
    x = jnp.asarray(rng.integers(0, 100, (4, 32)), dtype=dtype)
    y = transform_for(lowering)(x)
    assert y.dtype == x.dtype
    expected = np.asarray(
        transform_for(lowering)(x.astype(jnp.float32)).astype(dtype)
    )
    np.testing.assert_array_equal(np.asarray(y), expected)


def test_bool_input(lowering):
    x = jnp.asarray([[True, False, True, True]])
    y = transform_for(lowering)(x)
    assert y.dtype == jnp.bool_
    # float result [1.5, 0.5, -0.5, 0.5]... every entry nonzero -> True
    expected = np.asarray(transform_for(lowering)(x.astype(jnp.float32))) != 0
    np.testing.assert_array_equal(np.asarray(y), expected)


@pytest.mark.parametrize("dtype", [jnp.complex64, jnp.complex128])
def test_complex_transforms_real_and_imaginary_parts(lowering, rng, dtype):
    x = jnp.asarray(
        rng.standard_normal((3, 128)) + 1j * rng.standard_normal((3, 128)), dtype
    )
    y = transform_for(lowering)(x)
    assert y.dtype == x.dtype
    real = np.asarray(jnp.real(x), np.float64)
    imag = np.asarray(jnp.imag(x), np.float64)
    bound_dtype = jnp.float32 if dtype == jnp.complex64 else jnp.float64
    assert_close_to_reference(jnp.real(y), real, dtype=bound_dtype)
    assert_close_to_reference(jnp.imag(y), imag, dtype=bound_dtype)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("d", [16, 128, 4096])
def test_every_row_meets_the_bound(lowering, rng, dtype, d):
    # The error pooled over many rows could hide one wrong row (a tail, one
    # thread's or warp's tile); a correct transform meets the dtype's bound
    # row by row, since one rounding at the store costs at most the unit
    # roundoff (bf16 2^-8, f16 2^-11), and float accumulation far less.
    x = random_input(rng, (257, d), dtype)
    y = np.asarray(jax.jit(transform_for(lowering))(x), dtype=np.float64)
    ref = reference(x)
    per_row = np.linalg.norm(y - ref, axis=1) / np.linalg.norm(ref, axis=1)
    worst = int(np.argmax(np.where(np.isfinite(per_row), per_row, np.inf)))
    assert per_row[worst] <= BOUNDS[np.dtype(dtype)], (
        f"row {worst} of 257: relative error {per_row[worst]:.3e}")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("d", [64, 4096, 16384])
def test_nan_and_inf_propagate_to_their_row_only(lowering, rng, dtype, d):
    # Sizes served by different CUDA kernels: an inf makes its row non-finite
    # (at 16384, 16-bit, NaN throughout: the second tensor-core product's
    # split), and the other rows are as without it.
    x = np.array(random_input(rng, (4, d), dtype))
    x[1, 5] = np.nan
    x[2, 7] = np.inf
    y = np.asarray(transform_for(lowering)(jnp.asarray(x)), dtype=np.float64)
    assert np.isnan(y[1]).all()
    assert not np.isfinite(y[2]).any()
    assert np.isfinite(y[[0, 3]]).all()
    assert_close_to_reference(y[[0, 3]], x[[0, 3]], dtype=dtype)


def test_inputs_are_not_mutated(lowering, rng):
    x = random_input(rng, (7, 512), jnp.float32)
    before = np.array(x)
    for inplace in (False, True):
        jax.block_until_ready(jax.jit(transform_for(lowering, inplace=inplace))(x))
        transform_for(lowering, inplace=inplace)(x)
    np.testing.assert_array_equal(np.asarray(x), before)


def test_numpy_and_list_inputs(lowering):
    x = np.arange(8, dtype=np.float32)
    y = transform_for(lowering)(x)
    assert isinstance(y, jax.Array)
    assert_close_to_reference(y, x)
    assert_close_to_reference(transform_for(lowering)(x.tolist()), x)
