"""INT4 KV-cache quantization helpers, in the style of vLLM's INT4 KV cache.

Layout. The last axis (the head dimension ``d``, one row per token and head)
is cut into groups of ``group_size`` consecutive channels (32 by default).
Each group gets one scale, ``absmax(group) / 7``, and each value is stored as
the 4-bit integer ``q = round(x / scale)`` in ``[-7, 7]``::

    x:       [..., d]                 any floating dtype
    packed:  [..., d // 2]            uint8, two values per byte
    scales:  [..., d // group_size]   float32

Byte ``j`` of a row holds channel ``2j`` in its low nibble (bits 0-3) and
channel ``2j + 1`` in its high nibble (bits 4-7), each as a 4-bit two's
complement integer. That is XLA's order for packed ``int4``:
``jax.lax.bitcast_convert_type(packed, jnp.int4)`` returns the codes as
``[..., d // 2, 2]``, channel order intact.

Why [-7, 7] and not [-8, 7]: with an absmax scale the largest magnitude maps
to exactly 7, so the code -8 would only be reached by values beyond the
absmax, which do not exist. A symmetric range also keeps ``quantize(-x)`` the
exact negation of ``quantize(x)``. The unused code costs ~0.1 bit.

Why float32 scales: the error bound ``|x - dequantize(quantize(x))| <=
scale / 2`` holds only if the stored scale is the one the values were divided
by. float16 would flush the scale of small groups to zero (absmax / 7 below
6e-8) and bfloat16 would round it by up to 0.4%, pushing the group's absmax
past code 7. The cost is 4 bytes per 16 bytes of packed data; cast the scales
down yourself if that matters more than the bound.

Rotation. Keys of real LLMs have a few channels 10-50x larger than the rest;
with per-group absmax scaling such a channel sets the scale of its whole group
and the other 31 channels quantize to almost nothing. Rotating queries and
keys by the normalized Hadamard transform (orthogonal and symmetric, so
``(q H)(k H)^T = q k^T``) spreads each outlier over all channels before
quantization. Values are not rotated: they enter attention as ``p @ v``, not
through a dot product with a rotated partner.

All functions are jittable; ``group_size`` and ``dtype`` must be static.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike, DTypeLike

from . import hadamard_transform

__all__ = ["QMAX", "dequantize_int4", "quantize_int4", "rotate_qk"]

QMAX = 7  # codes lie in [-QMAX, QMAX]; see the module docstring for why not -8


def _check_group_size(group_size: int) -> int:
    if (isinstance(group_size, (bool, np.bool_))
            or not isinstance(group_size, (int, np.integer))
            or group_size <= 0 or group_size % 2):
        # Even, so that no byte straddles two groups.
        raise ValueError(
            f"group_size must be a positive even integer, got {group_size!r}")
    return int(group_size)


def quantize_int4(x: ArrayLike, group_size: int = 32) -> tuple[jax.Array, jax.Array]:
    """Symmetric per-group INT4 quantization of the last axis.

    Returns ``(packed, scales)``: ``packed`` is uint8 of shape
    ``[..., d // 2]``, ``scales`` is float32 of shape ``[..., d // group_size]``
    (layout in the module docstring). A group of zeros gets scale 0 and codes
    0. Inputs must be finite. Raises ValueError if ``d`` is not divisible by
    ``group_size``.
    """
    group_size = _check_group_size(group_size)
    x = jnp.asarray(x)
    if x.ndim == 0:
        raise ValueError(
            f"quantize_int4 requires an array of rank >= 1, got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"quantize_int4 requires a floating dtype, got {x.dtype}")
    d = x.shape[-1]
    if d % group_size:
        raise ValueError(
            f"quantize_int4 requires the last dim to be divisible by "
            f"group_size={group_size}, got shape {x.shape}")

    # float32 for the arithmetic: bf16/fp16 inputs would otherwise round
    # x / scale before it is rounded to an integer.
    groups = x.astype(jnp.float32).reshape(*x.shape[:-1], d // group_size, group_size)
    # A multiply, not `/ QMAX`: some XLA versions rewrite a division by a
    # constant as this multiply under jit but not eagerly, and the one-ulp
    # difference moved codes at rounding ties between jit and eager.
    scales = jnp.max(jnp.abs(groups), axis=-1) * np.float32(1 / QMAX)
    # An all-zero group would divide by zero; any divisor gives codes 0 there.
    divisor = jnp.where(scales > 0, scales, 1.0)[..., None]
    # The clip only guards rounding of x / scale a hair past 7 at the absmax.
    codes = jnp.clip(jnp.round(groups / divisor), -QMAX, QMAX).astype(jnp.int8)
    nibbles = codes.reshape(*x.shape[:-1], d // 2, 2).astype(jnp.uint8) & 0xF
    packed = nibbles[..., 0] | (nibbles[..., 1] << 4)
    return packed, scales


def dequantize_int4(
    packed: ArrayLike,
    scales: ArrayLike,
    group_size: int = 32,
    dtype: DTypeLike = jnp.float32,
) -> jax.Array:
    """Inverse of :func:`quantize_int4`: ``codes * scale`` as ``dtype``.

    Returns an array of shape ``[..., 2 * packed.shape[-1]]``. Raises
    ValueError if the shapes of ``packed`` and ``scales`` do not describe the
    same rows with this ``group_size``.
    """
    group_size = _check_group_size(group_size)
    packed, scales = jnp.asarray(packed), jnp.asarray(scales)
    if packed.dtype != jnp.uint8:
        raise TypeError(f"dequantize_int4 requires uint8 packed data, got {packed.dtype}")
    if packed.ndim == 0 or scales.ndim == 0:
        raise ValueError(
            "dequantize_int4 requires packed and scales of rank >= 1, got shapes "
            f"{packed.shape} and {scales.shape}")
    d = 2 * packed.shape[-1]
    if packed.shape[:-1] != scales.shape[:-1] or scales.shape[-1] * group_size != d:
        raise ValueError(
            f"dequantize_int4: packed shape {packed.shape} (d={d}) does not match "
            f"scales shape {scales.shape} with group_size={group_size}; expected "
            f"scales shape {(*packed.shape[:-1], d // group_size)}")

    nibbles = jnp.stack([packed & 0xF, packed >> 4], axis=-1).astype(jnp.int8)
    codes = (nibbles ^ 8) - 8  # sign-extend 4-bit two's complement: 8..15 -> -8..-1
    groups = codes.reshape(*packed.shape[:-1], d // group_size, group_size)
    values = groups.astype(jnp.float32) * scales.astype(jnp.float32)[..., None]
    return values.reshape(*packed.shape[:-1], d).astype(dtype)


def rotate_qk(q: ArrayLike, k: ArrayLike) -> tuple[jax.Array, jax.Array]:
    """Rotates queries and keys by the normalized Hadamard transform.

    ``q @ k^T`` is unchanged (H is orthogonal), while outlier channels of
    ``k`` are spread over all channels, so its INT4 error drops. Quantize the
    rotated keys; values stay as they are.
    """
    return hadamard_transform(q), hadamard_transform(k)
