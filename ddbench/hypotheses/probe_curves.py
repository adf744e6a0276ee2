"""Probe-value curves over width with bootstrap replicates, for claims about peaks and ratios.

Correlation claims use :mod:`stats` (seed or grid-point bootstrap). Claims about
*where* a probe peaks or *how much* it differs between two widths need replicates
of the whole curve:

- with >= 3 seeds that have a value at every width: bootstrap over seeds with the
  multinomial plan of :class:`curves.Bootstrapper`, the same plan the error curves
  use, so probe and error replicates stay paired;
- otherwise a parametric bootstrap over training/test points: each cell's value is
  a mean over points, the probe reports its standard error (``<key>_se``), and the
  replicate is ``mean + se * N(0, 1)``, independently per width (conservative for
  differences between widths, which are positively correlated in a paired design).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .base import CellView, Evidence
from .curves import Bootstrapper
from .stats import grid_matrix, spearman


def row_mean(Y: np.ndarray) -> np.ndarray:
    """Mean over seeds (axis 1) ignoring NaN; NaN (no warning) for rows without values."""
    if Y.ndim != 2 or Y.shape[1] == 0:
        return np.full(len(Y), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(Y, axis=1)


@dataclass
class ProbeCurve:
    widths: np.ndarray  # (W,)
    point: np.ndarray  # (W,) mean over seeds (NaN where missing)
    reps: np.ndarray | None  # (B, W), None when no standard error is available with < 3 seeds
    scheme: str  # "seeds" | "parametric" | "none"
    Y: np.ndarray  # (W, S) per-seed values


def probe_curve(cells: Sequence[CellView], value: Callable[[CellView], Any], se: Callable[[CellView], Any] | None,
                boot: Bootstrapper, stream: int = 0, widths: np.ndarray | None = None,
                min_seeds: int = 3) -> ProbeCurve:
    """Mean probe value per width and its replicates; restricted to ``widths`` when given."""
    x, Y = grid_matrix(cells, value)
    _, E = grid_matrix(cells, se) if se is not None else (x, np.full_like(Y, np.nan))
    if widths is not None:
        rows = [int(np.flatnonzero(x == w)[0]) if np.any(x == w) else -1 for w in widths]
        pad = lambda M: np.vstack([M, np.full((1, M.shape[1]), np.nan)])[rows]  # noqa: E731
        x, Y, E = np.asarray(widths, float), pad(Y), pad(E)
    point = row_mean(Y)
    cols = np.flatnonzero(np.all(np.isfinite(Y), axis=0)) if Y.size else np.zeros(0, int)
    if len(cols) >= min_seeds:
        w = boot.weights("seeds", len(cols))  # (B, S)
        return ProbeCurve(x, Y[:, cols].mean(axis=1), (w @ Y[:, cols].T) / len(cols), "seeds", Y)
    have = np.isfinite(Y)
    se_point = np.sqrt(np.nansum(np.where(have, E, 0.0) ** 2, axis=1)) / np.maximum(have.sum(axis=1), 1)
    if np.any(np.isfinite(point) & ~np.all(np.isfinite(E) | ~have, axis=1)):
        return ProbeCurve(x, point, None, "none", Y)
    rng = np.random.default_rng([boot.seed, 17, stream])
    reps = point[None, :] + se_point[None, :] * rng.standard_normal((boot.n_boot, len(x)))
    return ProbeCurve(x, point, reps, "parametric", Y)


def nan_argmax(R: np.ndarray) -> np.ndarray:
    """Row-wise argmax ignoring NaN (-1 for all-NaN rows)."""
    R = np.atleast_2d(R)
    filled = np.where(np.isfinite(R), R, -np.inf)
    out = filled.argmax(axis=1)
    return np.where(np.isfinite(filled).any(axis=1), out, -1)


def paired_spearman(A: np.ndarray, B: np.ndarray, n_boot: int, seed: int, min_seeds: int = 3) -> tuple[float, np.ndarray, str]:
    """Spearman between two per-width quantities given as (W, S) matrices, with paired replicates:
    seed columns resampled jointly (>= 3 complete seeds) or grid points resampled."""
    a, b = row_mean(A), row_mean(B)
    point = spearman(a, b)
    rng = np.random.default_rng([seed, 19])
    cols = np.flatnonzero(np.all(np.isfinite(A), axis=0) & np.all(np.isfinite(B), axis=0))
    reps = np.empty(n_boot)
    if len(cols) >= min_seeds:
        for i in range(n_boot):
            c = rng.choice(cols, len(cols))
            reps[i] = spearman(A[:, c].mean(axis=1), B[:, c].mean(axis=1))
        return point, reps, "seeds"
    for i in range(n_boot):
        r = rng.integers(0, len(a), len(a))
        reps[i] = spearman(a[r], b[r])
    return point, reps, "grid_points"


def pooled(evs: list[Evidence], claim: str) -> Evidence | None:
    """Mean statistic and mean replicates over the applicable strata of one claim (None if < 2)."""
    items = [e for e in evs if e.claim == claim and e.applicable and e.samples is not None and e.statistic is not None]
    if len(items) < 2 or len({len(e.samples) for e in items}) != 1:
        return None
    first = items[0]
    return Evidence(claim, {"pooled": True, "strata": len(items)}, float(np.mean([e.statistic for e in items])),
                    np.mean(np.stack([e.samples for e in items]), axis=0), first.threshold, first.side,
                    reason=f"mean over {len(items)} strata")


def not_applicable(claim: str, stratum: dict[str, Any], reason: str, threshold: float, side: str,
                   detail: dict[str, Any] | None = None) -> Evidence:
    return Evidence(claim, stratum, None, threshold=threshold, side=side, reason=reason, applicable=False,
                    detail=dict(detail or {}))
