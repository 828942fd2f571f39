"""hadamard_transform: one linear primitive, a dense lowering for every
platform, and FFI kernel lowerings for cpu and cuda where they were built."""

from __future__ import annotations

import functools
import math
from numbers import Real

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.extend.core import Primitive
from jax.interpreters import ad, batching, mlir

from . import _ffi
from ._limits import check_transform_length
from ._matrix import sign_matrix
from ._sharding_rule import batch_partitioning_attributes

# dtypes the primitive (and every kernel) computes in natively.
_KERNEL_DTYPES = frozenset(
    np.dtype(t) for t in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64)
)
# Above this length the dense path factors H_d = H_a (x) H_b: two matmuls of
# O(d * (a + b)) instead of one of O(d^2), and no d x d constant in the
# program. At d = 1024 the factored path beats the single matmul on the CPU
# (about 2.5x, README's CPU table) and for f32 on the H200 (3.5 against 21 of
# our kernel's time, `python -m jaxhada`), but not for 16-bit there (5.2
# against 2.9-3.0: the tensor cores make the 1024 x 1024 matmul cheap); at
# d = 4096, the largest the single matmul is timed at, it wins for every
# dtype. 256 vs 512 is not yet swept.
_DENSE_SINGLE_MATMUL_MAX_D = 256
_LOWERINGS = ("auto", "dense")


def hadamard_transform(x, *, scale=None, inplace=False) -> jax.Array:
    """Applies ``x @ H_d * scale`` along the last axis (``d = x.shape[-1]``).

    ``H_d`` is the Sylvester Hadamard matrix (``H[i, j] = (-1)**popcount(i & j)``).
    ``scale=None`` means ``1/sqrt(d)``: the normalized transform, its own
    inverse. ``inplace=True`` lets the result reuse ``x``'s buffer when ``x``
    is donated to the enclosing ``jax.jit``; a donated ``x`` must not be used
    afterwards. Empty arrays are returned unchanged.
    """
    return transform(x, scale=scale, inplace=inplace, lowering="auto")


def transform(x, *, scale, inplace, lowering):
    """``hadamard_transform`` with the lowering selectable ("auto" or "dense").

    "dense" forces the portable matmul lowering on every platform; tests and
    the benchmark use it to compare the two paths in one program.
    """
    if lowering not in _LOWERINGS:
        raise ValueError(f"lowering must be one of {_LOWERINGS}, got {lowering!r}")
    x = jnp.asarray(x)
    if x.ndim == 0:
        raise ValueError(
            f"hadamard_transform requires an array of rank >= 1, got shape {x.shape}"
        )
    if x.size == 0:
        return x
    d = x.shape[-1]
    check_transform_length(d)
    scale = _resolve_scale(scale, d)
    params = dict(scale=scale, inplace=bool(inplace), lowering=lowering)
    dtype = x.dtype
    if jnp.issubdtype(dtype, jnp.complexfloating):
        # H_d is real: transform the real and imaginary parts in one call.
        parts = jnp.stack([jnp.real(x), jnp.imag(x)])
        out = hadamard_transform_p.bind(parts, **params)
        return lax.complex(out[0], out[1])
    if dtype in _KERNEL_DTYPES:
        return hadamard_transform_p.bind(x, **params)
    if jnp.issubdtype(dtype, jnp.integer) or dtype == np.bool_ or (
        jnp.issubdtype(dtype, jnp.floating)
    ):
        # The seed's rule: compute in float32, cast back (truncating ints).
        out = hadamard_transform_p.bind(x.astype(jnp.float32), **params)
        return out.astype(dtype)
    raise TypeError(f"hadamard_transform does not support dtype {dtype}")


def _resolve_scale(scale, d: int) -> float:
    if scale is None:
        return 1.0 / math.sqrt(d)
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (Real, np.number)):
        raise TypeError(
            "hadamard_transform's scale must be a static real number (a Python "
            f"or NumPy scalar), got {type(scale).__name__}; to scale by a traced "
            "value, multiply the result"
        )
    return float(scale)


# --- abstract evaluation ----------------------------------------------------

def _abstract_eval(x, *, scale, inplace, lowering):
    del scale, inplace, lowering
    if np.dtype(x.dtype) not in _KERNEL_DTYPES:
        raise TypeError(
            "hadamard_transform_p computes in float16, bfloat16, float32 or "
            f"float64, got {x.dtype}; hadamard_transform converts other dtypes"
        )
    if x.ndim == 0:
        raise ValueError(
            f"hadamard_transform requires an array of rank >= 1, got shape {x.shape}"
        )
    check_transform_length(x.shape[-1])
    return x.update(weak_type=False)


# --- eager evaluation -------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _compiled_bind(scale, inplace, lowering):
    return jax.jit(
        functools.partial(
            hadamard_transform_p.bind, scale=scale, inplace=inplace, lowering=lowering
        )
    )


def _impl(x, *, scale, inplace, lowering):
    # Eager calls run the same compiled program as jit does.
    return _compiled_bind(scale, inplace, lowering)(x)


# --- lowerings --------------------------------------------------------------

def _accumulation_dtype(dtype) -> np.dtype:
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


def _dense_transform(x, *, scale, inplace, lowering):
    """The seed's dense fallback in jnp: multiply by +-1 Sylvester matrices.

    16-bit inputs accumulate in float32 and round once; float32/float64 use
    HIGHEST precision (the default on GPUs is TF32-like, 100x too coarse).
    """
    del inplace, lowering  # XLA decides buffer reuse for this path itself
    d = x.shape[-1]
    acc = _accumulation_dtype(x.dtype)
    dot = functools.partial(
        jnp.einsum, precision=lax.Precision.HIGHEST, preferred_element_type=acc
    )
    if d <= _DENSE_SINGLE_MATMUL_MAX_D:
        y = dot("...i,ij->...j", x, sign_matrix(d, x.dtype))
    else:
        # Row-major index i = i_a * b + i_b, and H_d = H_a (x) H_b, so the
        # transform is H_a^T X H_b on the (a, b) view of each row.
        a = 1 << (int(math.log2(d)) // 2)
        b = d // a
        rows = x.reshape(*x.shape[:-1], a, b)
        y = dot("...ij,jk->...ik", rows, sign_matrix(b, x.dtype))
        y = dot("ij,...jk->...ik", sign_matrix(a, acc), y)
        y = y.reshape(x.shape)
    return (y * np.asarray(scale, acc)).astype(x.dtype)


_dense_lowering = mlir.lower_fun(_dense_transform, multiple_results=False)


def _ffi_lowering(target_name: str):
    def lowering_rule(ctx, x, *, scale, inplace, lowering):
        aval, = ctx.avals_in
        if lowering == "dense" or not core_shape_is_static(aval.shape):
            return _dense_lowering(
                ctx, x, scale=scale, inplace=inplace, lowering=lowering
            )
        call = jax.ffi.ffi_lowering(
            target_name,
            operand_output_aliases={0: 0} if inplace else None,
            extra_attributes=batch_partitioning_attributes(ctx),
        )
        return call(ctx, x, scale=np.float64(scale))

    return lowering_rule


def core_shape_is_static(shape) -> bool:
    return all(isinstance(s, (int, np.integer)) for s in shape)


# --- transpose and batching -------------------------------------------------

def _transpose(cotangent, x, *, scale, inplace, lowering):
    # H_d is symmetric, so the transpose of the transform is the transform.
    del x
    return [
        hadamard_transform_p.bind(
            cotangent, scale=scale, inplace=inplace, lowering=lowering
        )
    ]


def _batch(args, dims, *, scale, inplace, lowering):
    # Every axis but the last is a batch axis to the transform, so moving the
    # vmapped axis to the front never disturbs the transformed one.
    x, = args
    bdim, = dims
    x = jnp.moveaxis(x, bdim, 0)
    out = hadamard_transform_p.bind(x, scale=scale, inplace=inplace, lowering=lowering)
    return out, 0


# --- registration -----------------------------------------------------------

hadamard_transform_p = Primitive("hadamard_transform")
hadamard_transform_p.def_impl(_impl)
hadamard_transform_p.def_abstract_eval(_abstract_eval)
mlir.register_lowering(hadamard_transform_p, _dense_lowering)
for _platform, _target in _ffi.TARGETS.items():
    mlir.register_lowering(
        hadamard_transform_p, _ffi_lowering(_target), platform=_platform
    )
ad.deflinear2(hadamard_transform_p, _transpose)
batching.primitive_batchers[hadamard_transform_p] = _batch
