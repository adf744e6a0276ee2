"""Width grids as a researcher writes them: a list, ``{geomspace: [start, stop, num]}`` or
``{range: [start, stop, step]}``, expanded to the sorted list of unique positive ints every other
stage sees (the expansion is part of the resolved spec, so it is hashed, not re-derived)."""

from __future__ import annotations

import math
from collections import Counter
from typing import Annotated, Any, Union

import numpy as np
from pydantic import Field

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
