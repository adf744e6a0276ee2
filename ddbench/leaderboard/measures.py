"""Every scalar probe as a generalization measure (the PGDL / "Fantastic measures" protocol).

For each scalar probe value: Kendall's tau with the test error over the whole zoo,
and the granulated tau, the mean over axes (width, noise rate, seed-independent grid
axes such as depth) of the mean tau within groups of cells where only that axis
varies. This puts every probe on one comparable scale in the leaderboard.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from .document import Section, Table
from .formatting import fmt_num
from .schema import Row

#: axes over which the granulated tau is computed (plus every grid axis of the family config)
BASE_AXES = ("width", "noise_rate")


def _tau(x: list[float], y: list[float]) -> float | None:
    if len(x) < 2 or len(set(x)) < 2 or len(set(y)) < 2:
        return None
    t = stats.kendalltau(x, y).statistic
    return None if t is None or math.isnan(t) else float(t)


def _axis_value(row: Row, axis: str) -> Any:
    return getattr(row, axis) if axis in BASE_AXES else row.config.get(axis)


def is_measure(key: str, declared: dict[str, tuple[str, ...] | None] | None = None) -> bool:
    """Is ``"probe.value"`` a generalization measure? The probe's ``measures`` decide when declared."""
    probe, _, value = key.partition(".")
    listed = (declared or {}).get(probe)
    if listed is not None:
        return value in listed
    return not (value.startswith("n_") or value.endswith("_se"))


def probe_scores(rows: list[Row], grid_axes: list[str],
                 declared: dict[str, tuple[str, ...] | None] | None = None) -> list[dict[str, Any]]:
    """One entry per scalar probe measure: kendall_tau, granulated_tau and per-axis taus."""
    done = [r for r in rows if r.status == "done" and r.test_error is not None]
    keys = sorted({k for r in done for k, v in r.probes.items() if _is_scalar(v) and is_measure(k, declared)})
    axes = list(BASE_AXES) + [a for a in grid_axes if a not in BASE_AXES]
    out = []
    for key in keys:
        pairs = [(r, float(r.probes[key])) for r in done if _is_scalar(r.probes.get(key))]
        if len(pairs) < 2:
            continue
        entry: dict[str, Any] = {
            "probe": key,
            "n": len(pairs),
            "kendall_tau": _tau([v for _, v in pairs], [r.test_error for r, _ in pairs]),
        }
        per_axis: dict[str, float | None] = {}
        for axis in axes:
            others = [a for a in axes if a != axis] + ["seed", "noise_seed"]
            groups: dict[tuple, tuple[list[float], list[float]]] = {}
            for r, v in pairs:
                g = tuple(_axis_value(r, a) if a not in ("seed", "noise_seed") else getattr(r, a) for a in others)
                xs, ys = groups.setdefault(g, ([], []))
                xs.append(v)
                ys.append(r.test_error)
            taus = [t for xs, ys in groups.values() if (t := _tau(xs, ys)) is not None]
            per_axis[axis] = float(np.mean(taus)) if taus else None
        entry["per_axis"] = per_axis
        varying = [t for t in per_axis.values() if t is not None]
        entry["granulated_tau"] = float(np.mean(varying)) if varying else None
        out.append(entry)
    return out


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def scores_section(board: Any) -> Any:
    """The 'probes as generalization measures' table of leaderboard.md, or None."""
    if not board.probe_scores:
        return None
    axes = sorted({a for s in board.probe_scores for a in s.get("per_axis", {})})
    rows = [[s["probe"], str(s["n"]), fmt_num(s.get("kendall_tau")), fmt_num(s.get("granulated_tau")),
             *[fmt_num(s.get("per_axis", {}).get(a)) for a in axes]] for s in board.probe_scores]
    return Section(
        "Probes as generalization measures",
        ["Kendall tau with test error over all finished cells; granulated tau = mean over axes of the tau "
         "within groups where only that axis varies (blank: the axis does not vary)"],
        Table(["probe", "cells", "tau", "granulated tau", *[f"tau | {a}" for a in axes]], rows,
              numeric=tuple(range(1, 4 + len(axes)))),
    )
