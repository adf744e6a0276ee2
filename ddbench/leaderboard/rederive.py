"""Re-derive a leaderboard's verdicts from the rows it carries.

A published leaderboard holds every finished cell's metrics, probe values and curves. Where its
claims are resampled over seeds (at least 3 seeds in every stratum), that is all a hypothesis
reads, so running the hypotheses again on the rows must give the published verdicts: CI does
this for every leaderboard in ``leaderboards/`` (``tests/test_published.py``). Claims resampled
over test points need the per-point arrays of the run's store, which a leaderboard does not carry.
"""

from __future__ import annotations

from typing import Any

from ..hypotheses.cells import CellView
from ..hypotheses.evaluate import evaluate
from ..hypotheses.pilot import Pilot
from ..hypotheses.power import attach
from ..hypotheses.table import ResultTable
from .schema import Leaderboard, Verdict

NAN = float("nan")


class NotRederivable(Exception):
    """The leaderboard does not carry what its verdicts were computed from."""


def table_from_rows(board: Leaderboard, spec: Any) -> ResultTable:
    """The cells as hypotheses saw them, rebuilt from the rows (no per-point arrays)."""
    grid_axes = set(spec.model.grid)
    views = []
    for r in board.rows:
        probes: dict[str, dict[str, Any]] = {}
        failed = {k.split(".", 1)[0] for k in r.probes if k.endswith(".status")}
        for k, v in r.probes.items():
            name, _, value = k.partition(".")
            if name not in failed:
                probes.setdefault(name, {})[value] = v
        metrics = {k: getattr(r, k) for k in ("train_error", "train_loss", "test_error", "test_loss",
                                               "train_error_clean", "train_error_noisy", "epochs")}
        metrics.update(r.metrics)
        views.append(CellView(
            key=r.key, family=r.family, config=dict(r.config),  # the store's descriptor holds grid values there too
            grid={k: v for k, v in r.config.items() if k in grid_axes}, width=r.width, noise_rate=r.noise_rate,
            noise_seed=r.noise_seed, seed=r.seed, status=r.status, params=r.params,
            metrics={k: NAN if v is None else v for k, v in metrics.items()},  # JSON has no NaN: rows write None
            curves={k: [NAN if v is None else v for v in vs] for k, vs in r.curves.items()}, probes=probes))

    def no_arrays(key: str) -> dict[str, Any]:
        raise NotRederivable("a claim needs per-point arrays, which a leaderboard does not carry")

    return ResultTable(views, no_arrays)


def rederive(board: Leaderboard) -> list[Verdict]:
    """The verdicts of ``board`` computed again from its rows; :class:`NotRederivable` where they
    rest on per-point arrays (fewer than 3 seeds)."""
    from ..spec.model import Spec

    spec = Spec.model_validate(board.spec)
    if len(spec.seeds) < 3:
        raise NotRederivable(f"{len(spec.seeds)} seed(s): the claims were resampled over test points")
    table = table_from_rows(board, spec)
    verdicts, _, notes = evaluate(spec, table)
    raised = [n for n in notes if "raised" in n]
    if raised:
        raise NotRederivable(raised[0].splitlines()[-1])
    if board.analysis.get("power") and board.analysis["power"].get("pilot") == "this run":
        # the run was its own pilot (3 or more seeds): its power estimates re-derive from the rows too
        attach(verdicts, spec, Pilot(table, spec.analysis, "this run", has_arrays=False))
    return verdicts
