"""The recipe benchmark runs end to end on a tiny spec (auto beside fit); speed is not asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from util import tiny_spec_text

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "recipe_wall.py"


@pytest.mark.slow
def test_recipe_wall_prints_both_trainers_their_ratio_and_the_curve_gap(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(tiny_spec_text(rates="[0.2]", widths="[2, 8]", epochs=2))
    proc = subprocess.run([sys.executable, str(SCRIPT), str(spec), "--smoke", "--keep", str(tmp_path / "runs")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    rows = [ln.split() for ln in out.splitlines() if ln.startswith("tiny ")]
    assert [r[1] for r in rows] == ["auto", "fit"], out
    assert all(float(r[2]) > 0 for r in rows)  # wall seconds
    assert "ratio fit/auto: wall" in out and "2 cells, 4 model-epochs" in out
    gap = float(out.split("max |test error auto - fit| = ")[1].split()[0])
    assert 0.0 <= gap < 0.05  # the same models from the same seeds: round-off only, after 2 epochs
