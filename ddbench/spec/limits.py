"""Limits and checks of spec fields that keep a run's files and numbers sane (used by :mod:`ddbench.spec.model`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: the largest width a grid may hold (a 10^6-unit layer is already far beyond any double-descent grid)
MAX_WIDTH = 1_000_000
#: the most values one grid shorthand may expand to
MAX_GRID_VALUES = 10_000
#: seeds are non-negative and below 2**31 (NumPy and Keras seed generators refuse others)
MAX_SEED = 2**31 - 1
#: run names are used as directory names
MAX_NAME_LENGTH = 100
#: seconds a probe may run on one cell unless its entry in ``probes:`` sets ``time_limit`` (generous: the
#: built-in probes take seconds to minutes on the published grids; see ``ddbench.probes.limit``)
DEFAULT_PROBE_TIME_LIMIT = 3600.0


def takes_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    return any(takes_bool(a) for a in getattr(annotation, "__args__", ()) or ())


def has_bool(value: Any) -> bool:
    return isinstance(value, bool) or (isinstance(value, list) and any(isinstance(v, bool) for v in value))


def check_seeds(v: list[int], what: str) -> list[int]:
    if not v or len(set(v)) != len(v):
        raise ValueError(f"give one or more distinct {what}")
    bad = [s for s in v if not 0 <= s <= MAX_SEED]
    if bad:
        raise ValueError(f"{what} {bad} out of range; allowed: integers 0 to {MAX_SEED}")
    return v


def check_output_dir(v: str) -> str:
    """A run directory that stays where the user pointed: no ``..`` escape unless absolute."""
    if not v.strip() or "\x00" in v:
        raise ValueError("give a directory name (or leave output_dir out for runs/<name>)")
    p = Path(v).expanduser()
    if not p.is_absolute() and ".." in p.parts:
        raise ValueError(f"{v!r} leaves the working directory through '..'; allowed: a path below it, "
                         "or an absolute path if you mean to write elsewhere")
    long = [part for part in p.parts if len(part.encode()) > 255]
    if long:
        raise ValueError(f"a part of {v!r} is longer than 255 bytes, which no file system allows")
    return v


def reject_bool_numbers(cls: Any, v: Any, info: Any) -> Any:
    """YAML ``true`` is not the number 1: ``epochs: true`` must not train one epoch."""
    field = cls.model_fields.get(info.field_name) if info.field_name else None
    if field is not None and has_bool(v) and not takes_bool(field.annotation):
        raise ValueError("true/false is not allowed here; give a number")
    return v
