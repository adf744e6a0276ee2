"""Probes that raised or gave NaN: counted for the run summary, marked in leaderboard.md.

A probe's failure never fails its cell (the cell's training is sound); the store keeps the
status and traceback, and the leaderboard row keeps ``<probe>.status`` (``failed``, ``nan`` or
``skipped``) instead of the probe's values. This module reads those marks back.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from .document import Section, Table

#: probe statuses that mean "no usable value" and are shown to the user
BAD = ("failed", "nan")


def probe_marks(rows: Iterable[Any]) -> list[tuple[Any, str, str]]:
    """``(row, probe, status)`` for every probe of every row whose status is not ok."""
    out = []
    for r in rows:
        for key, value in (r.probes or {}).items():
            if key.endswith(".status") and value != "ok":
                out.append((r, key[: -len(".status")], str(value)))
    return out


def probe_counts(rows: Iterable[Any]) -> Counter:
    """status -> number of (cell, probe) measurements with it, for ``failed`` and ``nan``."""
    return Counter(status for _, _, status in probe_marks(rows) if status in BAD)


def fmt_probe_counts(counts: Counter) -> str:
    return f"{counts.get('failed', 0)} failed, {counts.get('nan', 0)} NaN"


def header_lines(board: Any) -> list[str]:
    """One line for the leaderboard header when some probe failed or gave NaN."""
    counts = probe_counts(board.rows)
    if not counts:
        return []
    return [f"probes: {fmt_probe_counts(counts)} (marked in 'Probes without values'; tracebacks: ddbench status RUN --failures)"]


def probe_section(board: Any) -> Any:
    """The section of leaderboard.md listing every probe measurement that failed or gave NaN."""
    marks = [(r, p, s) for r, p, s in probe_marks(board.rows) if s in BAD]
    if not marks:
        return None
    grouped: dict[tuple[str, str], list[Any]] = {}
    for r, p, s in marks:
        grouped.setdefault((p, s), []).append(r)
    rows = []
    for (probe, status), cells in sorted(grouped.items()):
        cells = sorted(cells, key=lambda r: (r.noise_rate, r.width, r.seed))
        where = ", ".join(f"w={r.width} p={r.noise_rate:g} seed={r.seed}" for r in cells[:6])
        if len(cells) > 6:
            where += f", ... ({len(cells) - 6} more)"
        rows.append([probe, "NaN" if status == "nan" else status, str(len(cells)), where])
    counts = probe_counts(board.rows)
    return Section("Probes without values", [f"{fmt_probe_counts(counts)}; claims reading these probes lack "
                                             "those cells"],
                   Table(["probe", "status", "cells", "where"], rows, colored=(), numeric=(2,)))
