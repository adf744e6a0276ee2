"""Assemble leaderboard.json from a run's store and its hypotheses' verdicts."""

from __future__ import annotations

import time
from typing import Any

from .. import __version__, registry
from ..hypotheses.cells import CellView
from ..hypotheses.table import ResultTable
from ..store.run_store import CellRecord, RunStore
from .measures import probe_scores
from .schema import Leaderboard, Refinement, Row, Verdict, board_data, content_hash

ROW_METRICS = ("train_error", "train_loss", "test_error", "test_loss", "train_error_clean", "train_error_noisy", "epochs")


def cell_views(store: RunStore) -> ResultTable:
    probes = store.probe_values()
    views = []
    for r in store.records():
        d = r.descriptor
        views.append(
            CellView(
                key=r.key, family=d["family"], config=d["config"], grid=d.get("grid", {}), width=d["width"],
                noise_rate=d["noise_rate"], noise_seed=d["noise_seed"], seed=d["seed"], status=r.status,
                params=r.params, metrics=r.metrics, curves=r.curves,
                probes={name: p["values"] for name, p in probes.get(r.key, {}).items() if p["status"] == "ok"},
            )
        )
    return ResultTable(views, store.arrays)


def make_row(rec: CellRecord, probes: dict[str, dict[str, Any]]) -> Row:
    d = rec.descriptor
    probe_values = {}
    for name, p in probes.items():
        if p["status"] == "ok":
            probe_values.update({f"{name}.{k}": v for k, v in p["values"].items()})
        else:
            probe_values[f"{name}.status"] = p["status"]
    return Row(
        key=rec.key, status=rec.status, family=d["family"], width=d["width"], config={**d["config"], **d.get("grid", {})},
        params=rec.params, noise_rate=d["noise_rate"], noise_seed=d["noise_seed"], seed=d["seed"],
        **{k: _clean(rec.metrics.get(k)) for k in ROW_METRICS},
        metrics={k: _clean(float(v)) for k, v in rec.metrics.items()
                 if k not in ROW_METRICS and isinstance(v, (int, float)) and not isinstance(v, bool)},
        train_seconds=rec.timings.get("train_seconds"), probes=probe_values,
        curves={k: [_clean(v) for v in vs] for k, vs in rec.curves.items()},
        error=(rec.error or "").strip().splitlines()[-1] if rec.error else None,
    )


def _clean(v: Any) -> Any:
    if isinstance(v, float) and v != v:  # NaN is not JSON
        return None
    return v


def stratum_records(table: ResultTable, analysis: Any) -> list[dict[str, Any]]:
    """What the statistical core decided per stratum (k*, peak window, peaks, unit): markdown and plots read it."""
    return [core.record() for core in table.cores(analysis)]


def build_leaderboard(store: RunStore, *, spec: Any, verdicts: list[Verdict], analysis: dict[str, Any],
                      provenance: dict[str, Any], plugins: dict[str, dict[str, str]],
                      refinements: list[Refinement] | None = None) -> Leaderboard:
    if "strata" not in analysis:
        analysis = {**analysis, "strata": stratum_records(cell_views(store), spec.analysis)}
    probes = store.probe_values()
    records = store.records()
    rows = [make_row(r, probes.get(r.key, {})) for r in records]
    grid_axes = sorted({k for r in records for k in r.descriptor.get("grid", {})})
    board = Leaderboard(
        ddbench_version=__version__,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        backend=provenance.get("backend", "?"),
        device=provenance.get("device", "?"),
        versions=provenance.get("versions", {}),
        spec_name=spec.name,
        spec_hash=spec.spec_hash(),
        spec=spec.resolved(),
        data_fingerprints=store.meta("data_fingerprints", {}),
        plugins=plugins,
        analysis=analysis,
        summary={"cells": store.counts(), "wall_seconds": store.meta("wall_seconds"), "trainer": provenance.get("trainer"),
                 **{k: provenance[k] for k in ("precision", "distribution", "engine", "executor") if k in provenance}},
        rows=rows,
        verdicts=verdicts,
        probe_scores=probe_scores(rows, grid_axes, {p.name: registry.probes.get(p.name).measures for p in spec.probes}),
        refinements=list(refinements or []),
    )
    board.content_hash = content_hash(board_data(board))  # write_leaderboard stamps it again over what it writes
    return board
