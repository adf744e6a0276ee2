"""A problem found in a spec: its YAML path, what is wrong and allowed, the value, the line.

Every check (``validate`` on the fields and plugins, ``preflight`` against the world) reports
:class:`Problem` objects; :class:`SpecError` carries all of them to the user at once (exit code 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import UserError

#: a problem with no value to show (``[got: ...]`` is left out)
MISSING = object()


@dataclass
class Problem:
    path: str
    message: str
    value: Any = None
    line: int | None = None
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        where = f"{self.path or '<spec>'}"
        if self.line is not None:
            where += f" (line {self.line})"
        shown = "" if self.value is MISSING else f" [got: {_short(self.value)}]"
        return f"{where}: {self.message}{shown}"


MISSING = object()


class SpecError(UserError, ValueError):
    """A spec that cannot run; carries every problem found (exit code 2)."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source, self.problems = source, problems
        lines = [f"{source}: {len(problems)} problem(s)"] + [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


def _short(v: Any, limit: int = 80) -> str:
    s = repr(v)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
