"""The sharding checks over every visible GPU, through the CUDA kernel.

Runs tests/sharding_checks.py with --gpu in a subprocess (it sees the same
GPUs as this process). On one GPU they are a smoke test (the 2-D mesh has
two axes of size 1); on two or more they shard for real."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import pytest

from sharding_checks import NAMES

pytestmark = pytest.mark.gpu
_SCRIPT = pathlib.Path(__file__).parents[1] / "sharding_checks.py"


@pytest.fixture(scope="module", params=[("auto", "bf16"), ("auto", "f32"), ("dense", "bf16")],
                ids="-".join)
def results(request):
    lowering, dtype = request.param
    # This process already holds most of each GPU's memory (XLA preallocates),
    # so the child allocates only what it uses.
    env = dict(os.environ, XLA_PYTHON_CLIENT_PREALLOCATE="false")
    proc = subprocess.run(
        [sys.executable, str(_SCRIPT), lowering, "--gpu"] + (["--bf16"] if dtype == "bf16" else []),
        capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_gpu_is_in_the_mesh(results):
    # A child whose CUDA backend failed to start would fall back to the CPU.
    assert results["platform"] == "gpu", results
    assert len(results["devices"]) == jax.device_count(), results["devices"]


@pytest.mark.parametrize("name", NAMES)
def test_sharding_on_gpus(results, name):
    assert results[name] == "ok", results[name]
