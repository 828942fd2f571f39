"""Sylvester Hadamard matrices: the public cached normalized matrix, and the
small exact +-1 factors that the dense lowering multiplies by."""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ._limits import check_transform_length

_NORMALIZED_CACHE: dict[tuple[int, np.dtype, str], jax.Array] = {}


def _sylvester_signs(d: int) -> np.ndarray:
    """H[i, j] = (-1) ** popcount(i & j) as int8, by Kronecker doubling, so
    that even d = 32768 needs d*d bytes, not d*d int64 words."""
    h = np.ones((1, 1), dtype=np.int8)
    while h.shape[0] < d:
        h = np.block([[h, h], [h, -h]])
    return h


@functools.lru_cache(maxsize=None)
def sign_matrix(d: int, dtype: np.dtype) -> np.ndarray:
    """The +-1 Sylvester matrix in `dtype` (exact in every float dtype), for
    the dense lowering's small factors. Cached and read-only: it is shared by
    every caller."""
    out = _sylvester_signs(d).astype(dtype)
    out.setflags(write=False)
    return out


def hadamard_matrix(d: int, dtype=jnp.float32) -> jax.Array:
    """The normalized Hadamard matrix H_d / sqrt(d), cached per (d, dtype, backend).

    Same convention as the seed's ``_get_hadamard_matrix``: the matrix is its
    own inverse. Entries are computed exactly (+-1 times 1/sqrt(d) rounded
    once from float64), so float64 users get float64 accuracy. The same array
    object is returned for the same ``(d, dtype, default backend)``.
    """
    d = int(d)
    check_transform_length(d)
    dtype = np.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"hadamard_matrix requires a floating dtype, got {dtype}")
    backend = jax.default_backend()
    key = (d, dtype, backend)
    cached = _NORMALIZED_CACHE.get(key)
    if cached is None:
        entry = np.asarray(1.0 / math.sqrt(d), dtype=np.float64).astype(dtype)
        # Not through sign_matrix's cache: a d = 32768 matrix is 4 GiB, and
        # the device copy below is the one worth keeping.
        host = _sylvester_signs(d).astype(dtype) * entry
        cached = jax.device_put(host, jax.devices(backend)[0])
        _NORMALIZED_CACHE[key] = cached
    return cached
