"""The hypothesis contract, and the one place where evidence becomes verdicts.

A hypothesis plugin reads the :class:`ResultTable` of finished cells and returns
:class:`Evidence`: for each claim and stratum, a statistic, its bootstrap replicates
and the threshold it must clear. :func:`decide` turns evidence into verdicts with
error control **within each hypothesis**: its claims x strata are one family
(Holm's step-down at ``alpha``), so adding or removing another hypothesis never
changes a verdict or an interval (docs/science.md, "Statistics").
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ..leaderboard.schema import StratumVerdict, Verdict
from ..stats.inference import INTERVAL, NONFINITE_LIMIT, holm, make_test, p_below
from .evidence import Evidence, finite_or_none
from .table import ResultTable


class HypothesisPlugin:
    """Base class of hypotheses. Subclass, set ``Config`` and ``claims``, implement ``evidence``."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    description: ClassVar[str] = ""
    claims: ClassVar[dict[str, str]] = {}  # claim id -> one-line statement
    #: probes without which no claim can be tested; validate refuses a spec that omits them
    requires_probes: ClassVar[tuple[str, ...]] = ()
    #: claims located on the width axis near k* (a peak, a point near k*): the power estimate also tries extra
    #: widths around k* for them (docs/science.md, Statistics, "Power")
    located_claims: ClassVar[tuple[str, ...]] = ()
    reference: ClassVar[str] = ""

    def evidence(self, table: ResultTable, config: Any, analysis: Any) -> list[Evidence]:  # pragma: no cover
        raise NotImplementedError


def verdict_of(statistic: float | None, ci: tuple[float, float] | None, threshold: float, side: str) -> str:
    if statistic is None or ci is None or not all(math.isfinite(v) for v in ci):
        return "inconclusive"
    lo, hi = ci
    above, below = lo > threshold, hi < threshold
    if side == "less":
        above, below = below, above
    return "holds" if above else "fails" if below else "inconclusive"


def decide(plugins: Iterable[tuple[Any, list[Evidence]]], alpha: float) -> tuple[list[Verdict], dict[str, Any]]:
    """Verdicts for all evidence: Holm within each hypothesis, studentized intervals at Holm's levels.

    A hypothesis' family is its applicable evidence with replicates (claims x strata,
    pooled strata included). Each test's two-sided p-value and interval come from
    :mod:`ddbench.stats.inference`; a test with more than 5% non-finite replicates
    stays in the family (it counts in m) but cannot be rejected: inconclusive, with
    the share as its reason.
    """
    verdicts: list[Verdict] = []
    families: dict[str, int] = {}
    for plugin, evs in plugins:
        family = plugin.plugin_name
        tested = [i for i, e in enumerate(evs) if e.applicable and e.samples is not None and e.statistic is not None
                  and math.isfinite(float(e.statistic))]
        tests = {i: make_test(float(evs[i].statistic), float(evs[i].threshold), evs[i].samples, evs[i].n_units,
                              evs[i].side, evs[i].null_samples, evs[i].null_weights, evs[i].null_observed,
                              evs[i].null_test) for i in tested}
        levels, adjusted = holm([tests[i].p_value for i in tested], alpha)
        level_of = dict(zip(tested, levels))
        adjusted_of = dict(zip(tested, adjusted))
        families[family] = len(tested)
        by_claim: dict[str, list[StratumVerdict]] = {}
        for i, e in enumerate(evs):
            ci, record = None, {}
            reason = e.reason
            if i in tests:
                t = tests[i]
                ci = t.interval(level_of[i])
                if ci is not None and e.bounds is not None:
                    ci = (max(ci[0], e.bounds[0]), min(ci[1], e.bounds[1]))
                record = {"family": family, "correction": "holm", "family_size": len(tested), "ci_level": level_of[i],
                          "unit": e.unit or "unspecified", "replicates": t.replicates,
                          "nonfinite_share": t.nonfinite_share, "p_value": t.p_value, "p_adjusted": adjusted_of[i],
                          "p_null": t.p_null}
                if t.reason:
                    reason = f"{reason}; {t.reason}" if reason else t.reason
            if not e.applicable:
                v = "not_applicable"
            elif i in tests and tests[i].by_null:  # degenerate replicates: the null test alone decides
                v, note = _decided_by_null(e, tests[i], level_of[i])
                reason = f"{reason}; {note}" if reason else note
            else:
                v = verdict_of(e.statistic, ci, e.threshold, e.side)
                note = ""
                if v in ("holds", "fails") and i in tests and tests[i].p_null is not None:
                    p2 = min(1.0, 2 * tests[i].p_null)
                    if not p_below(2 * tests[i].p_null, 1 - level_of[i]):
                        v = "inconclusive"
                        note = (f"the interval excludes the threshold but the {e.null_test or 'null test'} does not "
                                f"(p_null = {tests[i].p_null:.3g}, one-sided)")
                    elif e.null_test:
                        note = f"the {e.null_test} agrees (p = {p2:.3g})"
                if note:
                    reason = f"{reason}; {note}" if reason else note
            by_claim.setdefault(e.claim, []).append(
                StratumVerdict(stratum=e.stratum, verdict=v, statistic=finite_or_none(e.statistic), ci=ci,
                               threshold=e.threshold, side=e.side, reason=reason, detail=e.detail, **record)
            )
        for claim, strata in by_claim.items():
            headline = next((s for s in strata if s.stratum.get("pooled")), strata[0] if len(strata) == 1 else None)
            if headline is None:
                verdict, stat, ci, thr, reason = _combine(strata)
                record = {"family": family, "correction": "holm", "family_size": len(tested)} \
                    if any(s.p_value is not None for s in strata) else {}
            else:
                verdict, stat, ci, thr, reason = headline.verdict, headline.statistic, headline.ci, headline.threshold, headline.reason
                record = {k: getattr(headline, k) for k in ("family", "correction", "family_size", "ci_level", "unit",
                                                            "replicates", "nonfinite_share", "p_value", "p_adjusted", "p_null")}
            verdicts.append(
                Verdict(
                    hypothesis=plugin.plugin_name, hypothesis_version=plugin.plugin_version, claim=claim,
                    description=plugin.claims.get(claim.split(".", 1)[-1], plugin.claims.get(claim, "")),
                    verdict=verdict, statistic=stat, ci=ci, threshold=thr, side=strata[0].side,
                    reason=reason, strata=strata, **record,
                )
            )
    return verdicts, {"alpha": alpha, "correction": "holm", "family": "each hypothesis: its claims x strata",
                      "families": families, "interval": INTERVAL, "nonfinite_limit": NONFINITE_LIMIT}


def _decided_by_null(e: Evidence, test: Any, level: float) -> tuple[str, str]:
    """The verdict of a test with degenerate replicates, from its own test's p-value at its Holm step:
    rejected on the claimed side of the threshold, holds; on the other side, fails; not rejected,
    inconclusive (saying when the test cannot go below the level at all: more widths or seeds are needed)."""
    p, cut = test.p_value, 1.0 - level
    if p is None or not p_below(p, cut):
        floor = test.p_floor
        limit = (f"; with these widths and units this test cannot give p below {floor:.3g}"
                 if floor is not None and not p_below(floor, cut) else "")
        return "inconclusive", f"p = {p:.3g}, not below {cut:.3g} (Holm){limit}"
    on_side = e.statistic > e.threshold if e.side == "greater" else e.statistic < e.threshold
    return ("holds" if on_side else "fails"), f"p = {p:.3g} < {cut:.3g} (Holm)"


def _combine(strata: list[StratumVerdict]) -> tuple[str, float | None, Any, float | None, str]:
    """A claim-level verdict when there is no pooled stratum: unanimous or mixed."""
    applicable = [s for s in strata if s.verdict != "not_applicable"]
    if not applicable:
        return "not_applicable", None, None, None, "; ".join(sorted({s.reason for s in strata if s.reason}))
    if len(applicable) == 1:
        (s,) = applicable
        return s.verdict, s.statistic, s.ci, s.threshold, f"the only tested stratum: {_stratum_label(s.stratum)}"
    kinds = {s.verdict for s in applicable}
    if len(kinds) == 1:
        return kinds.pop(), None, None, applicable[0].threshold, "same verdict in every stratum"
    return "inconclusive", None, None, applicable[0].threshold, "strata disagree: " + ", ".join(
        f"{_stratum_label(s.stratum)}={s.verdict}" for s in applicable
    )


def _stratum_label(stratum: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in stratum.items() if k != "family")
