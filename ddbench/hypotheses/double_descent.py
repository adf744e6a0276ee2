"""Double descent itself (docs/science.md, "double_descent").

Claim: for p > 0 the test-error curve over width has a local maximum near the
interpolation threshold k* (within two grid points, or within [k*/2, 2k*]) that
exceeds both the best smaller-width and the best larger-width error by at least
``delta``. The same statistic on the test loss is reported as a second claim; the
p = 0 curve is measured and reported but not tested (the claim is for p > 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import hypotheses
from .base import Evidence, HypothesisPlugin, ResultTable
from .curves import Bootstrapper, WidthCurve, interpolation_threshold, peak_excess, width_curve


def peak_window(widths: np.ndarray, k_index: int, grid_points: int) -> np.ndarray:
    """Interior grid indices within ``grid_points`` of k*, or with width in [k*/2, 2k*]."""
    k = widths[k_index]
    idx = np.arange(len(widths))
    near = (np.abs(idx - k_index) <= grid_points) | ((widths >= k / 2) & (widths <= 2 * k))
    interior = (idx > 0) & (idx < len(widths) - 1)
    return idx[near & interior]


def straddle_problem(widths: np.ndarray, k_index: int | None, train_error: np.ndarray) -> str:
    """Why a grid cannot show double descent, with a suggestion ('' if it can)."""
    if len(widths) < 3:
        return f"only {len(widths)} finished widths; a peak needs at least 3"
    if k_index is None:
        return (
            f"the grid never reaches the interpolation threshold (lowest training error "
            f"{train_error.min():.3f} at width {widths[int(train_error.argmin())]}); add widths above {widths[-1]} "
            f"(e.g. up to {4 * widths[-1]}) or train longer"
        )
    if k_index == 0:
        return (
            f"the smallest width {widths[0]} already interpolates; add widths below it "
            f"(e.g. geomspace [1, {widths[0]}, 6])"
        )
    return ""


@hypotheses.register("double_descent", version="1")
class DoubleDescent(HypothesisPlugin):
    description = "test error peaks near the interpolation threshold k*, then falls again"
    reference = "Belkin et al. 2019; Nakkiran et al. 2020; docs/science.md, double_descent"
    claims = {
        "peak": "for p > 0 the test-error curve peaks near k* by at least delta above both sides",
        "loss_peak": "for p > 0 the test-loss curve peaks near k* by at least delta_loss above both sides",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        delta: float = Field(default=0.01, ge=0, description="minimal peak height in error (0.01 = 1 point)")
        delta_loss: float = Field(default=0.0, ge=0, description="minimal peak height in test loss")
        grid_points: int = Field(default=2, ge=0, description="peak must lie within this many grid points of k*...")

    def evidence(self, table: ResultTable, config: Any, analysis: Any) -> list[Evidence]:
        boot = Bootstrapper(analysis.bootstrap, analysis.seed)
        out: list[Evidence] = []
        pooled: dict[str, list[tuple[float, np.ndarray]]] = {"peak": [], "loss_peak": []}
        for stratum, cells in table.strata():
            curve = width_curve(table, cells, boot)
            k_idx = interpolation_threshold(curve.widths, curve.train_error, analysis.interpolation_threshold)
            problem = straddle_problem(curve.widths, k_idx, curve.train_error)
            window = peak_window(curve.widths, k_idx, config.grid_points) if not problem else np.zeros(0, int)
            if not problem and not len(window):
                problem = "no interior grid point near k*; add widths around it"
            base = _detail(curve, k_idx)
            for claim, metric, delta in (("peak", "test_error", config.delta), ("loss_peak", "test_loss", config.delta_loss)):
                detail = dict(base)
                if problem:
                    out.append(Evidence(f"double_descent.{claim}", stratum, None, threshold=delta,
                                        reason=problem, applicable=False, detail=detail))
                    continue
                j, stat = peak_excess(curve.point[metric][None, :], window)
                _, reps = peak_excess(curve.replicates[metric], window)
                detail.update(peak_width=int(curve.widths[j[0]]), peak_height=float(stat[0]),
                              peak_value=float(curve.point[metric][j[0]]), bootstrap=curve.scheme)
                if stratum["noise_rate"] == 0:
                    out.append(Evidence(f"double_descent.{claim}", stratum, float(stat[0]), reps, delta,
                                        reason="p = 0: measured and reported, not tested (the claim is for p > 0)",
                                        applicable=False, detail=detail))
                    continue
                out.append(Evidence(f"double_descent.{claim}", stratum, float(stat[0]), reps, delta, detail=detail))
                pooled[claim].append((float(stat[0]), reps))
        for claim, delta in (("peak", config.delta), ("loss_peak", config.delta_loss)):
            items = pooled[claim]
            if len(items) > 1 and len({len(r) for _, r in items}) == 1:
                stat = float(np.mean([s for s, _ in items]))
                reps = np.mean(np.stack([r for _, r in items]), axis=0)
                out.append(Evidence(f"double_descent.{claim}", {"pooled": True, "strata": len(items)}, stat, reps, delta,
                                    reason=f"mean peak excess over {len(items)} noisy strata"))
        return out


def _detail(curve: WidthCurve, k_idx: int | None) -> dict[str, Any]:
    return {
        "k_star": int(curve.widths[k_idx]) if k_idx is not None else None,
        "widths": curve.widths.tolist(),
        "params": curve.params,
        "train_error": [float(v) for v in curve.train_error],
        "test_error": [float(v) for v in curve.point.get("test_error", [])],
        "test_loss": [float(v) for v in curve.point.get("test_loss", [])],
        "seeds": len(curve.seeds),
        "missing_widths": curve.missing_widths,
    }
