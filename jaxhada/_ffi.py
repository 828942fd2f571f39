"""Loads the compiled FFI handlers, registers them with XLA, reports the build."""

from __future__ import annotations

import pathlib
import re
import warnings

import jax
import jax.ffi

try:
    from . import _jaxhada_ffi as _extension
except ImportError as error:  # a pure-Python install: every platform goes dense
    _extension = None
    _EXTENSION_ERROR: str | None = f"{type(error).__name__}: {error}"
else:
    _EXTENSION_ERROR = None


def runtime_ffi_api_version() -> tuple[int, int]:
    """The XLA FFI API version of the installed jaxlib, read from its headers."""
    header = pathlib.Path(jax.ffi.include_dir(), "xla", "ffi", "api", "c_api.h")
    text = header.read_text()
    major = re.search(r"#define XLA_FFI_API_MAJOR (\d+)", text)
    minor = re.search(r"#define XLA_FFI_API_MINOR (\d+)", text)
    if major is None or minor is None:
        raise RuntimeError(f"cannot read the FFI API version from {header}")
    return int(major.group(1)), int(minor.group(1))


def built_ffi_api_version() -> tuple[int, int] | None:
    """The XLA FFI API version the extension was compiled against."""
    return None if _extension is None else tuple(_extension.ffi_api_version)


def _register() -> dict[str, str]:
    """Registers every compiled handler; returns {jax platform: target name}."""
    if _extension is None:
        return {}
    built, runtime = built_ffi_api_version(), runtime_ffi_api_version()
    if built[0] != runtime[0] or built > runtime:
        # XLA would refuse the handler at run time; the dense path still works.
        warnings.warn(
            f"jaxhada's kernels were built for XLA FFI API {built} but this jaxlib "
            f"provides {runtime}; rebuild jaxhada against this jaxlib. Falling back "
            "to the dense lowering.",
            RuntimeWarning,
            stacklevel=2,
        )
        return {}
    targets = {}
    for name, (platform, capsule) in _extension.registrations().items():
        jax.ffi.register_ffi_target(name, capsule, platform=platform)
        # Lets XLA's partitioner run the call per shard on batch dimensions.
        jax.ffi.register_ffi_target_as_batch_partitionable(name)
        targets[platform.lower()] = name
    return targets


TARGETS: dict[str, str] = _register()


def target_for_backend(backend: str) -> str | None:
    """The FFI target the transform lowers to on a jax backend ("cpu", "gpu"),
    or None where that backend takes the dense path. jax calls NVIDIA GPUs
    "gpu"; XLA registers their handlers for the "cuda" platform."""
    return TARGETS.get({"gpu": "cuda"}.get(backend, backend))


def build_info() -> dict:
    """What this install compiled, and how each platform will lower the transform.

    ``info["cpu"]`` / ``info["cuda"]`` say whether that kernel was compiled in;
    ``info["lowering"]`` maps each platform to its lowering: the FFI custom
    call target's name, or ``"dense"`` (the jitted matmul every platform has).
    ``info["cpu_kernel_isa"]`` names the CPU kernel build this machine runs
    (``"avx2"`` or ``"baseline"``; ``JAXHADA_CPU_ISA=baseline`` forces the
    latter).
    """
    cuda_arches = getattr(_extension, "cuda_architectures", "") if _extension else ""
    return {
        "cpu": "cpu" in TARGETS,
        "cuda": "cuda" in TARGETS,
        "lowering": {
            "cpu": TARGETS.get("cpu", "dense"),
            "cuda": TARGETS.get("cuda", "dense"),
            "other": "dense",
        },
        "cpu_kernel_isa": _extension.cpu_kernel_isa() if _extension else None,
        "cuda_architectures": cuda_arches,
        "ffi_api_version": {
            "built": built_ffi_api_version(),
            "runtime": runtime_ffi_api_version(),
        },
        "extension_error": _EXTENSION_ERROR,
        "jax": jax.__version__,
        "default_backend": jax.default_backend(),
    }
