"""``ddbench run``: spec -> plan -> train -> probe -> store -> hypotheses -> leaderboard.

Read top to bottom, :func:`run` is the README's diagram: open the run directory's session (locked,
bound to the spec), take its pending cells, hand them to an executor in bundles and commit each
finished cell as it arrives, backfill probes added since, analyse, write the outputs.

Resumable by construction: cells are keyed by content hash, each finished cell is committed on its
own, and cells left 'running' by a killed run go back to pending. A cell (or bundle) that raises is
recorded as failed with its traceback and the run goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__, backend, registry
from ..execute import ExecContext, Executor, StratumData, get_executor
from ..leaderboard.schema import Leaderboard
from ..memory import plan_bundles
from ..plan import Bundle
from ..spec.model import DEFAULT_PRECISION, Spec
from ..store.session import RunSession
from ..train import get_trainer
from ..train.distribute import provenance as distribution_provenance
from .analyse import analyse, write_outputs
from .backfill import backfill_probes
from .events import Progress


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
    """Where and how this process trains: backend, device, versions, trainer, precision, distribution."""
    return {"backend": backend.name(), "device": backend.device(), "versions": backend.versions(),
            "trainer": trainer, "precision": precision, "distribution": distribution or {"strategy": "none"},
            "ddbench_version": __version__}


def run(spec: Spec, *, run_dir: str | Path | None = None, progress: Progress | None = None,
        retry_failed: bool = True, trainer: str | None = None, executor: Executor | None = None) -> RunResult:
    """Train every pending cell of ``spec`` (in this process, or with ``executor``), then write the leaderboard."""
    progress = progress or Progress()
    try:
        with RunSession.open(spec, run_dir) as session:
            return _run(spec, session, progress, retry_failed, trainer or spec.trainer, executor or get_executor("local"))
    finally:
        progress.stop()


def _run(spec: Spec, session: RunSession, progress: Progress, retry_failed: bool, trainer_name: str,
         executor: Executor) -> RunResult:
    t_start = time.perf_counter()
    grown, repairs = session.prepare(retry_failed)
    if grown:
        progress.message("grid changed in place: " + "; ".join(grown))
    for note in repairs:  # missing or damaged models: reported, then retrained
        progress.message(note)
    todo = session.pending()
    progress.start(len(session.cells), len(todo))

    trainer = get_trainer(trainer_name, registry.families.get(spec.model.family), spec.distribution, engine=spec.engine)
    prov = provenance(trainer.name, spec.training.precision, distribution_provenance(trainer))
    session.record_provenance({**prov, "executor": executor.name, "engine": spec.engine.model_dump(mode="json"),
                               "identity": session.binding.identity})

    def on_bundle(bundle: Bundle) -> None:
        session.bundle_started(c.key for c in bundle.cells)
        progress.bundle_started(bundle)

    ctx = ExecContext(spec, session.dir, trainer_name, StratumData(spec), on_bundle=on_bundle,
                      on_epochs=progress.epochs_done, on_message=progress.message, on_phase=progress.phase)
    trained = 0
    try:
        for result in executor.execute(plan_bundles(spec, todo, ctx.data, ctx), ctx):
            session.commit(result)
            trained += 1
            progress.cell_finished(result.cell, result.status, result.metrics)
    except BaseException:
        session.interrupted()  # Ctrl-C / SystemExit: cells in flight go back to pending; finished ones are committed
        raise

    backfill_probes(spec, session, progress)
    wall = time.perf_counter() - t_start
    session.add_wall_seconds(wall)
    view = session.view()
    t_analyse = time.perf_counter()
    board, notes = analyse(spec, view, session.provenance, progress)
    t_outputs = time.perf_counter()
    progress.phase("writing", None, "leaderboard.json, leaderboard.md, figures")
    write_outputs(board, session.dir)
    session.record_output_seconds(t_outputs - t_analyse, time.perf_counter() - t_outputs)
    return RunResult(session.dir, board, view.counts(), wall, repairs + notes, trained, repairs)
