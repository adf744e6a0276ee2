"""Reading values out of cells, and the point correlations hypotheses report beside their claims.

Every k*, replicate and interval comes from the statistical core
(:mod:`ddbench.hypotheses.core`, :mod:`ddbench.stats`); this module only reads
values and computes point statistics for details.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..stats.rowstats import row_pearson, row_spearman
from .cells import CellView


def grid_matrix(cells: Sequence[CellView], value: Callable[[CellView], Any], axis: str = "width") -> tuple[np.ndarray, np.ndarray]:
    """``(x, Y)``: sorted values of ``axis`` (width, or a grid key such as depth) and
    a (len(x), n_seeds) matrix of ``value(cell)`` (NaN where missing or None); columns are
    the sorted (seed, noise seed) pairs."""
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


def _point(fn: Callable, x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return float("nan")
    return float(fn(x[ok][None, :], y[ok][None, :])[0])


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return _point(row_spearman, x, y)


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    return _point(row_pearson, x, y)
