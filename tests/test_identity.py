"""Cell identity and run binding: backend, Keras version and precision are part of a cell; grids grow
in place; `analyse` is bound like `run` and keeps the run-time provenance; `status` shows where a run is."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner
from util import tiny_spec_text

from ddbench import registry
from ddbench.cli.app import app
from ddbench.plan import plan_cells
from ddbench.probes.base import ProbeContext, ProbePlugin
from ddbench.run.analyse import reanalyse
from ddbench.run.events import Progress
from ddbench.run.pipeline import run
from ddbench.spec.identity import binding_for, cell_identity, keras_minor, training_hash
from ddbench.spec.validate import load_spec_text
from ddbench.store.binding import SpecChanged, bind
from ddbench.store.run_store import RunStore

TF = {"backend": "tensorflow", "keras": "3.15"}
JAX = {"backend": "jax", "keras": "3.15"}
cli = CliRunner()


def spec(**kw: Any):
    return load_spec_text(tiny_spec_text(**kw))


def keys(s, runtime=TF) -> set[str]:
    return {c.key for c in plan_cells(s, runtime)}


# ----------------------------------------------------------------- keys and hashes (no training)


def test_backend_keras_version_and_precision_are_part_of_every_cell_key():
    s = spec()
    base = keys(s)
    assert len(base) == 6
    assert not base & keys(s, JAX)  # another backend: other cells
    assert not base & keys(s, {"backend": "tensorflow", "keras": "3.14"})  # another Keras minor version
    assert base == keys(s, {"backend": "tensorflow", "keras": "3.15"})  # deterministic
    mixed = load_spec_text(tiny_spec_text().replace("  batch_size: 50", "  batch_size: 50\n  precision: mixed_bfloat16"))
    assert not base & keys(mixed)
    assert cell_identity(mixed, TF) == {"backend": "tensorflow", "keras": "3.15", "precision": "mixed_bfloat16"}
    # the training hash says the same; the spec hash is the spec's alone (the runtime is not written in it)
    assert training_hash(s, TF) != training_hash(s, JAX) and s.spec_hash() == spec().spec_hash()
    # by default, this process's runtime
    assert keys(s, None) == keys(s, {"backend": "tensorflow", "keras": keras_minor()})


def test_keras_minor_is_major_dot_minor(monkeypatch):
    from importlib.metadata import version

    installed = version("keras").split(".")
    if "keras" not in sys.modules:  # read from the installed distribution, without importing Keras
        assert keras_minor() == f"{installed[0]}.{installed[1]}" and "keras" not in sys.modules
    for full, minor in (("3.15.1", "3.15"), ("3.8.0rc1", "3.8"), ("4.0", "4.0")):
        monkeypatch.setitem(sys.modules, "keras", SimpleNamespace(__version__=full))  # the imported one wins
        assert keras_minor() == minor


# ----------------------------------------------------------------- binding (store level, no training)


def _bind(tmp_path, s, runtime=TF) -> list[str]:
    store = RunStore(tmp_path)
    try:
        return bind(store, binding_for(s, runtime), sorted(keys(s, runtime)))
    finally:
        store.close()


def test_a_run_directory_refuses_another_backend_with_the_reason(tmp_path):
    _bind(tmp_path, spec())
    with pytest.raises(SpecChanged) as info:
        _bind(tmp_path, spec(), JAX)
    msg = str(info.value)
    assert 'backend: "tensorflow" -> "jax"' in msg and "tensorflow, Keras 3.15, float32" in msg
    assert "--backend tensorflow" in msg and "--output DIR" in msg
    with pytest.raises(SpecChanged, match=r'keras: "3.15" -> "3.16"'):
        _bind(tmp_path, spec(), {"backend": "tensorflow", "keras": "3.16"})
    mixed = load_spec_text(tiny_spec_text().replace("  batch_size: 50", "  batch_size: 50\n  precision: mixed_bfloat16"))
    with pytest.raises(SpecChanged, match=r'precision: "float32" -> "mixed_bfloat16"'):
        _bind(tmp_path, mixed)


@pytest.mark.parametrize("kw, added", [
    ({"widths": "[2, 8, 32, 64]"}, 'model.widths: added [64]'),
    ({"rates": "[0.0, 0.2, 0.4]"}, "dataset.noise.rates: added [0.4]"),
    ({"seeds": "[0, 1]"}, "seeds: added [1]"),
    ({"widths": "[2, 32]"}, "model.widths: removed [8]"),
])
def test_grid_values_may_be_added_or_removed(tmp_path, kw, added):
    assert _bind(tmp_path, spec()) == []
    assert _bind(tmp_path, spec(**kw)) == [added]
    assert _bind(tmp_path, spec()) != []  # and back again
    assert _bind(tmp_path, spec()) == []


def test_grid_axis_values_grow_but_a_new_axis_is_refused(tmp_path):
    grid = "  widths: [2, 8, 32]\n  grid: {{depth: {values}}}"
    text = tiny_spec_text()
    _bind(tmp_path, load_spec_text(text.replace("  widths: [2, 8, 32]", grid.format(values="[1, 2]"))))
    grown = load_spec_text(text.replace("  widths: [2, 8, 32]", grid.format(values="[1, 2, 3]")))
    assert _bind(tmp_path, grown) == ["model.grid.depth: added [3]"]
    with pytest.raises(SpecChanged, match=r"model.grid"):
        _bind(tmp_path, load_spec_text(text))  # the axis itself is part of every cell's descriptor


@pytest.mark.parametrize("old, new, change", [
    ("epochs: 3", "epochs: 4", "training.epochs: 3 -> 4"),
    ("n_train: 300", "n_train: 200", "dataset.n_train: 300 -> 200"),
    ("lr: 0.05", "lr: 0.1", "training.optimizer.lr: 0.05 -> 0.1"),
    ("kind: exact", "kind: may_keep", 'dataset.noise.kind: "exact" -> "may_keep"'),
    ("  family: mlp", "  family: mlp\n  config: {depth: 3}", "model.config.depth: 2 -> 3"),
])
def test_changes_that_alter_existing_cells_are_refused_with_the_list(tmp_path, old, new, change):
    _bind(tmp_path, spec())
    text = tiny_spec_text(widths="[2, 8, 32, 64]").replace(old, new)
    assert text != tiny_spec_text(widths="[2, 8, 32, 64]")
    with pytest.raises(SpecChanged) as info:
        _bind(tmp_path, load_spec_text(text))
    assert change in str(info.value) and "widths" not in str(info.value)


def test_writing_out_a_default_family_option_is_no_change(tmp_path):
    _bind(tmp_path, spec())
    explicit = load_spec_text(tiny_spec_text().replace("  family: mlp", "  family: mlp\n  config: {depth: 2}"))
    assert keys(explicit) == keys(spec()) and _bind(tmp_path, explicit) == []


def test_a_store_of_an_older_ddbench_is_refused_with_the_reason(tmp_path):
    store = RunStore(tmp_path)
    store.set_meta(training_hash="991fc8b0df96df53", ddbench_version="0.1.0")
    with pytest.raises(SpecChanged, match=r"leave out the Keras backend"):
        bind(store, binding_for(spec(), TF), [])
    store.close()


# ----------------------------------------------------------------- end to end


@registry.probes.register("test_boom", version="1")
class Boom(ProbePlugin):
    """Raises on width 4, returns a NaN on width 2."""

    def measure(self, ctx: ProbeContext, config: Any) -> dict[str, Any]:
        if ctx.cell.width == 4:
            raise ValueError("the boom probe exploded")
        return {"value": float("nan") if ctx.cell.width == 2 else 1.0}


class Counting(Progress):
    def __init__(self) -> None:
        self.todo: int | None = None
        self.finished: list[Any] = []
        self.messages: list[str] = []

    def start(self, total_cells: int, todo: int) -> None:
        self.todo = todo

    def cell_finished(self, cell, status, metrics) -> None:
        self.finished.append(cell)

    def message(self, text: str) -> None:
        self.messages.append(text)


def _text(widths: str, epochs: int = 1) -> str:
    return (tiny_spec_text(widths=widths, epochs=epochs).replace("probes: [weight_norm]", "probes: [test_boom]")
            .replace("hypotheses: [double_descent]", "hypotheses: []") + "trainer: fit\n")


@pytest.mark.slow
def test_grid_grows_in_place_analyse_is_bound_and_status_shows_it(tmp_path):
    out = tmp_path / "run"
    first = run(load_spec_text(_text("[2]")), run_dir=out)
    assert first.counts["done"] == 2
    old_rows = {r.key: r.model_dump() for r in first.leaderboard.rows}
    old_records = {r.key: (r.attempts, r.metrics, r.weights) for r in RunStore(out).records()}

    # one width added: exactly its cells (one per noise rate) are trained, the old ones are kept as they were
    progress = Counting()
    grown = run(load_spec_text(_text("[2, 4]")), run_dir=out, progress=progress)
    assert progress.todo == 2 and sorted((c.width, c.noise_rate) for c in progress.finished) == [(4, 0.0), (4, 0.2)]
    assert progress.messages[0] == "grid changed in place: model.widths: added [4]"
    assert grown.counts["done"] == 4 and len(grown.leaderboard.rows) == 4
    rows = {r.key: r.model_dump() for r in grown.leaderboard.rows}
    assert all(rows[k] == v for k, v in old_rows.items())  # old rows untouched
    records = {r.key: (r.attempts, r.metrics, r.weights) for r in RunStore(out).records()}
    assert {k: records[k] for k in old_records} == old_records and all(a == 1 for a, _, _ in records.values())
    assert grown.leaderboard.summary["identity"] == {"backend": "tensorflow", "keras": keras_minor(), "precision": "float32"}

    # a changed epoch count is refused, by run and by analyse, with the change
    with pytest.raises(SpecChanged, match=r"training.epochs: 1 -> 3"):
        run(load_spec_text(_text("[2, 4]", epochs=3)), run_dir=out)
    with pytest.raises(SpecChanged, match=r"training.epochs: 1 -> 3"):
        reanalyse(out, load_spec_text(_text("[2, 4]", epochs=3)))
    with pytest.raises(SpecChanged, match=r"never trained .*model.widths: added \[64\]"):
        reanalyse(out, load_spec_text(_text("[2, 4, 64]")))

    # analyse keeps the run-time provenance (not trainer `auto` and no engine/executor from this process)
    as_auto = _text("[4]").replace("trainer: fit\n", "")  # the trainer is an execution choice: not a change
    board = reanalyse(out, load_spec_text(as_auto))
    assert len(board.rows) == 2 and {r.width for r in board.rows} == {4}
    assert board.summary["trainer"] == grown.leaderboard.summary["trainer"] == "fit"
    assert board.summary["executor"] == "local" and board.summary["engine"] == grown.leaderboard.summary["engine"]
    assert board.summary["identity"]["backend"] == board.backend == "tensorflow"

    # status: the spec hash, a width x noise-rate table, failed and NaN probes (tracebacks with --failures)
    res = cli.invoke(app, ["status", str(out)], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    assert f"hash {load_spec_text(_text('[2, 4]')).spec_hash()}" in res.output and "hash None" not in res.output
    lines = res.output.splitlines()
    assert max(len(line) for line in lines if str(out) not in line) <= 80
    at = next(i for i, line in enumerate(lines) if line.split()[:1] == ["width"])
    assert [line.split() for line in lines[at:at + 3]] == [["width", "p=0", "p=0.2"], ["2", "1/1", "1/1"], ["4", "1/1", "1/1"]]
    assert lines[at + 3].startswith("done/cells") and lines[at - 1] == "4 cells: 4 done"
    assert "probes: 2 failed, 2 returned NaN" in res.output
    assert "  test_boom failed on mlp w=4 p=0 seed=0: ValueError: the boom probe exploded\n" in res.output
    assert "  test_boom NaN on mlp w=2 p=0 seed=0: NaN in value\n" in res.output
    assert "Traceback" not in res.output
    res = cli.invoke(app, ["status", str(out), "--failures"], env={"COLUMNS": "80"})
    assert res.exit_code == 0 and res.output.count("Traceback (most recent call last)") == 2
    # the CLI's analyse refuses a changed spec in one line
    changed = tmp_path / "changed.yaml"
    changed.write_text(_text("[2, 4]", epochs=3))
    res = cli.invoke(app, ["analyse", str(changed), "--output", str(out)])
    assert res.exit_code == 1 and "training.epochs: 1 -> 3" in res.output


@pytest.mark.slow
def test_a_run_directory_trained_under_tensorflow_is_refused_under_jax(tmp_path):
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(tiny_spec_text(rates="[0.0]", widths="[2]", epochs=1).replace("hypotheses: [double_descent]", "")
                         + f"trainer: fit\noutput_dir: {tmp_path / 'run'}\n")
    assert run(load_spec_text(spec_path.read_text())).counts["done"] == 1
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    proc = subprocess.run([sys.executable, "-m", "ddbench.cli", "run", str(spec_path), "--backend", "jax", "-q"],
                          check=False, env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'backend: "tensorflow" -> "jax"' in proc.stderr and "--backend tensorflow" in proc.stderr


def test_status_table_counts_states_and_stays_within_80_columns(tmp_path):
    from rich.console import Console

    from ddbench.cli.status_view import entry, render
    from ddbench.store.status import collect

    rates = "[0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45]"
    s = spec(rates=rates, widths="[2, 300]", seeds="[0, 1, 2]")
    cells = plan_cells(s, TF)
    store = RunStore(tmp_path)
    bind(store, binding_for(s, TF), [c.key for c in cells])
    store.sync_cells(cells)
    at = {(c.width, c.noise_rate, c.seed): c.key for c in cells}
    for c in cells:
        if c.noise_rate == 0.0:
            store.record(c.key, status="done")
    store.record(at[300, 0.1, 0], status="failed", error="Traceback (most recent call last):\nRuntimeError: out of luck")
    store.record(at[300, 0.1, 1], status="diverged")
    store.mark_running([at[2, 0.45, 2]])
    store.record_probe(at[2, 0.0, 0], "weight_norm", "1", "failed", {}, "Traceback (most recent call last):\nKeyError: 'x'")
    store.lock()  # a live run holds the lock: its marked cells are running
    live = collect(store)
    store.unlock()
    report = collect(store)  # no run holds it: the cell marked running was interrupted
    store.close()
    assert live.run_alive and entry(live.table[(2, 0.45)]) == ("0/3 1r", "yellow") and live.counts["running"] == 1
    assert report.spec_hash == s.spec_hash() and report.identity == cell_identity(s, TF)
    assert entry(report.table[(2, 0.0)]) == ("3/3", "green")
    assert entry(report.table[(300, 0.1)]) == ("0/3 1f 1d", "red")
    assert entry(report.table[(2, 0.45)]) == ("0/3 1i", "yellow")
    assert report.counts == {"pending": 51, "running": 0, "done": 6, "failed": 1, "diverged": 1, "interrupted": 1}

    console = Console(width=80, record=True, file=io.StringIO())
    render(report, console)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines if str(tmp_path) not in line) <= 80
    headers = [line.split() for line in lines if line.split()[:1] == ["width"]]
    assert len(headers) >= 2 and sum(len(h) - 1 for h in headers) == 10  # every rate once, over several tables
    assert f"failed mlp w=300 p=0.1 seed=0 (key {at[300, 0.1, 0]}, attempts 0)\n  RuntimeError: out of luck\n" in text
    assert "diverged mlp w=300 p=0.1 seed=1" in text
    assert "  weight_norm failed on mlp w=2 p=0 seed=0: KeyError: 'x'" in text and "Traceback" not in text
    console = Console(width=80, record=True, file=io.StringIO())
    render(report, console, failures=True)
    assert console.export_text().count("Traceback (most recent call last)") == 2
