"""What a probe may return, checked where its output enters ddbench (``run_probe``).

A probe is a plugin, possibly a third party's: its output is checked before anything stores it.
It must return a mapping of value names to values, each of them

* ``None`` (not measured), a boolean, or a number (Python's or NumPy's): finite, or the probe is
  recorded ``nan`` (never ``ok``);
* a string of at most :data:`MAX_STRING` characters (a label such as ``split: test``);
* an array of such numbers (a list, a tuple or a NumPy array of a numeric dtype), non-finite
  entries making the probe ``nan`` too;
* a mapping of names or integers to such values (``epochwise``: epoch -> value);

nested to at most :data:`MAX_DEPTH` levels.

Names are non-empty strings of at most :data:`MAX_NAME` characters. All values of one probe on one
cell together hold at most :data:`MAX_NUMBERS` numbers: a probe's values go into the store and
into every leaderboard row, so a probe returning a whole weight matrix would make the leaderboard
too large to exchange (one returning 250,000 numbers made a 14 MiB leaderboard.json). Anything
else (a list instead of a mapping, an object, an array of objects or of complex numbers, a list
of strings, too many numbers) fails that probe with the reason; the run goes on.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

#: numbers one probe may return for one cell, all its values together
MAX_NUMBERS = 1_000
#: characters of a string value
MAX_STRING = 1_000
#: characters of a value's name
MAX_NAME = 200
#: nesting of an array given as lists
MAX_DEPTH = 8


class ProbeOutputError(ValueError):
    """A probe's output is not a mapping of finite numbers, short strings or arrays within the limits."""


def check_values(values: Any) -> tuple[dict[str, Any], bool]:
    """``(values as plain JSON data, whether every number is finite)``, or :class:`ProbeOutputError` saying what is wrong."""
    if not isinstance(values, Mapping):
        raise ProbeOutputError(f"returned {_kind(values)}, not a mapping of value names to values (a dict)")
    counter = _Counter()
    out: dict[str, Any] = {}
    finite = True
    for name, value in values.items():
        if not isinstance(name, str) or not _key(name):
            raise ProbeOutputError(f"value name {_short(name)} is not a non-empty string of at most {MAX_NAME} characters")
        out[name], ok = _value(value, name, counter, 0)
        finite = finite and ok
    return out, finite


class _Counter:
    def __init__(self) -> None:
        self.n = 0

    def add(self, n: int, name: str) -> None:
        self.n += n
        if self.n > MAX_NUMBERS:
            raise ProbeOutputError(f"returned more than {MAX_NUMBERS:,} numbers (at {name!r}); a probe may return at "
                                   f"most {MAX_NUMBERS:,} per cell (they go into every leaderboard row): return summaries")


def _value(v: Any, name: str, counter: _Counter, depth: int) -> tuple[Any, bool]:
    if v is None:
        counter.add(1, name)
        return None, True
    if isinstance(v, (bool, np.bool_)):
        counter.add(1, name)
        return bool(v), True
    if isinstance(v, numbers.Integral):
        counter.add(1, name)
        return int(v), True
    if isinstance(v, numbers.Real):
        counter.add(1, name)
        x = float(v)
        return x, math.isfinite(x)
    if isinstance(v, str):
        if len(v) > MAX_STRING:
            raise ProbeOutputError(f"{name!r} is a string of {len(v):,} characters; at most {MAX_STRING:,}")
        counter.add(1, name)
        return v, True
    if isinstance(v, np.ndarray):
        if v.dtype.kind not in "biuf":
            raise ProbeOutputError(f"{name!r} is an array of dtype {v.dtype}; arrays must hold real numbers")
        counter.add(int(v.size), name)
        return v.tolist(), bool(np.all(np.isfinite(v))) if v.dtype.kind == "f" else True
    if isinstance(v, (list, tuple)):
        if depth >= MAX_DEPTH:
            raise ProbeOutputError(f"{name!r} is nested more than {MAX_DEPTH} levels deep")
        counter.add(1, name)  # the list itself: a list that holds itself ends at the limit
        items = [_value(x, name, counter, depth + 1) for x in v]
        if any(isinstance(x, str) for x, _ in items):
            raise ProbeOutputError(f"{name!r} is a list holding strings; arrays must hold numbers (or None)")
        return [x for x, _ in items], all(ok for _, ok in items)
    if isinstance(v, Mapping):  # e.g. epoch -> value
        if depth >= MAX_DEPTH:
            raise ProbeOutputError(f"{name!r} is nested more than {MAX_DEPTH} levels deep")
        counter.add(1, name)
        out, finite = {}, True
        for k, x in v.items():
            if not _key(k):
                raise ProbeOutputError(f"{name!r} has key {_short(k)}; keys are names or integers")
            out[k], ok = _value(x, name, counter, depth + 1)
            finite = finite and ok
        return out, finite
    raise ProbeOutputError(f"{name!r} is {_kind(v)}; allowed: a number, None, a short string or an array of numbers")


def _key(k: Any) -> bool:
    """A value name (a non-empty string of at most :data:`MAX_NAME` characters), or an integer (an epoch)."""
    if isinstance(k, str):
        return 0 < len(k) <= MAX_NAME
    return isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_))


def _kind(v: Any) -> str:
    return "None" if v is None else f"a {type(v).__module__}.{type(v).__qualname__}".replace("a builtins.", "a ")


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."
