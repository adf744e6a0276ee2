"""``ddbench run``: spec -> plan -> train -> probe -> store -> hypotheses -> leaderboard.

Read top to bottom, :func:`run` is the README's diagram: open the run directory's session (locked,
bound to the spec), take its pending cells, hand them to an executor in bundles and commit each
finished cell as it arrives, backfill probes added since, refine the grid where asked (:mod:`.refine`: the
new widths' cells train the same way), analyse, write the outputs.

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
from ..leaderboard.formatting import fmt_refinement
from ..leaderboard.schema import Leaderboard
from ..memory import plan_bundles
from ..plan import Bundle
from ..spec.grid import RefineSpec
from ..spec.model import DEFAULT_PRECISION, Spec
from ..store.session import RunSession
from ..train import get_trainer
from ..train.distribute import provenance as distribution_provenance
from .analyse import analyse, write_outputs
from .backfill import backfill_probes
from .events import Progress
from .refine import FROM_COMMAND, FROM_SPEC, kept_refinements, refined_spec, refinement


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
        retry_failed: bool = True, trainer: str | None = None, executor: Executor | None = None,
        refine: RefineSpec | None = None) -> RunResult:
    """Train every pending cell of ``spec`` (in this process, or with ``executor``), then write the leaderboard.

    A spec with ``model.refine`` then adds widths around k* and the peak and trains them (its leaderboard keeps
    the spec as written, the refinement recorded beside it); ``refine`` (``ddbench refine``) does the same with
    these settings, and the refined grid becomes the leaderboard's spec (``run.refine``).
    """
    progress = progress or Progress()
    try:
        with RunSession.open(spec, run_dir) as session:
            return _run(spec, session, progress, retry_failed, trainer or spec.trainer, executor or get_executor("local"),
                        refine)
    finally:
        progress.stop()


def _run(spec: Spec, session: RunSession, progress: Progress, retry_failed: bool, trainer_name: str,
         executor: Executor, refine: RefineSpec | None = None) -> RunResult:
    t_start = time.perf_counter()
    trained, repairs = _train(spec, session, progress, retry_failed, trainer_name, executor)
    board_spec, steps = spec, kept_refinements(session.refinements(), spec.model.widths)
    settings = refine or spec.model.refine
    if refine is not None and trained:  # an interrupted run or refinement: its grid is finished first
        progress.message(f"trained {trained} pending cell(s) of the grid first; `ddbench refine` again refines it")
        settings = None
    if settings is not None:  # the base grid has trained: refine it around its k* and peaks, train the new cells
        progress.phase("analysing", None, "k* and the test-error peaks, to refine the grid")
        step = refinement(spec, session.view(), settings, FROM_COMMAND if refine is not None else FROM_SPEC)
        progress.message("refined: " + fmt_refinement(step))
        steps.append(step)
        session.record_refinements([s.model_dump(mode="json") for s in steps])  # before training: kept on a resume
        grid_spec = refined_spec(spec, step)
        if refine is not None:  # ddbench refine: the refined grid is the run's spec from now on
            board_spec = grid_spec
        if step.added:
            session = session.regrid(grid_spec)
            more, fixed = _train(grid_spec, session, progress, retry_failed, trainer_name, executor)
            trained, repairs = trained + more, repairs + fixed
    session.record_refinements([s.model_dump(mode="json") for s in steps])
    wall = time.perf_counter() - t_start
    session.add_wall_seconds(wall)
    view = session.view()
    t_analyse = time.perf_counter()
    board, notes = analyse(board_spec, view, session.provenance, progress, refinements=steps)
    t_outputs = time.perf_counter()
    progress.phase("writing", None, "leaderboard.json, leaderboard.md, figures")
    write_outputs(board, session.dir)
    session.record_output_seconds(t_outputs - t_analyse, time.perf_counter() - t_outputs)
    return RunResult(session.dir, board, view.counts(), wall, repairs + notes, trained, repairs)


def _train(spec: Spec, session: RunSession, progress: Progress, retry_failed: bool, trainer_name: str,
           executor: Executor) -> tuple[int, list[str]]:
    """Bind the session's grid, train its pending cells and backfill probes: (cells trained, repair notes)."""
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
    return trained, repairs
