"""jaxhada: a differentiable fast Walsh-Hadamard transform for JAX."""

from ._ffi import build_info as build_info
from ._hadamard import hadamard_transform as hadamard_transform
from ._hadamard import hadamard_transform_p as hadamard_transform_p
from ._matrix import hadamard_matrix as hadamard_matrix

__all__ = [
    "build_info",
    "hadamard_matrix",
    "hadamard_transform",
    "hadamard_transform_p",
]
__version__ = "0.1.0"
