"""What differs between two leaderboards beside their verdicts (see :mod:`.compare`): the specs, the width grids
and their refinements, per-width metrics, and the cells matched on both sides."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .curves import varying_config_keys
from .formatting import canon, fmt_p, fmt_refinement
from .schema import Leaderboard, Row

METRICS = ("test_error", "test_loss")
MAX_SPEC_DIFFERENCES = 20


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


@dataclass
class WidthDiff:
    """One metric at one width of one curve (family, grid axes, noise rate): mean over seeds per side."""

    group: str
    width: int
    metric: str
    n_a: int
    n_b: int
    mean_a: float | None
    mean_b: float | None
    sd_a: float | None  # sample sd over seeds (None below 2 seeds)
    sd_b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.mean_a is None or self.mean_b is None else self.mean_b - self.mean_a

    @property
    def spread(self) -> float | None:
        """The larger of the two seed sds: the scale the difference is read against."""
        sds = [s for s in (self.sd_a, self.sd_b) if s is not None]
        return max(sds) if sds else None


@dataclass
class CellDiff:
    """Final test error of cells present and finished on both sides."""

    matched: int = 0
    matched_by_key: int = 0
    only_a: int = 0
    only_b: int = 0
    max_abs: float | None = None
    mean_abs: float | None = None
    worst: str | None = None


def _mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
    return m, sd


def _groups(board: Leaderboard, axes: list[str], many_families: bool) -> dict[tuple, tuple[str, dict[int, list[Row]]]]:
    out: dict[tuple, tuple[str, dict[int, list[Row]]]] = {}
    for r in board.rows:
        if r.status != "done":
            continue
        key = (r.family, tuple(canon(r.config.get(k)) for k in axes), canon(r.noise_rate))
        label = " ".join(([r.family] if many_families else []) + [f"{k}={r.config.get(k)}" for k in axes]
                         + [fmt_p(r.noise_rate)])
        out.setdefault(key, (label, {}))[1].setdefault(r.width, []).append(r)
    return out


def compare_widths(a: Leaderboard, b: Leaderboard) -> list[WidthDiff]:
    """Per curve and width, the mean of each metric over finished seeds on both sides, with their sds."""
    axes = sorted(set(varying_config_keys(a.rows)) | set(varying_config_keys(b.rows)))
    many = len({r.family for r in [*a.rows, *b.rows]}) > 1
    ga, gb = _groups(a, axes, many), _groups(b, axes, many)
    out = []
    for key in sorted(set(ga) & set(gb), key=lambda k: (k[0], repr(k[1]), k[2])):
        label, wa = ga[key]
        wb = gb[key][1]
        for w in sorted(set(wa) & set(wb)):
            for m in METRICS:
                va = [getattr(r, m) for r in wa[w] if _num(getattr(r, m)) is not None]
                vb = [getattr(r, m) for r in wb[w] if _num(getattr(r, m)) is not None]
                (ma, sa), (mb, sb) = _mean_sd(va), _mean_sd(vb)
                out.append(WidthDiff(label, w, m, len(va), len(vb), ma, mb, sa, sb))
    return out


def _coords(r: Row, axes: list[str]) -> tuple:
    return (r.family, r.width, canon(r.noise_rate), r.noise_seed, r.seed, tuple(canon(r.config.get(k)) for k in axes))


def compare_cells(a: Leaderboard, b: Leaderboard) -> CellDiff:
    """Match finished cells by key, else by (family, width, noise rate, noise seed, seed, grid axes)."""
    axes = sorted(set(varying_config_keys(a.rows)) | set(varying_config_keys(b.rows)))
    done_a = [r for r in a.rows if r.status == "done" and r.test_error is not None]
    done_b = [r for r in b.rows if r.status == "done" and r.test_error is not None]
    by_key = {r.key: r for r in done_b}
    by_coord = {_coords(r, axes): r for r in done_b}
    used: set[str] = set()
    pairs: list[tuple[Row, Row]] = []
    by_key_count = 0
    for ra in done_a:
        rb = by_key.get(ra.key)
        if rb is not None and rb.key not in used:
            by_key_count += 1
        else:
            rb = by_coord.get(_coords(ra, axes))
            if rb is None or rb.key in used:
                continue
        used.add(rb.key)
        pairs.append((ra, rb))
    out = CellDiff(matched=len(pairs), matched_by_key=by_key_count, only_a=len(done_a) - len(pairs),
                   only_b=len(done_b) - len(pairs))
    if pairs:
        diffs = [abs(ra.test_error - rb.test_error) for ra, rb in pairs]
        i = max(range(len(diffs)), key=diffs.__getitem__)
        ra, rb = pairs[i]
        out.max_abs, out.mean_abs = max(diffs), sum(diffs) / len(diffs)
        out.worst = (f"{ra.family} width {ra.width} p={ra.noise_rate:g} seed {ra.seed}: "
                     f"{ra.test_error:.4f} vs {rb.test_error:.4f}")
    return out


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def spec_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    fa, fb = _flatten(a), _flatten(b)
    diffs = [f"{k}: {fa.get(k, '(absent)')} vs {fb.get(k, '(absent)')}"
             for k in sorted(set(fa) | set(fb)) if canon(fa.get(k)) != canon(fb.get(k)) or (k in fa) != (k in fb)]
    if len(diffs) > MAX_SPEC_DIFFERENCES:
        diffs = diffs[:MAX_SPEC_DIFFERENCES] + [f"... and {len(diffs) - MAX_SPEC_DIFFERENCES} more"]
    return diffs


def grid_notes(a: Leaderboard, b: Leaderboard) -> list[str]:
    """Where the two boards' width grids differ, and each refinement that is not on both sides, named."""
    wa, wb = a.widths(), b.widths()
    out = []
    if wa != wb:
        only_a, only_b = [w for w in wa if w not in wb], [w for w in wb if w not in wa]
        out.append("different width grids: " + "; ".join(
            f"only in {side} {ws}" for side, ws in (("A", only_a), ("B", only_b)) if ws))
    ra, rb = [fmt_refinement(r) for r in a.refinements], [fmt_refinement(r) for r in b.refinements]
    out += [f"{side}'s grid was refined: {line}" for side, mine, other in (("A", ra, rb), ("B", rb, ra))
            for line in mine if line not in other]
    return out
