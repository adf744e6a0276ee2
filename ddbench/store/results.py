"""Tidy results of a run: one table of cells, one of curves (``ddbench export``, :func:`load`).

``cells``: one row per cell of the run store, in every status. Columns:

* identity: ``key``, ``label``, ``status``, ``family``, ``width``, ``noise_rate``,
  ``noise_seed``, ``seed``, ``config.<option>`` (family options, grid axes included),
  ``params``, ``attempts``, ``error`` (last line of the traceback of a failed cell);
* every final metric under its own name (``train_error``, ``test_loss``, ...);
* every probe value as ``<probe>.<value>``, with ``<probe>.status`` (ok, nan, failed),
  ``<probe>.version``, ``<probe>.seconds`` and ``<probe>.error`` (last line);
* timings as ``timing.<name>``; provenance as ``prov.<name>`` (nested keys joined with dots);
* the run: ``run.spec_name``, ``run.training_hash``.

``curves``: one row per cell and recorded epoch: ``key``, the identity columns, ``epoch``
and every recorded metric. Values that are neither numbers nor strings (lists, dicts)
are JSON text, so both tables are flat for CSV, parquet, pandas and R.

CSV needs nothing beyond the standard library; parquet and :func:`load` need pandas and
pyarrow (``pip install "ddbench[results]"``).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .run_store import CellRecord, RunStore

FORMATS = ("csv", "parquet")
IDENTITY = ("key", "label", "status", "family", "width", "noise_rate", "noise_seed", "seed")
EXTRA_HINT = 'pip install "ddbench[results]" (pandas and pyarrow)'


def _last_line(text: str | None) -> str | None:
    return text.strip().splitlines()[-1] if text and text.strip() else None


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(f"{prefix}.{k}", v, out)
    else:
        out[prefix] = value


def _identity(rec: CellRecord) -> dict[str, Any]:
    d = rec.descriptor
    row: dict[str, Any] = {"key": rec.key, "label": rec.label, "status": rec.status}
    row.update({k: d.get(k) for k in ("family", "width", "noise_rate", "noise_seed", "seed")})
    row.update({f"config.{k}": v for k, v in {**(d.get("config") or {}), **(d.get("grid") or {})}.items()})
    return row


def cell_rows(store: RunStore) -> list[dict[str, Any]]:
    """The cells table as dicts (one per cell)."""
    probes = store.probe_values()
    seconds = {(k, p): s for k, p, s in store.db.execute("SELECT cell_key, probe, seconds FROM probes")}
    run = {"run.spec_name": (store.meta("spec") or {}).get("name"), "run.training_hash": store.meta("training_hash")}
    out = []
    for rec in store.records():
        row = _identity(rec)
        row.update(params=rec.params, attempts=rec.attempts, error=_last_line(rec.error))
        row.update(rec.metrics)
        for name, p in sorted(probes.get(rec.key, {}).items()):
            row.update({f"{name}.{k}": v for k, v in p["values"].items()})
            row[f"{name}.status"] = p["status"]
            row[f"{name}.version"] = p["version"]
            row[f"{name}.seconds"] = seconds.get((rec.key, name))
            row[f"{name}.error"] = _last_line(p.get("error"))
        for k, v in rec.timings.items():
            _flatten(f"timing.{k}", v, row)
        for k, v in rec.provenance.items():
            _flatten(f"prov.{k}", v, row)
        row.update(run)
        out.append(row)
    return out


def curve_rows(store: RunStore) -> list[dict[str, Any]]:
    """The curves table as dicts (one per cell and recorded epoch)."""
    out = []
    for rec in store.records():
        curves = rec.curves or {}
        n = max((len(v) for v in curves.values() if isinstance(v, list)), default=0)
        if not n:
            continue
        ident = _identity(rec)
        epochs = curves.get("epoch") or list(range(1, n + 1))
        for i in range(n):
            row = dict(ident)
            row["epoch"] = epochs[i] if i < len(epochs) else None
            for k, vs in curves.items():
                if k != "epoch" and isinstance(vs, list):
                    row[k] = vs[i] if i < len(vs) else None
            out.append(row)
    return out


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: list[str] = []
    seen: set[str] = set()
    for r in rows:
        for k in r:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    return cols


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def normalise(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    """Columns and one consistent type per column: numbers (NaN/inf kept as float), booleans,
    or text; a column mixing kinds, and any list or dict, becomes text (JSON for non-strings)."""
    cols = _columns(rows)
    table = [[r.get(c) for c in cols] for r in rows]
    for j in range(len(cols)):
        values = [row[j] for row in table if row[j] is not None]
        if all(_is_number(v) for v in values) or all(isinstance(v, bool) for v in values) \
                or all(isinstance(v, str) for v in values):
            continue
        for row in table:
            v = row[j]
            if v is not None and not isinstance(v, str):
                row[j] = json.dumps(v, default=str, allow_nan=True)
    return cols, table


@dataclass
class Results:
    """A run's tidy tables as pandas DataFrames (``cells, curves = ddbench.store.results.load(run)``)."""

    cells: Any
    curves: Any

    def __iter__(self):
        return iter((self.cells, self.curves))


def _frame(rows: list[dict[str, Any]]) -> Any:
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError(f"ddbench.store.results needs pandas: {EXTRA_HINT}") from exc
    cols, table = normalise(rows)
    frame = pd.DataFrame(table, columns=cols)
    for c in cols:  # integer columns with missing values stay numbers, not objects
        if frame[c].dtype == object and any(_is_number(v) for v in frame[c]) \
                and all(v is None or _is_number(v) for v in frame[c]):
            frame[c] = pd.to_numeric(frame[c])
    return frame


def _spec_cells(store: RunStore) -> Any:
    """The store seen through the cells of the spec it was last run with (a grown or shrunk grid's
    run directory also holds cells no current spec plans); older stores, which record no such list,
    as they are."""
    keys = store.meta("cells")
    return store.view(list(keys)) if keys else store


def load(run_dir: str | Path) -> Results:
    """The cells and curves tables of a run directory as pandas DataFrames (the current spec's cells)."""
    store = RunStore.open_existing(run_dir)
    try:
        view = _spec_cells(store)
        return Results(_frame(cell_rows(view)), _frame(curve_rows(view)))
    finally:
        store.close()


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """Written atomically: a full disk leaves no partial table behind."""
    from ..atomic import atomic_path

    cols, table = normalise(rows)
    with atomic_path(path) as tmp, tmp.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for row in table:
            w.writerow(["" if v is None else v for v in row])


def export(run_dir: str | Path, fmt: str = "csv", out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write ``cells.<fmt>`` and ``curves.<fmt>`` (into ``out_dir``, default the run directory)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    out = Path(out_dir) if out_dir is not None else Path(run_dir)
    store = RunStore.open_existing(run_dir)
    try:
        view = _spec_cells(store)
        tables = {"cells": cell_rows(view), "curves": curve_rows(view)}
    finally:
        store.close()
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, rows in tables.items():
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            _write_csv(rows, path)
        else:
            try:
                import pyarrow  # noqa: F401  (pandas' parquet engine)
            except ImportError as exc:
                raise ImportError(f"parquet export needs pyarrow: {EXTRA_HINT}") from exc
            from ..atomic import atomic_path

            with atomic_path(path) as tmp:
                _frame(rows).to_parquet(tmp, index=False)
        paths[name] = path
    return paths
