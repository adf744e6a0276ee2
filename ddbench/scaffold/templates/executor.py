"""The ``executor`` scaffold: the local executor wrapped, appending a journal line per bundle; its test
trains a tiny spec with it."""

SUMMARY = "the local executor, with a journal of its bundles"

SOURCE = '''\
"""__NAME__: a ddbench executor (written by ``ddbench plugin new executor __NAME__``).

It wraps ddbench's ``local`` executor (every bundle in this process, one after another) and keeps
a journal: one JSON line per bundle in ``RUN/__NAME__-bundles.jsonl`` (its noise rate and draw,
cells, seconds, and the cells by status), appended on every run.

Make it your own: replace ``execute``. An executor gets the planned bundles and an
``ExecContext`` and yields one ``CellResult`` per cell as it finishes, in any order; train each
bundle with ``ddbench.execute.work.train_bundle`` (as ``local`` does here), so every executor
writes the same records. A remote executor returns the files under ``cells/<key>/`` as bytes
in ``CellResult.files`` and may set ``ctx.device_memory`` before it draws the first bundle.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Iterable, Iterator

from ddbench.execute import CellResult, ExecContext
from ddbench.execute.local import LocalExecutor
from ddbench.plan import Bundle
from ddbench.registry import executors

JOURNAL = "__NAME__-bundles.jsonl"


@executors.register("__NAME__", version="0.1")
class __CLASS__:
    name = "__NAME__"  # recorded in provenance
    description = "local (this process), with a journal of its bundles in RUN/__NAME__-bundles.jsonl"

    def __init__(self) -> None:
        self.inner = LocalExecutor()

    def execute(self, bundles: Iterable[Bundle], ctx: ExecContext) -> Iterator[CellResult]:
        for bundle in bundles:
            start, statuses = time.perf_counter(), Counter()
            for result in self.inner.execute([bundle], ctx):
                statuses[result.status] += 1
                yield result
            line = {"noise_rate": bundle.noise_rate, "noise_seed": bundle.noise_seed, "cells": len(bundle.cells),
                    "seconds": round(time.perf_counter() - start, 3), **statuses}
            with (Path(ctx.run_dir) / JOURNAL).open("a", encoding="utf-8") as journal:
                journal.write(json.dumps(line) + "\\n")
'''

TEST = '''\
"""Checks of the __NAME__ executor: it trains a tiny spec, every cell finishes, the run records it as the
executor, and its journal accounts for every cell.

Install the package first (``pip install -e ".[test]"``), then run ``pytest``.
"""

from __future__ import annotations

import json
import subprocess
import sys

SPEC = """\\
name: __NAME__-check
dataset: {name: mnist1d, n_train: 200, n_test: 200, noise: {rates: [0.0]}}
model: {family: mlp, widths: [2, 8]}
training: {optimizer: {name: sgd, lr: 0.05, momentum: 0.9}, batch_size: 50, epochs: 2, record: {schedule: final}}
"""


def test_trains_a_tiny_spec(tmp_path):
    spec, run_dir = tmp_path / "spec.yaml", tmp_path / "run"
    spec.write_text(SPEC)
    out = subprocess.run([sys.executable, "-m", "ddbench.cli", "run", str(spec), "--executor", "__NAME__",
                          "--output", str(run_dir), "--quiet"], capture_output=True, text=True, timeout=1800)
    report = out.stdout[-4000:] + out.stderr[-4000:]
    assert out.returncode == 0 and "Traceback" not in report, report
    board = json.loads((run_dir / "leaderboard.json").read_text())
    assert board["summary"]["executor"] == "__NAME__"
    assert [row["status"] for row in board["rows"]] == ["done", "done"]
    journal = [json.loads(line) for line in (run_dir / "__NAME__-bundles.jsonl").read_text().splitlines()]
    assert sum(line["cells"] for line in journal) == sum(line.get("done", 0) for line in journal) == 2
'''

CHECK_LINES = '''\
ddbench list executors  # shows __NAME__, from __MODULE__
pytest  # trains a tiny spec with --executor __NAME__'''

TEST_SUMMARY = "trains a tiny spec with `--executor __NAME__` and checks every cell finished and its journal"

PLUGIN_NOTE = "with its registered name and version; `get_executor` calls the class (no spec options)"

USAGE = '''\
```bash
ddbench list executors                         # shows __NAME__
ddbench run spec.yaml --executor __NAME__
```

From Python: `ddbench.run.pipeline.run(spec, executor=ddbench.execute.get_executor("__NAME__"))`.
'''
