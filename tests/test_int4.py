"""jaxhada.int4: INT4 KV-cache quantization and the Hadamard rotation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxhada
from jaxhada.int4 import QMAX, dequantize_int4, quantize_int4, rotate_qk


def _roundtrip(x, group_size=32):
    return dequantize_int4(*quantize_int4(x, group_size), group_size)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16, jnp.float64])
@pytest.mark.parametrize("shape,group_size", [
    ((32,), 32), ((3, 5, 64), 32), ((7, 128), 32), ((4, 128), 16), ((2, 6), 2),
    ((0, 64), 32),
])
def test_roundtrip_error_within_half_a_step(dtype, shape, group_size):
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        pytest.skip("float64 needs jax_enable_x64 (tests/conftest.py sets it)")
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal(shape) * 3, dtype=dtype)
    packed, scales = quantize_int4(x, group_size)
    assert packed.dtype == jnp.uint8 and packed.shape == (*shape[:-1], shape[-1] // 2)
    assert scales.dtype == jnp.float32
    assert scales.shape == (*shape[:-1], shape[-1] // group_size)
    y = dequantize_int4(packed, scales, group_size, dtype=dtype)
    assert y.dtype == dtype and y.shape == x.shape

    # Checked in float32 (before the cast back to dtype), against x as given.
    err = np.abs(np.asarray(dequantize_int4(packed, scales, group_size), np.float64)
                 - np.asarray(x, np.float64))
    bound = np.repeat(np.asarray(scales, np.float64), group_size, axis=-1) / 2
    np.testing.assert_array_less(err, bound * (1 + 1e-5) + 1e-30)
    # The group's absmax is represented exactly (it maps to code 7).
    if x.size:
        groups = np.asarray(x, np.float64).reshape(*shape[:-1], -1, group_size)
        np.testing.assert_allclose(np.asarray(scales) * QMAX,
                                   np.abs(groups).max(-1), rtol=1e-6)


def test_packing_layout_low_nibble_first():
    # Group absmax 7 makes the scale 1, so the codes are the values themselves.
    codes = np.array([1, -2, 7, -7, 0, 3, -1, 5] * 4, dtype=np.float32)
    packed, scales = quantize_int4(codes)
    np.testing.assert_array_equal(scales, [1.0])
    nibbles = (codes.astype(np.int8).view(np.uint8) & 0xF).reshape(-1, 2)
    np.testing.assert_array_equal(packed, nibbles[:, 0] | (nibbles[:, 1] << 4))
    assert int(packed[0]) == 0xE1  # channel 0 (+1) low, channel 1 (-2 = 0xE) high
    # XLA's own packed int4 order agrees: a row bitcasts without shuffling.
    np.testing.assert_array_equal(
        jax.lax.bitcast_convert_type(packed, jnp.int4).reshape(-1).astype(jnp.int8),
        codes.astype(np.int8))


def test_codes_are_symmetric_and_zero_groups_are_exact():
    x = jnp.asarray(np.random.default_rng(1).standard_normal((4, 64)), jnp.float32)
    x = x.at[1, :32].set(0.0)
    packed, scales = quantize_int4(x)
    assert float(scales[1, 0]) == 0.0
    np.testing.assert_array_equal(_roundtrip(x)[1, :32], 0.0)
    np.testing.assert_array_equal(_roundtrip(-x), -_roundtrip(x))
    codes = jax.lax.bitcast_convert_type(packed, jnp.int4).astype(jnp.int8)
    assert int(codes.min()) >= -QMAX  # -8 is never produced


def test_jit_matches_eager():
    x = jnp.asarray(np.random.default_rng(2).standard_normal((2, 8, 128)), jnp.bfloat16)
    quantize = jax.jit(quantize_int4, static_argnames="group_size")
    dequantize = jax.jit(dequantize_int4, static_argnames=("group_size", "dtype"))
    packed, scales = quantize(x, group_size=32)
    eager_packed, eager_scales = quantize_int4(x)
    np.testing.assert_array_equal(packed, eager_packed)
    np.testing.assert_array_equal(scales, eager_scales)
    y = dequantize(packed, scales, group_size=32, dtype=jnp.bfloat16)
    np.testing.assert_array_equal(y, _roundtrip(x).astype(jnp.bfloat16))
    assert y.dtype == jnp.bfloat16


def test_vmap_matches_batched():
    x = jnp.asarray(np.random.default_rng(3).standard_normal((5, 3, 64)), jnp.float32)
    np.testing.assert_array_equal(jax.vmap(_roundtrip)(x), _roundtrip(x))


@pytest.mark.parametrize("bad", [0, -32, 3, 32.0, True])
def test_bad_group_size(bad):
    with pytest.raises(ValueError, match=r"group_size must be a positive even integer, got"):
        quantize_int4(jnp.zeros((2, 64)), bad)


def test_last_dim_not_divisible_by_group_size():
    with pytest.raises(ValueError, match=r"divisible by group_size=32, got shape \(4, 48\)"):
        quantize_int4(jnp.zeros((4, 48)))


def test_rank_zero_and_integer_inputs():
    with pytest.raises(ValueError, match=r"rank >= 1, got shape \(\)"):
        quantize_int4(jnp.float32(1.0))
    with pytest.raises(TypeError, match="requires a floating dtype, got int32"):
        quantize_int4(jnp.zeros((2, 32), jnp.int32))


def test_dequantize_shape_and_dtype_errors():
    packed, scales = quantize_int4(jnp.ones((3, 64)))
    with pytest.raises(ValueError, match=r"packed shape \(3, 32\) \(d=64\) does not match "
                                         r"scales shape \(3, 4\) with group_size=32"):
        dequantize_int4(packed, jnp.ones((3, 4)))
    with pytest.raises(ValueError, match=r"expected scales shape \(3, 2\)"):
        dequantize_int4(packed, scales[:2])
    with pytest.raises(ValueError, match=r"rank >= 1, got shapes \(\) and \(2,\)"):
        dequantize_int4(jnp.uint8(0), scales[0])
    with pytest.raises(TypeError, match="requires uint8 packed data, got int8"):
        dequantize_int4(packed.astype(jnp.int8), scales)


def _outlier_keys(rng, shape, outliers=(3, 70, 101)):
    """Gaussian keys whose few outlier channels are 10-50x the rest."""
    k = rng.standard_normal(shape)
    k[..., list(outliers)] *= rng.uniform(10, 50, len(outliers))
    return jnp.asarray(k, jnp.float32)


@pytest.mark.parametrize("d", [64, 128])
def test_rotation_preserves_scores(d):
    rng = np.random.default_rng(4)
    q = jnp.asarray(rng.standard_normal((4, 16, d)), jnp.float32)
    k = _outlier_keys(rng, (4, 32, d), outliers=(3, d - 7))
    q_rot, k_rot = rotate_qk(q, k)
    # HIGHEST: on GPUs the default float32 matmul is TF32-like (~1e-3).
    scores = jnp.einsum("hqd,hkd->hqk", q, k, precision="highest")
    rotated = jnp.einsum("hqd,hkd->hqk", q_rot, k_rot, precision="highest")
    np.testing.assert_allclose(rotated, scores, rtol=1e-4,
                               atol=1e-5 * float(jnp.abs(scores).max()))
    np.testing.assert_allclose(k_rot, jaxhada.hadamard_transform(k))


def test_rotation_reduces_quantization_error_on_outlier_keys():
    k = _outlier_keys(np.random.default_rng(5), (8, 256, 128))
    plain = jnp.mean((_roundtrip(k) - k) ** 2)
    _, k_rot = rotate_qk(k, k)
    # H is orthogonal, so the MSE measured after rotating back equals the MSE
    # of the rotated keys: the two numbers compare errors in the same units.
    rotated = jnp.mean((jaxhada.hadamard_transform(_roundtrip(k_rot)) - k) ** 2)
    assert float(rotated) < 0.5 * float(plain), (float(rotated), float(plain))
