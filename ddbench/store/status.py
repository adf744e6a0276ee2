"""``ddbench status RUN``: where a run stands, readable at 80 columns.

The spec (name and hash) and the runtime its cells were trained under, the cell states
as a width x noise-rate table (each entry counts the seeds, noise draws and grid
values of that width and rate), failed cells, and probes that failed or returned NaN.
``--failures`` adds every traceback. Only the cells of the spec last run in the
directory are shown; cells of earlier grids that it no longer names are counted.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from ..spec.identity import describe
from .run_store import STATUSES, CellRecord, RunStore

#: how many failed cells / probe issues are listed without --failures
SHOWN = 20


@dataclass
class ProbeIssue:
    """A probe that failed (with its traceback) or returned NaN (with the NaN values' names)."""

    cell: str  # the cell's label
    key: str
    probe: str
    status: str  # failed | nan
    error: str | None = None
    nan_values: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        if self.status == "nan":
            return "NaN in " + ", ".join(self.nan_values) if self.nan_values else "NaN values"
        return _last_line(self.error) or "failed (no traceback recorded)"


@dataclass
class StatusReport:
    run_dir: str
    name: str
    spec_hash: str | None
    identity: dict[str, str]
    provenance: dict[str, Any]
    counts: dict[str, int]
    widths: list[int]
    rates: list[float]
    table: dict[tuple[int, float], Counter]
    failed: list[CellRecord]
    probe_issues: list[ProbeIssue]
    other_cells: int = 0


def collect(store: RunStore) -> StatusReport:
    """Read a run's status from its store (the cells of the spec it was last run with)."""
    planned = store.meta("cells")
    records = store.records()
    other = 0
    if planned is not None:
        wanted = set(planned)
        other = sum(r.key not in wanted for r in records)
        records = [r for r in records if r.key in wanted]
    counts = {s: 0 for s in STATUSES}
    table: dict[tuple[int, float], Counter] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
        table.setdefault((r.descriptor["width"], r.descriptor["noise_rate"]), Counter())[r.status] += 1
    spec = store.meta("spec", {}) or {}
    probe_names = {p.get("name") for p in spec.get("probes", []) if isinstance(p, dict)}
    labels = {r.key: r.label for r in records}
    issues = []
    for key, probes in store.probe_values().items():
        if key not in labels:
            continue
        for name, p in sorted(probes.items()):
            if p["status"] not in ("failed", "nan") or (probe_names and name not in probe_names):
                continue
            nan = sorted(k for k, v in (p.get("values") or {}).items() if isinstance(v, float) and math.isnan(v))
            issues.append(ProbeIssue(labels[key], key, name, p["status"], p.get("error"), nan))
    order = {k: i for i, k in enumerate(labels)}
    issues.sort(key=lambda i: (order[i.key], i.probe))
    return StatusReport(
        run_dir=str(store.dir), name=spec.get("name", "?"), spec_hash=store.meta("spec_hash"),
        identity=store.meta("identity") or {}, provenance=store.meta("provenance") or {}, counts=counts,
        widths=sorted({w for w, _ in table}), rates=sorted({p for _, p in table}), table=table,
        failed=[r for r in records if r.status in ("failed", "diverged")], probe_issues=issues, other_cells=other)


def entry(states: Counter) -> tuple[str, str]:
    """A table entry, ``done/total`` then ``Nf`` failed, ``Nd`` diverged, ``Nr`` running; and its style."""
    total = sum(states.values())
    text = f"{states['done']}/{total}"
    for status, mark in (("failed", "f"), ("diverged", "d"), ("running", "r")):
        if states[status]:
            text += f" {states[status]}{mark}"
    if states["failed"] or states["diverged"]:
        style = "red"
    elif states["done"] == total:
        style = "green"
    else:
        style = "yellow" if states["running"] else ""
    return text, style


def render(report: StatusReport, console: Console, failures: bool = False) -> None:
    """Print ``report``; with ``failures``, every failed cell's and probe's traceback."""
    out = console.print
    out(f"{report.run_dir}: spec {report.name}, hash {report.spec_hash or '(not recorded)'}", highlight=False)
    if report.identity:
        prov = report.provenance
        how = f"; trainer {prov['trainer']}" if prov.get("trainer") else ""
        if prov.get("executor") not in (None, "local"):
            how += f" on {prov['executor']}"
        out(f"trained under {describe(report.identity)}{how}", highlight=False)
    total = sum(report.counts.values())
    parts = [f"{n} {s}" for s, n in report.counts.items() if n]
    line = f"{total} cells: " + (", ".join(parts) if parts else "none planned")
    if report.other_cells:
        line += f"; {report.other_cells} more from earlier grids kept"
    out(line, highlight=False)
    if report.table:
        _print_grid(report, console)
        out("[dim]done/cells (seeds x noise draws x grid); f failed, d diverged, r running[/]", highlight=False)
    width = max(console.width, 40)
    for r in report.failed[: None if failures else SHOWN]:
        out(_fit(f"{r.status} {r.label} (key {r.key}, attempts {r.attempts})", width), style="red", markup=False,
            highlight=False)
        if not failures and r.error:
            out(_fit(f"  {_last_line(r.error)}", width), markup=False, highlight=False)
        if failures and r.error:
            out(r.error.rstrip(), markup=False, highlight=False)
    if not failures and len(report.failed) > SHOWN:
        out(f"... {len(report.failed) - SHOWN} more failed cells; --failures lists them all", highlight=False)
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
        out(f"[dim]tracebacks: ddbench status {report.run_dir} --failures[/]", highlight=False)


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


def _last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""
