"""Which transform lengths jaxhada accepts, with the seed's error messages."""

MAX_DIM = 32768  # the seed's _MAX_DENSE_FALLBACK_D, also the kernels' limit


def check_transform_length(d: int) -> None:
    """Raises the seed's ValueError (verbatim) unless `d` is a power of two <= MAX_DIM."""
    if d <= 0:
        raise ValueError(f"hadamard_transform requires positive last dim, got {d}")
    if d & (d - 1):
        raise ValueError(f"hadamard_transform requires power-of-2 last dim, got {d}")
    if d > MAX_DIM:
        raise ValueError(
            "hadamard_transform Tier-2 dense fallback is not intended for "
            f"d={d} > {MAX_DIM}. Use hadacore_transform on CUDA."
        )
