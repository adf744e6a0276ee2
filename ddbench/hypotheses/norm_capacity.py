"""Norm-based capacity (docs/science.md, "norm_capacity", Wang, Chen, Rosasco, Liu).

Capacity is ``||a||^2`` (``ridge_sq_norm``, the head of a ``random_features``
cell), not the parameter count. Risk = ``test_loss`` (MSE on one-hot targets for
RF specs). ``n`` is the cell metric ``n_train`` written by the closed-form trainer.
Claims on random-features strata (cells carrying ``ridge_sq_norm`` and ``n_train``):

(a) ``peaks_coincide``: the argmax over P of the risk and of the norm both lie near
    n and within ``grid_points`` of each other. "Near n" = within ``near`` (10%)
    of n, or one of the two grid points that bracket n (a geometric grid may have
    no point within 10%). Statistic: the number of grid steps by which the worse of
    (risk peak to the near-n window, norm peak to it, peak gap beyond
    ``grid_points``) misses; holds when < 0.5 (i.e. 0).
(b) ``fall_together``: on P >= 1.5 n, margin = min(Pearson(risk, norm) - 0.95,
    -0.9 - Spearman(P, risk), -0.9 - Spearman(P, norm)); holds when > 0. One
    claim, the three parts are in the detail.
(c) ``unimodal_in_norm``: on each branch (P <= n, P >= n) ordered by norm, the
    largest interior peak of the risk, min(r_j - min left, r_j - min right),
    relative to the branch's smallest risk; the statistic is the max over the two
    branches; holds when < ``unimodal_tol`` (a U or a monotone curve: no double
    descent in norm).
(d) ``strong_ridge_flattens``: recorded, never tested: per ridge value of a grid
    over ``ridge``, the relative risk peak excess near n and the norm peak ratio.
    Strata with ridge > ``max_tested_ridge`` are "strong ridge": (a)-(c) are
    measured and reported there but not tested.

Extension for trained nets (ddbench's own, not the paper's):
``trained_norm_tracks_error``: for strata of trained families with the
``weight_norm`` probe, Spearman(head_sq_norm, test_error) over widths >= k*
(> 0 holds). n is unknown to a hypothesis for trained nets, so only widths and k*
are used.

Strata of the other kind (trained strata for (a)-(d), RF strata for the
extension) give one pooled not-applicable line per claim, not one per stratum.
Claims tested in >= 2 strata also get a pooled evidence (mean statistic and
replicates over the tested strata).

Bootstrap: the risk curve comes from the stratum's core (:func:`curves.width_curve`:
seeds when >= 3, else test points, paired across widths); k* is the stratum's. The norm has no per-test-point values:
with the seed bootstrap it is resampled with the same seed weights (paired);
with the test-point bootstrap it is held fixed, so CIs then cover test sampling
only, not the draw of features or training points.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import hypotheses
from ..stats.rowstats import row_pearson as _row_pearson
from ..stats.rowstats import row_spearman as _row_spearman
from .base import HypothesisPlugin
from .core import StratumCore, null_fields, paired_correlation
from .curves import WidthCurve, width_curve
from .evidence import Evidence
from .probe_curves import not_applicable, pooled, row_mean
from .stats import metric_value, probe_value, spearman
from .table import ResultTable

H = "norm_capacity"
NORM = "ridge_sq_norm"
RF_CLAIMS = ("peaks_coincide", "fall_together", "unimodal_in_norm")
NOT_RF = "no closed-form random-features cells here (metrics ridge_sq_norm, n_train); use family random_features"


# ------------------------------------------------------------------ row-wise statistics


def near_window(widths: np.ndarray, n: float, near: float) -> np.ndarray:
    """Grid indices "near n": within ``near * n`` of n, plus the two points that bracket n."""
    idx = set(np.flatnonzero(np.abs(widths - n) <= near * n).tolist())
    below, above = np.flatnonzero(widths <= n), np.flatnonzero(widths >= n)
    if len(below):
        idx.add(int(below[-1]))
    if len(above):
        idx.add(int(above[0]))
    return np.array(sorted(idx), dtype=int)


def peak_miss(risk: np.ndarray, norm: np.ndarray, window: np.ndarray, grid_points: int) -> np.ndarray:
    """Rows of (R, W): grid steps by which the risk/norm peaks miss "together near n" (0 = they don't)."""
    i_r, i_n = risk.argmax(axis=1), norm.argmax(axis=1)

    def off(i: np.ndarray) -> np.ndarray:
        return np.abs(i[:, None] - window[None, :]).min(axis=1)

    gap = np.maximum(np.abs(i_r - i_n) - grid_points, 0)
    return np.maximum(np.maximum(off(i_r), off(i_n)), gap).astype(float)


def fall_margin(P: np.ndarray, risk: np.ndarray, norm: np.ndarray, min_pearson: float,
                max_spearman: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rows of (R, k): min(Pearson(risk, norm) - min_pearson, max_spearman - Spearman(P, risk), ... norm)."""
    Pm = np.broadcast_to(P, risk.shape)
    parts = {"pearson_risk_norm": _row_pearson(risk, norm), "spearman_p_risk": _row_spearman(Pm, risk),
             "spearman_p_norm": _row_spearman(Pm, norm)}
    margin = np.minimum(parts["pearson_risk_norm"] - min_pearson,
                        np.minimum(max_spearman - parts["spearman_p_risk"], max_spearman - parts["spearman_p_norm"]))
    return margin, parts


def interior_peak(curve: np.ndarray) -> np.ndarray:
    """Rows of (R, k), k >= 3: max over interior j of min(c_j - min(c[:j]), c_j - min(c[j+1:]))."""
    left = np.minimum.accumulate(curve, axis=1)[:, :-2]  # min of c[:j] for j = 1..k-2
    right = np.minimum.accumulate(curve[:, ::-1], axis=1)[:, ::-1][:, 2:]  # min of c[j+1:]
    mid = curve[:, 1:-1]
    return np.minimum(mid - left, mid - right).max(axis=1)


def norm_unimodality(risk: np.ndarray, norm: np.ndarray, branches: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Rows of (R, W): max over branches of the relative interior risk peak, risk ordered by norm."""
    per_branch = []
    for b in branches:
        order = np.argsort(norm[:, b], axis=1, kind="stable")
        r = np.take_along_axis(risk[:, b], order, axis=1)
        with np.errstate(all="ignore"):
            per_branch.append(interior_peak(r) / np.abs(r.min(axis=1)))
    return np.max(np.stack(per_branch), axis=0), per_branch


def _vals(v: Any) -> list[float | None]:
    return [float(a) if np.isfinite(a) else None for a in np.asarray(v, dtype=float)]


# ------------------------------------------------------------------ the plugin


@hypotheses.register(H, version="1")
class NormCapacity(HypothesisPlugin):
    description = "the squared norm of the learned weights, not the parameter count, tracks the test risk"
    # Only the trained-net extension reads the weight_norm probe, and says not_applicable without it;
    # the random-features claims need no probe, so nothing is required.
    requires_probes = ()
    located_claims = ("peaks_coincide",)
    reference = "Wang, Chen, Rosasco, Liu (norm-based capacity of random features); docs/science.md, norm_capacity"
    claims = {
        "peaks_coincide": "random features: test risk and ||a||^2 peak together near P = n (within 10% of n or the "
                          "bracketing grid points, and within grid_points of each other)",
        "fall_together": "random features: for P >= 1.5 n risk and ||a||^2 fall together (Pearson >= 0.95, both "
                         "Spearman with P < -0.9); statistic = the smallest margin",
        "unimodal_in_norm": "random features: against ||a||^2 each branch (P <= n, P >= n) of the risk has no interior "
                            "peak (no double descent in norm)",
        "strong_ridge_flattens": "random features: with strong ridge the peak disappears (recorded, not tested)",
        "trained_norm_tracks_error": "ddbench's own extension to trained nets (not in the paper): above k* the head's "
                                     "squared Frobenius norm and the test error rank together over width (Spearman > 0)",
    }

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        near: float = Field(default=0.1, gt=0, description="peaks within this fraction of n (or the grid points bracketing n)")
        grid_points: int = Field(default=1, ge=0, description="risk and norm peaks at most this many grid points apart")
        over_factor: float = Field(default=1.5, gt=1, description="the over-parameterised branch is P >= over_factor * n")
        min_pearson: float = Field(default=0.95, ge=-1, le=1)
        max_spearman: float = Field(default=-0.9, ge=-1, le=1)
        unimodal_tol: float = Field(default=0.05, ge=0, description="allowed interior risk peak, relative to the branch minimum")
        max_tested_ridge: float = Field(default=1e-3, ge=0, description="strata with a larger ridge: (a)-(c) recorded, not tested")
        min_points: int = Field(default=3, ge=3, description="grid points needed on a branch / above k*")

    def evidence(self, table: ResultTable, config: Any, analysis: Any) -> list[Evidence]:
        out: list[Evidence] = []
        rf_strata: list[tuple[dict[str, Any], dict[str, Any]]] = []
        trained = 0
        for core in table.cores(analysis):
            if all(NORM in c.metrics and "n_train" in c.metrics for c in core.cells):
                evs, summary = self._random_features(core, config)
                out += evs
                rf_strata.append((core.stratum, summary))
            else:
                trained += 1
                out.append(self._trained(core, config))
        # a kind of claim that no stratum can test: one line each, not one per stratum
        if not rf_strata:
            out += [not_applicable(f"{H}.{c}", {"pooled": True}, NOT_RF, t, s) for c, t, s in _RF_THRESHOLDS(config)]
            out.append(not_applicable(f"{H}.strong_ridge_flattens", {"pooled": True}, NOT_RF, 0.0, "greater"))
        if not trained:
            out.append(not_applicable(f"{H}.trained_norm_tracks_error", {"pooled": True},
                                      "no trained-family strata (random features are solved in closed form; "
                                      "their claims are the other ones)", 0.0, "greater"))
        out += self._ridge_record(rf_strata)
        for claim in (*RF_CLAIMS, "trained_norm_tracks_error"):
            p = pooled(out, f"{H}.{claim}")
            if p is not None:
                out.append(p)
        return out

    # ---------------------------------------------------------------- random features

    def _random_features(self, core: StratumCore, config: Any) -> tuple[list[Evidence], dict[str, Any]]:
        stratum, cells = core.stratum, core.cells
        curve = width_curve(core)
        W = len(curve.widths)
        n = float(np.median([c.metrics["n_train"] for c in cells]))
        ridge = float(np.median([c.metrics.get("ridge", np.nan) for c in cells]))
        norm_point, norm_reps = _norm_curve(core, curve)
        risk_point, risk_reps = curve.point.get("test_loss"), curve.replicates.get("test_loss")
        base = {"n_train": n, "ridge": ridge, "widths": curve.widths.tolist(), "test_loss": _vals(risk_point) if risk_point is not None else [],
                "test_error": _vals(curve.point.get("test_error", [])), NORM: _vals(norm_point),
                "train_error": _vals(curve.train_error), "bootstrap": curve.scheme, "seeds": len(curve.seeds),
                "missing_widths": curve.missing_widths,
                "risk_note": "test_loss = MSE on one-hot labels (adapts the paper's scalar regression on the digit value)"}
        thresholds = {c: (t, s) for c, t, s in _RF_THRESHOLDS(config)}
        summary = {"n": n, "ridge": ridge, "base": base, "risk": risk_point, "norm": norm_point, "widths": curve.widths}
        problem = ""
        if W < 3 or risk_point is None:
            problem = f"only {W} finished widths with per-point test losses; need at least 3"
        elif not (curve.widths[0] < n < curve.widths[-1]):
            problem = (f"the grid of P [{curve.widths[0]}..{curve.widths[-1]}] does not straddle n = {n:g}; "
                       f"add widths from about n/10 to 10 n (e.g. geomspace [{max(1, int(n // 10))}, {int(10 * n)}, 25])")
        if problem:
            return [not_applicable(f"{H}.{c}", stratum, problem, *thresholds[c], base) for c in RF_CLAIMS], summary
        strong = np.isfinite(ridge) and ridge > config.max_tested_ridge
        untested = (f"strong ridge (lambda = {ridge:g} > max_tested_ridge = {config.max_tested_ridge:g}): measured and "
                    f"reported, not tested (see strong_ridge_flattens)") if strong else ""
        evs = [self._peaks(stratum, curve.widths, risk_point, risk_reps, norm_point, norm_reps, n, config, base),
               self._fall(stratum, curve.widths, risk_point, risk_reps, norm_point, norm_reps, n, config, base),
               self._unimodal(stratum, curve.widths, risk_point, risk_reps, norm_point, norm_reps, n, config, base)]
        for e in evs:
            if e.samples is not None:
                e.unit, e.n_units = curve.scheme, curve.n_units
            if untested and e.applicable:
                e.applicable, e.reason = False, untested
        return evs, summary

    def _peaks(self, stratum, widths, r, R, m, M, n, config, base) -> Evidence:
        window = near_window(widths, n, config.near)
        stat = float(peak_miss(r[None], m[None], window, config.grid_points)[0])
        reps = peak_miss(R, M, window, config.grid_points)
        detail = dict(base, near_n_widths=widths[window].tolist(), risk_peak_width=float(widths[int(np.argmax(r))]),
                      norm_peak_width=float(widths[int(np.argmax(m))]),
                      risk_peak_over_n=float(widths[int(np.argmax(r))] / n), norm_peak_over_n=float(widths[int(np.argmax(m))] / n))
        return Evidence(f"{H}.peaks_coincide", stratum, stat, reps, 0.5, "less", detail=detail)

    def _fall(self, stratum, widths, r, R, m, M, n, config, base) -> Evidence:
        over = np.flatnonzero(widths >= config.over_factor * n)
        detail = dict(base, over_widths=widths[over].tolist())
        if len(over) < config.min_points:
            return not_applicable(f"{H}.fall_together", stratum,
                                  f"{len(over)} widths with P >= {config.over_factor:g} n = {config.over_factor * n:g}; need "
                                  f"{config.min_points} (add widths up to about 10 n = {10 * n:g})", 0.0, "greater", detail)
        P = widths[over].astype(float)
        stat, parts = fall_margin(P, r[None, over], m[None, over], config.min_pearson, config.max_spearman)
        reps, _ = fall_margin(P, R[:, over], M[:, over], config.min_pearson, config.max_spearman)
        detail.update({k: float(v[0]) for k, v in parts.items()}, min_pearson=config.min_pearson,
                      max_spearman=config.max_spearman)
        if not np.isfinite(stat[0]):
            return not_applicable(f"{H}.fall_together", stratum, "a correlation is undefined (constant curve)", 0.0,
                                  "greater", detail)
        return Evidence(f"{H}.fall_together", stratum, float(stat[0]), reps, 0.0, "greater", detail=detail)

    def _unimodal(self, stratum, widths, r, R, m, M, n, config, base) -> Evidence:
        branches = {"under": np.flatnonzero(widths <= n), "over": np.flatnonzero(widths >= n)}
        usable = {k: b for k, b in branches.items() if len(b) >= config.min_points}
        detail = dict(base, branches={k: widths[b].tolist() for k, b in branches.items()})
        if not usable:
            return not_applicable(f"{H}.unimodal_in_norm", stratum,
                                  f"no branch (P <= n, P >= n) has {config.min_points} widths", config.unimodal_tol, "less", detail)
        stat, parts = norm_unimodality(r[None], m[None], list(usable.values()))
        reps, _ = norm_unimodality(R, M, list(usable.values()))
        detail.update(branch_peak={k: float(p[0]) for k, p in zip(usable, parts)}, tested_branches=list(usable))
        return Evidence(f"{H}.unimodal_in_norm", stratum, float(stat[0]), reps, config.unimodal_tol, "less", detail=detail)

    def _ridge_record(self, rf_strata: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[Evidence]:
        """(d): group random-features strata that differ only by ridge; record the peak per ridge value."""
        groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        for stratum, summary in rf_strata:
            rest = {k: v for k, v in stratum.items() if k != "ridge"}
            groups.setdefault(repr(sorted(rest.items())), (rest, []))[1].append(summary)
        out = []
        for rest, summaries in groups.values():
            ridges = sorted({s["ridge"] for s in summaries})
            claim = f"{H}.strong_ridge_flattens"
            if len(ridges) < 2:
                out.append(not_applicable(claim, {**rest, "ridge": ridges[0] if ridges else None},
                                          "no grid over ridge: add model.grid: {ridge: [0.0001, 0.005]} to record it",
                                          0.0, "greater"))
                continue
            per = {}
            for s in sorted(summaries, key=lambda s: s["ridge"]):
                per[f"{s['ridge']:g}"] = _peak_summary(s)
            last = per[f"{ridges[-1]:g}"]["risk_peak_excess_rel"]
            out.append(Evidence(claim, {**rest, "ridge": "all"}, last, None, 0.0, "greater", applicable=False,
                                reason="recorded, not tested",
                                detail={"ridges": ridges, "per_ridge": per,
                                        "statistic": "relative risk peak excess near n at the largest ridge"}))
        return out

    # ---------------------------------------------------------------- trained nets (extension)

    def _trained(self, core: StratumCore, config: Any) -> Evidence:
        claim, stratum = f"{H}.trained_norm_tracks_error", core.stratum
        head = probe_value("weight_norm.head_sq_norm")
        if not any(head(c) is not None for c in core.cells):
            return not_applicable(claim, stratum, "needs the weight_norm probe (add probes: [weight_norm])", 0.0, "greater")
        x = core.widths.astype(float)
        A = core.matrix(head)
        T = core.matrix(probe_value("weight_norm.total_sq_norm"))
        E = core.matrix(metric_value("test_error"))
        detail = {"widths": x.tolist(), "head_sq_norm": _vals(row_mean(A)), "total_sq_norm": _vals(row_mean(T)),
                  "test_error": _vals(row_mean(E)), "k_star": core.k_star,
                  "note": "ddbench's own extension; n is not used, only widths and k*"}
        if core.k_star is None:
            return not_applicable(claim, stratum, core.problem(), 0.0, "greater", detail)
        above = core.above_k_star()
        if above.sum() < config.min_points:
            return not_applicable(claim, stratum, f"{int(above.sum())} widths >= k* = {core.k_star}; need "
                                  f"{config.min_points} (add wider models)", 0.0, "greater", detail)
        unit = "seeds" if core.unit == "seeds" else "grid_points"
        point, reps, unit, n_units, test = paired_correlation(A[above], E[above], core.plan, unit, test=True)
        point_total = spearman(row_mean(T[above]), row_mean(E[above]))
        detail.update(bootstrap=unit, widths_above=x[above].tolist(),
                      spearman_total_sq_norm=float(point_total) if np.isfinite(point_total) else None)
        if not np.isfinite(point):
            return not_applicable(claim, stratum, "Spearman is undefined (constant values)", 0.0, "greater", detail)
        return Evidence(claim, stratum, float(point), reps, 0.0, "greater", detail=detail, unit=unit, n_units=n_units,
                        bounds=(-1.0, 1.0), **null_fields(test))


def _RF_THRESHOLDS(config: Any) -> list[tuple[str, float, str]]:
    return [("peaks_coincide", 0.5, "less"), ("fall_together", 0.0, "greater"),
            ("unimodal_in_norm", config.unimodal_tol, "less")]


def _norm_curve(core: StratumCore, curve: WidthCurve) -> tuple[np.ndarray, np.ndarray]:
    """``||a||^2`` per width (mean over the paired seeds) and (B, W) replicates paired with the risk's."""
    N = core.matrix(metric_value(NORM))
    point = row_mean(N)
    if curve.scheme == "seeds":
        reps = core.plan.mean("seeds", N)
    else:  # test-point bootstrap: the norm does not depend on test points
        reps = np.broadcast_to(point, (core.plan.n_boot, len(point))).copy()
    return point, reps


def _peak_summary(s: dict[str, Any]) -> dict[str, Any]:
    """Peak shape of one ridge value's curves (for the strong-ridge record)."""
    widths, r, m, n = s["widths"], s["risk"], s["norm"], s["n"]
    if r is None or len(widths) < 3:
        return {"risk_peak_excess_rel": None}
    window = near_window(widths, n, 0.1)
    window = window[(window > 0) & (window < len(widths) - 1)]
    exc = None
    if len(window):
        j = window[int(np.argmax(r[window]))]
        exc = float(min(r[j] - r[:j].min(), r[j] - r[j + 1 :].min()) / abs(r.min()))
    return {"risk_peak_excess_rel": exc, "risk_peak_width": float(widths[int(np.argmax(r))]),
            "norm_peak_width": float(widths[int(np.argmax(m))]),
            "norm_peak_over_widest": float(np.max(m) / m[-1]) if m[-1] else None,
            "risk_max_over_min": float(np.max(r) / np.min(r))}
