"""Error-vs-width curves of one stratum, read from its :class:`~ddbench.hypotheses.core.StratumCore`.

The point estimate is the mean over the paired seeds of each width's test error
(loss); the replicates come from the stratum's resampling plan (seeds when >= 3,
else test points, the same indices for every width and every claim).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..stats.threshold import interpolation_index as interpolation_threshold
from ..stats.threshold import peak_excess
from .core import StratumCore

__all__ = ["WidthCurve", "interpolation_threshold", "peak_excess", "width_curve"]


@dataclass
class WidthCurve:
    widths: np.ndarray  # (W,) the paired design's widths
    params: list[int | None]
    seeds: list[int]
    train_error: np.ndarray  # (W,) mean over finished seeds of the final training error (defines k*)
    point: dict[str, np.ndarray]  # metric -> (W,) point estimate
    replicates: dict[str, np.ndarray]  # metric -> (B, W)
    scheme: str  # the stratum's unit: "seeds" or "test_points"
    missing_widths: list[int]
    k_index: int | None  # index of k* in widths (the stratum's one k*)
    n_units: int | None = None


def width_curve(core: StratumCore) -> WidthCurve:
    """Mean test error/loss per width over the paired seeds, with the stratum's paired replicates."""
    point, reps = {}, {}
    for metric in ("test_error", "test_loss"):
        c = core.curve(metric)
        if c is not None:
            point[metric], reps[metric] = c
    params = [next((core.by[(int(w), s)].params for s in core.seeds if core.by[(int(w), s)].params), None)
              for w in core.widths]
    return WidthCurve(core.widths, params, [s[0] for s in core.seeds], core.train_error, point, reps, core.unit,
                      core.missing_widths, core.k_index, core.n_units)
