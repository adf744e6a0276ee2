"""Every hypothesis of a spec on a table of finished cells, then the one decision (``base.decide``).

The runner calls it on a run's store; ``leaderboard.rederive`` calls it on a published
leaderboard's rows, so a leaderboard's verdicts can be checked from what it carries.

A hypothesis is a plugin, possibly a third party's: what it returns is checked here, at the
boundary (:func:`checked_evidence`). A hypothesis that raises, or returns anything but a list of
well-formed :class:`~.base.Evidence`, makes its claims ``inconclusive`` with the reason; the other
hypotheses' verdicts are unchanged (each is its own family in ``decide``).
"""

from __future__ import annotations

import json
import math
import numbers
import traceback
from typing import Any, Callable

import numpy as np

from .. import registry
from .base import decide
from .evidence import Evidence
from .table import ResultTable


def evaluate(spec: Any, table: ResultTable,
             on_phase: Callable[[str], None] | None = None) -> tuple[list[Any], dict[str, Any], list[str]]:
    """``(verdicts, analysis summary, notes)``: a hypothesis that raises or returns garbage is recorded as
    inconclusive with the reason (and a note, with the traceback); the others are unaffected."""
    results = []
    notes: list[str] = []
    for i, h in enumerate(spec.hypotheses):
        if on_phase is not None:
            on_phase(f"{h.name} ({i + 1}/{len(spec.hypotheses)})")
        plugin = registry.hypotheses.get(h.name)
        try:
            evs = checked_evidence(plugin, plugin().evidence(table, plugin.Config.model_validate(h.params), spec.analysis))
        except Exception as exc:  # noqa: BLE001 - a plugin's failure is its claims' verdict, never the analysis'
            reason = traceback.format_exc().strip().splitlines()[-1] if not isinstance(exc, EvidenceError) else str(exc)
            notes.append(f"hypothesis {h.name} failed; its claims are recorded as inconclusive:\n"
                         + (traceback.format_exc() if not isinstance(exc, EvidenceError) else reason))
            evs = failed_evidence(plugin, reason)
        results.append((plugin, evs))
        # a missing precondition (grid does not straddle k*, ...) is something the user should act on
        notes += [f"{h.name} {_label(e.stratum)}: {e.reason}" for e in evs if not e.applicable and e.statistic is None]
    verdicts, analysis = decide_each(results, spec.analysis.alpha, notes)
    analysis.update(bootstrap=spec.analysis.bootstrap, interpolation_threshold=spec.analysis.interpolation_threshold)
    return verdicts, analysis, sorted(set(notes))


def decide_each(results: list[tuple[Any, list[Evidence]]], alpha: float,
                notes: list[str]) -> tuple[list[Any], dict[str, Any]]:
    """``decide`` one hypothesis at a time (each is its own family, so the verdicts are the same as deciding
    them together): evidence that ``decide`` cannot use makes only that hypothesis' claims inconclusive."""
    verdicts: list[Any] = []
    families: dict[str, int] = {}
    for plugin, evs in results:
        try:
            decided, analysis = decide([(plugin, evs)], alpha)
        except Exception:  # noqa: BLE001
            reason = traceback.format_exc().strip().splitlines()[-1]
            notes.append(f"hypothesis {plugin.plugin_name}: its evidence cannot be decided; its claims are recorded "
                         f"as inconclusive:\n{traceback.format_exc()}")
            decided, analysis = decide([(plugin, failed_evidence(plugin, f"its evidence cannot be decided ({reason})"))],
                                       alpha)
        verdicts += decided
        families.update(analysis["families"])
    analysis = decide([], alpha)[1]
    analysis["families"] = families
    return verdicts, analysis


def _label(stratum: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in stratum.items())


# ---------------------------------------------------------------- the boundary


class EvidenceError(ValueError):
    """What a hypothesis returned is not a list of well-formed Evidence."""


def failed_evidence(plugin: Any, reason: str) -> list[Evidence]:
    """One inconclusive entry per declared claim (``<name>.error`` if it declares none), with ``reason``."""
    claims = getattr(plugin, "claims", None)
    names = [k for k in claims if isinstance(k, str)] if isinstance(claims, dict) else []
    return [Evidence(f"{plugin.plugin_name}.{c}", {"pooled": True}, None, reason=reason)
            for c in names or ["error"]]


def checked_evidence(plugin: Any, evs: Any) -> list[Evidence]:
    """``evs`` if it is a list of well-formed Evidence, else :class:`EvidenceError`; a non-finite statistic
    keeps its entry (inconclusive) and gets the reason."""
    if not isinstance(evs, (list, tuple)):
        raise EvidenceError(f"evidence() returned {_kind(evs)}, not a list of Evidence")
    out = []
    for i, e in enumerate(evs):
        if not isinstance(e, Evidence):
            raise EvidenceError(f"evidence() returned {_kind(e)} at position {i}, not an Evidence")
        problem = _problem(e)
        if problem:
            raise EvidenceError(f"evidence() returned a malformed Evidence at position {i}: {problem}")
        if e.applicable and e.statistic is not None and not math.isfinite(float(e.statistic)):
            note = f"the statistic is {float(e.statistic)} (not a finite number), so it cannot be tested"
            e.reason = f"{e.reason}; {note}" if e.reason else note
        out.append(e)
    return out


def _problem(e: Evidence) -> str:
    """What is wrong with one Evidence ('' when nothing is)."""
    if not isinstance(e.claim, str) or not e.claim:
        return f"claim is {_kind(e.claim)}, not a non-empty string"
    if not isinstance(e.stratum, dict) or not all(isinstance(k, str) for k in e.stratum):
        return f"stratum is {_kind(e.stratum)}, not a mapping of names to values"
    for field in ("statistic", "threshold"):
        v = getattr(e, field)
        if not (v is None and field == "statistic") and not _real(v):
            return f"{field} is {_kind(v)}, not a number"
    if not math.isfinite(float(e.threshold)):
        return f"threshold is {e.threshold}"
    if e.side not in ("greater", "less"):
        return f"side is {e.side!r}; allowed: greater, less"
    if not isinstance(e.reason, str) or not isinstance(e.unit, str) or not isinstance(e.applicable, (bool, np.bool_)):
        return "reason and unit must be strings, applicable true or false"
    for field in ("samples", "null_samples", "null_weights"):
        v = getattr(e, field)
        if v is not None and not _replicates(v):
            return f"{field} is {_kind(v)}, not a non-empty one-dimensional array of numbers"
    if e.null_weights is not None:
        w = np.asarray(e.null_weights, dtype=float)
        if e.null_samples is None or len(w) != len(np.asarray(e.null_samples)):
            return "null_weights needs null_samples of the same length (the probability of each null value)"
        if not (np.isfinite(w).all() and (w >= 0).all() and abs(w.sum() - 1.0) < 1e-6):
            return "null_weights are not probabilities (non-negative, summing to 1)"
    if e.null_observed is not None and not _real(e.null_observed):
        return f"null_observed is {_kind(e.null_observed)}, not a number"
    for field in ("null_test", "null_key"):
        if not isinstance(getattr(e, field), str):
            return f"{field} is {_kind(getattr(e, field))}, not a string"
    if e.n_units is not None and (not isinstance(e.n_units, numbers.Integral) or isinstance(e.n_units, bool)):
        return f"n_units is {_kind(e.n_units)}, not an integer"
    if e.bounds is not None and not (isinstance(e.bounds, (list, tuple, np.ndarray)) and len(e.bounds) == 2
                                     and all(_real(b) for b in e.bounds)):
        return "bounds is not a pair of numbers"
    try:
        json.dumps({"stratum": e.stratum, "detail": e.detail}, default=_json_number)
    except (TypeError, ValueError) as exc:
        return f"stratum or detail is not JSON data ({exc})"
    if not isinstance(e.detail, dict):
        return f"detail is {_kind(e.detail)}, not a mapping"
    return ""


def _replicates(v: Any) -> bool:
    """Whether ``v`` reads as a non-empty one-dimensional array of real numbers."""
    if isinstance(v, (str, bytes, dict)):
        return False
    try:
        a = np.asarray(v)
    except (TypeError, ValueError):
        return False
    return a.dtype.kind in "biuf" and a.ndim == 1 and a.size > 0


def _real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))


def _json_number(o: Any) -> Any:
    if isinstance(o, (np.generic, np.ndarray)):
        return o.tolist()
    raise TypeError(f"{_kind(o)} is not JSON data")


def _kind(v: Any) -> str:
    return "None" if v is None else f"a {type(v).__qualname__}"
