"""Helpers of the malformed-input corpus: drive the CLI in-process and check what a refusal must look like."""

from __future__ import annotations

import hashlib
from pathlib import Path

from typer.testing import CliRunner

from ddbench.cli.app import app

runner = CliRunner()

BASE = """\
name: tiny
dataset:
  name: mnist1d
  n_train: 300
  n_test: 500
  noise: {rates: [0.0, 0.2]}
model:
  family: mlp
  widths: [2, 8]
training:
  optimizer: {name: sgd, lr: 0.05}
  batch_size: 50
  epochs: 2
probes: [weight_norm]
hypotheses: [double_descent]
"""


def sub(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its content (to prove nothing was written)."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        rel = str(p.relative_to(root))
        out[rel] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "<dir>"
    return out


def invoke(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, [str(a) for a in args], env=env)


def assert_refused(res, code: int, *names: str) -> None:
    """Exit code, no traceback, one clear message naming the field or file."""
    out = res.output
    assert res.exit_code == code, (res.exit_code, out, res.exception)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in out, out
    for name in names:
        assert name in out, (name, out)
