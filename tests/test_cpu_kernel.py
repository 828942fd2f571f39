"""The CPU kernel's own code paths: multi-threaded batches, partial vector
groups, and the baseline (SSE2) build that machines without AVX2 run."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxhada
from conftest import FLOAT_DTYPES, assert_close_to_reference, random_input

pytestmark = pytest.mark.skipif(not jaxhada.build_info()["cpu"],
                                reason="the CPU kernel is not built")


def _on_cpu(x):
    return jax.device_put(x, jax.devices("cpu")[0])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda t: np.dtype(t).name)
@pytest.mark.parametrize("d", [4, 16, 64, 128, 2048, 8192])
def test_batches_split_across_threads(rng, dtype, d):
    # 2^18 + a few rows' worth of elements: several work items, several
    # threads, and a last item shorter than the others.
    rows = (1 << 18) // d + 3
    x = _on_cpu(random_input(rng, (rows, d), dtype))
    assert_close_to_reference(jax.jit(jaxhada.hadamard_transform)(x), x)


@pytest.mark.parametrize("rows", [1, 2, 3, 5, 9, 63, 65])
@pytest.mark.parametrize("d", [8, 16, 32])
def test_rows_that_end_in_a_partial_vector_group(rng, rows, d):
    # Rows shorter than one group of vectors: the tail after the last full
    # group takes the element-wise path.
    x = _on_cpu(random_input(rng, (rows, d), jnp.float32))
    assert_close_to_reference(jax.jit(jaxhada.hadamard_transform)(x), x)


_BASELINE_CHECK = textwrap.dedent("""
    import json, jax, jax.numpy as jnp, numpy as np
    import jaxhada
    from jaxhada._bench import fwht_reference, relative_error
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(7)
    errors = {}
    for dtype in (jnp.float16, jnp.bfloat16, jnp.float32, jnp.float64):
        for log2_d in range(16):
            d = 1 << log2_d
            for rows in ((1, 3) if d >= 4096 else (1, 7, 300)):
                x = jnp.asarray(rng.standard_normal((rows, d)), dtype)
                y = jax.jit(jaxhada.hadamard_transform)(x)
                ref = fwht_reference(np.asarray(x, np.float64))
                key = f"{jnp.dtype(dtype).name}"
                errors[key] = max(errors.get(key, 0.0), relative_error(y, ref))
    print(json.dumps({"isa": jaxhada.build_info()["cpu_kernel_isa"],
                      "errors": errors}))
""")


def test_baseline_build_matches_reference():
    env = dict(os.environ, JAXHADA_CPU_ISA="baseline", JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", _BASELINE_CHECK], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["isa"] == "baseline"
    bounds = {"float16": 5e-4, "bfloat16": 4e-3, "float32": 2e-6,
              "float64": 1e-13}
    for dtype, error in result["errors"].items():
        assert error <= bounds[dtype], (dtype, error)
