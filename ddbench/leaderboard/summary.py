"""Claims across leaderboards: ``ddbench leaderboard summary``.

One row per claim: the pooled verdict of every leaderboard (recipe) that tests it, the settings in
which those recipes differ, and a consensus over them:

* ``holds everywhere`` / ``fails everywhere``: every recipe where the claim applies decides it, the
  same way;
* ``mixed``: decided on some recipe, and not the same way on all (holds and fails, or a decided
  verdict beside an inconclusive one);
* ``undecided``: no recipe decides it (inconclusive everywhere, or applicable nowhere).

``not_applicable`` verdicts (the recipe could not test the claim, e.g. its grid never reaches the
interpolation threshold) are listed but left out of the consensus. :mod:`.summary_render` writes the
rows as a terminal table, markdown (``leaderboards/README.md``'s claim table) and an HTML page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .schema import Leaderboard, Verdict

CONSENSUS = ("holds everywhere", "fails everywhere", "mixed", "undecided")


@dataclass
class BoardRef:
    """A leaderboard in the summary: its label (a published name, or the path as given) and the
    address of its HTML report (relative, as the page links it)."""

    label: str
    board: Leaderboard
    report: str


@dataclass
class Entry:
    """One recipe's pooled verdict on a claim."""

    board: str
    verdict: str
    statistic: float | None
    ci: tuple[float, float] | None
    unit: str
    report: str
    settings: dict[str, str] = field(default_factory=dict)


@dataclass
class ClaimRow:
    claim: str
    hypothesis: str
    description: str
    entries: list[Entry]
    differs: dict[str, list[str]]  # setting -> its values among the entries, when they are not all equal
    consensus: str


def _get(data: Any, *keys: str) -> Any:
    for k in keys:
        data = data.get(k) if isinstance(data, dict) else None
    return data


def _num(x: Any) -> str:
    return f"{x:g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)


def _widths(board: Leaderboard) -> str:
    """``2..300 (14)``: the spec's grid; a refined grid's widths as trained, ``(18, refined)``."""
    widths = board.widths() if board.refinements else _get(board.spec, "model", "widths")
    if not isinstance(widths, list) or not widths:
        return "?"
    ws = sorted(w for w in widths if isinstance(w, (int, float)))
    return f"{_num(ws[0])}..{_num(ws[-1])} ({len(ws)}{', refined' if board.refinements else ''})" if ws else "?"


def _rates(spec: dict[str, Any]) -> str:
    rates = _get(spec, "dataset", "noise", "rates")
    return ", ".join(_num(r) for r in rates) if isinstance(rates, list) else "?"


def unit_of(v: Verdict) -> str:
    """What the verdict's replicates resample: the pooled verdict's unit, else its strata's."""
    return v.unit or ", ".join(sorted({s.unit for s in v.strata if s.unit})) or "—"


#: the settings compared across the recipes of a claim: name -> its value for a board's verdict
SETTINGS: dict[str, Callable[[Leaderboard, Verdict], Any]] = {
    "dataset": lambda b, v: _get(b.spec, "dataset", "name"),
    "n_train": lambda b, v: _get(b.spec, "dataset", "n_train") or "all",
    "noise rates": lambda b, v: _rates(b.spec),
    "family": lambda b, v: _get(b.spec, "model", "family"),
    "widths": lambda b, v: _widths(b),
    "epochs": lambda b, v: _get(b.spec, "training", "epochs"),
    "optimizer": lambda b, v: _get(b.spec, "training", "optimizer", "name"),
    "seeds": lambda b, v: len(b.spec.get("seeds") or []),
    "resampled over": lambda b, v: unit_of(v),
    "backend": lambda b, v: b.backend,
}


def consensus(verdicts: list[str]) -> str:
    """The consensus word of the recipes' pooled verdicts on one claim (see the module docstring)."""
    applicable = [v for v in verdicts if v != "not_applicable"]
    decided = {v for v in applicable if v in ("holds", "fails")}
    if not decided:
        return "undecided"
    if set(applicable) == {"holds"}:
        return "holds everywhere"
    if set(applicable) == {"fails"}:
        return "fails everywhere"
    return "mixed"


def _sort_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value.split(" ")[0].split("..")[0].rstrip(",")), value)
    except ValueError:
        return (1, 0.0, value)


def summarise(refs: list[BoardRef]) -> list[ClaimRow]:
    """One row per claim, in the order the claims first appear in ``refs``."""
    rows: dict[str, ClaimRow] = {}
    for ref in refs:
        for v in ref.board.verdicts:
            row = rows.setdefault(v.claim, ClaimRow(v.claim, v.hypothesis, v.description, [], {}, ""))
            row.description = row.description or v.description
            settings = {name: _num(get(ref.board, v)) for name, get in SETTINGS.items()}
            row.entries.append(Entry(ref.label, v.verdict, v.statistic, v.ci, unit_of(v), ref.report, settings))
    for row in rows.values():
        for name in SETTINGS:
            values = {e.settings[name] for e in row.entries}
            if len(values) > 1:
                row.differs[name] = sorted(values, key=_sort_key)
        row.consensus = consensus([e.verdict for e in row.entries])
    return list(rows.values())


def summary_json(refs: list[BoardRef], rows: list[ClaimRow]) -> dict[str, Any]:
    """``leaderboard summary --format json``: the leaderboards read, then one object per claim."""
    return {
        "boards": [{"name": r.label, "spec_name": r.board.spec_name, "spec_hash": r.board.spec_hash,
                    "content_hash": r.board.content_hash, "report": r.report} for r in refs],
        "claims": [{"claim": row.claim, "hypothesis": row.hypothesis, "description": row.description,
                    "consensus": row.consensus, "differs": row.differs,
                    "verdicts": [{"board": e.board, "verdict": e.verdict, "statistic": e.statistic,
                                  "ci": list(e.ci) if e.ci else None, "unit": e.unit, "settings": e.settings}
                                 for e in row.entries]}
                   for row in rows],
    }
