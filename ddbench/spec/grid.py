"""Width grids as a researcher writes them: a list, ``{geomspace: [start, stop, num]}`` or
``{range: [start, stop, step]}``, expanded to the sorted list of unique positive ints every other
stage sees (the expansion is part of the resolved spec, so it is hashed, not re-derived)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Annotated, Any, Literal, Union

import numpy as np
from pydantic import Field, field_validator

from .limits import MAX_GRID_VALUES, MAX_WIDTH
from .strict import _Strict


def expand_grid(value: Any) -> list[int]:
    """Turn a grid given as a list or a shorthand into a sorted list of unique ints.

    Shorthands: ``{geomspace: [start, stop, num]}`` (log-spaced, rounded, deduplicated,
    as in ``unique(geomspace(2, 300, 20))``) and ``{range: [start, stop, step]}``
    (Python range: stop excluded). Mapping forms ``{geomspace: {start, stop, num}}``
    are accepted too.
    """
    if isinstance(value, (list, tuple)):
        out = []
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v != int(v) or v < 1:
                raise ValueError(f"item {i} is {v!r}; grid values must be positive integers")
            if v > MAX_WIDTH:
                raise ValueError(f"item {i} is {v!r}; allowed: integers 1 to {MAX_WIDTH}")
            out.append(int(v))
        if not out:
            raise ValueError("the grid is empty; give at least one value")
        if len(out) > MAX_GRID_VALUES:
            raise ValueError(f"the grid has {len(out)} values; allowed: at most {MAX_GRID_VALUES}")
        if len(set(out)) != len(out):
            raise ValueError(f"the grid has repeated values {sorted(v for v, n in Counter(out).items() if n > 1)[:10]}")
        return sorted(out)
    if isinstance(value, dict) and len(value) == 1:
        (kind, args), = value.items()
        if kind not in ("geomspace", "range"):
            raise ValueError(f"unknown grid shorthand {kind!r}; allowed: a list of ints, {{geomspace: [start, stop, num]}}, {{range: [start, stop, step]}}")
        names = ("start", "stop", "num") if kind == "geomspace" else ("start", "stop", "step")
        if isinstance(args, dict):
            unknown = set(args) - set(names)
            if unknown:
                raise ValueError(f"{kind} got unknown keys {sorted(unknown)}; allowed: {', '.join(names)}")
            args = [args.get(n) for n in names]
            if kind == "range" and args[2] is None:
                args[2] = 1
        if not isinstance(args, (list, tuple)) or len(args) not in (2, 3) or any(
            isinstance(a, bool) or not isinstance(a, (int, float)) for a in args
        ):
            raise ValueError(f"{kind} needs [{', '.join(names)}] as numbers, got {args!r}")
        if not all(math.isfinite(a) for a in args):
            raise ValueError(f"{kind} needs finite numbers, got {args!r}; allowed: 1 <= start <= stop <= {MAX_WIDTH}")
        if any(a > MAX_WIDTH for a in args[:2]):
            raise ValueError(f"{kind} {args!r} goes beyond the largest width; allowed: 1 <= start <= stop <= {MAX_WIDTH}")
        if kind == "geomspace":
            if len(args) != 3:
                raise ValueError(f"geomspace needs [start, stop, num], got {args!r}")
            start, stop, num = args
            if not (start >= 1 and stop >= start and num >= 1 and num == int(num)):
                raise ValueError(f"geomspace needs 1 <= start <= stop and an integer num >= 1, got {args!r}")
            if num > MAX_GRID_VALUES:
                raise ValueError(f"geomspace num={num!r} is too many; allowed: 1 to {MAX_GRID_VALUES}")
            return [int(v) for v in np.unique(np.round(np.geomspace(start, stop, int(num))).astype(int))]
        if any(a != int(a) for a in args):
            raise ValueError(f"range needs integers [start, stop, step], got {args!r}")
        start, stop, *step = [int(a) for a in args]
        step = step[0] if step else 1
        if step != 0 and len(range(start, stop, step)) > MAX_GRID_VALUES:  # counted, never built
            raise ValueError(f"range {args!r} gives {len(range(start, stop, step))} values; allowed: at most {MAX_GRID_VALUES}")
        vals = list(range(start, stop, step)) if step != 0 else []
        if step <= 0 or not vals or vals[0] < 1:
            raise ValueError(f"range {args!r} gives no positive values")
        return vals
    raise ValueError(
        f"got {value!r}; allowed: a list of positive ints, {{geomspace: [start, stop, num]}}, {{range: [start, stop, step]}}"
    )


class GeomspaceArgs(_Strict):
    start: float = Field(ge=1, description="first value (>= 1)")
    stop: float = Field(ge=1, description="last value (>= start)")
    num: int = Field(ge=1, description="how many log-spaced values before rounding and deduplication")


class GeomspaceGrid(_Strict):
    """``{geomspace: [start, stop, num]}``: ``unique(round(geomspace(start, stop, num)))``."""

    geomspace: Union[tuple[Annotated[float, Field(ge=1)], Annotated[float, Field(ge=1)], Annotated[int, Field(ge=1)]],
                     GeomspaceArgs]


class RangeArgs(_Strict):
    start: int = Field(description="first value (>= 1)")
    stop: int = Field(description="end, excluded (Python range)")
    step: int = Field(default=1, ge=1)


class RangeGrid(_Strict):
    """``{range: [start, stop, step]}``: Python's ``range`` (stop excluded, step 1 when left out)."""

    range: Union[tuple[int, int], tuple[int, int, Annotated[int, Field(ge=1)]], RangeArgs]


#: what a width grid may be written as in YAML (``expand_grid`` turns it into the sorted list of ints)
GridInput = Union[Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)], GeomspaceGrid, RangeGrid]


# --------------------------------------------------------------------------- refining a grid around k* and the peak

#: what a grid may be refined around (docs/science.md, "Refining the grid")
REFINE_TARGETS = ("k_star", "peak")
#: the most widths one refinement may add per stratum
MAX_REFINE_POINTS = 64


class RefineSpec(_Strict):
    """``model.refine``: once the base grid has trained, add widths around k* and the test-error peak of every
    stratum and train them in the same run directory (docs/science.md, "Refining the grid")."""

    around: list[Literal["k_star", "peak"]] = Field(
        default=list(REFINE_TARGETS), description="what to refine around: k_star (the interpolation threshold), "
        "peak (the test-error peak near k*), or both", min_length=1, json_schema_extra={"uniqueItems": True})
    points: int = Field(default=4, ge=1, le=MAX_REFINE_POINTS,
                        description=f"new widths per stratum (1 to {MAX_REFINE_POINTS}), spread over the gaps "
                        "between the grid values that bracket its targets")
    spacing: Literal["auto", "geometric", "linear"] = Field(
        default="auto", description="how new widths are spaced inside a gap: geometric, linear, or auto (the "
        "grid's own: geometric when its ratios are more nearly constant than its differences)")

    @field_validator("around", mode="before")
    @classmethod
    def _around(cls, v: Any) -> Any:
        allowed = ", ".join(REFINE_TARGETS)
        if not isinstance(v, list):
            raise ValueError(f"got {v!r}; allowed: a list of one or both of {allowed}")
        if not v:
            raise ValueError(f"the list is empty; allowed: one or both of {allowed}")
        for i, item in enumerate(v):
            if item not in REFINE_TARGETS:
                raise ValueError(f"item {i} is {item!r}; allowed: {allowed}")
        if len(set(v)) != len(v):
            raise ValueError(f"{sorted(t for t, n in Counter(v).items() if n > 1)[0]} is listed twice; list each once")
        return list(v)


def grid_spacing(widths: list[int]) -> str:
    """``geometric`` when the grid's successive ratios vary less than its successive differences (coefficient of
    variation of ``log(w[i+1] / w[i])`` vs of ``w[i+1] - w[i]``), else ``linear``; geometric below 3 widths."""
    w = np.asarray(sorted(set(widths)), dtype=float)
    if len(w) < 3:
        return "geometric"
    ratios, diffs = np.diff(np.log(w)), np.diff(w)
    return "geometric" if ratios.std() / ratios.mean() < diffs.std() / diffs.mean() else "linear"


def refine_gaps(widths: list[int], targets: list[int], min_width: int = 1) -> list[tuple[int, int]]:
    """The gaps a refinement fills: for each target (a grid value), the gaps to its neighbouring grid values
    (below the smallest grid value, the gap down to ``min_width``, the family's smallest width; none above the
    largest), sorted and without repeats. New widths lie strictly inside a gap."""
    grid = sorted(set(widths))
    out: set[tuple[int, int]] = set()
    for t in targets:
        if t not in grid:
            raise ValueError(f"{t} is not a value of the grid {grid}")
        i = grid.index(t)
        lo = grid[i - 1] if i > 0 else min(min_width, t)
        if lo < t:
            out.add((lo, t))
        if i + 1 < len(grid):
            out.add((t, grid[i + 1]))
    return sorted(out)


def fill_gaps(gaps: list[tuple[int, int]], points: int, spacing: str) -> list[int]:
    """``points`` new integer widths in ``gaps`` (open intervals of the grid), as evenly spaced as integers allow.

    Each new width goes to the gap whose spacing it shrinks most (largest ``length / (count + 1)``, ``length``
    = ``log(b / a)`` for geometric spacing, ``b - a`` for linear; ties: the narrower gap), never beyond the
    integers a gap holds; inside a gap, ``n`` widths are the interior points of ``geomspace(a, b, n + 2)``
    (or ``linspace``), each rounded to the nearest integer not yet taken. Fewer than ``points`` when the gaps
    hold fewer integers."""
    geometric = spacing == "geometric"
    count = dict.fromkeys(gaps, 0)

    def share(g: tuple[int, int]) -> tuple[float, int]:
        a, b = g
        return ((math.log(b / a) if geometric else b - a) / (count[g] + 1), -a)

    for _ in range(points):
        room = [g for g in gaps if count[g] < g[1] - g[0] - 1]
        if not room:
            break
        count[max(room, key=share)] += 1
    out: list[int] = []
    for (a, b), n in count.items():
        if not n:
            continue
        ideal = (np.geomspace if geometric else np.linspace)(a, b, n + 2)[1:-1]
        taken: set[int] = set()
        for x in ideal:
            c = int(math.floor(x + 0.5))
            # the nearest free integer strictly inside (a, b), preferring the wider one on a tie
            pick = next(v for d in range(b - a) for v in (c + d, c - d) if a < v < b and v not in taken)
            taken.add(pick)
        out += sorted(taken)
    return sorted(out)


def refine_widths(widths: list[int], targets: list[int], points: int, spacing: str, min_width: int = 1) -> list[int]:
    """The new widths of one stratum: ``points`` widths in the gaps around ``targets`` (:func:`refine_gaps`,
    :func:`fill_gaps`); ``spacing`` ``auto`` is the grid's own (:func:`grid_spacing`). None is a grid value."""
    if spacing == "auto":
        spacing = grid_spacing(widths)
    new = fill_gaps(refine_gaps(widths, targets, min_width), points, spacing)
    return [w for w in new if w not in set(widths)]
