"""Where a run stands, read from its store (``ddbench status RUN`` prints it: ``cli/status_view.py``).

The spec (name and hash) and the runtime its cells were trained under, the cell states
as a width x noise-rate table (each entry counts the seeds, noise draws and grid
values of that width and rate), failed cells, and probes that failed or returned NaN.
Only the cells of the spec last run in the directory are listed; cells of earlier grids
that it no longer names are counted. A cell marked running is shown ``interrupted`` when no run
holds the directory's lock any more (the run was killed; the next ``ddbench run`` retrains it).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .run_store import STATUSES, CellRecord, RunStore

#: the states ``status`` shows: the store's, and ``interrupted`` for a cell marked running by a run that is gone
SHOWN_STATUSES = (*STATUSES, "interrupted")


def shown_status(status: str, run_alive: bool) -> str:
    """A cell's state as a person should read it: 'running' only while a run holds the lock; a cell
    left 'running' by a killed run is 'interrupted' (the next run trains it again)."""
    return "interrupted" if status == "running" and not run_alive else status


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
        return last_line(self.error) or "failed (no traceback recorded)"


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
    run_alive: bool = False
    refinements: list[dict[str, Any]] = field(default_factory=list)  # how the grid was refined (leaderboard schema)


def collect(store: RunStore) -> StatusReport:
    """Read a run's status from its store (the cells of the spec it was last run with)."""
    planned = store.meta("cells")
    records = store.records()
    other = 0
    if planned is not None:
        wanted = set(planned)
        other = sum(r.key not in wanted for r in records)
        records = [r for r in records if r.key in wanted]
    alive = store.run_alive()
    counts = {s: 0 for s in SHOWN_STATUSES}
    table: dict[tuple[int, float], Counter] = {}
    for r in records:
        state = shown_status(r.status, alive)
        counts[state] = counts.get(state, 0) + 1
        table.setdefault((r.descriptor["width"], r.descriptor["noise_rate"]), Counter())[state] += 1
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
        failed=[r for r in records if r.status in ("failed", "diverged")], probe_issues=issues, other_cells=other,
        run_alive=alive, refinements=list(store.meta("refinements", []) or []))


def last_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[-1] if lines else ""
