"""The throughput benchmark runs end to end on CPU (its smallest configuration); speed is not asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "sweep_throughput.py"


@pytest.mark.slow
def test_sweep_throughput_smoke_prints_the_ratios(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    record = tmp_path / "throughput.json"
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--record-device", "cpu", "--record-file", str(record)],
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    for line in ("(a) per-cell fit", "(b) hand-written JAX scan", "(c) ddbench stateless",
                 "ratio c/a (wall)", "ratio c/b (steady)", "ratio c/b (wall)", "measured float32 matmul peak",
                 "sustained (c) steady", "of peak"):
        assert line in out, out
    assert "model-epochs/s" in out and "backend jax" in out
    # what it measured feeds the planner's device table, marked measured with this command as its source
    from ddbench.engine.throughput import devices

    cpu = devices(record)["cpu"]
    assert f"recorded for cpu in {record}" in out and cpu.dense_gflops.measured
    assert "sweep_throughput.py --smoke --record-device cpu" in cpu.dense_gflops.source and cpu.dense_gflops.value > 0
