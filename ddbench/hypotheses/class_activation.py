"""Class-activation patterns over width (docs/science.md, "class_activation", Gu).

Claims, each per stratum and pooled over strata (mean statistic and replicates):
(a) ``cam_similarity_decreases``: above k* (widths >= k*), Spearman(width,
    cam_ho_similarity) < 0: classes get more distinct hidden-output maps;
(b) ``complexity_peak``: |grid index of the complexity peak - index of the test-loss
    peak| <= grid_points (threshold grid_points + 0.5, side less; the loss peak must
    be interior); ``complexity_tracks_loss``: Spearman(complexity, test loss) over the
    grid > 0.5;
(c) ``activation_ratio_decreases``: Spearman(width, activation_ratio) < 0;
(d) ``knn_true_rises``: for p > 0, above k*, Spearman(width, knn_noisy_acc_true) > 0;
    the accuracy against the noisy labels is reported in the detail (ResNets were
    reported to do the opposite, so both are shown).

Every claim uses its stratum's k* and resampling plan (:class:`~ddbench.hypotheses.core.StratumCore`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import hypotheses
from .base import HypothesisPlugin
from .core import StratumCore, paired_correlation
from .curves import width_curve
from .evidence import Evidence, finite_list, finite_or_none
from .probe_curves import nan_argmax, not_applicable, pooled, row_mean
from .stats import metric_value, probe_value, spearman
from .table import ResultTable

P = "class_activation"


def above_k_star(widths: np.ndarray, k: float | None, min_widths: int) -> tuple[np.ndarray, str]:
    """Mask of widths >= k*, or the reason there are too few of them."""
    if k is None:
        return np.zeros(len(widths), bool), "the grid never reaches the interpolation threshold k*; add wider models"
    mask = widths >= k
    if mask.sum() < min_widths:
        return mask, f"only {int(mask.sum())} widths at or above k*={k:g}; need {min_widths} (add wider models)"
    return mask, ""


@hypotheses.register("class_activation", version="1")
class ClassActivationHypothesis(HypothesisPlugin):
    description = "class-activation maps separate, complexity tracks test loss, noisy points rejoin their true class"
    reference = "Gu (class-activation patterns); docs/science.md, class_activation"
    requires_probes = ("class_activation",)
    located_claims = ("complexity_peak",)
    claims = {
        "cam_similarity_decreases": "above k*, mean hidden-output CAM similarity decreases with width (Spearman < 0)",
        "complexity_peak": "the effective-complexity peak lies within grid_points of the test-loss peak",
        "complexity_tracks_loss": "effective complexity correlates with test loss over the grid (Spearman > 0.5)",
        "activation_ratio_decreases": "the fraction of active penultimate units decreases with width (Spearman < 0)",
        "knn_true_rises": "for p > 0, above k*, 5-NN accuracy of noisy points vs their true labels rises with width",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        grid_points: int = Field(default=2, ge=0, description="complexity peak within this many grid points of the loss peak")
        min_widths_above: int = Field(default=3, ge=3, description="widths >= k* needed for the above-k* claims")
        complexity_correlation: float = Field(default=0.5, description="Spearman(complexity, test loss) must exceed this")

    def evidence(self, table: ResultTable, config: Any, analysis: Any) -> list[Evidence]:
        out: list[Evidence] = []
        for core in table.cores(analysis):
            stratum, k = core.stratum, core.k_star
            x = core.widths.astype(float)
            above, problem = above_k_star(x, k, config.min_widths_above)
            base = {"k_star": k, "widths": x.tolist()}
            out.append(self._cam(stratum, core, x, above, problem, base))
            out.extend(self._complexity(stratum, core, config, base))
            Y_ar = core.matrix(probe_value(f"{P}.activation_ratio"))
            out.append(core.correlation(f"{P}.activation_ratio_decreases", np.ones(len(x), bool), Y_ar, threshold=0.0,
                                        side="less", detail=base))
            out.append(self._knn(stratum, core, x, above, problem, base))
        for claim in self.claims:
            p = pooled(out, f"{P}.{claim}")
            if p is not None:
                out.append(p)
        return out

    def _cam(self, stratum: dict[str, Any], core: StratumCore, x: np.ndarray, above: np.ndarray, problem: str,
             base: dict[str, Any]) -> Evidence:
        claim = f"{P}.cam_similarity_decreases"
        if problem:
            return not_applicable(claim, stratum, problem, 0.0, "less", base)
        ih = core.values(probe_value(f"{P}.cam_ih_similarity"))[above]
        detail = {**base, "cam_ih_similarity": finite_list(ih),
                  "cam_ih_spearman": finite_or_none(spearman(x[above], ih))}
        Y = core.matrix(probe_value(f"{P}.cam_ho_similarity"))
        return core.correlation(claim, above, Y, threshold=0.0, side="less", detail=detail)

    def _complexity(self, stratum: dict[str, Any], core: StratumCore, config: Any, base: dict[str, Any]) -> list[Evidence]:
        peak_claim, track_claim = f"{P}.complexity_peak", f"{P}.complexity_tracks_loss"
        thr = config.grid_points + 0.5
        Y_c = core.matrix(probe_value(f"{P}.complexity"))
        Y_l = core.matrix(metric_value("test_loss"))
        out: list[Evidence] = []
        # (b) tracks: paired Spearman of the two per-width curves, the same replicate indices for both
        ok = np.isfinite(row_mean(Y_c)) & np.isfinite(row_mean(Y_l))
        if ok.sum() < 3:
            out.append(not_applicable(track_claim, stratum, f"{int(ok.sum())} widths with complexity and test loss; need 3",
                                      config.complexity_correlation, "greater", base))
        else:
            unit = "seeds" if core.unit == "seeds" else "grid_points"
            point, reps, unit, n_units, _ = paired_correlation(Y_c[ok], Y_l[ok], core.plan, unit)
            if np.isfinite(point):
                out.append(Evidence(track_claim, stratum, point, reps, config.complexity_correlation, "greater",
                                    detail={**base, "bootstrap": unit, "n": int(ok.sum())}, unit=unit, n_units=n_units,
                                    bounds=(-1.0, 1.0)))
            else:
                out.append(not_applicable(track_claim, stratum, "Spearman undefined (constant values)",
                                          config.complexity_correlation, "greater", base))
        # (b) peak: distance between the complexity peak and the test-loss peak, in grid points
        curve = width_curve(core)
        W = len(curve.widths)
        if W < 3 or "test_loss" not in curve.point:
            out.append(not_applicable(peak_claim, stratum, f"{W} widths with test losses; need 3", thr, "less", base))
            return out
        j_loss = int(np.argmax(curve.point["test_loss"]))
        c_point, c_reps, c_unit = core.probe_curve(probe_value(f"{P}.complexity"), probe_value(f"{P}.complexity_se"),
                                                   f"{P}.complexity")
        detail = {**base, "loss_peak_width": float(curve.widths[j_loss]), "bootstrap": f"{curve.scheme}+{c_unit}",
                  "complexity": finite_list(c_point),
                  "test_loss": [float(v) for v in curve.point["test_loss"]]}
        if not 0 < j_loss < W - 1:
            out.append(not_applicable(peak_claim, stratum, f"test loss has no interior peak (maximum at width "
                                      f"{curve.widths[j_loss]:g})", thr, "less", detail))
            return out
        if not np.isfinite(c_point).any():
            out.append(not_applicable(peak_claim, stratum, "no complexity values", thr, "less", detail))
            return out
        j_c = int(nan_argmax(c_point)[0])
        detail["complexity_peak_width"] = float(curve.widths[j_c])
        stat = float(abs(j_c - j_loss))
        reps = None
        if c_reps is not None:
            reps = np.abs(nan_argmax(c_reps) - np.argmax(curve.replicates["test_loss"], axis=1)).astype(float)
        unit = curve.scheme if curve.scheme == c_unit else f"{curve.scheme}+{c_unit}"
        out.append(Evidence(peak_claim, stratum, stat, reps, thr, "less", detail=detail, unit=unit,
                            n_units=core.n_units if c_unit == "seeds" else None,
                            reason="" if reps is not None else "no complexity_se with < 3 seeds: no CI"))
        return out

    def _knn(self, stratum: dict[str, Any], core: StratumCore, x: np.ndarray, above: np.ndarray, problem: str,
             base: dict[str, Any]) -> Evidence:
        claim = f"{P}.knn_true_rises"
        if stratum.get("noise_rate", 0) == 0:
            return not_applicable(claim, stratum, "p = 0: no noisy points", 0.0, "greater", base)
        if problem:
            return not_applicable(claim, stratum, problem, 0.0, "greater", base)
        Y_t = core.matrix(probe_value(f"{P}.knn_noisy_acc_true"))
        noisy = core.values(probe_value(f"{P}.knn_noisy_acc_noisy"))[above]
        detail = {**base, "knn_noisy_acc_noisy": finite_list(noisy),
                  "knn_noisy_spearman": finite_or_none(spearman(x[above], noisy))}
        return core.correlation(claim, above, Y_t, threshold=0.0, side="greater", detail=detail)
