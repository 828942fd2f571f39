"""python -m jaxhada: build info, self-check and a (tiny) benchmark run."""

import json
import subprocess
import sys


def _run(*args):
    return subprocess.run([sys.executable, "-m", "jaxhada", *args],
                          capture_output=True, text=True, timeout=300)


def test_info():
    proc = _run("--info")
    assert proc.returncode == 0, proc.stderr
    assert '"lowering"' in proc.stdout


def test_self_check_and_small_benchmark(tmp_path):
    out = tmp_path / "bench.json"
    proc = _run("--sizes", "16", "256", "--mib", "1", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "FAIL" not in proc.stdout
    assert "| float32 | 16 |" in proc.stdout
    results = json.loads(out.read_text())
    assert {r["d"] for r in results["benchmark"]} == {16, 256}
    assert all(r["ok"] for r in results["self_check"])
    row = results["benchmark"][0]
    assert row["ours_ms"] > 0 and row["elementwise_ms"] > 0
