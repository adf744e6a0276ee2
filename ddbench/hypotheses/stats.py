"""Statistics shared by hypotheses whose claims are about probe values over a grid.

Resampling: with >= 3 seeds, bootstrap over seeds (the same seeds at every width:
paired); with fewer, bootstrap over grid points (width, value) pairs, the usual
bootstrap of a rank correlation. Probe scalars have no per-test-point values, so
the test-point bootstrap of the error curves does not apply to them; the scheme
used is recorded in every Evidence's detail.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from scipy import stats

from .base import CellView, Evidence, finite_list


def grid_matrix(cells: Sequence[CellView], value: Callable[[CellView], Any], axis: str = "width") -> tuple[np.ndarray, np.ndarray]:
    """``(x, Y)``: sorted values of ``axis`` (width, or a grid key such as depth) and
    a (len(x), n_seeds) matrix of ``value(cell)`` (NaN where missing or None)."""
    def ax(c: CellView) -> Any:
        return c.width if axis == "width" else c.grid.get(axis, c.config.get(axis))

    xs = sorted({ax(c) for c in cells})
    seeds = sorted({(c.seed, c.noise_seed) for c in cells})
    Y = np.full((len(xs), len(seeds)), np.nan)
    for c in cells:
        v = value(c)
        if v is not None and np.isfinite(v):
            Y[xs.index(ax(c)), seeds.index((c.seed, c.noise_seed))] = float(v)
    return np.asarray(xs, dtype=float), Y


def probe_value(name: str) -> Callable[[CellView], Any]:
    """``"probe.key"`` -> a function reading that value from a cell (None if absent)."""
    probe, _, key = name.partition(".")
    return lambda c: c.probes.get(probe, {}).get(key)


def metric_value(name: str) -> Callable[[CellView], Any]:
    return lambda c: c.metrics.get(name)


def k_star(cells: Sequence[CellView], threshold: float) -> float | None:
    """Smallest width whose mean (over seeds) final training error is <= threshold."""
    x, Y = grid_matrix(cells, metric_value("train_error"))
    with np.errstate(all="ignore"):
        mean = np.nanmean(Y, axis=1)
    hits = np.flatnonzero(mean <= threshold + 1e-12)
    return float(x[hits[0]]) if len(hits) else None


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan")
    return float(stats.spearmanr(x[ok], y[ok]).statistic)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return float("nan")
    return float(stats.pearsonr(x[ok], y[ok]).statistic)


def replicate(fn: Callable[[np.ndarray, np.ndarray], float], x: np.ndarray, Y: np.ndarray,
              n_boot: int, seed: int) -> tuple[float, np.ndarray, str]:
    """Point value of ``fn(x, mean_over_seeds(Y))`` and its bootstrap replicates."""
    with np.errstate(all="ignore"):
        point = fn(x, np.nanmean(Y, axis=1))
    rng = np.random.default_rng(seed)
    S = Y.shape[1]
    reps = np.empty(n_boot)
    if S >= 3:
        scheme = "seeds"
        for b in range(n_boot):
            cols = rng.integers(0, S, S)
            with np.errstate(all="ignore"):
                reps[b] = fn(x, np.nanmean(Y[:, cols], axis=1))
    else:
        scheme = "grid_points"
        with np.errstate(all="ignore"):
            y = np.nanmean(Y, axis=1)
        for b in range(n_boot):
            rows = rng.integers(0, len(x), len(x))
            reps[b] = fn(x[rows], y[rows])
    return point, reps, scheme


def correlation_evidence(claim: str, stratum: dict[str, Any], x: np.ndarray, Y: np.ndarray, *, threshold: float,
                         side: str, analysis: Any, method: str = "spearman", min_points: int = 3,
                         detail: dict[str, Any] | None = None) -> Evidence:
    """Evidence that corr(x, y) lies on ``side`` of ``threshold`` (Spearman or Pearson)."""
    fn = spearman if method == "spearman" else pearson
    ok = np.isfinite(np.nanmean(Y, axis=1)) if Y.size else np.zeros(0, bool)
    detail = dict(detail or {})
    detail.update(x=x.tolist(), y=finite_list(np.nanmean(Y, axis=1) if Y.size else []))
    if ok.sum() < min_points:
        return Evidence(claim, stratum, None, threshold=threshold, side=side, applicable=False, detail=detail,
                        reason=f"{int(ok.sum())} grid points with values; {method} needs at least {min_points}")
    point, reps, scheme = replicate(fn, x[ok], Y[ok], analysis.bootstrap, analysis.seed)
    detail.update(method=method, bootstrap=scheme, n=int(ok.sum()))
    if not np.isfinite(point):
        return Evidence(claim, stratum, None, threshold=threshold, side=side, applicable=False, detail=detail,
                        reason=f"{method} is undefined (constant values)")
    return Evidence(claim, stratum, point, reps, threshold, side, detail=detail)
