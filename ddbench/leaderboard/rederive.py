"""Re-derive a leaderboard's verdicts from the rows it carries.

A published leaderboard holds every finished cell's metrics, probe values and curves. Where its
claims are resampled over seeds (at least 3 seeds in every stratum), that is all a hypothesis
reads, so running the hypotheses again on the rows must give the published verdicts: CI does
this for every leaderboard in ``leaderboards/`` (``tests/test_published.py``). Claims resampled
over test points need the per-point arrays of the run's store, which a leaderboard does not carry.
"""

from __future__ import annotations

import time
from typing import Any

from ..hypotheses.cells import CellView
from ..hypotheses.evaluate import evaluate
from ..hypotheses.pilot import Pilot
from ..hypotheses.power import attach
from ..hypotheses.table import ResultTable
from .schema import Leaderboard, Verdict, board_data, content_hash

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


def _derive(board: Leaderboard, fresh: bool, power: bool = True) -> tuple[list[Verdict], dict[str, Any]]:
    """Verdicts and the analysis record computed again from the rows; with ``fresh``, power estimates as
    ``ddbench analyse`` would attach them now, else only where the board's run was its own pilot; none
    without ``power``."""
    from ..spec.model import Spec

    spec = Spec.model_validate(board.spec)
    if len(spec.seeds) < 3:
        raise NotRederivable(f"{len(spec.seeds)} seed(s): the claims were resampled over test points")
    table = table_from_rows(board, spec)
    verdicts, analysis, notes = evaluate(spec, table)
    raised = [n for n in notes if "raised" in n]
    if raised:
        raise NotRederivable(raised[0].splitlines()[-1])
    own = board.analysis.get("power") and board.analysis["power"].get("pilot") == "this run"
    if power and spec.analysis.power_simulations and (own or fresh):
        # the run is its own pilot (3 or more seeds): its power estimates re-derive from the rows too
        analysis["power"] = attach(verdicts, spec, Pilot(table, spec.analysis, "this run", has_arrays=False))
    return verdicts, analysis


def rederive(board: Leaderboard, power: bool = True) -> list[Verdict]:
    """The verdicts of ``board`` computed again from its rows; :class:`NotRederivable` where they
    rest on per-point arrays (fewer than 3 seeds). Without ``power``, no power estimates (compare with
    :func:`..hypotheses.power.strip` of the board's verdicts): the decisions alone, in a fraction of the time."""
    return _derive(board, fresh=False, power=power)[0]


def rederive_board(board: Leaderboard) -> Leaderboard:
    """``board`` decided again by this ddbench from its own rows (``ddbench leaderboard rederive``): the
    verdicts, power estimates and analysis record ``ddbench analyse`` of its run would now give (its claims
    read only rows), the rows and run provenance unchanged; ``summary["rederived"]`` says when, by which
    version, and from which board (its content hash)."""
    from .. import __version__

    verdicts, analysis = _derive(board, fresh=True)
    if "strata" in board.analysis:
        analysis = {**analysis, "strata": board.analysis["strata"]}
    summary = {**board.summary, "rederived": {"ddbench_version": __version__, "from_content_hash": board.content_hash,
                                              "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}
    new = board.model_copy(update={"verdicts": verdicts, "analysis": analysis, "summary": summary})
    new.content_hash = content_hash(board_data(new))
    return new
