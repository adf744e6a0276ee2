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
Every claim of a stratum uses the stratum's k* and resampling plan
(:class:`~ddbench.hypotheses.core.StratumCore`): seeds when >= 3, else the test
points for the error curve and the probes' standard errors (``probe_se``) for probe curves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import hypotheses
from ..stats.threshold import peak_excess
from .base import HypothesisPlugin
from .core import StratumCore
from .curves import WidthCurve, width_curve
from .evidence import Evidence
from .probe_curves import nan_argmax, not_applicable, pooled
from .stats import probe_value
from .table import ResultTable

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
    located_claims = ("peak_at_error_peak", "noisy_sharper")
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
        out: list[Evidence] = []
        for core in table.cores(analysis):
            stratum = core.stratum
            curve = width_curve(core)
            k_idx = curve.k_index
            base = {"k_star": core.k_star, "widths": curve.widths.tolist()}
            sharp = core.probe_curve(probe_value(f"{P}.sharpness_mean"), probe_value(f"{P}.sharpness_mean_se"),
                                     f"{P}.sharpness_mean")
            base["sharpness_mean"] = _vals(sharp[0])
            out.append(self._peak(stratum, core, curve, sharp, config, base))
            out.append(self._decreasing(stratum, core, config, base))
            noisy_stratum = stratum.get("noise_rate", 0) > 0
            out.append(self._noisy_sharper(stratum, core, k_idx, config, base, noisy_stratum))
            out.append(self._volume(stratum, core, k_idx, base, noisy_stratum))
            out.append(self._epochwise(stratum, core, base))
        for claim in self.claims:
            p = pooled(out, f"{P}.{claim}")
            if p is not None:
                out.append(p)
        return out

    def _peak(self, stratum: dict[str, Any], core: StratumCore, curve: WidthCurve, sharp: Any, config: Any,
              base: dict[str, Any]) -> Evidence:
        claim, thr = f"{P}.peak_at_error_peak", config.grid_points + 0.5
        problem = core.problem()
        window = core.window(config.grid_points) if not problem else np.zeros(0, int)
        if not problem and not len(window):
            problem = "no interior grid point near k*; add widths around it"
        if not problem and "test_error" not in curve.point:
            problem = "no per-point test_error arrays"
        if problem:
            return not_applicable(claim, stratum, problem, thr, "less", base)
        s_point, s_reps, s_unit = sharp
        j_err, exc = peak_excess(curve.point["test_error"][None, :], window)
        detail = {**base, "error_peak_width": float(curve.widths[j_err[0]]), "error_peak_excess": float(exc[0]),
                  "bootstrap": f"{curve.scheme}+{s_unit}"}
        if exc[0] <= 0:
            return not_applicable(claim, stratum, "no test-error peak near k* (the error curve has no local maximum there)",
                                  thr, "less", detail)
        if not np.isfinite(s_point).any():
            return not_applicable(claim, stratum, "no sharpness values", thr, "less", detail)
        W = len(curve.widths)

        def distance(j_s: np.ndarray, j_e: np.ndarray) -> np.ndarray:
            interior = (j_s > 0) & (j_s < W - 1)
            return np.where(interior, np.abs(j_s - j_e), W).astype(float)

        j_s = nan_argmax(s_point)
        detail["sharpness_peak_width"] = float(curve.widths[j_s[0]])
        stat = float(distance(j_s, j_err)[0])
        reps = None
        if s_reps is not None:
            j_e_reps, _ = peak_excess(curve.replicates["test_error"], window)
            reps = distance(nan_argmax(s_reps), j_e_reps)
        return Evidence(claim, stratum, stat, reps, thr, "less", detail=detail, unit=_unit(curve.scheme, s_unit),
                        n_units=core.n_units if s_unit == "seeds" else None,
                        reason="" if reps is not None else "no sharpness_mean_se with < 3 seeds: no CI")

    def _decreasing(self, stratum: dict[str, Any], core: StratumCore, config: Any, base: dict[str, Any]) -> Evidence:
        claim = f"{P}.decreases_above_k_star"
        k = core.k_star
        if k is None:
            return not_applicable(claim, stratum, "the grid never reaches the interpolation threshold k*; add wider models",
                                  0.0, "less", base)
        above = core.above_k_star()
        if above.sum() < config.min_widths_above:
            return not_applicable(claim, stratum, f"only {int(above.sum())} widths at or above k*={k:g}; need "
                                  f"{config.min_widths_above} (add wider models)", 0.0, "less", base)
        Y = core.matrix(probe_value(f"{P}.sharpness_mean"))
        return core.correlation(claim, above, Y, threshold=0.0, side="less", detail={"k_star": k})

    def _noisy_sharper(self, stratum: dict[str, Any], core: StratumCore, k_idx: int | None, config: Any,
                       base: dict[str, Any], noisy_stratum: bool) -> Evidence:
        claim = f"{P}.noisy_sharper"
        if not noisy_stratum:
            return not_applicable(claim, stratum, "p = 0: no noisy points", 1.0, "greater", base)
        if k_idx is None:
            return not_applicable(claim, stratum, "the grid never reaches the interpolation threshold k*", 1.0, "greater", base)
        near = np.abs(np.arange(len(core.widths)) - k_idx) <= config.near
        nz = core.probe_curve(probe_value(f"{P}.sharpness_noisy"), probe_value(f"{P}.sharpness_noisy_se"),
                              f"{P}.sharpness_noisy")
        cl = core.probe_curve(probe_value(f"{P}.sharpness_clean"), probe_value(f"{P}.sharpness_clean_se"),
                              f"{P}.sharpness_clean")
        with np.errstate(all="ignore"):
            ratio = nz[0] / cl[0]
        detail = {**base, "near_widths": core.widths[near].tolist(), "ratio": _vals(ratio),
                  "bootstrap": f"{nz[2]}/{cl[2]}"}
        if not np.isfinite(ratio[near]).any():
            return not_applicable(claim, stratum, "no sharpness_noisy/sharpness_clean values near k*", 1.0, "greater", detail)
        stat = float(np.nanmean(ratio[near]))
        reps = None
        if nz[1] is not None and cl[1] is not None:
            with np.errstate(all="ignore"):
                reps = np.nanmean((nz[1] / cl[1])[:, near], axis=1) if near.any() else None
        return Evidence(claim, stratum, stat, reps, 1.0, "greater", detail=detail, unit=nz[2],
                        n_units=core.n_units if nz[2] == "seeds" else None,
                        reason="" if reps is not None else "no standard errors with < 3 seeds: no CI")

    def _volume(self, stratum: dict[str, Any], core: StratumCore, k_idx: int | None, base: dict[str, Any],
                noisy_stratum: bool) -> Evidence:
        claim = f"{P}.noisy_volume_grows"
        if not noisy_stratum:
            return not_applicable(claim, stratum, "p = 0: no noisy points", 0.0, "greater", base)
        if k_idx is None:
            return not_applicable(claim, stratum, "the grid never reaches the interpolation threshold k*", 0.0, "greater", base)
        if k_idx == len(core.widths) - 1:
            return not_applicable(claim, stratum, "k* is the widest width; add wider models", 0.0, "greater", base)
        point, reps_all, unit = core.probe_curve(probe_value(f"{P}.label_volume_noisy"),
                                                 probe_value(f"{P}.label_volume_noisy_se"), f"{P}.label_volume_noisy")
        detail = {**base, "label_volume_noisy": _vals(point), "bootstrap": unit}
        stat = float(point[-1] - point[k_idx])
        if not np.isfinite(stat):
            return not_applicable(claim, stratum, "label_volume_noisy missing at k* or at the widest width", 0.0,
                                  "greater", detail)
        reps = reps_all[:, -1] - reps_all[:, k_idx] if reps_all is not None else None
        return Evidence(claim, stratum, stat, reps, 0.0, "greater", detail=detail, unit=unit,
                        n_units=core.n_units if unit == "seeds" else None,
                        reason="" if reps is not None else "no standard errors with < 3 seeds: no CI")

    def _epochwise(self, stratum: dict[str, Any], core: StratumCore, base: dict[str, Any]) -> Evidence:
        claim = f"{P}.epochwise_rise_fall"
        have = [c for c in core.cells if c.probes.get(P, {}).get("epochwise")]
        if not have:
            return not_applicable(claim, stratum, NO_CHECKPOINTS, 0.0, "greater", base)
        width = max(c.width for c in have)
        runs = sorted((c for c in have if c.width == width), key=lambda c: (c.seed, c.noise_seed))
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
            reps, unit, n_units = rise_fall(core.plan.mean("seeds", E)), "seeds", len(runs)
        else:
            SE = np.array([[s.get(e, np.nan) if s.get(e) is not None else np.nan for s in ses] for e in epochs], float)
            if not np.isfinite(SE).all():
                return Evidence(claim, stratum, stat, None, 0.0, "greater", detail=detail,
                                reason="no epochwise_se with < 3 seeds: no CI")
            se = np.sqrt((SE**2).sum(axis=1)) / len(runs)
            z = core.plan.normal((len(epochs),), core.label, f"{P}.epochwise")
            reps, unit, n_units = rise_fall(mean[None, :] + se[None, :] * z), "probe_se", None
        detail["bootstrap"] = unit
        return Evidence(claim, stratum, stat, reps, 0.0, "greater", detail=detail, unit=unit, n_units=n_units)


def _unit(a: str, b: str) -> str:
    return a if a == b else f"{a}+{b}"
