"""Human-readable views of a leaderboard: ``leaderboard.md`` and the terminal.

Both views are emitted from one list of :class:`Section` objects built by
:func:`board_sections`, so the markdown file and ``ddbench leaderboard show`` can
never disagree. The per-width aggregation (:func:`curve_groups`) is shared with
:mod:`.plot`, and the verdict flattening (:func:`verdict_entries`) with
:mod:`.compare`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from ..stats.threshold import interpolation_index
from . import probe_status
from .schema import Leaderboard, Row, Verdict
from .strata import attach_core, attach_verdicts, control_summary

METRICS = ("train_error", "test_error", "train_loss", "test_loss")
STATUS_ORDER = ("done", "failed", "diverged", "running", "pending")
DD = "double_descent"
#: rich styles of the words that carry a judgement (verdicts, comparison statuses)
STYLES = {
    "holds": "green", "fails": "red", "inconclusive": "yellow", "not_applicable": "dim",
    "agree": "green", "flip": "bold red", "changed": "yellow", "only in A": "dim", "only in B": "dim",
    "yes": "green", "no": "red",
}


# --------------------------------------------------------------------------- neutral document model


@dataclass
class Table:
    """A table as plain strings; ``colored`` columns get :data:`STYLES` in the terminal."""

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
    out: list[str] = []
    for s in sections:
        out += ["#" * s.level + " " + s.title, ""]
        if s.lines:
            out += [f"- {line}" for line in s.lines] + [""]
        if s.table is not None:
            t = s.table
            out.append("| " + " | ".join(_md_cell(h) for h in t.headers) + " |")
            out.append("|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.headers))) + "|")
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in t.rows]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def sections_to_rich(sections: Sequence[Section]) -> list[Any]:
    """Rich renderables laid out for the terminal's width without cutting names (see :mod:`.terminal`)."""
    from .terminal import sections_to_rich as to_rich

    return to_rich(sections)


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# --------------------------------------------------------------------------- small formatting helpers


def canon(v: Any) -> Any:
    """A hashable, comparison-stable form of a JSON value (floats rounded)."""
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        return round(v, 10)
    if isinstance(v, (list, tuple)):
        return tuple(canon(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((str(k), canon(x)) for k, x in v.items()))
    return repr(v)


def _sort_key(v: Any) -> tuple:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, float(v), "")
    if isinstance(v, tuple):
        return (1, 0.0, "", tuple(_sort_key(x) for x in v))
    return (2, 0.0, repr(v))


def fmt_num(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{digits}g}"


def fmt_ci(ci: Sequence[float] | None) -> str:
    return "—" if ci is None else f"[{fmt_num(ci[0])}, {fmt_num(ci[1])}]"


def fmt_p(p: float) -> str:
    return f"p={p:g}"


def fmt_signed(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:+.{digits}g}"


def mean_std(values: list[float], fixed: bool) -> str:
    """``mean ± sd`` (sample sd) of finished seeds; errors in fixed point, losses in 4 significant digits."""
    if not values:
        return "—"
    m = sum(values) / len(values)
    mean = f"{m:.4f}" if fixed else f"{m:.4g}"
    if len(values) == 1:
        return mean
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
    return f"{mean} ± {sd:.4f}" if fixed else f"{mean} ± {sd:.2g}"


# --------------------------------------------------------------------------- strata and verdict entries


def stratum_key(stratum: dict[str, Any]) -> tuple:
    """Identity of a stratum across leaderboards (a pooled stratum's member count is not part of it)."""
    return tuple(sorted((k, canon(v)) for k, v in stratum.items() if k != "strata"))


def stratum_labels(strata: Iterable[dict[str, Any]]) -> dict[tuple, str]:
    """Short labels that show only what varies, e.g. ``p=0.15``, ``depth=2 p=0.1``, ``pooled``."""
    strata = list(strata)
    plain = [s for s in strata if not (s.get("pooled") or s.get("overall"))]
    keys: list[str] = []
    for s in plain:
        keys += [k for k in s if k not in keys]
    varying = {k for k in keys if len({canon(s.get(k, "∅")) for s in plain}) > 1}
    labels: dict[tuple, str] = {}
    for s in strata:
        if s.get("overall"):
            label = "overall"
        elif s.get("pooled"):
            label = "pooled" + (f" ({s['strata']} strata)" if isinstance(s.get("strata"), int) else "")
        else:
            parts = [str(s[k]) if k == "family" else f"{k}={s[k]}" for k in keys
                     if k in s and k != "noise_rate" and k in varying]
            if "noise_rate" in s:
                parts.append(fmt_p(float(s["noise_rate"])))
            label = " ".join(parts) or " ".join(f"{k}={v}" for k, v in s.items()) or "all"
        labels[stratum_key(s)] = label
    return labels


@dataclass
class VerdictEntry:
    """One (claim, stratum) verdict, or the claim-level verdict as stratum ``overall``."""

    claim: str
    stratum: dict[str, Any]
    verdict: str
    statistic: float | None
    ci: tuple[float, float] | None
    threshold: float | None
    reason: str
    detail: dict[str, Any]
    side: str = "greater"
    control: str = ""  # error control and resampling of this test (family, level, unit, replicates, p)

    @property
    def key(self) -> tuple:
        return stratum_key(self.stratum)


def verdict_entries(v: Verdict, *, overall: str = "distinct") -> list[VerdictEntry]:
    """Flatten a claim into entries per stratum, plus ``overall``.

    ``overall="distinct"`` adds the claim-level verdict only where it is not already a
    stratum's (no strata, or several strata and no pooled one); ``"always"`` always adds it.
    """
    out = [VerdictEntry(v.claim, dict(s.stratum), s.verdict, s.statistic, s.ci, s.threshold, s.reason, dict(s.detail),
                        s.side, control_summary(s)) for s in v.strata]
    distinct = not v.strata or (len(v.strata) > 1 and not any(s.stratum.get("pooled") for s in v.strata))
    if overall == "always" or distinct:
        out.append(VerdictEntry(v.claim, {"overall": True}, v.verdict, v.statistic, v.ci, v.threshold, v.reason, {}, v.side))
    return out


def _ordered(entries: Iterable[VerdictEntry]) -> list[VerdictEntry]:
    """Plain strata first (first-seen order), then pooled, then overall."""
    return sorted(entries, key=lambda e: 2 if e.stratum.get("overall") else 1 if e.stratum.get("pooled") else 0)


def detail_summary(detail: dict[str, Any]) -> str:
    """The few detail fields a reader wants next to a verdict; absent ones are skipped."""
    parts = []
    if "k_star" in detail:
        parts.append(f"k*={detail['k_star']}" if detail["k_star"] is not None else "k* not reached")
    if detail.get("peak_width") is not None:
        peak = f"peak at {detail['peak_width']}"
        if detail.get("peak_height") is not None:
            peak += f" ({fmt_signed(detail['peak_height'])})"
        parts.append(peak)
    if detail.get("seeds") is not None:
        parts.append(f"{detail['seeds']} seeds")
    if detail.get("missing_widths"):
        parts.append(f"missing widths {detail['missing_widths']}")
    return ", ".join(parts)


# --------------------------------------------------------------------------- per-width curves


@dataclass
class WidthStats:
    """The cells of one width in one curve group."""

    width: int
    params: int | None
    statuses: Counter
    values: dict[str, list[float]]  # metric -> values of finished cells

    @property
    def done(self) -> int:
        return self.statuses.get("done", 0)

    def mean(self, metric: str) -> float | None:
        vs = self.values.get(metric) or []
        return sum(vs) / len(vs) if vs else None

    def spread(self, metric: str) -> tuple[float, float] | None:
        vs = self.values.get(metric) or []
        return (min(vs), max(vs)) if vs else None


@dataclass
class CurveGroup:
    """All cells of one noise rate (and family / config axes, where those vary)."""

    family: str
    axes: dict[str, Any]  # only the config axes that vary across the leaderboard
    noise_rate: float
    label: str
    rows: list[Row]
    widths: list[WidthStats]
    k_star: int | None
    k_star_source: str  # "core" (recorded by the statistical core), "verdict" (older boards), "rows" or "none"
    peaks: dict[str, int] = field(default_factory=dict)  # mark ("peak", "loss peak") -> width
    peak_heights: dict[str, float] = field(default_factory=dict)
    verdicts: dict[str, str] = field(default_factory=dict)  # claim -> verdict in this stratum

    @property
    def finished(self) -> bool:
        return any(w.done for w in self.widths)

    def marks(self, width: int) -> str:
        tags = (["k*"] if self.k_star == width else []) + [m for m, w in self.peaks.items() if w == width]
        return "← " + ", ".join(tags) if tags else ""


def varying_config_keys(rows: Iterable[Row]) -> list[str]:
    """Config keys that are grid axes: they vary among cells of one width (width-derived options don't)."""
    by_width: dict[int, list[Row]] = {}
    for r in rows:
        by_width.setdefault(r.width, []).append(r)
    keys: list[str] = []
    for group in by_width.values():
        for r in group:
            keys += [k for k in r.config if k not in keys and not k.startswith("_")]
    return [k for k in keys
            if any(len({canon(r.config.get(k, "∅")) for r in group}) > 1 for group in by_width.values())]


def _threshold(board: Leaderboard) -> float:
    for src in (board.analysis, (board.spec or {}).get("analysis") or {}):
        if isinstance(src.get("interpolation_threshold"), (int, float)):
            return float(src["interpolation_threshold"])
    return 0.01


def curve_groups(board: Leaderboard) -> list[CurveGroup]:
    """Rows grouped by (family, varying config axes, noise rate), aggregated per width over seeds."""
    axes = varying_config_keys(board.rows)
    families = {r.family for r in board.rows}
    grouped: dict[tuple, list[Row]] = {}
    for r in board.rows:
        grouped.setdefault((r.family, tuple(canon(r.config.get(k)) for k in axes), canon(r.noise_rate)), []).append(r)
    thr = _threshold(board)
    groups = []
    for gk in sorted(grouped, key=lambda g: (g[0], _sort_key(g[1]), g[2])):
        rows = grouped[gk]
        first = rows[0]
        axis_values = {k: first.config.get(k) for k in axes}
        label = " ".join(([first.family] if len(families) > 1 else []) + [f"{k}={v}" for k, v in axis_values.items()]
                         + [fmt_p(first.noise_rate)])
        widths = []
        for w in sorted({r.width for r in rows}):
            cells = [r for r in rows if r.width == w]
            done = [r for r in cells if r.status == "done"]
            widths.append(WidthStats(
                width=w, params=next((r.params for r in cells if r.params), None),
                statuses=Counter(r.status for r in cells),
                values={m: [getattr(r, m) for r in done if getattr(r, m) is not None] for m in METRICS},
            ))
        group = CurveGroup(first.family, axis_values, first.noise_rate, label, rows, widths, None, "none")
        coords = {**first.config, "family": first.family, "noise_rate": first.noise_rate}
        attach_core(group, board, coords)
        attach_verdicts(group, board, coords)
        if group.k_star_source == "none":
            means = [ws.mean("train_error") for ws in widths]
            k = interpolation_index([ws.width for ws in widths], [math.nan if m is None else m for m in means], thr)
            if k is not None:
                group.k_star, group.k_star_source = widths[k].width, "rows"
        groups.append(group)
    return groups


# --------------------------------------------------------------------------- the board's sections


def _status_counts(board: Leaderboard) -> Counter:
    if board.rows:
        return Counter(r.status for r in board.rows)
    cells = board.summary.get("cells") if isinstance(board.summary.get("cells"), dict) else {}
    return Counter({k: int(v) for k, v in cells.items() if isinstance(v, (int, float))})


def fmt_counts(counts: Counter) -> str:
    order = [s for s in STATUS_ORDER if counts.get(s)] + sorted(s for s in counts if s not in STATUS_ORDER and counts[s])
    return ", ".join(f"{counts[s]} {s}" for s in order) or "none"


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
        for e in _ordered(verdict_entries(v)):
            thr = "—" if e.threshold is None else f"{'>' if e.side == 'greater' else '<'} {fmt_num(e.threshold)}"
            rows.append([e.claim, labels[e.key], e.verdict, fmt_num(e.statistic), thr, fmt_ci(e.ci),
                         "; ".join(x for x in (detail_summary(e.detail), e.control) if x), e.reason])
    table = Table(["claim", "stratum", "verdict", "statistic", "threshold", "CI", "detail", "reason"], rows,
                  colored=(2,), numeric=(3, 4), wrap=(6, 7), lead=3)
    # the matrix: strata x claims, the claim-level verdict as the last row
    claims = [v.claim for v in board.verdicts]
    cells: dict[tuple, dict[str, str]] = {}
    for e in _ordered(entries):
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
                         f"{_threshold(board):g})" if g.k_star is not None
                         else f"k* not reached: no width has mean train error ≤ {_threshold(board):g}")
        elif g.k_star_source == "verdict":
            lines.append(f"k* = {g.k_star} (interpolation threshold, from the verdicts)" if g.k_star is not None
                         else "k* not reached: no width interpolates (from the verdicts)")
        elif g.k_star_source == "rows":
            lines.append(f"k* = {g.k_star} (smallest width with mean train error ≤ {_threshold(board):g})")
        elif g.finished:
            lines.append(f"k* not reached: no width has mean train error ≤ {_threshold(board):g}")
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
    from .measures import scores_section

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
