"""Small helpers shared by the probe hypotheses: NaN-aware means and argmax, pooling, not-applicable.

Probe curves and their replicates come from :meth:`StratumCore.probe_curve`
(the stratum's seed indices, or the parametric ``probe_se`` fallback with fewer
than 3 seeds); correlations from :meth:`StratumCore.correlation`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..stats.inference import is_degenerate
from ..stats.permutation import NullTest, pooled_test
from .core import null_fields
from .evidence import Evidence


def row_mean(Y: np.ndarray) -> np.ndarray:
    """Mean over seeds (axis 1) ignoring NaN; NaN (no warning) for rows without values."""
    if Y.ndim != 2 or Y.shape[1] == 0:
        return np.full(len(Y), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(Y, axis=1)


def nan_argmax(R: np.ndarray) -> np.ndarray:
    """Row-wise argmax ignoring NaN (-1 for all-NaN rows)."""
    R = np.atleast_2d(R)
    filled = np.where(np.isfinite(R), R, -np.inf)
    out = filled.argmax(axis=1)
    return np.where(np.isfinite(filled).any(axis=1), out, -1)


def pooled(evs: list[Evidence], claim: str) -> Evidence | None:
    """Mean statistic and mean replicates over the applicable strata of one claim (None if < 2).

    Strata with the same resampling design share replicate indices (the plan is keyed by
    the design), so the mean of their replicate rows bootstraps the pooled mean jointly.
    """
    items = [e for e in evs if e.claim == claim and e.applicable and e.samples is not None and e.statistic is not None]
    if len(items) < 2 or len({len(e.samples) for e in items}) != 1:
        return None
    first = items[0]
    units = {e.unit for e in items}
    n = [e.n_units for e in items]
    flat = [e for e in items if is_degenerate(e.samples, e.statistic)]
    if flat and not all(e.null_test for e in items):  # their zero spread would make the mean's interval too short
        return Evidence(claim, {"pooled": True, "strata": len(items)}, float(np.mean([e.statistic for e in items])),
                        None, first.threshold, first.side, unit=units.pop() if len(units) == 1 else "mixed",
                        reason=f"mean over {len(items)} strata; not tested: {len(flat)} of them have a degenerate "
                               "resampling distribution (every replicate equal), so the mean's replicates would "
                               "understate its spread")
    return Evidence(claim, {"pooled": True, "strata": len(items)}, float(np.mean([e.statistic for e in items])),
                    np.mean(np.stack([e.samples for e in items]), axis=0), first.threshold, first.side,
                    reason=f"mean over {len(items)} strata", unit=units.pop() if len(units) == 1 else "mixed",
                    n_units=None if any(v is None for v in n) else min(n), bounds=first.bounds,
                    **_pooled_null(items, claim))


def _pooled_null(items: list[Evidence], claim: str) -> dict[str, Any]:
    """The null of the mean over strata: where every stratum carries a test of its own (a permutation test),
    their combination (strata independent); where every stratum carries bootstrap-derived null draws of the
    same length, their row-wise mean; otherwise none."""
    B = len(items[0].samples)
    if any(e.null_samples is None for e in items):
        return {}
    if all(e.null_test for e in items):
        tests = [NullTest(np.asarray(e.null_samples, float), None if e.null_weights is None else np.asarray(e.null_weights, float),
                          float(e.statistic if e.null_observed is None else e.null_observed), e.null_test, e.null_key)
                 for e in items]
        return null_fields(pooled_test(tests, claim))
    if not any(e.null_test or e.null_weights is not None for e in items) and all(len(e.null_samples) == B for e in items):
        return {"null_samples": np.mean(np.stack([e.null_samples for e in items]), axis=0)}
    return {}


def not_applicable(claim: str, stratum: dict[str, Any], reason: str, threshold: float, side: str,
                   detail: dict[str, Any] | None = None) -> Evidence:
    return Evidence(claim, stratum, None, threshold=threshold, side=side, reason=reason, applicable=False,
                    detail=dict(detail or {}))
