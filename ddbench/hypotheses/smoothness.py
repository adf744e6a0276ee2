"""Input-space smoothness over width and epochs (docs/science.md, "smoothness", Gamba et al.).

Claims, per stratum and pooled over strata (mean statistic and replicates):
(a) ``peak_at_error_peak``: |grid index of the sharpness peak - index of the
    test-error peak near k*| (the double-descent peak: largest excess inside the
    window around k*), set to the number of widths when the sharpness peak sits at
    an end of the grid (a monotone curve is not "non-monotone"); holds if
    <= grid_points (threshold grid_points + 0.5, side less).
    ``decreases_above_k_star``: Spearman(width, sharpness_mean) < 0 over widths >= k*.
(b) ``noisy_sharper``: mean over widths within ``near`` grid points of k* of
    sharpness_noisy / sharpness_clean (ratio of seed means) > 1.
(c) ``noisy_volume_grows``: label_volume_noisy(widest) - label_volume_noisy(k*) > 0.
(d) ``epochwise_rise_fall``: for the widest width with epoch-wise values,
    min(max over interior epochs - first, that max - last) / mean of the curve > 0.
Replicates: see :mod:`probe_curves` (seeds, else the probe's standard errors).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import hypotheses
from .base import CellView, Evidence, HypothesisPlugin, ResultTable
from .curves import Bootstrapper, WidthCurve, interpolation_threshold, peak_excess, width_curve
from .double_descent import peak_window, straddle_problem
from .probe_curves import nan_argmax, not_applicable, pooled, probe_curve
from .stats import correlation_evidence, grid_matrix, k_star, probe_value

P = "smoothness"
NO_CHECKPOINTS = "no checkpoints: set training.record.checkpoints: true (and smoothness option epochwise: true)"


def rise_fall(curve: np.ndarray) -> np.ndarray:
    """Rows of (R, T): min(max interior - first, max interior - last) / mean of the row."""
    curve = np.atleast_2d(curve)
    peak = curve[:, 1:-1].max(axis=1)
    with np.errstate(all="ignore"):
        return np.minimum(peak - curve[:, 0], peak - curve[:, -1]) / np.abs(curve.mean(axis=1))


def _vals(v: np.ndarray) -> list[float | None]:
    return [float(a) if np.isfinite(a) else None for a in np.asarray(v, float)]


@hypotheses.register("smoothness", version="1")
class SmoothnessHypothesis(HypothesisPlugin):
    description = "input-space sharpness peaks with the test error, is higher at noisy points near k*, then smooths"
    reference = "Gamba et al. (input-space smoothness and double descent); docs/science.md, smoothness"
    requires_probes = ("smoothness",)
    claims = {
        "peak_at_error_peak": "mean sharpness over width has an interior peak within grid_points of the test-error peak",
        "decreases_above_k_star": "above k*, mean sharpness decreases with width (Spearman < 0)",
        "noisy_sharper": "near k*, sharpness around noisy points exceeds that around clean points (ratio > 1)",
        "noisy_volume_grows": "noisy labels are predicted over larger neighbourhoods at the widest width than at k*",
        "epochwise_rise_fall": "for the widest model, sharpness over epochs rises then falls",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        grid_points: int = Field(default=2, ge=0, description="sharpness peak within this many grid points of the error peak")
        near: int = Field(default=2, ge=0, description="widths within this many grid points of k* count as near k*")
        min_widths_above: int = Field(default=3, ge=3, description="widths >= k* needed for decreases_above_k_star")

    def evidence(self, table: ResultTable, config: Any, analysis: Any) -> list[Evidence]:
        boot = Bootstrapper(analysis.bootstrap, analysis.seed)
        out: list[Evidence] = []
        for stratum, cells in table.strata():
            curve = width_curve(table, cells, boot)
            k_idx = interpolation_threshold(curve.widths, curve.train_error, analysis.interpolation_threshold)
            base = {"k_star": float(curve.widths[k_idx]) if k_idx is not None else None, "widths": curve.widths.tolist()}
            sharp = probe_curve(cells, probe_value(f"{P}.sharpness_mean"), probe_value(f"{P}.sharpness_mean_se"),
                                boot, stream=1, widths=curve.widths)
            base["sharpness_mean"] = _vals(sharp.point)
            out.append(self._peak(stratum, curve, k_idx, sharp, config, base))
            out.append(self._decreasing(stratum, cells, config, analysis, base))
            noisy_stratum = stratum.get("noise_rate", 0) > 0
            out.append(self._noisy_sharper(stratum, cells, curve, k_idx, boot, config, base, noisy_stratum))
            out.append(self._volume(stratum, cells, curve, k_idx, boot, base, noisy_stratum))
            out.append(self._epochwise(stratum, cells, boot, base))
        for claim in self.claims:
            p = pooled(out, f"{P}.{claim}")
            if p is not None:
                out.append(p)
        return out

    def _peak(self, stratum: dict[str, Any], curve: WidthCurve, k_idx: int | None, sharp: Any, config: Any,
              base: dict[str, Any]) -> Evidence:
        claim, thr = f"{P}.peak_at_error_peak", config.grid_points + 0.5
        problem = straddle_problem(curve.widths, k_idx, curve.train_error)
        window = peak_window(curve.widths, k_idx, config.grid_points) if not problem else np.zeros(0, int)
        if not problem and not len(window):
            problem = "no interior grid point near k*; add widths around it"
        if problem:
            return not_applicable(claim, stratum, problem, thr, "less", base)
        j_err, exc = peak_excess(curve.point["test_error"][None, :], window)
        detail = {**base, "error_peak_width": float(curve.widths[j_err[0]]), "error_peak_excess": float(exc[0]),
                  "bootstrap": f"{curve.scheme}+{sharp.scheme}"}
        if exc[0] <= 0:
            return not_applicable(claim, stratum, "no test-error peak near k* (the error curve has no local maximum there)",
                                  thr, "less", detail)
        if not np.isfinite(sharp.point).any():
            return not_applicable(claim, stratum, "no sharpness values", thr, "less", detail)
        W = len(curve.widths)

        def distance(j_s: np.ndarray, j_e: np.ndarray) -> np.ndarray:
            interior = (j_s > 0) & (j_s < W - 1)
            return np.where(interior, np.abs(j_s - j_e), W).astype(float)

        j_s = nan_argmax(sharp.point)
        detail["sharpness_peak_width"] = float(curve.widths[j_s[0]])
        stat = float(distance(j_s, j_err)[0])
        reps = None
        if sharp.reps is not None:
            j_e_reps, _ = peak_excess(curve.replicates["test_error"], window)
            reps = distance(nan_argmax(sharp.reps), j_e_reps)
        return Evidence(claim, stratum, stat, reps, thr, "less", detail=detail,
                        reason="" if reps is not None else "no sharpness_mean_se with < 3 seeds: no CI")

    def _decreasing(self, stratum: dict[str, Any], cells: list[CellView], config: Any, analysis: Any,
                    base: dict[str, Any]) -> Evidence:
        claim = f"{P}.decreases_above_k_star"
        k = k_star(cells, analysis.interpolation_threshold)
        x, Y = grid_matrix(cells, probe_value(f"{P}.sharpness_mean"))
        if k is None:
            return not_applicable(claim, stratum, "the grid never reaches the interpolation threshold k*; add wider models",
                                  0.0, "less", base)
        above = x >= k
        if above.sum() < config.min_widths_above:
            return not_applicable(claim, stratum, f"only {int(above.sum())} widths at or above k*={k:g}; need "
                                  f"{config.min_widths_above} (add wider models)", 0.0, "less", base)
        return correlation_evidence(claim, stratum, x[above], Y[above], threshold=0.0, side="less", analysis=analysis,
                                    detail={"k_star": k})

    def _noisy_sharper(self, stratum: dict[str, Any], cells: list[CellView], curve: WidthCurve, k_idx: int | None,
                       boot: Bootstrapper, config: Any, base: dict[str, Any], noisy_stratum: bool) -> Evidence:
        claim = f"{P}.noisy_sharper"
        if not noisy_stratum:
            return not_applicable(claim, stratum, "p = 0: no noisy points", 1.0, "greater", base)
        if k_idx is None:
            return not_applicable(claim, stratum, "the grid never reaches the interpolation threshold k*", 1.0, "greater", base)
        near = np.abs(np.arange(len(curve.widths)) - k_idx) <= config.near
        nz = probe_curve(cells, probe_value(f"{P}.sharpness_noisy"), probe_value(f"{P}.sharpness_noisy_se"), boot,
                         stream=2, widths=curve.widths)
        cl = probe_curve(cells, probe_value(f"{P}.sharpness_clean"), probe_value(f"{P}.sharpness_clean_se"), boot,
                         stream=3, widths=curve.widths)
        with np.errstate(all="ignore"):
            ratio = nz.point / cl.point
        detail = {**base, "near_widths": curve.widths[near].tolist(), "ratio": _vals(ratio),
                  "bootstrap": f"{nz.scheme}/{cl.scheme}"}
        if not np.isfinite(ratio[near]).any():
            return not_applicable(claim, stratum, "no sharpness_noisy/sharpness_clean values near k*", 1.0, "greater", detail)
        stat = float(np.nanmean(ratio[near]))
        reps = None
        if nz.reps is not None and cl.reps is not None:
            with np.errstate(all="ignore"):
                reps = np.nanmean((nz.reps / cl.reps)[:, near], axis=1)
        return Evidence(claim, stratum, stat, reps, 1.0, "greater", detail=detail,
                        reason="" if reps is not None else "no standard errors with < 3 seeds: no CI")

    def _volume(self, stratum: dict[str, Any], cells: list[CellView], curve: WidthCurve, k_idx: int | None,
                boot: Bootstrapper, base: dict[str, Any], noisy_stratum: bool) -> Evidence:
        claim = f"{P}.noisy_volume_grows"
        if not noisy_stratum:
            return not_applicable(claim, stratum, "p = 0: no noisy points", 0.0, "greater", base)
        if k_idx is None:
            return not_applicable(claim, stratum, "the grid never reaches the interpolation threshold k*", 0.0, "greater", base)
        if k_idx == len(curve.widths) - 1:
            return not_applicable(claim, stratum, "k* is the widest width; add wider models", 0.0, "greater", base)
        vol = probe_curve(cells, probe_value(f"{P}.label_volume_noisy"), probe_value(f"{P}.label_volume_noisy_se"),
                          boot, stream=4, widths=curve.widths)
        detail = {**base, "label_volume_noisy": _vals(vol.point), "bootstrap": vol.scheme}
        stat = float(vol.point[-1] - vol.point[k_idx])
        if not np.isfinite(stat):
            return not_applicable(claim, stratum, "label_volume_noisy missing at k* or at the widest width", 0.0,
                                  "greater", detail)
        reps = vol.reps[:, -1] - vol.reps[:, k_idx] if vol.reps is not None else None
        return Evidence(claim, stratum, stat, reps, 0.0, "greater", detail=detail,
                        reason="" if reps is not None else "no standard errors with < 3 seeds: no CI")

    def _epochwise(self, stratum: dict[str, Any], cells: list[CellView], boot: Bootstrapper,
                   base: dict[str, Any]) -> Evidence:
        claim = f"{P}.epochwise_rise_fall"
        have = [c for c in cells if c.probes.get(P, {}).get("epochwise")]
        if not have:
            return not_applicable(claim, stratum, NO_CHECKPOINTS, 0.0, "greater", base)
        width = max(c.width for c in have)
        runs = [c for c in have if c.width == width]
        curves = [{int(e): v for e, v in c.probes[P]["epochwise"].items()} for c in runs]
        ses = [{int(e): v for e, v in (c.probes[P].get("epochwise_se") or {}).items()} for c in runs]
        epochs = sorted(set.intersection(*(set(k for k, v in cv.items() if v is not None) for cv in curves)))
        detail = {"width": width, "epochs": epochs, "seeds": len(runs)}
        if len(epochs) < 3:
            return not_applicable(claim, stratum, f"{len(epochs)} checkpointed epochs; rise-then-fall needs 3",
                                  0.0, "greater", detail)
        E = np.array([[cv[e] for cv in curves] for e in epochs], float)  # (T, S)
        mean = E.mean(axis=1)
        detail["sharpness"] = _vals(mean)
        detail["peak_epoch"] = epochs[int(np.argmax(mean))]
        stat = float(rise_fall(mean)[0])
        if len(runs) >= 3:
            w = boot.weights("seeds", len(runs))
            reps, detail["bootstrap"] = rise_fall((w @ E.T) / len(runs)), "seeds"
        else:
            SE = np.array([[s.get(e, np.nan) if s.get(e) is not None else np.nan for s in ses] for e in epochs], float)
            if not np.isfinite(SE).all():
                return Evidence(claim, stratum, stat, None, 0.0, "greater", detail=detail,
                                reason="no epochwise_se with < 3 seeds: no CI")
            se = np.sqrt((SE**2).sum(axis=1)) / len(runs)
            rng = np.random.default_rng([boot.seed, 17, 5])
            reps = rise_fall(mean[None, :] + se[None, :] * rng.standard_normal((boot.n_boot, len(epochs))))
            detail["bootstrap"] = "parametric"
        return Evidence(claim, stratum, stat, reps, 0.0, "greater", detail=detail)
