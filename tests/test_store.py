"""The run store: transactional records, resume bookkeeping, spec binding, the run lock."""

import subprocess
import sys

import numpy as np
import pytest

from ddbench.plan import Cell
from ddbench.store.binding import SpecChanged, bind
from ddbench.store.run_store import RunStore


def cells(n=3):
    return [Cell("mlp", {"depth": 2}, 2**i, 0.1, 0, 0, key=f"k{i}") for i in range(n)]


def test_record_and_read_back(tmp_path):
    s = RunStore(tmp_path)
    s.sync_cells(cells())
    s.mark_running(["k0"])
    s.record("k0", status="done", params=12, metrics={"test_error": 0.25}, curves={"epoch": [1, 2]},
             arrays={"test_correct": np.array([True, False])})
    recs = {r.key: r for r in s.records()}
    assert recs["k0"].status == "done" and recs["k0"].attempts == 1 and recs["k0"].metrics["test_error"] == 0.25
    assert recs["k1"].status == "pending"
    assert s.arrays("k0")["test_correct"].tolist() == [True, False]
    assert s.counts()["done"] == 1 and s.counts()["pending"] == 2
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_running_cells_of_a_dead_run_become_pending(tmp_path):
    s = RunStore(tmp_path)
    s.sync_cells(cells())
    s.mark_running(["k0", "k1"])
    s.record("k0", status="done")
    s.close()
    s = RunStore(tmp_path)
    s.sync_cells(cells())  # what a new run does first
    assert s.statuses() == {"k0": "done", "k1": "pending", "k2": "pending"}


def test_spec_binding_refuses_another_training_with_the_change(tmp_path):
    from util import tiny_spec_text

    from ddbench.spec.identity import binding_for
    from ddbench.spec.validate import load_spec_text

    runtime = {"backend": "tensorflow", "keras": "3.15"}
    s = RunStore(tmp_path)
    assert bind(s, binding_for(load_spec_text(tiny_spec_text()), runtime), ["k0"]) == []
    with_probe = load_spec_text(tiny_spec_text().replace("probes: [weight_norm]", "probes: [weight_norm, low_rank]"))
    assert bind(s, binding_for(with_probe, runtime), ["k0"]) == []
    assert [p["name"] for p in s.meta("spec")["probes"]] == ["weight_norm", "low_rank"]  # probes/hypotheses may change
    assert s.meta("spec_hash") == with_probe.spec_hash() and s.meta("cells") == ["k0"]
    with pytest.raises(SpecChanged, match=r"training.epochs: 3 -> 20"):
        bind(s, binding_for(load_spec_text(tiny_spec_text(epochs=20)), runtime), [])


def test_a_view_holds_only_its_cells(tmp_path):
    s = RunStore(tmp_path)
    s.sync_cells(cells())
    s.record("k0", status="done")
    s.record("k1", status="failed", error="boom")
    s.record_probe("k0", "p", "1", "ok", {"v": 1.0})
    s.record_probe("k2", "p", "1", "ok", {"v": 2.0})
    view = s.view(["k0", "k1"])
    assert [r.key for r in view.records()] == ["k0", "k1"] and set(view.probe_values()) == {"k0"}
    assert view.counts() == {"pending": 0, "running": 0, "done": 1, "failed": 1, "diverged": 0}
    assert view.dir == s.dir and s.counts()["pending"] == 1
    assert s.reset(("failed", "pending"), ["k1"]) == 1 and s.statuses()["k1"] == "pending"


def test_lock_refuses_a_second_process(tmp_path):
    s = RunStore(tmp_path)
    s.lock()
    code = f"from ddbench.store.run_store import RunStore\nfrom ddbench.store.lock import RunLocked\ntry:\n    RunStore({str(tmp_path)!r}).lock()\nexcept RunLocked as e:\n    print('LOCKED', e)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "LOCKED" in out and "in use by pid" in out
    s.unlock()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    assert "LOCKED" not in out


def test_failed_status_is_validated(tmp_path):
    s = RunStore(tmp_path)
    s.sync_cells(cells(1))
    with pytest.raises(ValueError):
        s.record("k0", status="exploded")


def test_a_link_in_place_of_the_run_lock_is_refused(tmp_path):
    """The run lock is never opened through a planted symbolic link (it would truncate the target)."""
    from ddbench.store.lock import RunLocked

    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "run.lock").symlink_to(victim)
    s = RunStore(run_dir)
    with pytest.raises(RunLocked, match="symbolic link"):
        s.lock()
    s.close()
    assert victim.read_text() == "keep me"


@pytest.mark.slow
def test_killed_run_shows_interrupted_not_running(tmp_path):
    """`ddbench status` after SIGKILL: the killed bundle's cells are 'interrupted' (the run lock died with
    its process); while the run is alive they are 'running' and a second run is refused."""
    import os
    import signal
    import time

    from typer.testing import CliRunner
    from util import tiny_spec_text

    from ddbench.cli import app
    from ddbench.store.lock import RunLocked
    from ddbench.store.status import collect

    spec = tmp_path / "spec.yaml"
    spec.write_text(tiny_spec_text(rates="[0.2]", widths="[2, 4]", epochs=100000))
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "ddbench.cli", "run", str(spec), "-o", str(run_dir), "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        running = 0
        while time.monotonic() < deadline and proc.poll() is None:
            if (run_dir / "ddbench.sqlite").exists():
                store = RunStore.open_existing(run_dir)
                try:
                    report = collect(store)
                finally:
                    store.close()
                running = report.counts.get("running", 0)
                if running:
                    break
            time.sleep(0.5)
        assert running == 2, f"the run never marked its bundle running: {proc.stderr.read() if proc.poll() else ''}"
        assert report.run_alive and report.counts["interrupted"] == 0
        with pytest.raises(RunLocked, match="in use by pid"):  # a second run while one is alive is refused
            RunStore(run_dir).lock()
        alive = CliRunner().invoke(app, ["status", str(run_dir)])
        assert "a run is in progress" in alive.output and alive.output.count("0/1 1r") == 2  # one cell per width
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    res = CliRunner().invoke(app, ["status", str(run_dir)])
    assert res.exit_code == 0, res.output
    assert "2 interrupted" in res.output and res.output.count("0/1 1i") == 2 and " running" not in res.output.split("\n")[2]
    assert "same `ddbench run` resumes them" in res.output
    store = RunStore.open_existing(run_dir)
    try:
        report = collect(store)
    finally:
        store.close()
    assert report.counts["interrupted"] == 2 and report.counts["running"] == 0 and not report.run_alive
