"""Terminal rendering of :class:`~.document.Section` lists that never cuts a name in pieces.

A rich table squeezed into a narrow terminal folds every column, so a claim name
such as ``class_activation.cam_similarity_decreases`` came out as 6-character
pieces at 80 columns. Here a table is laid out when it is printed, for the width
it is printed at:

- every column keeps its natural width except the prose columns a table names in
  ``Table.wrap`` (reasons, details), which share what is left and fold;
- when even that does not fit, the table is printed vertically: one block per row,
  its leading cells (``Table.lead``) on a line of their own, then ``header: value`` pairs packed into
  lines, a pair never split across lines.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import Any

from ..safetext import terminal

#: a prose column never gets narrower than this in a horizontal table
MIN_PROSE = 12
#: indent of the ``header: value`` lines of the vertical layout
INDENT = "    "


#: rich styles of the words that carry a judgement (verdicts, comparison statuses)
STYLES = {
    "holds": "green", "fails": "red", "inconclusive": "yellow", "not_applicable": "dim",
    "agree": "green", "flip": "bold red", "changed": "yellow", "only in A": "dim", "only in B": "dim",
    "yes": "green", "no": "red",
}
#: styles of the comparison's words, beside :data:`STYLES`
MORE_STYLES = {"resolution change": "yellow", "not comparable": "dim", "differs": "yellow"}


def _style(value: str) -> str:
    """The style of a judging word, or of a cell's first word (``holds 0.05 [0.03, 0.07]``)."""
    styles = {**STYLES, **MORE_STYLES}
    return styles.get(value) or styles.get(value.split(" ", 1)[0], "")


class FitTable:
    """A :class:`~.document.Table` that picks its layout at render time (see the module docstring)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def _rich(self, widths: list[int] | None) -> Any:
        from rich import box
        from rich.table import Table as RichTable
        from rich.text import Text

        t = self.table
        rt = RichTable(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1), collapse_padding=True)
        for i, h in enumerate(t.headers):
            prose = i in t.wrap
            rt.add_column(h, justify="right" if i in t.numeric else "left", no_wrap=not prose,
                          overflow="fold" if prose else "ellipsis", width=None if widths is None else widths[i])
        for row in t.rows:
            rt.add_row(*[Text(c, style=_style(c)) if i in t.colored else Text(c) for i, c in enumerate(row)])
        return rt

    def natural_widths(self) -> list[int]:
        from rich.cells import cell_len

        t = self.table
        return [max([cell_len(h)] + [cell_len(r[i]) for r in t.rows if i < len(r)]) for i, h in enumerate(t.headers)]

    def horizontal_widths(self, width: int) -> list[int] | None:
        """Column widths for ``width`` cells, or None when only the vertical layout fits."""
        nat = self.natural_widths()
        gaps = 2 * (len(nat) - 1)
        prose = [i for i in range(len(nat)) if i in self.table.wrap]
        fixed = sum(w for i, w in enumerate(nat) if i not in prose)
        left = width - gaps - fixed
        if left < sum(min(nat[i], MIN_PROSE) for i in prose):
            return None
        out = list(nat)
        # water-filling: the narrowest prose columns take what they need, the rest share equally
        for n, i in enumerate(sorted(prose, key=lambda i: nat[i])):
            share = left // (len(prose) - n)
            out[i] = min(nat[i], share)
            left -= out[i]
        return out

    def vertical_lines(self, width: int) -> list[Any]:
        from rich.cells import cell_len
        from rich.text import Text

        t = self.table
        lines: list[Any] = []
        for row in t.rows:
            head = Text()
            for i, value in enumerate(row[:t.lead]):
                if value:
                    head.append(("  " if head.plain else "") + value, style=_style(value) if i in t.colored else "bold")
            lines.append(head)
            line = Text(INDENT)
            for i in range(t.lead, len(t.headers)):
                value = row[i] if i < len(row) else ""
                if not value:
                    continue
                pair = Text(f"{t.headers[i]}: " if t.headers[i] else "")
                pair.append(value, style=_style(value) if i in t.colored else "")
                if cell_len(line.plain) > len(INDENT) and cell_len(line.plain) + 3 + cell_len(pair.plain) > width:
                    lines.append(line)
                    line = Text(INDENT)
                if cell_len(line.plain) > len(INDENT):
                    line.append("   ")
                line.append_text(pair)
            if cell_len(line.plain) > len(INDENT):
                lines.append(line)
        return lines

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        widths = self.horizontal_widths(options.max_width)
        if widths is not None:
            yield self._rich(widths)
        else:
            for line in self.vertical_lines(options.max_width):
                yield from _wrap(line, console, options.max_width)


class Wrapped:
    """A line of text wrapped at spaces to the width it is printed at, even on a ``soft_wrap`` console
    (where a terminal would otherwise cut it, names included, at its last column)."""

    def __init__(self, text: Any) -> None:
        self.text = text

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        yield from _wrap(self.text, console, options.max_width)


def _wrap(text: Any, console: Any, width: int) -> Iterator[Any]:
    """``text`` wrapped at spaces; continuation lines indented two more than the first."""
    from rich.text import Text

    indent = len(text.plain) - len(text.plain.lstrip(" "))
    body = text[indent:]
    for i, line in enumerate(body.wrap(console, max(width - indent - 2, 20), overflow="fold")):
        out = Text(" " * (indent + (2 if i else 0)))
        out.append_text(line)
        out.rstrip()
        out.end = "\n"
        yield out


def _inert(text: Any) -> str:
    """One line of terminal text: a leaderboard's string never moves the cursor, sets colours or links."""
    return terminal(text, newlines=False)


def sections_to_rich(sections: Sequence[Any]) -> list[Any]:
    """Rich renderables; every cell is a ``Text`` (brackets in CIs, or a hostile string's ``[link=...]``,
    are never read as markup) with its control characters shown as escapes (:mod:`ddbench.safetext`)."""
    from rich.text import Text

    out: list[Any] = []
    for s in sections:
        out.append(Text(_inert(s.title), style="bold underline" if s.level == 1 else "bold"))
        out += [Wrapped(Text("  " + _inert(line))) for line in s.lines]
        if s.table is not None:
            t = s.table
            out.append(FitTable(dataclasses.replace(t, headers=[_inert(h) for h in t.headers],
                                                    rows=[[_inert(c) for c in row] for row in t.rows])))
        out.append(Text(""))
    return out
