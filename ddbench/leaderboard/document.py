"""The neutral document every text view of a leaderboard is built as: sections of lines and tables.

A view (``leaderboard.md`` and ``leaderboard show`` in :mod:`.render`, the comparison in
:mod:`.compare_render`) assembles a list of :class:`Section` objects once; this module writes
such a list as markdown, :mod:`.terminal` lays the same list out for a terminal and
:mod:`.html` as HTML, so the outputs never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ..safetext import markdown


@dataclass
class Table:
    """A table as plain strings; ``colored`` columns get :data:`.terminal.STYLES` in the terminal."""

    headers: list[str]
    rows: list[list[str]]
    colored: tuple[int, ...] = ()
    numeric: tuple[int, ...] = ()  # right-aligned columns
    wrap: tuple[int, ...] = ()  # prose columns that may fold in a narrow terminal; the others never break
    lead: int = 1  # leading columns that head a row's block when the table is printed vertically


@dataclass
class Section:
    """A titled block: bullet lines, then an optional table."""

    title: str
    lines: list[str] = field(default_factory=list)
    table: Table | None = None
    level: int = 2


def sections_to_markdown(sections: Sequence[Section]) -> str:
    """The sections as markdown; every string is text (:func:`ddbench.safetext.markdown`): a leaderboard's
    strings are untrusted, and none of them becomes HTML, a link or a new block."""
    out: list[str] = []
    for s in sections:
        out += ["#" * s.level + " " + markdown(s.title), ""]
        if s.lines:
            out += [f"- {markdown(line)}" for line in s.lines] + [""]
        if s.table is not None:
            t = s.table
            out.append("| " + " | ".join(_md_cell(h) for h in t.headers) + " |")
            out.append("|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.headers))) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _md_cell(text: str) -> str:
    return markdown(text).replace("|", "\\|")
