"""The shell scripts that only a GPU machine runs still parse, and refuse bad
arguments, on CI (which has no GPU to run them)."""

import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPTS = sorted((ROOT / "tests" / "gpu").glob("*.sh")) + [ROOT / ".ci" / "run"]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_parses(script):
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("args", [[], ["no/such/tree"]], ids=["no base", "missing base"])
def test_compare_builds_refuses_without_a_base_tree(args):
    # Before it builds anything: no nvcc or GPU needed to get here.
    result = subprocess.run(
        ["bash", str(ROOT / "tests" / "gpu" / "compare_builds.sh"), *args],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "usage:" in result.stderr


@pytest.mark.parametrize("workers", ["0", "x", "100", ""])
def test_run_device_refuses_a_bad_worker_count(workers):
    # Before it builds or runs anything: no nvcc or GPU needed to get here.
    result = subprocess.run(
        ["bash", str(ROOT / "tests" / "gpu" / "run_device.sh"), f"--pytest-workers={workers}"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "--pytest-workers takes" in result.stderr
