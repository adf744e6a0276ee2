"""The ``trainer`` scaffold: the reference ``fit`` trainer wrapped, recording each cell's wall-clock time in
its bundle; its test trains a tiny spec with it and with ``fit`` and compares the models."""

SUMMARY = "the reference fit trainer, wrapped, timing each cell in its bundle"

SOURCE = '''\
"""__NAME__: a ddbench trainer (written by ``ddbench plugin new trainer __NAME__``).

It wraps ddbench's reference trainer ``fit`` (one Keras ``fit`` per cell) and adds one thing:
each cell's timings get ``bundle_wall_seconds``, the wall-clock time from the start of its
bundle to its outcome (``ddbench export`` shows it as ``timing.bundle_wall_seconds``).

Make it your own: replace ``train`` with your training loop, or wrap another trainer (``BASE``).
A trainer takes a bundle of cells and yields one ``CellOutcome`` per cell as soon as it is
final, and must follow ddbench's training protocol (per-cell initial seed, seeded batch order of
``n // batch_size`` full batches, per-epoch learning rate, evaluation on the full sets at the
recorded epochs, no early stopping), so that it trains the same models as ``fit``: its test
checks exactly that on a tiny spec. Which trainer ran is recorded in every run's provenance,
never in a cell's key.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

from ddbench.data import TrainData
from ddbench.plan import Bundle
from ddbench.registry import trainers
from ddbench.spec.model import TrainingSpec
from ddbench.train.base import CellOutcome, Trainer, TrainEvents


@trainers.register("__NAME__", version="0.1")
class __CLASS__(Trainer):
    name = "__NAME__"  # recorded in provenance
    description = "the reference fit trainer, recording each cell's wall-clock time in its bundle"
    #: the registered trainer this one wraps
    BASE = "fit"
    uses_distribution = True  # the wrapped fit trainer trains under the distribution it is given

    def __init__(self, inner: Trainer):
        self.inner = inner
        self.distribution = inner.distribution

    @classmethod
    def create(cls, distribution: Any = None, engine: Any = None) -> "__CLASS__":
        """What ``ddbench run --trainer __NAME__`` calls: the resolved distribution (None on one device) and
        the spec's ``engine:`` section."""
        return cls(trainers.get(cls.BASE).create(distribution, engine))

    def train(self, bundle: Bundle, data: TrainData, training: TrainingSpec,
              events: TrainEvents) -> Iterator[CellOutcome]:
        start = time.perf_counter()
        for outcome in self.inner.train(bundle, data, training, events):
            outcome.timings["bundle_wall_seconds"] = time.perf_counter() - start
            yield outcome
'''

TEST = '''\
"""Checks of the __NAME__ trainer: trained on a tiny spec, it gives the same models as ddbench's reference
``fit`` trainer (the training protocol), and the run records it as the trainer.

Install the package first (``pip install -e ".[test]"``), then run ``pytest``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SPEC = """\\
name: __NAME__-check
dataset: {name: mnist1d, n_train: 200, n_test: 200, noise: {rates: [0.0]}}
model: {family: mlp, widths: [2, 8]}
training: {optimizer: {name: sgd, lr: 0.05, momentum: 0.9}, batch_size: 50, epochs: 2, record: {schedule: final}}
"""


def train(tmp_path: Path, trainer: str) -> dict:
    """Run the tiny spec with ``--trainer trainer``; its leaderboard."""
    spec, run_dir = tmp_path / "spec.yaml", tmp_path / trainer
    spec.write_text(SPEC)
    out = subprocess.run([sys.executable, "-m", "ddbench.cli", "run", str(spec), "--trainer", trainer,
                          "--output", str(run_dir), "--quiet"], capture_output=True, text=True, timeout=1800)
    report = out.stdout[-4000:] + out.stderr[-4000:]
    assert out.returncode == 0 and "Traceback" not in report, report
    return json.loads((run_dir / "leaderboard.json").read_text())


def test_trains_the_same_models_as_the_reference_fit(tmp_path):
    mine, reference = train(tmp_path, "__NAME__"), train(tmp_path, "fit")
    assert mine["summary"]["trainer"] == "__NAME__"
    expected = {row["key"]: row for row in reference["rows"]}
    assert sorted(row["key"] for row in mine["rows"]) == sorted(expected)  # a trainer never changes the cells
    for row in mine["rows"]:
        ref = expected[row["key"]]
        assert row["status"] == ref["status"] == "done"
        assert row["train_loss"] == pytest.approx(ref["train_loss"], rel=1e-3)
        assert row["test_loss"] == pytest.approx(ref["test_loss"], rel=1e-3)
'''

CHECK_LINES = '''\
ddbench list trainers  # shows __NAME__, from __MODULE__
pytest  # trains a tiny spec with --trainer __NAME__ and with fit, and compares the models'''

TEST_SUMMARY = "trains a tiny spec with `--trainer __NAME__` and with ddbench's reference `fit`, and checks " \
    "they give the same models"

PLUGIN_NOTE = "with its registered name and version; `create` makes it for a run (no spec options)"

USAGE = '''\
```bash
ddbench list trainers                          # shows __NAME__
ddbench run spec.yaml --trainer __NAME__
```

From Python: `ddbench.run.pipeline.run(spec, trainer="__NAME__")`. A spec's `trainer:` field takes
only ddbench's built-in trainers.
'''
