"""Low effective rank (docs/science.md, "low_rank", Huh et al.).

Claims (probe ``low_rank``; "erank" below is the embedding Gram erank, or the
end-to-end product's erank for deep linear cells when ``matrix`` is ``auto``):

(a) ``depth_lowers_rank`` / ``depth_lowers_rank_init``: Spearman(depth, erank) < 0
    after training / at a fresh initialisation (``erank_init``). Strata are
    (family, other grid axes, noise rate, width): groups of done cells that differ
    only in depth (and seeds); a pooled stratum averages the statistics and
    replicates. Not applicable when no grid axis ``depth`` varies.
(b) ``linear_overparam_lowers_rank``: with a grid axis ``linear_overparam``, the
    paired difference erank(d) - erank(d = 1) at the same (width, seed, noise
    seed), averaged over every d >= 2 and width of a stratum; holds when < 0. The
    paired test-error change is reported in the detail (not tested).
(c) ``erank_per_width_falls_above_k_star`` (a ddbench extension, not Huh et al.'s
    claim): Spearman(width, erank_per_width) < 0 over widths >= k*, per stratum.

Replicates come from the resampling plan: correlations resample seeds when >= 3
(else grid points); (b) resamples seeds when >= 3, else the paired differences;
(c) uses its stratum's k* and unit (:class:`~ddbench.hypotheses.core.StratumCore`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import hypotheses
from ..stats.plan import ResamplingPlan
from .base import HypothesisPlugin
from .cells import CellView
from .core import MIN_SEEDS, StratumCore, correlation_evidence
from .evidence import Evidence
from .probe_curves import not_applicable, pooled
from .stats import grid_matrix, probe_value
from .table import ResultTable

P = "low_rank"
DEPTH, OVERPARAM = "depth", "linear_overparam"


def axis_value(c: CellView, axis: str) -> Any:
    """A grid axis of a cell (its family config when not a grid axis), as ``grid_matrix`` reads it."""
    return c.grid.get(axis, c.config.get(axis))


def group_without(cells: list[CellView], axis: str, by_width: bool) -> list[tuple[dict[str, Any], list[CellView]]]:
    """Cells grouped by family, noise rate and every grid axis except ``axis`` (and width if ``by_width``)."""
    groups: dict[str, tuple[dict[str, Any], list[CellView]]] = {}
    for c in cells:
        stratum = {"family": c.family, **{k: v for k, v in c.grid.items() if k != axis}, "noise_rate": c.noise_rate}
        if by_width:
            stratum["width"] = c.width
        groups.setdefault(repr(sorted(stratum.items(), key=lambda kv: kv[0])), (stratum, []))[1].append(c)
    return list(groups.values())


def overparam_level(c: CellView) -> int:
    """A cell's linear over-parameterisation depth d (the family default, 1, when unset)."""
    d = axis_value(c, OVERPARAM)
    return 1 if d is None else int(d)


def paired_differences(cells: list[CellView], value: Callable[[CellView], Any], level: Callable[[CellView], Any],
                       base: Any = 1) -> tuple[list[tuple[Any, int]], np.ndarray]:
    """``(rows, D)``: D[r, s] = value at level d minus value at level ``base``, for row r = (d, width) and
    seed s = (seed, noise seed); NaN where either cell or value is missing."""
    by = {(level(c), c.width, (c.seed, c.noise_seed)): value(c) for c in cells}
    rows = sorted({(level(c), c.width) for c in cells if level(c) != base})
    seeds = sorted({(c.seed, c.noise_seed) for c in cells})
    D = np.full((len(rows), len(seeds)), np.nan)
    for i, (d, w) in enumerate(rows):
        for j, s in enumerate(seeds):
            a, b0 = by.get((d, w, s)), by.get((base, w, s))
            if a is not None and b0 is not None and np.isfinite(a) and np.isfinite(b0):
                D[i, j] = float(a) - float(b0)
    return rows, D


def _nanmean(M: np.ndarray) -> float | None:
    return float(np.nanmean(M)) if np.isfinite(M).any() else None


def mean_difference_replicates(D: np.ndarray, plan: ResamplingPlan,
                               min_seeds: int = MIN_SEEDS) -> tuple[float, np.ndarray | None, str, int]:
    """Mean of the finite entries of D with replicates: seed columns resampled (>= 3 seeds with
    values), else the finite differences resampled (None if fewer than 2)."""
    ok = np.isfinite(D)
    point = float(D[ok].mean())
    cols = np.flatnonzero(ok.any(axis=0))
    if len(cols) >= min_seeds:
        sums, counts = np.where(ok, D, 0.0)[:, cols].sum(axis=0), ok[:, cols].sum(axis=0)
        w = plan.counts("seeds", len(cols)).astype(float)  # (B, S)
        return point, (w @ sums) / (w @ counts), "seeds", len(cols)
    flat = D[ok]
    if len(flat) < 2:
        return point, None, "none", len(flat)
    return point, plan.mean("pairs", flat), "pairs", len(flat)


@hypotheses.register("low_rank", version="1")
class LowRankHypothesis(HypothesisPlugin):
    description = "depth and linear over-parameterisation lower the effective rank of embeddings (Huh et al.)"
    reference = "Huh et al. (the low-rank simplicity bias of deep networks); docs/science.md, low_rank"
    requires_probes = ("low_rank",)
    claims = {
        "depth_lowers_rank": "at a fixed width, trained erank decreases with depth (Spearman(depth, erank) < 0)",
        "depth_lowers_rank_init": "at a fixed width, erank at initialisation decreases with depth (Spearman < 0)",
        "linear_overparam_lowers_rank": "linear over-parameterisation d >= 2 lowers erank vs d = 1 (paired mean difference < 0)",
        "erank_per_width_falls_above_k_star": "ddbench extension: above k*, erank / width falls with width (Spearman < 0)",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        matrix: Literal["auto", "embedding", "end_to_end"] = Field(
            default="auto", description="auto: the end-to-end product where every cell of a group has it (deep linear), else embeddings")
        min_widths_above: int = Field(default=3, ge=3, description="widths >= k* needed for the per-width claim")

    def evidence(self, table: ResultTable, config: Any, analysis: Any) -> list[Evidence]:
        cores = table.cores(analysis)
        plan = cores[0].plan if cores else ResamplingPlan(analysis.bootstrap, analysis.seed)
        done = table.done()
        out: list[Evidence] = []
        out += self._depth(done, config, plan, init=False)
        out += self._depth(done, config, plan, init=True)
        out += self._overparam(done, config, plan)
        for core in cores:
            out.append(self._per_width(core, config))
        for claim in self.claims:
            p = pooled(out, f"{P}.{claim}")
            if p is not None:
                out.append(p)
        return out

    def _key(self, cells: list[CellView], config: Any, init: bool) -> str:
        suffix = "_init" if init else ""
        e2e = f"erank_end_to_end{suffix}"
        if config.matrix == "end_to_end" or (
            config.matrix == "auto" and cells and all(c.probes.get(P, {}).get(e2e) is not None for c in cells)
        ):
            return e2e
        return f"erank{suffix}"

    def _depth(self, done: list[CellView], config: Any, plan: ResamplingPlan, init: bool) -> list[Evidence]:
        claim = f"{P}.depth_lowers_rank" + ("_init" if init else "")
        out = []
        for stratum, cells in group_without(done, DEPTH, by_width=False):
            depths = {axis_value(c, DEPTH) for c in cells} - {None}
            if len(depths) < 2:
                out.append(not_applicable(claim, stratum, "no depth axis varies: add a grid axis depth "
                                          "(e.g. grid: {depth: [1, 2, 4, 8]}) at fixed width", 0.0, "less"))
                continue
            for sub, group in group_without(cells, DEPTH, by_width=True):
                key = self._key(group, config, init)
                x, Y = grid_matrix(group, probe_value(f"{P}.{key}"), axis=DEPTH)
                ev = correlation_evidence(claim, sub, x, Y, threshold=0.0, side="less", plan=plan,
                                          unit="seeds" if Y.shape[1] >= MIN_SEEDS else "grid_points",
                                          detail={"value": key, "axis": DEPTH})
                if not ev.applicable and not np.isfinite(Y).any():
                    ev.reason = f"no {key} values (is the low_rank probe{' with init: true' if init else ''} in the spec?)"
                out.append(ev)
        return out

    def _overparam(self, done: list[CellView], config: Any, plan: ResamplingPlan) -> list[Evidence]:
        claim = f"{P}.linear_overparam_lowers_rank"
        out = []
        for stratum, cells in group_without(done, OVERPARAM, by_width=False):
            ds = {overparam_level(c) for c in cells}
            if len(ds) < 2:
                out.append(not_applicable(claim, stratum, "no linear_overparam axis varies: add a grid axis "
                                          "linear_overparam (e.g. [1, 2, 4])", 0.0, "less"))
                continue
            if 1 not in ds:
                out.append(not_applicable(claim, stratum, "no linear_overparam = 1 baseline cells", 0.0, "less"))
                continue
            key = self._key(cells, config, init=False)
            rows, D = paired_differences(cells, probe_value(f"{P}.{key}"), overparam_level)
            _, E = paired_differences(cells, lambda c: c.metrics.get("test_error"), overparam_level)
            levels = sorted({d for d, _ in rows})
            detail: dict[str, Any] = {"value": key, "rows": [[d, w] for d, w in rows]}
            for name, M in (("erank_change", D), ("test_error_change", E)):
                detail[name] = [_nanmean(r) for r in M]
                detail[f"{name}_by_d"] = {str(d): _nanmean(M[[r[0] == d for r in rows]]) for d in levels}
                detail[f"{name}_mean"] = _nanmean(M)
            if not np.isfinite(D).any():
                out.append(not_applicable(claim, stratum, f"no (width, seed) pairs with {key} at d = 1 and d >= 2",
                                          0.0, "less", detail))
                continue
            stat, reps, scheme, n_units = mean_difference_replicates(D, plan)
            detail.update(bootstrap=scheme, pairs=int(np.isfinite(D).sum()))
            out.append(Evidence(claim, stratum, stat, reps, 0.0, "less", detail=detail, unit=scheme, n_units=n_units,
                                reason="" if reps is not None else "a single pair: no CI"))
        return out

    def _per_width(self, core: StratumCore, config: Any) -> Evidence:
        claim, stratum = f"{P}.erank_per_width_falls_above_k_star", core.stratum
        k = core.k_star
        if k is None:
            return not_applicable(claim, stratum, "the grid never reaches the interpolation threshold k*; add wider models",
                                  0.0, "less")
        above = core.above_k_star()
        if above.sum() < config.min_widths_above:
            return not_applicable(claim, stratum, f"only {int(above.sum())} widths at or above k*={k:g}; need "
                                  f"{config.min_widths_above} (add wider models)", 0.0, "less", {"k_star": k})
        Y = core.matrix(probe_value(f"{P}.erank_per_width"))
        return core.correlation(claim, above, Y, threshold=0.0, side="less",
                                detail={"k_star": k, "extension": "ddbench extension, not a claim of Huh et al."})
