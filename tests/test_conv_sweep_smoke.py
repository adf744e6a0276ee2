"""The conv benchmark runs end to end on CPU (its smallest configuration); speed is not asserted.

It also checks that the hand-written JAX reference builds the same architecture as ddbench's
families (the script refuses to time it otherwise), so the comparison stays honest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "conv_sweep.py"


@pytest.mark.slow
def test_conv_sweep_smoke_prints_ratios_and_projection():
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke"], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "backend jax" in out and "c/a" in out and "c/b" in out, out
    rows = [ln for ln in out.splitlines() if ln.startswith(("cnn5 ", "resnet18k "))]
    assert len(rows) == 2 and not any("failed" in r or "skipped" in r for r in rows), out
    assert "projected Nakkiran ResNet18 sweep" in out and "hours" in out


def test_handwritten_reference_matches_family_parameter_counts():
    sys.path.insert(0, str(SCRIPT.parent))
    from conv_sweep import HandwrittenNet

    from ddbench import registry

    for family, k in (("cnn5", 3), ("resnet18k", 2)):
        fam = registry.families.get(family)()
        for bn in (True, False):
            expected = fam.param_count(fam.Config(batch_norm=bn), k, (32, 32, 3), 10)
            assert HandwrittenNet(family, k, bn).count() == expected, (family, k, bn)
