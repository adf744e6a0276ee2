"""Per-width intervals for the report's figures (bands, never min..max).

The verdicts resample seeds when a width has at least 3 of them and test points
otherwise (``hypotheses.curves``); the bands here use the same unit, so a band
shows the uncertainty the verdicts were decided with, pointwise at level
``1 - alpha``, drawn from the verdicts' own resampling plan (``stats.plan``: the same
replicate indices for the same design):

* ``seeds``: percentile bootstrap of the mean over seeds (>= 3 finished seeds);
* ``test_points``: percentile bootstrap of the mean over test points, the same
  resampled indices for every width (paired), from the per-point arrays of the run
  store (``test_correct``, ``test_loss``, ``train_correct``, ``train_loss``); seeds are averaged point by point first;
* ``seeds (t)``: mean +- t * sd / sqrt(S) when 2 seeds and no per-point arrays;
* ``none``: one seed and no per-point arrays (the caption says so).

A verdict detail that records per-width intervals itself (``<metric>_ci``: one
``[lo, hi]`` per entry of ``widths``) is used as is (``verdict detail``).
Probe values get seed intervals (``t``) or, for one seed, the probe's own standard
error (``<value>_se``, normal interval).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ..stats.plan import ResamplingPlan
from .curves import CurveGroup
from .formatting import canon
from .schema import Leaderboard, Row
from .strata import DD

#: run-store per-point array behind each metric (error = 1 - correct)
POINT_ARRAYS = {"test_error": "test_correct", "test_loss": "test_loss", "train_error": "train_correct",
                "train_loss": "train_loss"}
Arrays = Callable[[str], dict[str, np.ndarray]]


@dataclass
class Band:
    """One metric of one curve group over width: mean and a pointwise interval (None where unknown)."""

    metric: str
    widths: list[int]
    mean: list[float]
    lo: list[float | None]
    hi: list[float | None]
    method: str  # "seeds", "test_points", "seeds (t)", "probe se", "verdict detail", "none", or a mix "a/b"
    level: float

    @property
    def has_interval(self) -> bool:
        return any(v is not None for v in self.lo)


def level_of(board: Leaderboard) -> float:
    alpha = board.analysis.get("alpha") if isinstance(board.analysis.get("alpha"), (int, float)) else 0.05
    return 1.0 - float(alpha)


def _percentile(reps: np.ndarray, level: float) -> tuple[float, float]:
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [a, 1.0 - a])
    return float(lo), float(hi)


def _t_interval(values: list[float], level: float) -> tuple[float, float] | None:
    if len(values) < 2:
        return None
    m, sd = float(np.mean(values)), float(np.std(values, ddof=1))
    h = float(stats.t.ppf(0.5 + level / 2.0, len(values) - 1)) * sd / math.sqrt(len(values))
    return m - h, m + h


def _detail_band(board: Leaderboard, group: CurveGroup, metric: str, level: float) -> Band | None:
    """Per-width intervals a double-descent verdict recorded for this group, if any."""
    coords = {**group.rows[0].config, "family": group.family, "noise_rate": group.noise_rate}
    for v in board.verdicts:
        if v.hypothesis != DD:
            continue
        for s in v.strata:
            if s.stratum.get("pooled") or s.stratum.get("overall"):
                continue
            if not all(k in coords and canon(coords[k]) == canon(x) for k, x in s.stratum.items()):
                continue
            ws, ci, mean = s.detail.get("widths"), s.detail.get(f"{metric}_ci"), s.detail.get(metric)
            if isinstance(ws, list) and isinstance(ci, list) and isinstance(mean, list) and len(ws) == len(ci) == len(mean):
                ok = [c if isinstance(c, (list, tuple)) and len(c) == 2 else (None, None) for c in ci]
                return Band(metric, [int(w) for w in ws], [float(m) for m in mean], [c[0] for c in ok],
                            [c[1] for c in ok], "verdict detail", float(s.detail.get(f"{metric}_ci_level", level)))
    return None


def metric_band(board: Leaderboard, group: CurveGroup, metric: str, arrays: Arrays | None,
                boot: ResamplingPlan, level: float, min_seeds: int = 3) -> Band | None:
    """The band of ``metric`` (a Row field) over the finished widths of ``group``."""
    if metric in POINT_ARRAYS:
        found = _detail_band(board, group, metric, level)
        if found is not None:
            return found
    widths, mean, values_at, intervals, methods = [], [], [], [], []
    points: dict[int, np.ndarray] = {}  # width index -> its test points (mean over seeds), bootstrapped together
    for ws in group.widths:
        done = [r for r in group.rows if r.width == ws.width and r.status == "done" and getattr(r, metric) is not None]
        if not done:
            continue
        values = [float(getattr(r, metric)) for r in done]
        widths.append(ws.width)
        mean.append(float(np.mean(values)))
        values_at.append(values)
        interval, method = None, "none"
        if len(done) >= min_seeds:
            reps = boot.mean("seeds", np.array(values)[None, :])[:, 0]
            interval, method = _percentile(reps, level), "seeds"
        elif arrays is not None and metric in POINT_ARRAYS:
            found = _point_means(done, metric, arrays)
            if found is not None:
                points[len(widths) - 1] = found
        intervals.append(interval)
        methods.append(method)
    for i, interval in _point_intervals(points, boot, level).items():
        intervals[i], methods[i] = interval, "test_points"
    for i, values in enumerate(values_at):
        if intervals[i] is None and len(values) >= 2:
            intervals[i], methods[i] = _t_interval(values, level), "seeds (t)"
    if not widths:
        return None
    return Band(metric, widths, mean, [None if iv is None else iv[0] for iv in intervals],
                [None if iv is None else iv[1] for iv in intervals], "/".join(dict.fromkeys(methods)), level)


def _point_means(cells: list[Row], metric: str, arrays: Arrays) -> np.ndarray | None:
    """The metric at every test point, averaged over the cells (seeds) point by point; None when a cell
    has no usable per-point array, the lengths differ, or a value is not finite."""
    per_seed = []
    for r in cells:
        try:
            a = arrays(r.key).get(POINT_ARRAYS[metric])
        except (KeyError, OSError, ValueError):  # no usable per-point arrays for this cell
            return None
        if a is None:
            return None
        a = np.asarray(a, dtype=np.float32).ravel()
        per_seed.append(1.0 - a if metric.endswith("_error") else a)
    if len({len(a) for a in per_seed}) != 1 or not len(per_seed[0]):
        return None
    points = np.mean(np.stack(per_seed), axis=0)
    return points if np.all(np.isfinite(points)) else None


def _point_intervals(points: dict[int, np.ndarray], boot: ResamplingPlan,
                     level: float) -> dict[int, tuple[float, float]]:
    """Percentile bootstrap over test points of every width's mean, the widths of one length resampled in
    one product (the same replicate indices for every width: paired, as before)."""
    out: dict[int, tuple[float, float]] = {}
    by_length: dict[int, list[int]] = {}
    for i, p in points.items():
        by_length.setdefault(len(p), []).append(i)
    for idx in by_length.values():
        reps = boot.mean("test_points", np.stack([points[i] for i in idx]))  # (B, widths)
        for col, i in enumerate(idx):
            out[i] = _percentile(reps[:, col], level)
    return out


def probe_band(group: CurveGroup, key: str, level: float) -> Band | None:
    """Mean of probe value ``key`` ("probe.value") per width, with a seed or probe-SE interval."""
    z = float(stats.norm.ppf(0.5 + level / 2.0))
    widths, mean, lo, hi, methods = [], [], [], [], []
    for w in sorted({r.width for r in group.rows}):
        done = [r for r in group.rows if r.width == w and r.status == "done" and is_number(r.probes.get(key))]
        if not done:
            continue
        values = [float(r.probes[key]) for r in done]
        widths.append(w)
        mean.append(float(np.mean(values)))
        interval, method = _t_interval(values, level), "seeds (t)"
        if interval is None:
            se = done[0].probes.get(f"{key}_se")
            interval, method = (None, "none") if not is_number(se) else ((values[0] - z * se, values[0] + z * se), "probe se")
        lo.append(None if interval is None else interval[0])
        hi.append(None if interval is None else interval[1])
        methods.append(method)
    if not widths:
        return None
    return Band(key, widths, mean, lo, hi, "/".join(dict.fromkeys(methods)), level)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


METHOD_TEXT = {
    "seeds": "percentile bootstrap over seeds",
    "test_points": "percentile bootstrap over test points (paired across widths)",
    "seeds (t)": "t interval over seeds",
    "probe se": "the probe's own standard error (one seed)",
    "verdict detail": "intervals recorded by the verdict",
    "none": "no interval (one seed, no per-point data)",
}


def describe(method: str, level: float) -> str:
    parts = [METHOD_TEXT.get(m, m) for m in method.split("/")]
    return f"band: {level:.0%} pointwise, " + "; ".join(parts)
