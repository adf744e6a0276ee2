"""Tiny specs for tests: a few widths, a few epochs, a few hundred points."""

import textwrap

TINY = """
name: tiny
dataset:
  name: mnist1d
  n_train: 300
  n_test: 500
  noise: {{rates: {rates}, kind: exact}}
model:
  family: {family}
  widths: {widths}
training:
  optimizer: {{name: sgd, lr: {lr}, momentum: 0.9}}
  batch_size: 50
  epochs: {epochs}
  record: {{schedule: log, num: 3}}
probes: [weight_norm]
hypotheses: [double_descent]
analysis: {{bootstrap: 200}}
"""


def tiny_spec_text(rates="[0.0, 0.2]", widths="[2, 8, 32]", epochs=3, lr=0.05, family="mlp", **extra: str) -> str:
    text = TINY.format(rates=rates, widths=widths, epochs=epochs, lr=lr, family=family)
    for key, value in extra.items():
        text += f"{key}: {value}\n"
    return textwrap.dedent(text)




def run_script(script: str, env: dict[str, str], timeout: int = 300) -> dict:
    """Run Python ``script`` in a fresh process (a backend is fixed at import) with ``env`` added to the
    environment; return the JSON it printed on its one line starting with ``RESULT``."""
    import json
    import os
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", script], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT")]
    return json.loads(line[len("RESULT"):])


def _missing(v) -> bool:
    import math

    return v is None or (isinstance(v, float) and math.isnan(v))


def assert_curves_close(got, expected, rel: float = 1e-6, abs: float = 0.0, name: str = "") -> None:
    """Compare two recorded curves point by point, treating ``None`` and NaN as *missing*.

    A curve is a list (or an epoch -> value mapping) whose points may be missing: a stratum with no
    noisy points records ``None``, a diverged cell NaN. Missing must match missing at the same
    position; every other point must agree within ``rel``/``abs``. (``pytest.approx`` compares
    ``None`` only by equality and, since pytest 9.2, refuses it inside a sequence of numbers.)
    """
    import math

    if isinstance(expected, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(expected), f"{name}: points {sorted(got)} != {sorted(expected)}"
        keys = sorted(expected)
        got, expected = [got[k] for k in keys], [expected[k] for k in keys]
    got, expected = list(got), list(expected)
    assert len(got) == len(expected), f"{name}: {len(got)} points, expected {len(expected)}"
    for i, (a, b) in enumerate(zip(got, expected)):
        if _missing(a) or _missing(b):
            assert _missing(a) and _missing(b), f"{name}[{i}]: {a!r} vs {b!r} (one of them missing)"
        else:
            assert math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs), f"{name}[{i}]: {a!r} vs {b!r}"
