"""Every hypothesis of a spec on a table of finished cells, then the one decision (``base.decide``).

The runner calls it on a run's store; ``leaderboard.rederive`` calls it on a published
leaderboard's rows, so a leaderboard's verdicts can be checked from what it carries.
"""

from __future__ import annotations

import traceback
from typing import Any, Callable

from .. import registry
from .base import decide
from .evidence import Evidence
from .table import ResultTable


def evaluate(spec: Any, table: ResultTable,
             on_phase: Callable[[str], None] | None = None) -> tuple[list[Any], dict[str, Any], list[str]]:
    """``(verdicts, analysis summary, notes)``: a hypothesis that raises is recorded as not applicable
    with the error as its reason (and a note with the traceback); the others are unaffected."""
    results = []
    notes: list[str] = []
    for i, h in enumerate(spec.hypotheses):
        if on_phase is not None:
            on_phase(f"{h.name} ({i + 1}/{len(spec.hypotheses)})")
        plugin = registry.hypotheses.get(h.name)
        try:
            evs = plugin().evidence(table, plugin.Config.model_validate(h.params), spec.analysis)
        except Exception:
            notes.append(f"hypothesis {h.name} raised; recorded as inconclusive:\n{traceback.format_exc()}")
            evs = [Evidence(f"{h.name}.error", {"pooled": True}, None, applicable=False,
                            reason=traceback.format_exc().strip().splitlines()[-1])]
        results.append((plugin, evs))
        # a missing precondition (grid does not straddle k*, ...) is something the user should act on
        notes += [f"{h.name} {_label(e.stratum)}: {e.reason}" for e in evs if not e.applicable and e.statistic is None]
    verdicts, analysis = decide(results, spec.analysis.alpha)
    analysis.update(bootstrap=spec.analysis.bootstrap, interpolation_threshold=spec.analysis.interpolation_threshold)
    return verdicts, analysis, sorted(set(notes))


def _label(stratum: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in stratum.items())
