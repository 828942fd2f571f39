"""Every JAX transformation reaches the primitive and gives the right values."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import assert_close_to_reference, random_input, reference, transform_for

DTYPES_FOR_AD = [jnp.float32, jnp.float64]


@pytest.mark.parametrize("in_axes,shape", [
    (0, (5, 3, 64)),
    (1, (3, 5, 64)),
    (-1, (64, 5)),  # batch on the last axis: the transformed axis is dim 0
])
def test_vmap_in_axes(lowering, rng, in_axes, shape):
    x = random_input(rng, shape, jnp.float64)
    f = transform_for(lowering)
    y = jax.vmap(f, in_axes=in_axes)(x)
    batch_first = jnp.moveaxis(x, in_axes, 0)
    assert_close_to_reference(y, batch_first)


def test_vmap_with_unbatched_argument(lowering, rng):
    x = random_input(rng, (4, 32), jnp.float64)
    w = random_input(rng, (32,), jnp.float64)
    y = jax.vmap(lambda a, b: transform_for(lowering)(a * b), in_axes=(0, None))(x, w)
    assert_close_to_reference(y, x * w)


def test_nested_vmap(lowering, rng):
    x = random_input(rng, (2, 3, 16), jnp.float64)
    f = transform_for(lowering)
    y = jax.vmap(jax.vmap(f, in_axes=0), in_axes=1)(x)
    assert_close_to_reference(y, jnp.swapaxes(x, 0, 1))


@pytest.mark.parametrize("dtype", DTYPES_FOR_AD)
def test_grad_is_the_transform_of_the_cotangent(lowering, rng, dtype):
    x = random_input(rng, (3, 128), dtype)
    w = random_input(rng, (3, 128), dtype)
    f = transform_for(lowering)
    g = jax.grad(lambda a: jnp.sum(f(a) * w))(x)
    # d/dx sum(w * (x H)) = w H^T = w H (H symmetric).
    assert_close_to_reference(g, w, dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES_FOR_AD)
def test_jvp(lowering, rng, dtype):
    x = random_input(rng, (3, 256), dtype)
    t = random_input(rng, (3, 256), dtype)
    y, y_dot = jax.jvp(transform_for(lowering), (x,), (t,))
    assert_close_to_reference(y, x, dtype=dtype)
    assert_close_to_reference(y_dot, t, dtype=dtype)


def test_linear_transpose(lowering, rng):
    x = random_input(rng, (4, 64), jnp.float64)
    ct = random_input(rng, (4, 64), jnp.float64)
    f = transform_for(lowering, scale=0.25)
    transpose = jax.linear_transpose(f, x)
    (out,) = transpose(ct)
    assert_close_to_reference(out, ct, scale=0.25)


def test_vjp_and_jacobian_equal_the_matrix(lowering, rng):
    d = 16
    x = random_input(rng, (d,), jnp.float64)
    jac = jax.jacfwd(transform_for(lowering))(x)
    np.testing.assert_allclose(np.asarray(jac), reference(np.eye(d)).T, atol=1e-14)
    jac_rev = jax.jacrev(transform_for(lowering))(x)
    np.testing.assert_allclose(np.asarray(jac_rev), np.asarray(jac), atol=1e-14)


def test_hessian_of_a_quadratic_form(lowering, rng):
    d = 32
    x = random_input(rng, (d,), jnp.float64)
    w = random_input(rng, (d,), jnp.float64)
    f = transform_for(lowering)
    # h(x) = sum(w * f(x)^2): Hessian = 2 H diag(w) H (normalized H).
    hess = jax.hessian(lambda a: jnp.sum(w * f(a) ** 2))(x)
    h = reference(np.eye(d))
    np.testing.assert_allclose(np.asarray(hess), 2 * h @ np.diag(w) @ h, atol=1e-12)


def test_second_order_forward_over_reverse(lowering, rng):
    x = random_input(rng, (4, 64), jnp.float64)
    v = random_input(rng, (4, 64), jnp.float64)
    f = transform_for(lowering)
    loss = lambda a: jnp.sum(jnp.sin(f(a)))  # noqa: E731
    hvp = jax.jvp(jax.grad(loss), (x,), (v,))[1]
    eps = 1e-6
    numeric = (jax.grad(loss)(x + eps * v) - jax.grad(loss)(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(hvp), np.asarray(numeric), rtol=1e-6, atol=1e-8)


def test_vmap_of_grad(lowering, rng):
    x = random_input(rng, (5, 64), jnp.float64)
    w = random_input(rng, (5, 64), jnp.float64)
    f = transform_for(lowering)
    per_row = jax.vmap(jax.grad(lambda a, b: jnp.sum(f(a) * b)))(x, w)
    assert_close_to_reference(per_row, w)


def test_grad_under_jit(lowering, rng):
    x = random_input(rng, (2, 1024), jnp.float32)
    f = transform_for(lowering)
    g = jax.jit(jax.grad(lambda a: jnp.sum(f(a) ** 2)))(x)
    # |H x|^2 = |x|^2 (orthogonal), so the gradient is 2x.
    np.testing.assert_allclose(np.asarray(g), 2 * np.asarray(x), rtol=1e-5, atol=1e-5)


def test_donation_with_inplace(lowering, rng):
    x = random_input(rng, (64, 256), jnp.float32)
    expected = reference(np.asarray(x))
    f = jax.jit(transform_for(lowering, inplace=True), donate_argnums=0)
    y = f(x)
    assert x.is_deleted()
    np.testing.assert_allclose(np.asarray(y, np.float64), expected, rtol=2e-5, atol=2e-5)


def test_inplace_aliases_in_the_custom_call():
    from conftest import lowerings
    if "auto" not in lowerings():
        pytest.skip("no FFI kernel for this backend")
    x = jnp.ones((8, 64), jnp.float32)
    f = jax.jit(transform_for("auto", inplace=True), donate_argnums=0)
    hlo = f.lower(x).as_text()
    assert "output_operand_aliases" in hlo
    compiled = f.lower(x).compile().as_text()
    # The donated parameter and the custom call's result share one buffer.
    assert "input_output_alias" in compiled


def test_involution(lowering, rng):
    x = random_input(rng, (7, 2048), jnp.float64)
    f = transform_for(lowering)
    np.testing.assert_allclose(np.asarray(f(f(x))), np.asarray(x), atol=1e-12)
