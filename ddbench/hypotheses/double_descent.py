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
from ..stats.threshold import peak_excess, peak_window, straddle_problem
from .base import HypothesisPlugin
from .curves import WidthCurve, width_curve
from .evidence import Evidence
from .probe_curves import pooled as pooled_evidence
from .table import ResultTable

__all__ = ["DoubleDescent", "peak_window", "straddle_problem"]


@hypotheses.register("double_descent", version="1")
class DoubleDescent(HypothesisPlugin):
    description = "test error peaks near the interpolation threshold k*, then falls again"
    reference = "Belkin et al. 2019; Nakkiran et al. 2020; docs/science.md, double_descent"
    located_claims = ("peak", "loss_peak")
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
        out: list[Evidence] = []
        pooled: dict[str, list[Evidence]] = {"peak": [], "loss_peak": []}
        for core in table.cores(analysis):
            stratum = core.stratum
            curve = width_curve(core)
            problem = core.problem()
            window = core.window(config.grid_points) if not problem else np.zeros(0, int)
            if not problem and not len(window):
                problem = "no interior grid point near k*; add widths around it"
            base = _detail(curve, core.k_star)
            for claim, metric, delta in (("peak", "test_error", config.delta), ("loss_peak", "test_loss", config.delta_loss)):
                detail = dict(base)
                why = problem or ("" if metric in curve.point else f"no per-point {metric} arrays")
                if why:
                    out.append(Evidence(f"double_descent.{claim}", stratum, None, threshold=delta,
                                        reason=why, applicable=False, detail=detail))
                    continue
                j, stat = peak_excess(curve.point[metric][None, :], window)
                _, reps = peak_excess(curve.replicates[metric], window)
                detail.update(peak_width=int(curve.widths[j[0]]), peak_height=float(stat[0]),
                              peak_value=float(curve.point[metric][j[0]]), bootstrap=curve.scheme)
                # least-favourable null: a flat curve (the replicates' noise around the point curve), raised to delta
                _, noise = peak_excess(curve.replicates[metric] - curve.point[metric][None, :], window)
                ev = Evidence(f"double_descent.{claim}", stratum, float(stat[0]), reps, delta, detail=detail,
                              unit=curve.scheme, n_units=curve.n_units, null_samples=noise + delta)
                if stratum["noise_rate"] == 0:
                    ev.applicable, ev.reason = False, "p = 0: measured and reported, not tested (the claim is for p > 0)"
                    out.append(ev)
                    continue
                out.append(ev)
                pooled[claim].append(ev)
        for claim in ("peak", "loss_peak"):
            p = pooled_evidence(pooled[claim], f"double_descent.{claim}")
            if p is not None:
                p.reason = f"mean peak excess over {p.stratum['strata']} noisy strata"
                out.append(p)
        return out


def _detail(curve: WidthCurve, k_star: int | None) -> dict[str, Any]:
    return {
        "k_star": k_star,
        "widths": curve.widths.tolist(),
        "params": curve.params,
        "train_error": [float(v) for v in curve.train_error],
        "test_error": [float(v) for v in curve.point.get("test_error", [])],
        "test_loss": [float(v) for v in curve.point.get("test_loss", [])],
        "seeds": len(curve.seeds),
        "missing_widths": curve.missing_widths,
    }
