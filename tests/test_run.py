"""End to end on tiny grids: run, resume, failures, divergence, kill -9, trainers agree."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner
from util import tiny_spec_text

from ddbench import registry
from ddbench.cli.app import app
from ddbench.families.mlp import MLP
from ddbench.run.pipeline import run
from ddbench.spec.validate import load_spec, load_spec_text
from ddbench.store.run_store import RunStore

cli = CliRunner()


@pytest.mark.slow
def test_cli_run_writes_leaderboard_and_resumes(write_spec, tmp_path):
    spec = write_spec()
    res = cli.invoke(app, ["run", str(spec), "--quiet"])
    assert res.exit_code == 0, res.output
    run_dir = tmp_path / "run"
    board = json.loads((run_dir / "leaderboard.json").read_text())
    assert board["schema_version"] and board["spec_hash"] and board["backend"] == "tensorflow"
    assert len(board["rows"]) == 6 and all(r["status"] == "done" for r in board["rows"])
    row = board["rows"][0]
    assert row["params"] == 40 * 2 + 2 + 2 * 2 + 2 + 2 * 10 + 10
    assert row["curves"]["epoch"][-1] == 3 and "weight_norm.head_sq_norm" in row["probes"]
    assert {v["claim"] for v in board["verdicts"]} == {"double_descent.peak", "double_descent.loss_peak"}
    assert (run_dir / "leaderboard.md").exists() and (run_dir / "error_vs_width.png").exists()
    assert all((run_dir / "cells" / r["key"] / "model.keras").exists() for r in board["rows"])
    stamps = {r.key: (r.attempts, r.metrics["test_error"]) for r in RunStore(run_dir).records()}

    res = cli.invoke(app, ["run", str(spec)])  # resume: nothing to train (no -q: the plan line is shown)
    assert res.exit_code == 0, res.output
    assert "6 already finished, 0 to train" in res.output
    assert {r.key: (r.attempts, r.metrics["test_error"]) for r in RunStore(run_dir).records()} == stamps

    res = cli.invoke(app, ["status", str(run_dir)])
    assert res.exit_code == 0 and "done" in res.output
    res = cli.invoke(app, ["leaderboard", "show", str(run_dir / "leaderboard.json")])
    assert res.exit_code == 0, res.output
    res = cli.invoke(app, ["export", str(run_dir)])
    assert res.exit_code == 0 and (run_dir / "cells.csv").read_text().count("\n") == 7

    changed = tmp_path / "changed.yaml"
    changed.write_text(spec.read_text().replace("epochs: 3", "epochs: 4"))
    res = cli.invoke(app, ["run", str(changed), "--quiet"])
    assert res.exit_code == 1 and "training.epochs: 3 -> 4" in res.output

    # a probe added to a finished run is computed on the saved models, without retraining
    no_probe = tmp_path / "no_probe.yaml"
    no_probe.write_text(spec.read_text().replace("probes: [weight_norm]", "probes: []"))
    other_dir = tmp_path / "run2"
    res = cli.invoke(app, ["run", str(no_probe), "--quiet", "--output", str(other_dir)])
    assert res.exit_code == 0, res.output
    res = cli.invoke(app, ["run", str(spec), "--output", str(other_dir)])
    assert res.exit_code == 0, res.output
    assert "probing 6 finished cell(s)" in res.output
    board = json.loads((other_dir / "leaderboard.json").read_text())
    assert all("weight_norm.head_sq_norm" in r["probes"] for r in board["rows"])
    assert all(r.attempts == 1 for r in RunStore(other_dir).records())


@registry.families.register("flaky_mlp", version="1")
class FlakyMLP(MLP):
    """An MLP that cannot be built at width 8: a failing cell must not stop the run."""

    def build(self, config, width, input_shape, num_classes, name):
        if width == 8:
            raise RuntimeError("width 8 is cursed")
        return super().build(config, width, input_shape, num_classes, name)


@pytest.mark.slow
def test_failed_cell_is_recorded_with_traceback_and_run_goes_on(tmp_path):
    spec = load_spec_text(tiny_spec_text(rates="[0.2]", family="flaky_mlp"))
    result = run(spec, run_dir=tmp_path)
    assert result.counts["failed"] == 1 and result.counts["done"] == 2
    (bad,) = [r for r in RunStore(tmp_path).records() if r.status == "failed"]
    assert bad.descriptor["width"] == 8
    assert "Traceback" in bad.error and "width 8 is cursed" in bad.error
    row = next(r for r in result.leaderboard.rows if r.width == 8)
    assert row.status == "failed" and "cursed" in row.error
    # a re-run retries the failed cell (and it fails again), done cells stay
    result = run(spec, run_dir=tmp_path)
    assert result.counts["failed"] == 1
    assert next(r for r in RunStore(tmp_path).records() if r.status == "failed").attempts == 2


@pytest.mark.slow
def test_nan_loss_marks_cell_diverged(tmp_path):
    # linear units cannot die, so a huge learning rate overflows the logits for sure
    text = tiny_spec_text(rates="[0.2]", widths="[4]", lr="1.0e+12").replace(
        "  family: mlp", "  family: mlp\n  config: {activation: linear}")
    spec = load_spec_text(text)
    result = run(spec, run_dir=tmp_path)
    assert result.counts["diverged"] == 1, result.counts
    assert result.leaderboard.rows[0].status == "diverged"


@pytest.mark.slow
def test_packed_trainer_matches_reference_fit(tmp_path):
    """Same init, same batch order: a bundle as one model trains the same models."""
    text = tiny_spec_text(rates="[0.2]", widths="[4, 16]", epochs=4)
    results = {}
    for trainer in ("fit", "packed"):
        spec = load_spec_text(text + f"trainer: {trainer}\n")
        res = run(spec, run_dir=tmp_path / trainer)
        results[trainer] = {r.width: r for r in res.leaderboard.rows}
    for w in (4, 16):
        a, b = results["fit"][w], results["packed"][w]
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-3)
        assert b.test_loss == pytest.approx(a.test_loss, rel=1e-3)
        assert a.key == b.key  # the trainer is an execution choice, not part of the cell


@pytest.mark.slow
def test_kill_9_then_resume_loses_no_finished_cell(tmp_path):
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(tiny_spec_text(rates="[0.0, 0.1, 0.2, 0.3]", widths="[2, 4]", epochs=30)
                         + f"output_dir: {tmp_path / 'run'}\ntrainer: fit\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "ddbench.cli", "run", str(spec_path), "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    db = tmp_path / "run" / "ddbench.sqlite"
    deadline = time.time() + 240
    done_before: dict[str, float] = {}
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if db.exists():
            try:
                rows = sqlite3.connect(db).execute("SELECT key, updated FROM cells WHERE status = 'done'").fetchall()
            except sqlite3.OperationalError:
                continue
            if len(rows) >= 2:
                done_before = dict(rows)
                break
    assert proc.poll() is None, "the run finished before it could be killed; make the grid bigger"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= len(done_before) < 8
    result = run(load_spec(spec_path))
    assert result.counts["done"] == 8
    after = {r.key: r for r in RunStore(tmp_path / "run").records()}
    for key, updated in done_before.items():
        assert after[key].attempts == 1  # finished cells were not retrained
    assert np.isfinite([r.test_error for r in result.leaderboard.rows]).all()


@pytest.mark.slow
def test_jax_backend_runs_the_same_grid(tmp_path):
    """JAX is the GPU path: the CLI must run a grid with --backend jax (a fresh process)."""
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(tiny_spec_text(rates="[0.2]", widths="[2, 8]", epochs=2) + f"output_dir: {tmp_path / 'run'}\n")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    out = subprocess.run([sys.executable, "-m", "ddbench.cli", "run", str(spec_path), "--backend", "jax", "--quiet"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    board = json.loads((tmp_path / "run" / "leaderboard.json").read_text())
    assert board["backend"] == "jax" and all(r["status"] == "done" for r in board["rows"])


def test_ray_executor_without_ray_says_how_to_install_it(write_spec, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    res = cli.invoke(app, ["run", str(write_spec()), "--executor", "ray"])
    assert res.exit_code == 1 and "pip install 'ddbench[ray]'" in res.output
