"""One stratum as every hypothesis sees it: its grid, k*, resampling unit and paired curves.

:meth:`~ddbench.hypotheses.table.ResultTable.cores` builds one :class:`StratumCore` per stratum (cached on the
table), so every claim of every hypothesis reads the same k*, the same peak window
and the same replicate indices (docs/science.md, "Statistics").

- Grid: the widths with at least one finished cell. The paired design keeps the
  seeds finished at every one of them ("complete" seeds); when no seed is complete,
  the widths of the seed with most finished cells and the seeds complete over those.
- k*: :func:`ddbench.stats.threshold.interpolation_index` over the mean (over the
  finished seeds of each width) final training error: one value per stratum.
- Unit: ``seeds`` when the paired design has >= 3 seeds, else ``test_points`` (error
  curves); probe values, which have no per-point values, then fall back to
  ``grid_points`` (correlations) or ``probe_se`` (parametric, from the probe's standard
  errors), recorded as the verdict's unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..stats.permutation import NullTest, arrangement_test
from ..stats.plan import ResamplingPlan
from ..stats.rowstats import correlation
from ..stats.threshold import (
    GRID_POINTS,
    interpolation_index,
    peak_excess,
    peak_window,
    straddle_problem,
)
from .cells import CellView
from .evidence import Evidence, finite_list

MIN_SEEDS = 3
Seed = tuple[int, int]


def stratum_label(stratum: dict[str, Any]) -> str:
    return repr(sorted(stratum.items()))


def _row_mean(Y: np.ndarray) -> np.ndarray:
    ok = np.isfinite(Y)
    n = ok.sum(axis=1) if Y.ndim == 2 else np.zeros(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, Y, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan) if Y.ndim == 2 else Y


@dataclass
class StratumCore:
    stratum: dict[str, Any]
    cells: list[CellView]
    plan: ResamplingPlan
    threshold: float
    failed_widths: list[int] = field(default_factory=list)  # widths of the stratum with no finished cell
    _curves: dict[str, tuple[np.ndarray, np.ndarray] | None] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.label = stratum_label(self.stratum)
        self.by = {(c.width, (c.seed, c.noise_seed)): c for c in self.cells}
        self.all_widths = sorted({c.width for c in self.cells})
        self.all_seeds: list[Seed] = sorted({(c.seed, c.noise_seed) for c in self.cells})
        # k*: every finished width, mean over its finished seeds
        means = []
        for w in self.all_widths:
            vals = [float(c.metrics["train_error"]) for c in self.cells if c.width == w
                    and c.metrics.get("train_error") is not None and np.isfinite(c.metrics["train_error"])]
            means.append(float(np.mean(vals)) if vals else np.nan)
        self.all_train_error = np.asarray(means, dtype=float)
        k = interpolation_index(self.all_widths, self.all_train_error, self.threshold)
        self.k_star: int | None = self.all_widths[k] if k is not None else None
        # the paired design
        complete = [s for s in self.all_seeds if all((w, s) in self.by for w in self.all_widths)]
        widths = list(self.all_widths)
        if not complete and self.all_seeds:
            best = max(self.all_seeds, key=lambda s: (sum((w, s) in self.by for w in widths), [-x for x in s]))
            widths = [w for w in widths if (w, best) in self.by]
            complete = [s for s in self.all_seeds if all((w, s) in self.by for w in widths)]
        self.widths = np.asarray(widths)
        self.seeds: list[Seed] = complete
        self.missing_widths = sorted(set(self.failed_widths) | (set(self.all_widths) - set(widths)))
        self.train_error = np.asarray([self.all_train_error[self.all_widths.index(w)] for w in widths], dtype=float)
        self.k_index: int | None = widths.index(self.k_star) if self.k_star in widths else None
        self.unit = "seeds" if len(self.seeds) >= MIN_SEEDS else "test_points"
        self._test_points: int | None = None
        self._arrays: Callable[[str], dict[str, np.ndarray]] = lambda key: {}

    # ------------------------------------------------------------------ grid and threshold

    @property
    def n_units(self) -> int | None:
        return len(self.seeds) if self.unit == "seeds" else self._test_points

    def problem(self) -> str:
        """Why this grid cannot show a peak around k* ('' if it can)."""
        if self.k_star is not None and self.k_index is None:
            return (f"k* = {self.k_star} has no cell in the paired design (seeds finished at every width); "
                    f"missing widths {self.missing_widths}")
        return straddle_problem(self.widths, self.k_index, self.train_error)

    def window(self, grid_points: int = GRID_POINTS) -> np.ndarray:
        return peak_window(self.widths, self.k_index, grid_points)

    def above_k_star(self) -> np.ndarray:
        """Mask over :attr:`widths` of widths >= k* (all False without k*)."""
        return self.widths >= self.k_star if self.k_star is not None else np.zeros(len(self.widths), bool)

    # ------------------------------------------------------------------ error curves (per-point arrays)

    def attach_arrays(self, arrays: Callable[[str], dict[str, np.ndarray]]) -> None:
        self._arrays = arrays

    def curve(self, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
        """``test_error`` or ``test_loss``: (W,) point (mean over the paired seeds) and (B, W) replicates."""
        if metric not in self._curves:
            self._curves[metric] = self._make_curve(metric)
        return self._curves[metric]

    def _make_curve(self, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
        if not len(self.widths) or not self.seeds:
            return None
        if self.unit == "seeds":
            # resampled over seeds: each cell's own final metric (the mean over its test points), so a
            # leaderboard's rows carry all the curve needs (``leaderboard.rederive``)
            per_seed = self.matrix(lambda c: c.metrics.get(metric))
            if not np.isfinite(per_seed).all():
                return None
            return per_seed.mean(axis=1), self.plan.mean("seeds", per_seed)
        key = {"test_error": "test_correct", "test_loss": "test_loss"}[metric]
        try:
            rows = [np.stack([np.asarray(self._arrays(self.by[(w, s)].key)[key], dtype=np.float64) for s in self.seeds])
                    for w in self.widths]
        except KeyError:
            return None
        M = np.stack(rows)  # (W, S, n)
        if metric == "test_error":
            M = 1.0 - M
        self._test_points = M.shape[2]
        return M.mean(axis=(1, 2)), self.plan.mean("test_points", M.mean(axis=1))

    def peak(self, metric: str, grid_points: int = GRID_POINTS) -> tuple[int, float] | None:
        """The peak index of a curve's point estimate in the window around k* and its excess."""
        c = self.curve(metric)
        window = self.window(grid_points)
        if c is None or self.problem() or not len(window):
            return None
        j, exc = peak_excess(c[0][None, :], window)
        return int(j[0]), float(exc[0])

    # ------------------------------------------------------------------ probe values

    def matrix(self, value: Callable[[CellView], Any]) -> np.ndarray:
        """(W, S) values over the paired widths x paired seeds (NaN where missing, None or non-finite)."""
        Y = np.full((len(self.widths), len(self.seeds)), np.nan)
        for i, w in enumerate(self.widths):
            for j, s in enumerate(self.seeds):
                v = value(self.by[(int(w), s)])
                if v is not None and np.isfinite(v):
                    Y[i, j] = float(v)
        return Y

    def values(self, value: Callable[[CellView], Any]) -> np.ndarray:
        """(W,) mean over the paired seeds of ``value`` (NaN where no seed has one)."""
        return _row_mean(self.matrix(value))

    def probe_curve(self, value: Callable[[CellView], Any], se: Callable[[CellView], Any] | None,
                    name: str) -> tuple[np.ndarray, np.ndarray | None, str]:
        """(point (W,), replicates (B, W) or None, unit) of a probe value over width.

        Seeds unit: the stratum's seed indices. Otherwise the parametric fallback
        ``point + SE * N(0, 1)`` per width (the probe's standard errors, independent per
        width: conservative for differences), or None without standard errors.
        """
        Y = self.matrix(value)
        point = _row_mean(Y)
        if self.unit == "seeds":
            return point, self.plan.mean("seeds", Y), "seeds"
        if se is None:
            return point, None, "none"
        E = self.matrix(se)
        have = np.isfinite(Y)
        if np.any(have & ~np.isfinite(E)):
            return point, None, "none"
        se_point = np.sqrt((np.where(have, E, 0.0) ** 2).sum(axis=1)) / np.maximum(have.sum(axis=1), 1)
        z = self.plan.normal((len(point),), self.label, name)
        return point, point[None, :] + se_point[None, :] * z, "probe_se"

    def correlation(self, claim: str, rows: np.ndarray, Y: np.ndarray, *, threshold: float, side: str,
                    x: np.ndarray | None = None, method: str = "spearman", min_points: int = 3,
                    detail: dict[str, Any] | None = None) -> Evidence:
        """Evidence that corr(width, value) over ``rows`` of the grid lies on ``side`` of ``threshold``."""
        x = self.widths[rows].astype(float) if x is None else x
        unit = "seeds" if self.unit == "seeds" else "grid_points"
        return correlation_evidence(claim, self.stratum, x, Y[rows], threshold=threshold, side=side, plan=self.plan,
                                    unit=unit, method=method, min_points=min_points, detail=detail)

    def record(self) -> dict[str, Any]:
        """What the leaderboard keeps of this stratum (markdown and plots read k* and the peaks from it)."""
        out: dict[str, Any] = {
            "stratum": self.stratum, "widths": [int(w) for w in self.widths], "k_star": self.k_star,
            "train_error": finite_list(self.train_error), "seeds": len(self.seeds), "unit": self.unit,
            "replicates": self.plan.n_boot, "missing_widths": self.missing_widths,
            "peak_window": [int(self.widths[i]) for i in self.window()],
        }
        for metric in ("test_error", "test_loss"):
            try:
                pk = self.peak(metric)
            except (OSError, ValueError) as exc:  # unreadable per-point arrays must not cost the leaderboard
                pk, out[f"{metric}_peak_error"] = None, f"{type(exc).__name__}: {exc}"
            out[f"{metric}_peak"] = None if pk is None else {"width": int(self.widths[pk[0]]), "excess": pk[1]}
        return out


def correlation_evidence(claim: str, stratum: dict[str, Any], x: np.ndarray, Y: np.ndarray, *, threshold: float,
                         side: str, plan: ResamplingPlan, unit: str, method: str = "spearman", min_points: int = 3,
                         detail: dict[str, Any] | None = None) -> Evidence:
    """Evidence that corr(x, mean over columns of Y) lies on ``side`` of ``threshold`` (Spearman or Pearson).

    ``unit="seeds"`` (or another column unit, e.g. ``cells``) resamples Y's columns with the
    plan (paired across rows); ``grid_points`` resamples (x, y) pairs.
    """
    fn = correlation(method)
    x = np.asarray(x, dtype=float)
    y = _row_mean(Y) if Y.size else np.zeros(len(x))
    ok = np.isfinite(y)
    detail = dict(detail or {})
    detail.update(x=x.tolist(), y=finite_list(y))
    if ok.sum() < min_points:
        return Evidence(claim, stratum, None, threshold=threshold, side=side, applicable=False, detail=detail,
                        reason=f"{int(ok.sum())} grid points with values; {method} needs at least {min_points}")
    x, Y, y = x[ok], Y[ok], y[ok]
    point = float(fn(x[None, :], y[None, :])[0])
    detail.update(method=method, n=int(ok.sum()))
    if not np.isfinite(point):
        return Evidence(claim, stratum, None, threshold=threshold, side=side, applicable=False, detail=detail,
                        reason=f"{method} is undefined (constant values)")
    test: NullTest | None = None
    if unit != "grid_points" and Y.shape[1] >= MIN_SEEDS:
        reps = fn(x[None, :], plan.mean(unit, Y))
        n_units = Y.shape[1]
        if threshold == 0:  # values unrelated to x: each unit's values arranged over the grid
            test = null_test(x, Y, method, plan, unit)
    else:
        unit, n_units = "grid_points", len(x)
        idx = plan.indices("grid_points", len(x))
        reps = fn(x[idx], y[idx])
        if threshold == 0:  # values unrelated to x: the mean curve's values arranged over the grid
            test = null_test(x, y[:, None], method, plan, unit)
    return Evidence(claim, stratum, point, reps, threshold, side, detail=detail, unit=unit, n_units=n_units,
                    bounds=(-1.0, 1.0), **null_fields(test))


def null_test(x: np.ndarray, Y: np.ndarray, method: str, plan: ResamplingPlan, unit: str) -> NullTest | None:
    """The permutation test of "values unrelated to x" (:func:`ddbench.stats.permutation.arrangement_test`) with
    the plan's random arrangements where the exact distribution is too large. ``unit``: what Y's columns are
    (``seeds``, ``cells``; ``grid_points``: one column, the mean curve)."""
    word = {"seeds": "seed", "cells": "cell", "grid_points": "mean curve"}.get(unit, unit)
    return arrangement_test(x, Y, method, plan.unit_permutations, unit=word, points="grid points")


def null_fields(test: NullTest | None) -> dict[str, Any]:
    """The :class:`Evidence` fields of a permutation test (none without one)."""
    if test is None:
        return {}
    return {"null_samples": test.values, "null_weights": test.weights, "null_observed": test.observed,
            "null_test": test.name, "null_key": test.key}


def paired_correlation(A: np.ndarray, B: np.ndarray, plan: ResamplingPlan, unit: str, method: str = "spearman",
                       test: bool = False) -> tuple[float, np.ndarray, str, int, NullTest | None]:
    """corr of two per-width quantities given as (W, S) matrices, with the same replicate indices for both;
    ``test``: also the permutation test of "A and B unrelated" (B's values arranged against A's, per unit)."""
    fn = correlation(method)
    a, b = _row_mean(A), _row_mean(B)
    point = float(fn(a[None, :], b[None, :])[0])
    if unit != "grid_points" and A.shape[1] >= MIN_SEEDS:
        return (point, fn(plan.mean(unit, A), plan.mean(unit, B)), unit, A.shape[1],
                null_test(A, B, method, plan, unit) if test else None)
    idx = plan.indices("grid_points", len(a))
    return (point, fn(a[idx], b[idx]), "grid_points", len(a),
            null_test(a[:, None], b[:, None], method, plan, "grid_points") if test else None)
