"""Where a curve group's k* and peaks come from, and the error-control note of a verdict.

The statistical core records k* and the peaks of every stratum in the leaderboard
(``analysis.strata``); a curve group reads them from there. Older leaderboards
without that record fall back to the verdicts' details (double descent first), and
:func:`ddbench.leaderboard.curves.curve_groups` to the rows (with the core's own
:func:`ddbench.stats.threshold.interpolation_index`).
"""

from __future__ import annotations

from typing import Any

from .formatting import canon, fmt_num
from .schema import Leaderboard, StratumVerdict, Verdict

DD = "double_descent"
_PEAK_MARKS = {"peak": "peak", "loss_peak": "loss peak"}


def control_summary(s: StratumVerdict | Verdict) -> str:
    """``p_adj 0.003 (Holm, 6 tests, level 0.992); seeds x 1000`` for a tested verdict, else ''."""
    if s.correction is None or s.p_value is None:
        return ""
    out = f"p_adj {fmt_num(s.p_adjusted, 2)} ({s.correction}, {s.family_size} tests, level {fmt_num(s.ci_level)})"
    if s.unit:
        out += f"; {s.unit} x {s.replicates}"
    if s.nonfinite_share:
        out += f"; {100 * s.nonfinite_share:.1f}% non-finite"
    return out


def _matches(stratum: dict[str, Any], coords: dict[str, Any]) -> bool:
    if stratum.get("pooled") or stratum.get("overall"):
        return False
    return all(k in coords and canon(coords[k]) == canon(v) for k, v in stratum.items())


def attach_core(group: Any, board: Leaderboard, coords: dict[str, Any]) -> None:
    """k* and the peaks the statistical core recorded for this stratum (``analysis.strata``)."""
    for rec in board.analysis.get("strata") or []:
        if not isinstance(rec, dict) or not _matches(rec.get("stratum") or {}, coords):
            continue
        group.k_star, group.k_star_source = rec.get("k_star"), "core"
        for metric, mark in (("test_error", "peak"), ("test_loss", "loss peak")):
            pk = rec.get(f"{metric}_peak")
            if isinstance(pk, dict) and pk.get("width") is not None:
                group.peaks[mark] = int(pk["width"])
                if pk.get("excess") is not None:
                    group.peak_heights[mark] = float(pk["excess"])
        return


def attach_verdicts(group: Any, board: Leaderboard, coords: dict[str, Any]) -> None:
    """k*, peak widths and verdicts of the strata that describe this group (double descent first)."""
    for v in sorted(board.verdicts, key=lambda v: v.hypothesis != DD):
        for s in v.strata:
            if not _matches(s.stratum, coords):
                continue
            group.verdicts[v.claim] = s.verdict
            if "k_star" in s.detail and group.k_star_source == "none":
                group.k_star, group.k_star_source = s.detail["k_star"], "verdict"
            if v.hypothesis == DD and s.detail.get("peak_width") is not None and group.k_star_source != "core":
                short = v.claim.split(".", 1)[-1]
                mark = _PEAK_MARKS.get(short, short.replace("_", " "))
                group.peaks[mark] = int(s.detail["peak_width"])
                if s.detail.get("peak_height") is not None:
                    group.peak_heights[mark] = float(s.detail["peak_height"])
