"""Hypothesis properties: involution, linearity, norm preservation, reference."""

import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from conftest import lowerings, reference, transform_for

_FINITE = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def batches(draw):
    log2_d = draw(st.integers(0, 9))
    rows = draw(st.integers(1, 5))
    x = draw(hnp.arrays(np.float64, (rows, 2**log2_d), elements=_FINITE))
    lowering = draw(st.sampled_from(lowerings()))
    return x, lowering


@settings(max_examples=40, deadline=None)
@given(batches())
def test_involution(case):
    x, lowering = case
    f = transform_for(lowering)
    np.testing.assert_allclose(np.asarray(f(f(x))), x, atol=1e-9 * (1 + np.abs(x).max()))


@settings(max_examples=40, deadline=None)
@given(batches(), _FINITE, _FINITE)
def test_linearity(case, a, b):
    x, lowering = case
    y = x[::-1].copy()  # a second input of the same shape
    f = transform_for(lowering)
    lhs = np.asarray(f(jnp.asarray(a * x + b * y)))
    rhs = a * np.asarray(f(x)) + b * np.asarray(f(y))
    scale = 1 + (abs(a) + abs(b)) * np.abs(x).max()
    np.testing.assert_allclose(lhs, rhs, atol=1e-9 * scale)


@settings(max_examples=40, deadline=None)
@given(batches())
def test_norm_preservation(case):
    x, lowering = case
    y = np.asarray(transform_for(lowering)(x))
    np.testing.assert_allclose(
        np.linalg.norm(y, axis=-1), np.linalg.norm(x, axis=-1),
        rtol=1e-12, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(batches(), st.floats(-4, 4, allow_nan=False).filter(lambda s: abs(s) > 1e-3))
def test_matches_reference_for_any_scale(case, scale):
    x, lowering = case
    y = np.asarray(transform_for(lowering, scale=scale)(x))
    np.testing.assert_allclose(y, reference(x, scale), atol=1e-9 * (1 + np.abs(x).max()) * x.shape[-1])
