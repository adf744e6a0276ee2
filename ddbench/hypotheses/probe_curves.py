"""Small helpers shared by the probe hypotheses: NaN-aware means and argmax, pooling, not-applicable.

Probe curves and their replicates come from :meth:`StratumCore.probe_curve`
(the stratum's seed indices, or the parametric ``probe_se`` fallback with fewer
than 3 seeds); correlations from :meth:`StratumCore.correlation`.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

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
    nulls = [e.null_samples for e in items]
    null = np.mean(np.stack(nulls), axis=0) if all(v is not None and len(v) == len(first.samples) for v in nulls) else None
    return Evidence(claim, {"pooled": True, "strata": len(items)}, float(np.mean([e.statistic for e in items])),
                    np.mean(np.stack([e.samples for e in items]), axis=0), first.threshold, first.side,
                    reason=f"mean over {len(items)} strata", unit=units.pop() if len(units) == 1 else "mixed",
                    n_units=None if any(v is None for v in n) else min(n), null_samples=null, bounds=first.bounds)


def not_applicable(claim: str, stratum: dict[str, Any], reason: str, threshold: float, side: str,
                   detail: dict[str, Any] | None = None) -> Evidence:
    return Evidence(claim, stratum, None, threshold=threshold, side=side, reason=reason, applicable=False,
                    detail=dict(detail or {}))
