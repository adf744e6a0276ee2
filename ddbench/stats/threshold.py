"""The interpolation threshold k* and the peak window (docs/science.md, Statistics, "Interpolation threshold k*" and "Peak window and peak").

k* is the smallest finished width whose final training error, averaged over the
seeds that finished at that width, is <= the threshold (``analysis.interpolation_threshold``,
default 0.01). Widths without a finished cell are not part of the grid (they are
reported as missing); failed cells are left out of their width's mean. The same
function is used by every hypothesis (through :class:`ddbench.hypotheses.core.StratumCore`)
and by the markdown and plots when a leaderboard carries no recorded k*.

The peak window holds the interior grid indices within ``grid_points`` (default 2) of
k*'s index, or whose width lies in [k*/2, 2 k*]. The peak is the grid point of the
window with the largest value of the curve; its excess is how far it rises above both
the best smaller-width and the best larger-width value.

The peak margin of a curve over a set of grid points (``peak_margin``, used where the place of the
peak is itself the claim, as "peaks near P = n") is how far its largest value there rises above its
largest value elsewhere, relative to the curve's range: continuous in the curve, where an argmax is
not. Its least-favourable null (``tie_null``) ties the two.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: widths "at" the threshold: train error <= threshold + TOL counts as interpolating
TOL = 1e-12
GRID_POINTS = 2


def interpolation_index(widths: Sequence[float], train_error: Sequence[float], threshold: float) -> int | None:
    """Index (into the sorted ``widths``) of k*: the first width whose mean training error is <= threshold."""
    err = np.asarray(train_error, dtype=float)
    hits = np.flatnonzero(np.isfinite(err) & (err <= threshold + TOL))
    return int(hits[0]) if len(hits) else None


def peak_window(widths: Sequence[float], k_index: int | None, grid_points: int = GRID_POINTS) -> np.ndarray:
    """Interior grid indices within ``grid_points`` of k*, or with width in [k*/2, 2 k*] (empty without k*)."""
    widths = np.asarray(widths, dtype=float)
    if k_index is None or not len(widths):
        return np.zeros(0, dtype=int)
    k = widths[k_index]
    idx = np.arange(len(widths))
    near = (np.abs(idx - k_index) <= grid_points) | ((widths >= k / 2) & (widths <= 2 * k))
    interior = (idx > 0) & (idx < len(widths) - 1)
    return idx[near & interior]


def peak_excess(curve: np.ndarray, window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``curve`` (R, W): the peak index inside ``window`` and its excess.

    The peak is the window point with the largest value (ties: the smaller width);
    excess = min(e[j] - min(e[:j]), e[j] - min(e[j+1:])). ``window`` holds interior
    indices only, so both sides exist. Rows with NaN inside the window give NaN.
    """
    curve = np.atleast_2d(np.asarray(curve, dtype=float))
    R = curve.shape[0]
    window = np.asarray(window, dtype=int)
    if not len(window):
        return np.full(R, -1), np.full(R, np.nan)
    left = np.fmin.accumulate(curve, axis=1)  # left[:, j] = min(curve[:, :j+1])
    right = np.fmin.accumulate(curve[:, ::-1], axis=1)[:, ::-1]  # right[:, j] = min(curve[:, j:])
    vals = curve[:, window]
    with np.errstate(invalid="ignore"):
        pick = np.argmax(np.where(np.isnan(vals), -np.inf, vals), axis=1)
    j = window[pick]
    rows = np.arange(R)
    exc = np.minimum(curve[rows, j] - left[rows, j - 1], curve[rows, j] - right[rows, j + 1])
    exc = np.where(np.isnan(vals).any(axis=1), np.nan, exc)
    return j, exc


def straddle_problem(widths: Sequence[float], k_index: int | None, train_error: Sequence[float]) -> str:
    """Why a grid cannot show double descent, with a suggestion ('' if it can)."""
    widths = list(widths)
    err = np.asarray(train_error, dtype=float)
    if len(widths) < 3:
        return f"only {len(widths)} finished widths; a peak needs at least 3"
    if k_index is None:
        best = int(np.nanargmin(err)) if np.isfinite(err).any() else 0
        return (
            f"the grid never reaches the interpolation threshold (lowest training error "
            f"{err[best]:.3f} at width {widths[best]:g}); add widths above {widths[-1]:g} "
            f"(e.g. up to {4 * widths[-1]:g}) or train longer"
        )
    if k_index == 0:
        return (
            f"the smallest width {widths[0]:g} already interpolates; add widths below it "
            f"(e.g. geomspace [1, {widths[0]:g}, 6])"
        )
    return ""


def peak_margin(curve: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Rows of (R, W): (max over ``inside`` - max over the other grid points) / (max - min of the row).

    > 0 when the row's maximum lies inside (by that share of the curve's range), < 0 when it lies outside;
    NaN for a constant row."""
    curve = np.atleast_2d(np.asarray(curve, dtype=float))
    out = np.setdiff1d(np.arange(curve.shape[1]), inside)
    with np.errstate(all="ignore"):
        return (curve[:, inside].max(axis=1) - curve[:, out].max(axis=1)) / np.ptp(curve, axis=1)


def tie_null(point: np.ndarray, reps: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Draws of ``peak_margin`` at its least-favourable null: the point curve with the smaller of its largest
    values inside and outside ``inside`` raised to the larger (a tie: margin 0), plus the replicates' noise
    around the point curve (``reps - point``)."""
    out = np.setdiff1d(np.arange(len(point)), inside)
    i, o = inside[int(np.argmax(point[inside]))], out[int(np.argmax(point[out]))]
    tied = point.astype(float).copy()
    tied[i] = tied[o] = max(point[i], point[o])
    return peak_margin(tied[None, :] + (reps - point[None, :]), inside)
