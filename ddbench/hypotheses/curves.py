"""Error-vs-width curves with paired bootstrap replicates.

With 3 or more seeds the bootstrap resamples seeds (the same seeds for every
width: a paired design); with fewer it resamples test points (the same indices for
every width and every stratum). Replicates are shared across strata so pooled
statistics can be bootstrapped jointly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import CellView, ResultTable


@dataclass
class WidthCurve:
    widths: np.ndarray  # (W,)
    params: list[int | None]
    seeds: list[int]
    train_error: np.ndarray  # (W,) mean over seeds of the final training error
    point: dict[str, np.ndarray]  # metric -> (W,) point estimate
    replicates: dict[str, np.ndarray]  # metric -> (B, W)
    scheme: str  # "seeds" or "test_points"
    missing_widths: list[int]


def interpolation_threshold(widths: np.ndarray, train_error: np.ndarray, threshold: float) -> int | None:
    """Index of the smallest width whose mean training error is <= threshold (k*)."""
    hits = np.flatnonzero(train_error <= threshold + 1e-12)
    return int(hits[0]) if len(hits) else None


class Bootstrapper:
    """Shared resampling plans, so every stratum uses the same replicates."""

    def __init__(self, n_boot: int, seed: int):
        self.n_boot, self.seed = n_boot, seed
        self._weights: dict[tuple[str, int], np.ndarray] = {}

    def weights(self, kind: str, n: int) -> np.ndarray:
        """(B, n) multinomial resampling weights, normalised to mean 1."""
        if (kind, n) not in self._weights:
            rng = np.random.default_rng([self.seed, n, 0 if kind == "points" else 1])
            counts = rng.multinomial(n, np.full(n, 1.0 / n), size=self.n_boot).astype(np.float32)
            self._weights[(kind, n)] = counts
        return self._weights[(kind, n)]


def width_curve(table: ResultTable, cells: list[CellView], boot: Bootstrapper, min_seeds_for_seed_bootstrap: int = 3) -> WidthCurve:
    """Mean test error/loss per width over seeds, with paired replicates."""
    widths_all = sorted({c.width for c in cells})
    seeds = sorted({(c.seed, c.noise_seed) for c in cells})
    by = {(c.width, (c.seed, c.noise_seed)): c for c in cells}
    # only seeds present at every width keep the design paired
    complete = [s for s in seeds if all((w, s) in by for w in widths_all)]
    widths = [w for w in widths_all if any((w, s) in by for s in complete)] if complete else []
    missing = [w for w in widths_all if w not in widths]
    W, S = len(widths), len(complete)
    per_point = {"test_error": None, "test_loss": None}
    train_err = np.array([np.mean([by[(w, s)].metrics["train_error"] for s in complete]) for w in widths]) if W else np.zeros(0)
    for metric, array_key in (("test_error", "test_correct"), ("test_loss", "test_loss")):
        rows = []
        for w in widths:
            rows.append(np.stack([np.asarray(table.arrays(by[(w, s)].key)[array_key], dtype=np.float32) for s in complete]))
        if rows:
            m = np.stack(rows)  # (W, S, n_test)
            per_point[metric] = 1.0 - m if metric == "test_error" else m
    point, reps = {}, {}
    scheme = "seeds" if S >= min_seeds_for_seed_bootstrap else "test_points"
    for metric, m in per_point.items():
        if m is None:
            continue
        per_seed = m.mean(axis=2)  # (W, S)
        point[metric] = per_seed.mean(axis=1)
        if scheme == "seeds":
            wts = boot.weights("seeds", S)  # (B, S)
            reps[metric] = (wts @ per_seed.T) / S  # (B, W)
        else:
            n = m.shape[2]
            wts = boot.weights("points", n)  # (B, n)
            per_width = m.mean(axis=1)  # (W, n): mean over seeds, point by point
            reps[metric] = (wts @ per_width.T) / n
    params = [next((by[(w, s)].params for s in complete if by[(w, s)].params), None) for w in widths]
    return WidthCurve(np.array(widths), params, [s[0] for s in complete], train_err, point, reps, scheme, missing)


def peak_excess(curve: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``curve`` (R, W): the peak index inside ``window`` and its excess.

    Excess = min(e[j] - min(e[:j]), e[j] - min(e[j+1:])): how far the peak rises
    above both the best smaller-width and the best larger-width value. ``window``
    holds interior indices only, so both sides always exist.
    """
    curve = np.atleast_2d(curve)
    R, W = curve.shape
    best_j = np.full(R, -1)
    best = np.full(R, -np.inf)
    for j in window:
        left = curve[:, :j].min(axis=1)
        right = curve[:, j + 1 :].min(axis=1)
        exc = np.minimum(curve[:, j] - left, curve[:, j] - right)
        better = (curve[:, j] > np.take_along_axis(curve, np.maximum(best_j, 0)[:, None], 1)[:, 0]) | (best_j < 0)
        best_j = np.where(better, j, best_j)
        best = np.where(better, exc, best)
    return best_j, best
