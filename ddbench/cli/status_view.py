"""``ddbench status RUN`` on a terminal: a run's state (``store.status.collect``), readable at 80 columns.

``--failures`` adds every traceback; without it, long lists are cut at :data:`SHOWN` entries. A run
directory may come from someone else: its strings are printed as text, never as markup.
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..leaderboard.formatting import fmt_refinement
from ..leaderboard.schema import Refinement
from ..spec.identity import describe
from ..store.status import StatusReport, last_line

#: how many failed cells / probe issues are listed without --failures
SHOWN = 20


def entry(states: Counter) -> tuple[str, str]:
    """A table entry, ``done/total`` then ``Nf`` failed, ``Nd`` diverged, ``Nr`` running, ``Ni`` interrupted;
    and its style."""
    total = sum(states.values())
    text = f"{states['done']}/{total}"
    for status, mark in (("failed", "f"), ("diverged", "d"), ("running", "r"), ("interrupted", "i")):
        if states[status]:
            text += f" {states[status]}{mark}"
    if states["failed"] or states["diverged"]:
        style = "red"
    elif states["done"] == total:
        style = "green"
    else:
        style = "yellow" if states["running"] or states["interrupted"] else ""
    return text, style


def render(report: StatusReport, console: Console, failures: bool = False) -> None:
    """Print ``report``; with ``failures``, every failed cell's and probe's traceback."""
    out = console.print
    out(f"{report.run_dir}: spec {report.name}, hash {report.spec_hash or '(not recorded)'}", highlight=False, markup=False)
    if report.identity:
        prov = report.provenance
        how = f"; trainer {prov['trainer']}" if prov.get("trainer") else ""
        if prov.get("executor") not in (None, "local"):
            how += f" on {prov['executor']}"
        out(f"trained under {describe(report.identity)}{how}", highlight=False, markup=False)
    total = sum(report.counts.values())
    parts = [f"{n} {s}" for s, n in report.counts.items() if n]
    line = f"{total} cells: " + (", ".join(parts) if parts else "none planned")
    if report.other_cells:
        line += f"; {report.other_cells} more from earlier grids kept"
    out(line, highlight=False)
    for step in report.refinements:
        out(f"grid refined: {fmt_refinement(Refinement.model_validate(step))}", highlight=False, markup=False)
    if report.run_alive:
        out("a run is in progress in this directory (it holds the run lock)", highlight=False)
    elif report.counts.get("interrupted"):
        out(f"[yellow]{report.counts['interrupted']} cell(s) interrupted[/]: their run stopped before they finished\n"
            "(killed, or out of memory); the same `ddbench run` resumes them", highlight=False)
    if report.table:
        _print_grid(report, console)
        out("[dim]done/cells (seeds x noise draws x grid); f failed, d diverged, r running,\n"
            "i interrupted[/]", highlight=False)
    width = max(console.width, 40)
    for r in report.failed[: None if failures else SHOWN]:
        out(_fit(f"{r.status} {r.label} (key {r.key}, attempts {r.attempts})", width), style="red", markup=False,
            highlight=False)
        if not failures and r.error:
            out(_fit(f"  {last_line(r.error)}", width), markup=False, highlight=False)
        if failures and r.error:
            out(r.error.rstrip(), markup=False, highlight=False)
    if not failures and len(report.failed) > SHOWN:
        out(f"... {len(report.failed) - SHOWN} more failed cells; --failures lists them all", highlight=False, markup=False)
    issues = report.probe_issues
    if issues:
        n_failed = sum(i.status == "failed" for i in issues)
        out(f"probes: {n_failed} failed, {len(issues) - n_failed} returned NaN", highlight=False)
    for i in issues[: None if failures else SHOWN]:
        failed = i.status == "failed"
        line = f"  {i.probe} {'failed' if failed else 'NaN'} on {i.cell}: {i.summary}"
        out(line if failures else _fit(line, width), style="red" if failed else "yellow", markup=False, highlight=False)
        if failures and i.error:
            out(i.error.rstrip(), markup=False, highlight=False)
    if not failures and len(issues) > SHOWN:
        out(f"  ... {len(issues) - SHOWN} more; --failures lists them all", highlight=False)
    if not failures and (report.failed or any(i.error for i in issues)):
        out(f"[dim]tracebacks: ddbench status {escape(str(report.run_dir))} --failures[/]", highlight=False)


def _print_grid(report: StatusReport, console: Console) -> None:
    """The width x noise-rate table, cut into several tables of rate columns when it is wider than the console."""
    entries = {k: entry(v) for k, v in report.table.items()}
    col = max([len(t) for t, _ in entries.values()] + [len(f"p={r:g}") for r in report.rates]) + 2
    first = max(len("width"), *(len(str(w)) for w in report.widths)) + 2
    per_table = max(1, (max(console.width, 40) - first - 2) // (col + 1))
    for start in range(0, len(report.rates), per_table):
        rates = report.rates[start:start + per_table]
        table = Table(box=None, pad_edge=False, show_edge=False, padding=(0, 1))
        table.add_column("width", justify="right", no_wrap=True)
        for r in rates:
            table.add_column(f"p={r:g}", justify="right", no_wrap=True)
        for w in report.widths:
            cells = []
            for r in rates:
                text, style = entries.get((w, r), ("-", "dim"))
                cells.append(f"[{style}]{text}[/]" if style else text)
            table.add_row(str(w), *cells)
        console.print(table)


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 3] + "..."
