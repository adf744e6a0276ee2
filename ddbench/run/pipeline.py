"""``ddbench run``: spec -> plan -> train -> probe -> store -> hypotheses -> leaderboard.

Resumable by construction: cells are keyed by content hash, each finished cell is
committed on its own, and cells left 'running' by a killed run go back to pending.
A cell (or bundle) that raises is recorded as failed with its traceback and the run
goes on.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .. import __version__, atomic, backend, memory, registry
from ..data import TrainData, load_train_data
from ..execute import CellResult, ExecContext, Executor, StratumData, get_executor
from ..execute.work import ProbeRecord, probe_cell
from ..hypotheses.evaluate import evaluate
from ..leaderboard.build import build_leaderboard, cell_views
from ..leaderboard.schema import Leaderboard, write_leaderboard
from ..plan import Bundle, Cell, make_bundles, plan_cells
from ..spec.identity import binding_for, describe
from ..spec.model import DEFAULT_PRECISION, Spec
from ..store.cellfiles import check_model_file, refuse_lost_store, verify_done_cells
from ..store.run_store import DB_NAME, RunStore, SpecChanged, StoreView
from ..train import get_trainer
from ..train.distribute import provenance as distribution_provenance

#: what a run is doing, in order (``Progress.phase``); building..writing also happen per bundle
PHASES = ("building", "compiling", "training", "probing", "analysing", "writing")


class Progress:
    """The one event protocol of a run, for a user interface (the CLI's is ddbench/progress.py).

    ``phase(name, bundle, detail)``: a new phase (one of :data:`PHASES`), of ``bundle`` or of the
    whole run (``bundle`` None: backfilling probes, analysing, writing the outputs).
    """

    def start(self, total_cells: int, todo: int) -> None: ...
    def bundle_started(self, bundle: Bundle) -> None: ...
    def phase(self, name: str, bundle: Bundle | None = None, detail: str = "") -> None: ...
    def epochs_done(self, bundle: Bundle, epoch: int, total: int) -> None: ...
    def cell_finished(self, cell: Cell, status: str, metrics: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...
    def stop(self) -> None: ...


@dataclass
class RunResult:
    run_dir: Path
    leaderboard: Leaderboard
    counts: dict[str, int]
    wall_seconds: float
    warnings: list[str] = field(default_factory=list)
    trained: int = 0  # cells trained (or failed) in this run
    repairs: list[str] = field(default_factory=list)  # done cells whose saved model was missing or damaged (retrained)


def provenance(trainer: str, precision: str = DEFAULT_PRECISION, distribution: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"backend": backend.name(), "device": backend.device(), "versions": backend.versions(),
            "trainer": trainer, "precision": precision, "distribution": distribution or {"strategy": "none"},
            "ddbench_version": __version__}


def run(spec: Spec, *, run_dir: str | Path | None = None, progress: Progress | None = None,
        retry_failed: bool = True, trainer: str | None = None, executor: Executor | None = None) -> RunResult:
    """Train every pending cell of ``spec`` (in this process, or with ``executor``), then write the leaderboard."""
    progress = progress or Progress()
    out = spec.run_dir(run_dir)
    if not (out / DB_NAME).exists():
        refuse_lost_store(out)  # saved models but no store: refuse before creating one
    store = RunStore(out)
    store.lock()
    try:
        return _run_locked(spec, store, progress, retry_failed, trainer or spec.trainer, executor or get_executor("local"))
    finally:
        store.close()
        progress.stop()


def _run_locked(spec: Spec, store: RunStore, progress: Progress, retry_failed: bool, trainer_name: str,
                executor: Executor) -> RunResult:
    t_start = time.perf_counter()
    binding = binding_for(spec)  # this process's backend and Keras version
    cells = plan_cells(spec, binding.identity)
    keys = [c.key for c in cells]
    grown = store.bind(binding, keys)
    if grown:
        progress.message("grid changed in place: " + "; ".join(grown))
    store.sync_cells(cells)
    if not store.counts()["done"]:
        refuse_lost_store(store.dir, store)
    checked = verify_done_cells(store)  # missing or damaged models: reported, then retrained
    for note in checked:
        progress.message(note)
    if retry_failed:
        store.reset(("failed",), keys)
    status = store.statuses()
    todo = [c for c in cells if status.get(c.key) == "pending"]
    progress.start(len(cells), len(todo))
    trainer = get_trainer(trainer_name, registry.families.get(spec.model.family), spec.distribution, engine=spec.engine)
    prov = provenance(trainer.name, spec.training.precision, distribution_provenance(trainer))
    prov["executor"] = executor.name
    prov["engine"] = spec.engine.model_dump(mode="json")
    prov["identity"] = binding.identity
    store.set_meta(provenance=prov)  # what `ddbench analyse` reports later, not the analysing process
    fingerprints = dict(store.meta("data_fingerprints", {}))

    def on_bundle(bundle: Bundle) -> None:
        store.mark_running([c.key for c in bundle.cells])
        progress.bundle_started(bundle)

    ctx = ExecContext(spec, store.dir, trainer_name, StratumData(spec), on_bundle=on_bundle,
                      on_epochs=progress.epochs_done, on_message=progress.message, on_phase=progress.phase)
    trained = 0
    try:
        for result in executor.execute(plan_bundles(spec, todo, ctx.data, ctx), ctx):
            if result.data_fingerprint and fingerprints.get(result.data_fingerprint[0]) != result.data_fingerprint[1]:
                fingerprints[result.data_fingerprint[0]] = result.data_fingerprint[1]
                store.set_meta(data_fingerprints=fingerprints)
            commit(store, result, prov)
            trained += 1
            progress.cell_finished(result.cell, result.status, result.metrics)
    except BaseException:
        # Ctrl-C / SystemExit: cells in flight go back to pending; finished ones are committed.
        store.db.execute("UPDATE cells SET status = 'pending' WHERE status = 'running'")
        raise
    backfill_probes(spec, store, progress, cells)
    wall = time.perf_counter() - t_start
    store.set_meta(wall_seconds=(store.meta("wall_seconds") or 0.0) + wall)
    view = store.view(keys)
    board, notes = analyse(spec, view, prov, progress)
    progress.phase("writing", None, "leaderboard.json, leaderboard.md, figures")
    write_outputs(board, store.dir)
    return RunResult(store.dir, board, view.counts(), wall, checked + notes, trained, checked)


def plan_bundles(spec: Spec, todo: list[Cell], data: StratumData, ctx: ExecContext | None = None) -> Iterator[Bundle]:
    """The pending cells as bundles that fit the device, stratum by stratum (lazily, so a local
    run loads each stratum's data once). The device is this process's, or the one a remote
    executor names in ``ctx.device_memory`` (read when the first bundle is drawn)."""
    strata: dict[tuple[float, int], list[Cell]] = {}
    for c in todo:
        strata.setdefault(c.data_key, []).append(c)
    cost: memory.CellCost | None = None  # one per run: a cell's cost depends on its architecture only
    for key, cells in strata.items():
        budget = None
        try:
            d = data.get(key)
            budget = memory.budget_bytes(d.x_train.nbytes + d.x_test.nbytes, ctx.device_memory if ctx else None)
            if budget is not None and cost is None:
                cost = memory.CellCost(spec.model.family, d.input_shape, d.num_classes, spec.training)
        except Exception:
            budget = None  # the executor meets the data error again and records it on the cells
        yield from make_bundles(cells, budget_bytes=budget, cost=cost)


def commit(store: RunStore, result: CellResult, prov: dict[str, Any]) -> None:
    """Write a result's files (remote executors carry them as bytes), its probes, then the cell."""
    for rel, blob in result.files.items():
        path = store.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(path, blob)
    _record_probes(store, result.cell.key, result.probes)
    store.record(
        result.cell.key, status=result.status, params=result.params, metrics=result.metrics, curves=result.curves,
        timings=result.timings, provenance={**prov, **result.provenance}, error=result.error, weights=result.weights, arrays=result.arrays,
    )


def backfill_probes(spec: Spec, store: RunStore, progress: Progress, cells: list[Cell] | None = None) -> int:
    """Probe done cells (of ``cells``, default the spec's) that lack a probe of the spec (added later, or
    failed), from their saved models."""
    if not spec.probes:
        return 0
    from ..train.reload import load_trained_model

    have = store.probe_values()
    todo = []
    for cell in cells if cells is not None else plan_cells(spec):
        probed = have.get(cell.key, {})
        missing = {p.name for p in spec.probes
                   if probed.get(p.name, {}).get("status") not in ("ok", "nan")
                   or probed[p.name]["version"] != registry.probes.get(p.name).plugin_version}
        if missing:
            todo.append((cell, missing))
    done = {r.key: r for r in store.records() if r.status == "done" and r.weights}
    todo = [(c, m) for c, m in todo if c.key in done]
    if todo:
        progress.message(f"probing {len(todo)} finished cell(s) from their saved models")
    data: dict[tuple[float, int], TrainData] = {}
    for i, (cell, missing) in enumerate(todo):
        progress.phase("probing", None, f"{', '.join(sorted(missing))} on {cell.label} ({i + 1}/{len(todo)})")
        if cell.data_key not in data:
            data.clear()
            data[cell.data_key] = load_train_data(spec.dataset, *cell.data_key)
        problem = check_model_file(store.dir, done[cell.key])
        try:
            if problem is not None:
                raise ValueError(problem)
            model = load_trained_model(store.dir / done[cell.key].weights)
        except Exception as exc:  # never "file not found" for a file that is there but damaged
            reason = problem or f"its saved model {store.dir / done[cell.key].weights} cannot be loaded: {exc}"
            warnings.warn(f"cannot probe {cell.label}: {reason}")
            _record_probes(store, cell.key, [ProbeRecord(n, registry.probes.get(n).plugin_version, "failed", {},
                                                         reason, 0.0) for n in sorted(missing)])
            continue
        _record_probes(store, cell.key, probe_cell(spec, store.dir, cell, model, data[cell.data_key], only=missing))
    return len(todo)


def _record_probes(store: RunStore, key: str, probes: list[ProbeRecord]) -> None:
    for p in probes:
        store.record_probe(key, p.name, p.version, p.status, p.values, p.error, p.seconds)


def analyse(spec: Spec, store: RunStore | StoreView, prov: dict[str, Any],
            progress: Progress | None = None) -> tuple[Leaderboard, list[str]]:
    """Run every hypothesis on the finished cells of ``store`` (a view holding the spec's cells) and
    build the leaderboard; ``prov`` is the run-time provenance."""
    progress = progress or Progress()
    verdicts, analysis, notes = evaluate(spec, cell_views(store),
                                         lambda what: progress.phase("analysing", None, what))
    used = {
        "hypotheses": {h.name: registry.hypotheses.get(h.name).plugin_version for h in spec.hypotheses},
        "probes": {p.name: registry.probes.get(p.name).plugin_version for p in spec.probes},
        "families": {spec.model.family: registry.families.get(spec.model.family).plugin_version},
        "datasets": {spec.dataset.name: registry.datasets.get(spec.dataset.name).plugin_version},
    }
    board = build_leaderboard(store, spec=spec, verdicts=verdicts, analysis=analysis, provenance=prov, plugins=used)
    if prov.get("identity"):  # backend, Keras major.minor, precision of the cells (what `compare` lines up)
        board.summary["identity"] = dict(prov["identity"])
    return board, notes


def write_outputs(board: Leaderboard, run_dir: Path) -> dict[str, Path]:
    """leaderboard.json, leaderboard.md, the PNG figures and leaderboard.html (``leaderboard.report``)."""
    from ..leaderboard.render import render_markdown
    from ..leaderboard.report import write_report

    paths = {"json": run_dir / "leaderboard.json", "md": run_dir / "leaderboard.md"}
    write_leaderboard(board, paths["json"])
    atomic.write_text(paths["md"], render_markdown(board))
    paths.update(write_report(board, run_dir))  # a figure must never cost the results: it warns instead
    return paths


def reanalyse(run_dir: str | Path, spec: Spec) -> Leaderboard:
    """Recompute verdicts and outputs from a store without training (``ddbench analyse``).

    Bound like :func:`run`: a spec whose recipe (dataset, family, training) or precision differs
    from the store's, or whose grid has cells never trained here, is refused with the changes
    (:class:`~ddbench.store.run_store.SpecChanged`). The cells are keyed with the runtime they were trained
    under (the analysing process trains nothing, so its own backend does not matter), and the
    leaderboard keeps the provenance recorded at run time.
    """
    store = RunStore.open_existing(run_dir)
    try:
        binding = binding_for(spec, store.meta("identity"))
        cells = plan_cells(spec, binding.identity)
        keys = [c.key for c in cells]
        store.check_binding(binding, keys)
        board, _ = analyse(spec, store.view(keys), run_provenance(store, keys))
        write_outputs(board, store.dir)
        return board
    finally:
        store.close()


def run_provenance(store: RunStore, keys: list[str]) -> dict[str, Any]:
    """The provenance the last ``ddbench run`` recorded; for a store without it, the first finished
    cell's own (each cell records the provenance it was trained with)."""
    prov = store.meta("provenance")
    if prov:
        return dict(prov)
    wanted = set(keys)
    for rec in store.records():
        if rec.key in wanted and rec.status == "done" and rec.provenance:
            return {k: v for k, v in rec.provenance.items() if k not in ("node",)}
    identity = store.meta("identity") or {}
    raise SpecChanged(f"{store.dir} records no provenance and no finished cell of this spec "
                      f"(trained under {describe(identity)}); nothing to analyse")
