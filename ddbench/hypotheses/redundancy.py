"""Redundant neurons (docs/science.md, "redundancy", Doimo et al.).

Claims per stratum (probe ``redundancy``), with a pooled stratum per claim. "Wide
interpolating cells" are the cells of the ``n_widest`` widest widths whose
training error is <= ``analysis.interpolation_threshold``.

(a) ``chunks_interpolate``: mean over wide interpolating cells of the chunk
    training error at chunk size w_c; holds when < interpolation threshold +
    ``chunk_error_margin`` (0.01 + 0.01 by default: "~zero" allows one point of
    chunk-sampling slack above the interpolation threshold).
    ``residual_corr_falls``: Spearman(chunk size, residual mean |corr|) < 0 over
    the chunk sizes (< W) that all those cells share.
(b) ``groups_grow_linearly``: Pearson(W, W / w_c) > ``pearson_threshold`` over
    widths >= k*; the same Pearson below k* is reported in the detail (not tested:
    the paper's claim is that the linear growth starts above a critical width).
(c) ``error_scaling``: the chunk test error minus the full-layer error scales like
    w^slope with slope in [-0.8, -0.3]. Two one-sided checks (slope > -0.8,
    slope < -0.3) combined as one statistic, the margin
    ``min(slope + 0.8, -0.3 - slope)`` (> 0 iff the slope is inside). Holds when
    the margin's CI is above 0; since the lower quantile of a minimum is at most
    the minimum of the lower quantiles, this implies both one-sided checks hold
    at the same level. The mean slope and its replicates are in the detail.
(d) ``needs_interpolation``: R^2 of chunks of size w_ref (the median w_c of the
    interpolating cells, widths >= k*; R^2 interpolated in log2 w between measured
    sizes) is lower below k*: statistic mean R^2(widths >= k*) - mean R^2(widths
    < k*, only cells with W > w_ref), holds when > 0. Uses final-epoch values only
    (the epoch-wise variant of the claim needs checkpoints and is not measured).

k* is the stratum's (:class:`~ddbench.hypotheses.core.StratumCore`: every finished
cell counts, with or without the probe). Replicates for cell-level means: cells
resampled with replacement by the plan (unit ``cells``; the two groups of (d) have
units of their own); correlations via :meth:`StratumCore.correlation` (seeds when >= 3,
else grid points) or, over chunk sizes, cells as columns.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import hypotheses
from ..stats.plan import ResamplingPlan
from .base import HypothesisPlugin
from .cells import CellView
from .core import StratumCore, correlation_evidence
from .evidence import Evidence, finite_list, finite_or_none
from .probe_curves import not_applicable, pooled
from .stats import pearson, probe_value
from .table import ResultTable

P = "redundancy"
NO_K = "the grid never reaches the interpolation threshold k*; add wider models or train longer"


def value_at_size(sizes: list[int], values: list[Any], w: float) -> float | None:
    """A per-chunk-size value at size w (< W), linear in log2 w between measured sizes (None outside)."""
    pts = [(s, v) for s, v in zip(sizes[:-1], values[:-1]) if v is not None and np.isfinite(v)]
    if not pts or w < pts[0][0] or w > pts[-1][0]:
        return None
    s, v = np.array(pts, float).T
    return float(np.interp(np.log2(w), np.log2(s), v))


def mean_replicates(values: np.ndarray, plan: ResamplingPlan, unit: str = "cells") -> tuple[float, np.ndarray | None]:
    """Mean of per-cell values and its bootstrap over cells (None with fewer than 2 cells)."""
    values = np.asarray(values, float)
    if len(values) < 2:
        return float(values.mean()), None
    return float(values.mean()), plan.mean(unit, values)


def slope_margin(slope: np.ndarray | float, lo: float, hi: float) -> np.ndarray | float:
    """``min(slope - lo, hi - slope)``: positive iff lo < slope < hi (two one-sided checks in one)."""
    return np.minimum(np.asarray(slope) - lo, hi - np.asarray(slope))


def _get(c: CellView, key: str) -> Any:
    return c.probes.get(P, {}).get(key)


@hypotheses.register("redundancy", version="1")
class RedundancyHypothesis(HypothesisPlugin):
    description = "wide interpolating nets split their last layer into redundant groups whose number grows with width"
    reference = "Doimo et al. (redundant representations help generalization in wide neural networks); docs/science.md, redundancy"
    requires_probes = ("redundancy",)
    claims = {
        "chunks_interpolate": "for wide interpolating nets, chunks of w_c neurons with the trained head reach ~zero training error",
        "residual_corr_falls": "for wide interpolating nets, the residual correlation between neurons falls with chunk size",
        "groups_grow_linearly": "above k*, the number of redundant groups W / w_c grows linearly with W (Pearson > 0.9)",
        "error_scaling": "chunk test error minus full-layer error scales like w^slope with slope in [-0.8, -0.3]",
        "needs_interpolation": "R^2 of w_c-sized chunks is lower for widths below k* than at or above it",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n_widest: int = Field(default=2, ge=1, description="the widest widths whose interpolating cells (a) and (c) use")
        chunk_error_margin: float = Field(default=0.01, ge=0, description="(a): tolerance above the interpolation threshold")
        pearson_threshold: float = Field(default=0.9, gt=-1, lt=1, description="(b): Pearson(W, W/w_c) above k* must exceed this")
        slope_interval: tuple[float, float] = Field(default=(-0.8, -0.3), description="(c): admissible log-log slopes")
        min_widths_above: int = Field(default=3, ge=3, description="(b): widths >= k* needed")

    def evidence(self, table: ResultTable, config: Any, analysis: Any) -> list[Evidence]:
        out: list[Evidence] = []
        thr = analysis.interpolation_threshold
        for core in table.cores(analysis):
            stratum, plan = core.stratum, core.plan
            cells = [c for c in core.cells if P in c.probes]
            k = core.k_star
            wide = self._wide(cells, config, thr)
            base = {"k_star": k, "wide_cells": [c.key for c in wide], "widths": sorted({c.width for c in cells})}
            if not cells:
                for claim in self.claims:
                    out.append(not_applicable(f"{P}.{claim}", stratum, "no cells with the redundancy probe", 0.0, "greater"))
                continue
            out.append(self._chunks_interpolate(stratum, wide, config, thr, plan, base))
            out.append(self._residual_corr(stratum, wide, plan, base))
            out.append(self._groups(stratum, core, config, base))
            out.append(self._scaling(stratum, wide, config, plan, base))
            out.append(self._needs_interpolation(stratum, cells, k, plan, base))
        for claim in self.claims:
            p = pooled(out, f"{P}.{claim}")
            if p is not None:
                out.append(p)
        return out

    @staticmethod
    def _wide(cells: list[CellView], config: Any, thr: float) -> list[CellView]:
        widest = sorted({c.width for c in cells})[-config.n_widest:]
        def interpolates(c: CellView) -> bool:
            err = c.metrics.get("train_error")
            return err is not None and err <= thr + 1e-12

        return [c for c in cells if c.width in widest and interpolates(c)]

    def _chunks_interpolate(self, stratum: dict[str, Any], wide: list[CellView], config: Any, thr: float,
                            plan: ResamplingPlan, base: dict[str, Any]) -> Evidence:
        claim, limit = f"{P}.chunks_interpolate", thr + config.chunk_error_margin
        vals = []
        for c in wide:
            w_c, sizes, err = _get(c, "w_c"), _get(c, "chunk_sizes"), _get(c, "chunk_train_error")
            if w_c is not None and sizes and err and w_c in sizes and err[sizes.index(w_c)] is not None:
                vals.append(float(err[sizes.index(w_c)]))
        detail = {**base, "chunk_train_error_at_w_c": vals, "w_c": [_get(c, "w_c") for c in wide]}
        if not wide:
            return not_applicable(claim, stratum, "no interpolating cells among the widest widths", limit, "less", detail)
        if not vals:
            return not_applicable(claim, stratum, "no w_c (mean R^2 never reached the threshold)", limit, "less", detail)
        stat, reps = mean_replicates(np.array(vals), plan)
        detail["bootstrap"] = "cells"
        return Evidence(claim, stratum, stat, reps, limit, "less", detail=detail, unit="cells", n_units=len(vals),
                        reason="" if reps is not None else "a single cell: no CI")

    def _residual_corr(self, stratum: dict[str, Any], wide: list[CellView], plan: ResamplingPlan,
                       base: dict[str, Any]) -> Evidence:
        claim = f"{P}.residual_corr_falls"
        have = [c for c in wide if _get(c, "chunk_sizes") and _get(c, "residual_corr")]
        if not have:
            return not_applicable(claim, stratum, "no interpolating cells with residual correlations among the widest widths",
                                  0.0, "less", base)
        shared = sorted(set.intersection(*(set(_get(c, "chunk_sizes")[:-1]) for c in have)))
        x = np.asarray(shared, float)
        Y = np.full((len(shared), len(have)), np.nan)
        for j, c in enumerate(have):
            sizes, rc = _get(c, "chunk_sizes"), _get(c, "residual_corr")
            for i, w in enumerate(shared):
                v = rc[sizes.index(w)]
                if v is not None:
                    Y[i, j] = float(v)
        return correlation_evidence(claim, stratum, x, Y, threshold=0.0, side="less", plan=plan, unit="cells",
                                    detail={**base, "axis": "chunk size", "columns": "cells"})

    def _groups(self, stratum: dict[str, Any], core: StratumCore, config: Any, base: dict[str, Any]) -> Evidence:
        claim, t, k = f"{P}.groups_grow_linearly", config.pearson_threshold, core.k_star
        if k is None:
            return not_applicable(claim, stratum, NO_K, t, "greater", base)
        x = core.widths.astype(float)
        Y = core.matrix(probe_value(f"{P}.groups"))
        y = core.values(probe_value(f"{P}.groups"))
        above, below = core.above_k_star(), ~core.above_k_star()
        detail = {**base, "groups": finite_list(y),
                  "pearson_below_k_star": None if below.sum() < 3 else finite_or_none(pearson(x[below], y[below])),
                  "widths_below_k_star": x[below].tolist()}
        if above.sum() < config.min_widths_above:
            return not_applicable(claim, stratum, f"only {int(above.sum())} widths at or above k*={k:g}; need "
                                  f"{config.min_widths_above} (add wider models)", t, "greater", detail)
        return core.correlation(claim, above, Y, threshold=t, side="greater", method="pearson", detail=detail)

    def _scaling(self, stratum: dict[str, Any], wide: list[CellView], config: Any, plan: ResamplingPlan,
                 base: dict[str, Any]) -> Evidence:
        claim = f"{P}.error_scaling"
        lo, hi = config.slope_interval
        slopes = [float(s) for c in wide if (s := _get(c, "scaling_slope")) is not None]
        detail = {**base, "slopes": slopes, "interval": [lo, hi],
                  "statistic": "min(slope - lo, hi - slope): two one-sided checks combined"}
        if not slopes:
            return not_applicable(claim, stratum, "no interpolating cells among the widest widths with a scaling slope "
                                  "(needs >= 3 chunk sizes whose test error exceeds the full layer's)", 0.0, "greater", detail)
        mean, reps = mean_replicates(np.array(slopes), plan)
        detail.update(mean_slope=mean, bootstrap="cells")
        if reps is not None:
            detail["slope_quantiles_2.5_97.5"] = [float(np.quantile(reps, 0.025)), float(np.quantile(reps, 0.975))]
        return Evidence(claim, stratum, float(slope_margin(mean, lo, hi)),
                        None if reps is None else slope_margin(reps, lo, hi), 0.0, "greater", detail=detail,
                        unit="cells", n_units=len(slopes), reason="" if reps is not None else "a single cell: no CI")

    def _needs_interpolation(self, stratum: dict[str, Any], cells: list[CellView], k: float | None, plan: ResamplingPlan,
                             base: dict[str, Any]) -> Evidence:
        claim = f"{P}.needs_interpolation"
        if k is None:
            return not_applicable(claim, stratum, NO_K, 0.0, "greater", base)
        w_cs = [w for c in cells if c.width >= k and (w := _get(c, "w_c")) is not None]
        if not w_cs:
            return not_applicable(claim, stratum, "no w_c at widths >= k*", 0.0, "greater", base)
        w_ref = float(np.median(w_cs))

        def r2(c: CellView) -> float | None:
            sizes, vals = _get(c, "chunk_sizes"), _get(c, "r2")
            if not sizes or not vals or c.width <= w_ref:
                return None
            return value_at_size(sizes, vals, w_ref)

        hi = [(c.width, v) for c in cells if c.width >= k and (v := r2(c)) is not None]
        lo = [(c.width, v) for c in cells if c.width < k and (v := r2(c)) is not None]
        detail = {**base, "w_ref": w_ref, "r2_above": hi, "r2_below": lo}
        if not lo:
            return not_applicable(claim, stratum, f"no widths below k*={k:g} wider than the reference chunk size "
                                  f"{w_ref:g} (add widths between {w_ref:g} and k*)", 0.0, "greater", detail)
        if not hi:
            return not_applicable(claim, stratum, f"no widths >= k* wider than the reference chunk size {w_ref:g}",
                                  0.0, "greater", detail)
        m_hi, r_hi = mean_replicates(np.array([v for _, v in hi]), plan, "cells_above_k_star")
        # the second group is resampled independently (a unit of its own)
        m_lo, r_lo = mean_replicates(np.array([v for _, v in lo]), plan, "cells_below_k_star")
        detail.update(bootstrap="cells", mean_r2_above=m_hi, mean_r2_below=m_lo)
        reps = None if r_hi is None or r_lo is None else r_hi - r_lo
        return Evidence(claim, stratum, m_hi - m_lo, reps, 0.0, "greater", detail=detail, unit="cells",
                        n_units=min(len(hi), len(lo)), reason="" if reps is not None else "fewer than 2 cells on a side: no CI")


