"""How values read in every view of a leaderboard, and the stable form they are matched by.

The ``fmt_*`` helpers turn numbers, intervals, p and status counts into the strings the
markdown, the terminal, the HTML page and the figures show (``—`` for a missing value);
:func:`canon` is the hashable, comparison-stable form of a JSON value that strata, config
axes and noise rates are grouped and matched by across the views and across leaderboards.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Sequence

STATUS_ORDER = ("done", "failed", "diverged", "running", "pending")


def canon(v: Any) -> Any:
    """A hashable, comparison-stable form of a JSON value (floats rounded)."""
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return round(v, 10)
    if isinstance(v, (list, tuple)):
        return tuple(canon(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((str(k), canon(x)) for k, x in v.items()))
    return repr(v)


def fmt_num(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{digits}g}"


def fmt_ci(ci: Sequence[float] | None) -> str:
    return "—" if ci is None else f"[{fmt_num(ci[0])}, {fmt_num(ci[1])}]"


def fmt_p(p: float) -> str:
    return f"p={p:g}"


def fmt_signed(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:+.{digits}g}"


def mean_std(values: list[float], fixed: bool) -> str:
    """``mean ± sd`` (sample sd) of finished seeds; errors in fixed point, losses in 4 significant digits."""
    if not values:
        return "—"
    m = sum(values) / len(values)
    mean = f"{m:.4f}" if fixed else f"{m:.4g}"
    if len(values) == 1:
        return mean
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
    return f"{mean} ± {sd:.4f}" if fixed else f"{mean} ± {sd:.2g}"


def fmt_counts(counts: Counter) -> str:
    order = [s for s in STATUS_ORDER if counts.get(s)] + sorted(s for s in counts if s not in STATUS_ORDER and counts[s])
    return ", ".join(f"{counts[s]} {s}" for s in order) or "none"


def fmt_stratum(stratum: dict[str, Any]) -> str:
    """``p=0.2 depth=2``: a stratum by its noise rate and grid axes (its family left out)."""
    axes = [f"{k}={v}" for k, v in sorted(stratum.items()) if k not in ("family", "noise_rate")]
    rate = [fmt_p(stratum["noise_rate"])] if isinstance(stratum.get("noise_rate"), (int, float)) else []
    return " ".join(rate + axes) or "all"


def fmt_refinement(step: Any) -> str:
    """``model.refine around k_star, peak (4 per stratum, geometric): added [10, 13] (p=0: k* 16, peak 24)``:
    one refinement (``leaderboard.schema.Refinement``) on one line."""
    found = []
    for s in step.strata:
        parts = [f"k* {s.k_star}" if s.k_star is not None else "no k*"]
        if "peak" in step.around:
            parts.append(f"peak {s.peak}" if s.peak is not None else "no peak")
        found.append(f"{fmt_stratum(s.stratum)}: {', '.join(parts)}")
    added = f"added {list(step.added)}" if step.added else "added no width"
    return (f"{step.source} around {', '.join(step.around)} ({step.points} per stratum, {step.spacing}) "
            f"of widths {list(step.base)}: {added}" + (f" ({'; '.join(found)})" if found else ""))
