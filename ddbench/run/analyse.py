"""After training: every hypothesis on the finished cells, the leaderboard, and the files a person opens.

``analyse`` is shared by ``ddbench run`` and ``ddbench analyse`` (:func:`reanalyse`, which trains
nothing and reports the provenance recorded at run time, not its own process).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import atomic, registry
from ..hypotheses.evaluate import evaluate
from ..hypotheses.power import attach as attach_power
from ..leaderboard.build import build_leaderboard, cell_views
from ..leaderboard.io import write_leaderboard
from ..leaderboard.power import pilot_for_run
from ..leaderboard.render import render_markdown
from ..leaderboard.report import write_report
from ..leaderboard.schema import Leaderboard, Refinement
from ..spec.model import Spec
from ..store.run_store import RunStore, StoreView
from ..store.session import RunSession
from .events import Progress


def analyse(spec: Spec, store: RunStore | StoreView, prov: dict[str, Any], progress: Progress | None = None,
            refinements: list[Refinement] | None = None) -> tuple[Leaderboard, list[str]]:
    """Run every hypothesis on the finished cells of ``store`` (a view holding the spec's cells, and the widths
    ``refinements`` added to its grid) and build the leaderboard; ``prov`` is the run-time provenance."""
    progress = progress or Progress()
    table = cell_views(store)
    verdicts, analysis, notes = evaluate(spec, table, lambda what: progress.phase("analysing", None, what))
    if spec.analysis.power_simulations:
        progress.phase("analysing", None, "power of the inconclusive verdicts")
        try:
            analysis["power"] = attach_power(verdicts, spec, pilot_for_run(spec, table))
        except Exception as exc:  # noqa: BLE001 - an estimate that fails must not cost the leaderboard
            notes.append(f"the power estimate failed ({type(exc).__name__}: {exc}); the verdicts carry none")
    used = {
        "hypotheses": {h.name: registry.hypotheses.get(h.name).plugin_version for h in spec.hypotheses},
        "probes": {p.name: registry.probes.get(p.name).plugin_version for p in spec.probes},
        "families": {spec.model.family: registry.families.get(spec.model.family).plugin_version},
        "datasets": {spec.dataset.name: registry.datasets.get(spec.dataset.name).plugin_version},
    }
    board = build_leaderboard(store, spec=spec, verdicts=verdicts, analysis=analysis, provenance=prov, plugins=used,
                              refinements=refinements)
    if prov.get("identity"):  # backend, Keras major.minor, precision of the cells (what `compare` lines up)
        board.summary["identity"] = dict(prov["identity"])
    return board, notes


def write_outputs(board: Leaderboard, run_dir: Path) -> dict[str, Path]:
    """leaderboard.json, leaderboard.md, the PNG figures and leaderboard.html (``leaderboard.report``)."""
    paths = {"json": run_dir / "leaderboard.json", "md": run_dir / "leaderboard.md"}
    write_leaderboard(board, paths["json"])
    atomic.write_text(paths["md"], render_markdown(board))
    paths.update(write_report(board, run_dir))  # a figure must never cost the results: it warns instead
    return paths


def reanalyse(run_dir: str | Path, spec: Spec) -> Leaderboard:
    """Recompute verdicts and outputs from a store without training (``ddbench analyse``).

    Bound like a run: a spec whose recipe (dataset, family, training) or precision differs from the
    store's, or whose grid has cells never trained here, is refused with the changes
    (:class:`~ddbench.store.binding.SpecChanged`). A spec with ``model.refine`` is refined again from its
    base grid's cells (the same widths as its run, which trained them) and analysed on the refined grid.
    """
    from .refine import kept_refinements, refined_spec, refinement

    with RunSession.read(spec, run_dir) as session:
        steps, grid = kept_refinements(session.refinements(), spec.model.widths), session
        if spec.model.refine is not None:
            steps.append(refinement(spec, session.view(), spec.model.refine))
            grid = session.regrid(refined_spec(spec, steps[-1]), read=True)
        board, _ = analyse(spec, grid.view(), session.provenance, refinements=steps)
        write_outputs(board, session.dir)
        return board
