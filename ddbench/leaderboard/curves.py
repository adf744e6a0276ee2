"""Curve groups: a leaderboard's rows grouped by stratum and aggregated per width over seeds.

One :class:`CurveGroup` per (family, varying config axes, noise rate), with its k* and peaks
(from the statistical core's record, see :mod:`.strata`). leaderboard.md, the HTML page and the
figures all read the same groups, so they show the same numbers.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..stats.threshold import interpolation_index
from .formatting import canon, fmt_p
from .schema import Leaderboard, Row
from .strata import attach_core, attach_verdicts

METRICS = ("train_error", "test_error", "train_loss", "test_loss")


def _sort_key(v: Any) -> tuple:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, float(v), "")
    if isinstance(v, tuple):
        return (1, 0.0, "", tuple(_sort_key(x) for x in v))
    return (2, 0.0, repr(v))


@dataclass
class WidthStats:
    """The cells of one width in one curve group."""

    width: int
    params: int | None
    statuses: Counter
    values: dict[str, list[float]]  # metric -> values of finished cells

    @property
    def done(self) -> int:
        return self.statuses.get("done", 0)

    def mean(self, metric: str) -> float | None:
        vs = self.values.get(metric) or []
        return sum(vs) / len(vs) if vs else None

    def spread(self, metric: str) -> tuple[float, float] | None:
        vs = self.values.get(metric) or []
        return (min(vs), max(vs)) if vs else None


@dataclass
class CurveGroup:
    """All cells of one noise rate (and family / config axes, where those vary)."""

    family: str
    axes: dict[str, Any]  # only the config axes that vary across the leaderboard
    noise_rate: float
    label: str
    rows: list[Row]
    widths: list[WidthStats]
    k_star: int | None
    k_star_source: str  # "core" (recorded by the statistical core), "verdict" (older boards), "rows" or "none"
    peaks: dict[str, int] = field(default_factory=dict)  # mark ("peak", "loss peak") -> width
    peak_heights: dict[str, float] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)  # claim -> verdict in this stratum

    @property
    def finished(self) -> bool:
        return any(w.done for w in self.widths)

    def marks(self, width: int) -> str:
        tags = (["k*"] if self.k_star == width else []) + [m for m, w in self.peaks.items() if w == width]
        return "← " + ", ".join(tags) if tags else ""


def varying_config_keys(rows: Iterable[Row]) -> list[str]:
    """Config keys that are grid axes: they vary among cells of one width (width-derived options don't)."""
    by_width: dict[int, list[Row]] = {}
    for r in rows:
        by_width.setdefault(r.width, []).append(r)
    keys: list[str] = []
    for group in by_width.values():
        for r in group:
            keys += [k for k in r.config if k not in keys and not k.startswith("_")]
    return [k for k in keys
            if any(len({canon(r.config.get(k, "∅")) for r in group}) > 1 for group in by_width.values())]


def interpolation_threshold(board: Leaderboard) -> float:
    """The train error at or below which a width interpolates: the board's analysis, else its spec's, else 0.01."""
    for src in (board.analysis, (board.spec or {}).get("analysis") or {}):
        if isinstance(src.get("interpolation_threshold"), (int, float)):
            return float(src["interpolation_threshold"])
    return 0.01


def curve_groups(board: Leaderboard) -> list[CurveGroup]:
    """Rows grouped by (family, varying config axes, noise rate), aggregated per width over seeds."""
    axes = varying_config_keys(board.rows)
    families = {r.family for r in board.rows}
    grouped: dict[tuple, list[Row]] = {}
    for r in board.rows:
        grouped.setdefault((r.family, tuple(canon(r.config.get(k)) for k in axes), canon(r.noise_rate)), []).append(r)
    thr = interpolation_threshold(board)
    groups = []
    for gk in sorted(grouped, key=lambda g: (g[0], _sort_key(g[1]), g[2])):
        rows = grouped[gk]
        first = rows[0]
        axis_values = {k: first.config.get(k) for k in axes}
        label = " ".join(([first.family] if len(families) > 1 else []) + [f"{k}={v}" for k, v in axis_values.items()]
                         + [fmt_p(first.noise_rate)])
        widths = []
        for w in sorted({r.width for r in rows}):
            cells = [r for r in rows if r.width == w]
            done = [r for r in cells if r.status == "done"]
            widths.append(WidthStats(
                width=w, params=next((r.params for r in cells if r.params), None),
                statuses=Counter(r.status for r in cells),
                values={m: [getattr(r, m) for r in done if getattr(r, m) is not None] for m in METRICS},
            ))
        group = CurveGroup(first.family, axis_values, first.noise_rate, label, rows, widths, None, "none")
        coords = {**first.config, "family": first.family, "noise_rate": first.noise_rate}
        attach_core(group, board, coords)
        attach_verdicts(group, board, coords)
        if group.k_star_source == "none":
            means = [ws.mean("train_error") for ws in widths]
            k = interpolation_index([ws.width for ws in widths], [math.nan if m is None else m for m in means], thr)
            if k is not None:
                group.k_star, group.k_star_source = widths[k].width, "rows"
        groups.append(group)
    return groups
