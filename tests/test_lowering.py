"""Which lowering runs, the build report, the FFI ABI guard, the cached matrix."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxhada
from jaxhada import _ffi, _hadamard, build_info, hadamard_matrix
from conftest import random_input, reference


def _hlo(lowering, shape=(4, 64), dtype=jnp.float32, **kw):
    f = jax.jit(lambda x: _hadamard.transform(x, scale=None, inplace=False,
                                              lowering=lowering, **kw))
    return f.lower(jax.ShapeDtypeStruct(shape, dtype)).as_text()


def test_public_surface():
    assert sorted(jaxhada.__all__) == [
        "build_info", "hadamard_matrix", "hadamard_transform", "hadamard_transform_p"]


def test_build_info_reports_kernels_and_lowerings():
    info = build_info()
    assert isinstance(info["cpu"], bool) and isinstance(info["cuda"], bool)
    assert info["lowering"]["other"] == "dense"
    assert info["lowering"]["cpu"] == ("jaxhada_hadamard_cpu" if info["cpu"] else "dense")
    assert info["lowering"]["cuda"] == ("jaxhada_hadamard_cuda" if info["cuda"] else "dense")


def test_cpu_kernel_is_built_here():
    # Every supported build compiles the CPU kernel; CI would catch a silent
    # fall back to the dense path.
    assert build_info()["cpu"], build_info()["extension_error"]


def test_cpu_lowering_emits_the_custom_call():
    # JAX always has its CPU backend, so a GPU machine checks this too: an
    # input committed to the CPU device lowers and compiles for the CPU.
    x = jax.device_put(jnp.ones((4, 64)), jax.devices("cpu")[0])
    lowered = jax.jit(jaxhada.hadamard_transform).lower(x)
    assert "stablehlo.custom_call @jaxhada_hadamard_cpu" in lowered.as_text()
    assert 'custom_call_target="jaxhada_hadamard_cpu"' in lowered.compile().as_text()


def test_dense_lowering_has_no_custom_call_and_no_big_constant():
    text = _hlo("dense", shape=(2, 32768))
    assert "custom_call" not in text
    # Factored: the largest constant is a 256 x 256 factor, never 32768 x 32768.
    assert "32768x32768" not in text
    assert "tensor<256x256x" in text or "tensor<256x256xf32>" in text


def test_every_lowering_is_registered_for_every_platform():
    # The dense rule is the default, so a platform without a kernel (or a
    # kernel that was not built) lowers rather than failing.
    for platform in ("cpu", "cuda", "rocm", "tpu"):
        jax.jit(jaxhada.hadamard_transform).trace(
            jax.ShapeDtypeStruct((2, 16), jnp.float32)).lower(lowering_platforms=(platform,))


def test_ffi_api_version_is_not_newer_than_the_runtime():
    built = _ffi.built_ffi_api_version()
    runtime = _ffi.runtime_ffi_api_version()
    assert built is not None
    assert built[0] == runtime[0] and built <= runtime, (built, runtime)


@pytest.mark.parametrize("built, runtime", [
    ((0, 4), (0, 3)),  # the runtime's minor version is older
    ((1, 0), (0, 9)),  # an older major version
    ((0, 4), (1, 0)),  # a newer major version
])
def test_a_runtime_the_build_cannot_serve_falls_back_to_dense(monkeypatch, built, runtime):
    # XLA would refuse the handlers at run time, so nothing is registered
    # (no lowering targets: every platform lowers dense) and the user is told.
    # Fixed versions rather than the real build's +- 1, so that each case is
    # the mismatch it names whatever the build's own version is.
    assert _ffi.built_ffi_api_version() is not None
    monkeypatch.setattr(_ffi, "built_ffi_api_version", lambda: built)
    monkeypatch.setattr(_ffi, "runtime_ffi_api_version", lambda: runtime)
    with pytest.warns(RuntimeWarning, match=r"rebuild jaxhada against this jaxlib\. Falling back"):
        assert _ffi._register() == {}


def test_hadamard_matrix_is_cached_and_exact():
    m = hadamard_matrix(64, jnp.float64)
    assert m is hadamard_matrix(64, jnp.float64)
    assert m is not hadamard_matrix(64, jnp.float32)
    assert m.dtype == jnp.float64
    np.testing.assert_array_equal(np.asarray(m), reference(np.eye(64)))
    np.testing.assert_allclose(np.asarray(m @ m), np.eye(64), atol=1e-15)
    assert hadamard_matrix(2).dtype == jnp.float32


def test_hadamard_matrix_matches_the_transform(rng):
    x = random_input(rng, (3, 128), jnp.float64)
    np.testing.assert_allclose(
        np.asarray(x @ hadamard_matrix(128, jnp.float64)),
        np.asarray(jaxhada.hadamard_transform(x)), atol=1e-13)


def test_scale_default_is_inverse_sqrt_d():
    x = jnp.ones((1, 4), jnp.float64)
    np.testing.assert_allclose(np.asarray(jaxhada.hadamard_transform(x))[0],
                               [4 / math.sqrt(4), 0, 0, 0])
    np.testing.assert_allclose(
        np.asarray(jaxhada.hadamard_transform(x, scale=1.0))[0], [4, 0, 0, 0])
