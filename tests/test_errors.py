"""Bad input: clear Python exceptions at trace time, the seed's messages."""

import jax
import jax.numpy as jnp
import pytest

from jaxhada import hadamard_matrix, hadamard_transform, hadamard_transform_p
from conftest import transform_for


@pytest.mark.parametrize("d", [3, 6, 100, 1000])
def test_non_power_of_two(lowering, d):
    msg = f"hadamard_transform requires power-of-2 last dim, got {d}"
    with pytest.raises(ValueError, match=msg):
        transform_for(lowering)(jnp.ones((2, d)))
    with pytest.raises(ValueError, match=msg):
        jax.jit(transform_for(lowering)).lower(jax.ShapeDtypeStruct((2, d), jnp.float32))


def test_too_long(lowering):
    msg = (r"hadamard_transform Tier-2 dense fallback is not intended for "
           r"d=65536 > 32768. Use hadacore_transform on CUDA.")
    with pytest.raises(ValueError, match=msg):
        jax.jit(transform_for(lowering)).lower(
            jax.ShapeDtypeStruct((1, 65536), jnp.float32))


def test_non_positive_dim():
    with pytest.raises(ValueError, match="hadamard_transform requires positive last dim, got 0"):
        hadamard_matrix(0)
    with pytest.raises(ValueError, match="hadamard_transform requires positive last dim, got -4"):
        hadamard_matrix(-4)
    with pytest.raises(ValueError, match="requires positive last dim, got 0"):
        hadamard_transform_p.bind(jnp.ones((2, 0)), scale=1.0, inplace=False, lowering="auto")


def test_rank_zero():
    with pytest.raises(ValueError, match=r"requires an array of rank >= 1, got shape \(\)"):
        hadamard_transform(jnp.float32(1.0))


def test_traced_scale_is_rejected():
    with pytest.raises(TypeError, match="scale must be a static real number.*got"):
        jax.jit(lambda s: hadamard_transform(jnp.ones(4), scale=s))(2.0)
    with pytest.raises(TypeError, match="got bool"):
        hadamard_transform(jnp.ones(4), scale=True)


def test_unknown_lowering():
    with pytest.raises(ValueError, match="lowering must be one of"):
        transform_for("magic")(jnp.ones(4))


def test_primitive_rejects_non_float_dtypes():
    with pytest.raises(TypeError, match="got int32"):
        hadamard_transform_p.bind(jnp.ones(4, jnp.int32), scale=1.0, inplace=False,
                                  lowering="auto")


def test_hadamard_matrix_rejects_integer_dtype():
    with pytest.raises(TypeError, match="requires a floating dtype, got int32"):
        hadamard_matrix(4, jnp.int32)


def test_string_input_is_a_type_error():
    with pytest.raises(TypeError):
        hadamard_transform("not an array")
