"""The views of one leaderboard as text: ``leaderboard.md`` and ``ddbench leaderboard show``.

Both are emitted from one list of :class:`~.document.Section` objects built by
:func:`board_sections`, so the markdown file and the terminal can never disagree. The
sections are assembled here from the shared vocabulary: the document model
(:mod:`.document`), formatted values (:mod:`.formatting`), verdict entries
(:mod:`.verdicts`) and curve groups (:mod:`.curves`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from . import probe_status
from .curves import METRICS, curve_groups, interpolation_threshold
from .document import Section, Table, sections_to_markdown
from .formatting import fmt_ci, fmt_counts, fmt_num, fmt_refinement, fmt_signed, mean_std
from .measures import scores_section
from .schema import Leaderboard
from .terminal import sections_to_rich
from .verdicts import detail_summary, ordered_entries, stratum_labels, verdict_entries


def _status_counts(board: Leaderboard) -> Counter:
    if board.rows:
        return Counter(r.status for r in board.rows)
    cells = board.summary.get("cells") if isinstance(board.summary.get("cells"), dict) else {}
    return Counter({k: int(v) for k, v in cells.items() if isinstance(v, (int, float))})


def header_section(board: Leaderboard) -> Section:
    spec = board.spec or {}
    ds, model = spec.get("dataset") or {}, spec.get("model") or {}
    lines = [
        f"spec: {board.spec_name} (hash {board.spec_hash})",
        f"ddbench {board.ddbench_version}, schema {board.schema_version}",
        f"backend: {board.backend}; device: {board.device}" + board.execution_note(),
        f"created: {board.created}",
        f"cells: {fmt_counts(_status_counts(board))} (of {sum(_status_counts(board).values())})",
    ]
    if ds.get("name"):
        rates = (ds.get("noise") or {}).get("rates")
        lines.append(f"dataset: {ds['name']}" + (f", n_train {ds['n_train']}" if ds.get("n_train") else "")
                     + (f", noise rates {rates} ({(ds.get('noise') or {}).get('kind', '?')})" if rates else ""))
    if model.get("family"):
        lines.append(f"family: {model['family']}, widths {model.get('widths', '?')}"
                     + (f", grid {model['grid']}" if model.get("grid") else ""))
    lines += [f"grid refined: {fmt_refinement(step)}" for step in board.refinements]
    a = board.analysis
    if a.get("correction") == "holm":
        fams = ", ".join(f"{k} {v}" for k, v in (a.get("families") or {}).items())
        lines.append(f"error control: Holm within each hypothesis at alpha {a.get('alpha', '?')}"
                     + (f" (tests: {fams})" if fams else "") + f"; intervals: {a.get('interval', '?')}")
    elif a.get("ci_level") is not None:
        lines.append(f"CIs at level {fmt_num(a['ci_level'])} ({a.get('correction', '?')} over {a.get('tests', '?')} tests, "
                     f"alpha {a.get('alpha', '?')})")
    if board.summary.get("wall_seconds") is not None:
        lines.append(f"wall time: {fmt_num(board.summary['wall_seconds'])} s")
    lines += probe_status.header_lines(board)
    return Section(f"ddbench leaderboard: {board.spec_name}", lines, level=1)


def verdict_sections(board: Leaderboard) -> list[Section]:
    if not board.verdicts:
        return [Section("Verdicts", ["no hypotheses were tested"])]
    entries = [e for v in board.verdicts for e in verdict_entries(v, overall="always")]
    labels = stratum_labels(e.stratum for e in entries)
    rows = []
    for v in board.verdicts:
        for e in ordered_entries(verdict_entries(v)):
            thr = "—" if e.threshold is None else f"{'>' if e.side == 'greater' else '<'} {fmt_num(e.threshold)}"
            rows.append([e.claim, labels[e.key], e.verdict, fmt_num(e.statistic), thr, fmt_ci(e.ci),
                         "; ".join(x for x in (detail_summary(e.detail), e.control) if x), e.reason])
    table = Table(["claim", "stratum", "verdict", "statistic", "threshold", "CI", "detail", "reason"], rows,
                  colored=(2,), numeric=(3, 4), wrap=(6, 7), lead=3)
    # the matrix: strata x claims, the claim-level verdict as the last row
    claims = [v.claim for v in board.verdicts]
    cells: dict[tuple, dict[str, str]] = {}
    for e in ordered_entries(entries):
        cells.setdefault(e.key, {})[e.claim] = e.verdict
    matrix = Table(["stratum", *claims], [[labels[k], *[cells[k].get(c, "") for c in claims]] for k in cells],
                   colored=tuple(range(1, len(claims) + 1)))
    return [Section("Verdicts", [], table), Section("Verdict matrix", [], matrix)]


def curve_sections(board: Leaderboard) -> list[Section]:
    out = []
    for g in curve_groups(board):
        lines = []
        if g.k_star_source == "core":
            lines.append(f"k* = {g.k_star} (interpolation threshold: smallest width with mean train error ≤ "
                         f"{interpolation_threshold(board):g})" if g.k_star is not None
                         else f"k* not reached: no width has mean train error ≤ {interpolation_threshold(board):g}")
        elif g.k_star_source == "verdict":
            lines.append(f"k* = {g.k_star} (interpolation threshold, from the verdicts)" if g.k_star is not None
                         else "k* not reached: no width interpolates (from the verdicts)")
        elif g.k_star_source == "rows":
            lines.append(f"k* = {g.k_star} (smallest width with mean train error ≤ {interpolation_threshold(board):g})")
        elif g.finished:
            lines.append(f"k* not reached: no width has mean train error ≤ {interpolation_threshold(board):g}")
        for mark, w in g.peaks.items():
            h = g.peak_heights.get(mark)
            lines.append(f"{mark} at width {w}" + (f", excess over both sides {fmt_signed(h)}" if h is not None else ""))
        if g.verdicts:
            lines.append("verdicts: " + ", ".join(f"{c} {v}" for c, v in g.verdicts.items()))
        if not g.finished:
            lines.append("no finished cells")
        rows = []
        for ws in g.widths:
            total = sum(ws.statuses.values())
            n = str(ws.done) if ws.done == total else (
                f"{ws.done}/{total} (" + fmt_counts(Counter({k: c for k, c in ws.statuses.items() if k != 'done'})) + ")")
            rows.append([str(ws.width), "—" if ws.params is None else str(ws.params), n,
                         *[mean_std(ws.values[m], fixed=m.endswith("error")) for m in METRICS],
                         g.marks(ws.width)])
        table = Table(["width", "params", "n", "train err", "test err", "train loss", "test loss", ""], rows,
                      numeric=(0, 1))
        out.append(Section(f"Error vs width: {g.label}", lines, table))
    return out


def unfinished_section(board: Leaderboard) -> Section | None:
    bad = [r for r in board.rows if r.status != "done"]
    if not bad:
        return None
    rows = [[r.key, r.family, str(r.width), f"{r.noise_rate:g}", str(r.seed), r.status, r.error or ""]
            for r in sorted(bad, key=lambda r: (r.status, r.family, r.noise_rate, r.width, r.seed))]
    return Section("Cells not finished", [fmt_counts(Counter(r.status for r in bad))],
                   Table(["key", "family", "width", "p", "seed", "status", "error"], rows, numeric=(2, 3, 4), wrap=(6,)))


def board_sections(board: Leaderboard) -> list[Section]:
    """Everything both renderers show, in order."""
    sections = [header_section(board), *verdict_sections(board), *curve_sections(board)]
    optional = [scores_section(board), unfinished_section(board), probe_status.probe_section(board)]
    return sections + [s for s in optional if s is not None]


def render_markdown(board: Leaderboard) -> str:
    """The text of leaderboard.md."""
    return sections_to_markdown(board_sections(board))


def render_rich(board: Leaderboard) -> list[Any]:
    """Rich renderables for ``ddbench leaderboard show``; verdicts coloured."""
    return sections_to_rich(board_sections(board))


def print_board(board: Leaderboard, console: Any = None) -> None:
    from rich.console import Console

    console = console or Console()
    for item in render_rich(board):
        console.print(item)
