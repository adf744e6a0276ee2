"""The run store: one SQLite database (WAL mode) per run directory.

Every cell has a row keyed by its content hash, with status (pending, running,
done, failed, diverged), metrics, curves, timings, the traceback of a failure and
the per-point arrays the hypotheses bootstrap over. Each finished cell is written
in one transaction, so a run killed at any moment loses at most the cells in
flight; re-running resumes. A run lock (``store/lock.py``) stops two ``ddbench run``
from writing the same directory.

Every SQLite error is raised as :class:`ddbench.errors.StoreError`, naming the file and what
to do. A store in a directory this process cannot write is opened read-only (``status``,
``export`` and ``analyse`` still read it). Store format 2 records the size and SHA-256 of each
done cell's saved model (``weights_size``, ``weights_sha256``), so a resumed run can tell a
missing model from a damaged one; format-1 stores gain the columns when opened for writing and
stay readable read-only.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from ..errors import StoreError
from ..plan import Cell
from .db import _OPENED, _connect, file_digest
from .lock import acquire, held, release

DB_NAME = "ddbench.sqlite"
STORE_FORMAT = 2
#: columns added after format 1 (name -> SQL type); old stores gain them on open
_ADDED_COLUMNS = {"weights_size": "INTEGER", "weights_sha256": "TEXT"}
STATUSES = ("pending", "running", "done", "failed", "diverged")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    descriptor TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    params INTEGER,
    metrics TEXT,
    curves TEXT,
    timings TEXT,
    provenance TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    weights TEXT,
    arrays BLOB,
    updated REAL
);
CREATE TABLE IF NOT EXISTS probes (
    cell_key TEXT NOT NULL,
    probe TEXT NOT NULL,
    version TEXT NOT NULL,
    status TEXT NOT NULL,
    values_json TEXT,
    error TEXT,
    seconds REAL,
    PRIMARY KEY (cell_key, probe)
);
"""


@dataclass
class CellRecord:
    key: str
    label: str
    descriptor: dict[str, Any]
    status: str
    params: int | None
    metrics: dict[str, Any]
    curves: dict[str, list[Any]]
    timings: dict[str, Any]
    provenance: dict[str, Any]
    error: str | None
    attempts: int
    weights: str | None
    weights_size: int | None = None
    weights_sha256: str | None = None


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o))


def cell_descriptor(cell: Cell) -> dict[str, Any]:
    return {
        "family": cell.family, "config": cell.family_config, "grid": cell.config.get("_grid", {}),
        "width": cell.width, "noise_rate": cell.noise_rate, "noise_seed": cell.noise_seed, "seed": cell.seed,
    }


class RunStore:
    def __init__(self, run_dir: str | Path, *, read_only: bool = False, create: bool = True):
        self.dir = Path(run_dir)
        self.path = self.dir / DB_NAME
        self.read_only = read_only
        self._lock_fd: int | None = None
        self.db: Any = None
        try:
            self._open(read_only, create)
        except BaseException:
            if self.db is not None:
                self.db.close()
            if self.path in _OPENED:
                _OPENED.remove(self.path)
            raise

    def _open(self, read_only: bool, create: bool) -> None:
        if read_only:
            # No -wal file: no connection is open and everything is checkpointed, so the file alone is the
            # store (immutable: SQLite creates no side files). Else read through the WAL, and fall back to
            # the file alone where the -shm file cannot be created (a read-only directory).
            side = Path(f"{self.path}-wal").exists()
            self.db = _connect(self.path, read_only=True, immutable=not side)
            try:
                self.db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            except StoreError:
                if not side:
                    raise
                self.db.close()
                self.db = _connect(self.path, read_only=True, immutable=True)
                self.db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        else:
            if create:
                self.dir.mkdir(parents=True, exist_ok=True)
            self.db = _connect(self.path)
            if not create:
                self._check_tables()  # before anything is written to a file that may not be a store
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        _OPENED.append(self.path)
        if create or read_only:
            self._check_tables()
        self._columns = {row[1] for row in self.db.execute("PRAGMA table_info(cells)")}
        if not read_only:
            self._migrate()

    def _check_tables(self) -> None:
        """A damaged file is named at once, not by a garbled row later (``quick_check`` reads every page once)."""
        found = [r[0] for r in self.db.execute("PRAGMA quick_check(5)").fetchall()]
        if found != ["ok"]:
            raise StoreError(self.path, sqlite3.DatabaseError(f"database disk image is malformed: {found[0]}"))
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = {"meta", "cells", "probes"} - tables
        if missing:
            raise StoreError(self.path, sqlite3.DatabaseError(
                f"not a ddbench run store: no table {', '.join(sorted(missing))}; the file is damaged"))

    def _migrate(self) -> None:
        added = [c for c in _ADDED_COLUMNS if c not in self._columns]
        if not added:
            return
        with self.transaction() as db:
            for c in added:
                db.execute(f"ALTER TABLE cells ADD COLUMN {c} {_ADDED_COLUMNS[c]}")
            if db.execute("SELECT 1 FROM meta WHERE key = 'store_format'").fetchone():
                db.execute("UPDATE meta SET value = ? WHERE key = 'store_format'", (dumps(STORE_FORMAT),))
        self._columns.update(added)

    @classmethod
    def open_existing(cls, run_dir: str | Path, *, read_only: bool | None = True) -> "RunStore":
        """Open a run directory's store to read it (``status``, ``export``, ``analyse``): read-only by
        default, so these work on a read-only copy and never write to a damaged store;
        ``read_only=False`` to write, ``None``: read-only only where the directory or the file cannot
        be written."""
        run_dir = Path(run_dir)
        path = run_dir / DB_NAME
        if not path.exists():
            raise FileNotFoundError(f"{run_dir} is not a ddbench run directory (no {DB_NAME})")
        if path.is_dir():
            raise StoreError(path, sqlite3.DatabaseError("is a directory, not a database file"))
        if read_only is None:
            read_only = not (os.access(run_dir, os.W_OK) and os.access(path, os.W_OK))
        return cls(run_dir, read_only=read_only, create=False)

    def close(self) -> None:
        self.unlock()
        self.db.close()
        if self.path in _OPENED:
            _OPENED.remove(self.path)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if self.db.in_transaction:  # SQLite has already rolled back after e.g. a full disk
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------ locking (store/lock.py)

    def lock(self) -> None:
        """Take the run lock or raise :class:`RunLocked` naming the holder."""
        self._lock_fd = acquire(self.dir)

    def unlock(self) -> None:
        if self._lock_fd is not None:
            release(self._lock_fd)
            self._lock_fd = None

    def run_alive(self) -> bool:
        """Whether a ``ddbench run`` holds this directory's lock now (this process, or another)."""
        return self._lock_fd is not None or held(self.dir)

    # ------------------------------------------------------------ run identity

    def meta(self, key: str, default: Any = None) -> Any:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        try:
            return json.loads(row[0]) if row else default
        except (TypeError, ValueError) as exc:
            raise StoreError(self.path, sqlite3.DatabaseError(f"meta {key!r} cannot be read ({exc}); the store is damaged")) from None

    def set_meta(self, **items: Any) -> None:
        with self.transaction() as db:
            for k, v in items.items():
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (k, dumps(v)))

    # ------------------------------------------------------------ cells

    def sync_cells(self, cells: list[Cell]) -> None:
        """Add planned cells not yet known; reset cells left 'running' by a dead run."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO cells (key, label, descriptor, status, updated) VALUES (?, ?, ?, 'pending', ?)",
                [(c.key, c.label, dumps(cell_descriptor(c)), time.time()) for c in cells],
            )
        self.release_running()

    def release_running(self) -> int:
        """Cells left 'running' (by an interrupted or killed run) go back to pending; finished ones stay."""
        with self.transaction() as db:
            return db.execute("UPDATE cells SET status = 'pending' WHERE status = 'running'").rowcount

    def statuses(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, status FROM cells"))

    def mark_running(self, keys: list[str]) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE cells SET status = 'running', attempts = attempts + 1, updated = ? WHERE key = ?",
                [(time.time(), k) for k in keys],
            )

    def reset(self, statuses: tuple[str, ...], keys: list[str] | None = None) -> int:
        """Put cells with these statuses (of ``keys``, default all) back to pending (``run --retry-failed``)."""
        marks = ",".join("?" * len(statuses))
        with self.transaction() as db:
            if keys is None:
                return db.execute(f"UPDATE cells SET status = 'pending' WHERE status IN ({marks})", statuses).rowcount
            return sum(db.execute(f"UPDATE cells SET status = 'pending' WHERE key = ? AND status IN ({marks})",
                                  (k, *statuses)).rowcount for k in keys)

    def view(self, keys: list[str]) -> StoreView:
        """The store as seen by one spec: only the cells ``keys`` (a grown or shrunk grid's run
        directory holds cells of other grids too; leaderboards and status show the spec's)."""
        return StoreView(self, keys)

    def record(self, key: str, *, status: str, params: int | None = None, metrics: dict | None = None,
               curves: dict | None = None, timings: dict | None = None, provenance: dict | None = None,
               error: str | None = None, weights: str | None = None, arrays: dict[str, np.ndarray] | None = None) -> None:
        """Write a cell's final state in one transaction."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        blob = None
        if arrays:
            buf = io.BytesIO()
            np.savez_compressed(buf, **arrays)
            blob = buf.getvalue()
        size, digest = file_digest(self.dir / weights) if weights else (None, None)
        with self.transaction() as db:
            db.execute(
                "UPDATE cells SET status=?, params=?, metrics=?, curves=?, timings=?, provenance=?, error=?, "
                "weights=?, arrays=?, updated=?, weights_size=?, weights_sha256=? WHERE key=?",
                (status, params, dumps(metrics or {}), dumps(curves or {}), dumps(timings or {}),
                 dumps(provenance or {}), error, weights, blob, time.time(), size, digest, key),
            )

    def reset_cells(self, reasons: dict[str, str]) -> None:
        """Put these cells back to pending (to retrain), with the reason as their error, and drop their probes."""
        with self.transaction() as db:
            for key, reason in reasons.items():
                db.execute("UPDATE cells SET status = 'pending', error = ?, weights = NULL, weights_size = NULL, "
                           "weights_sha256 = NULL, updated = ? WHERE key = ?", (reason, time.time(), key))
                db.execute("DELETE FROM probes WHERE cell_key = ?", (key,))

    def records(self) -> list[CellRecord]:
        extra = ", weights_size, weights_sha256" if "weights_sha256" in self._columns else ", NULL, NULL"
        rows = self.db.execute(
            "SELECT key, label, descriptor, status, params, metrics, curves, timings, provenance, error, attempts, weights"
            f"{extra} FROM cells ORDER BY rowid"
        ).fetchall()
        if any(not isinstance(r[0], str) or r[3] not in STATUSES for r in rows):
            raise StoreError(self.path, sqlite3.DatabaseError("a cell row has an unknown status or key; the store is damaged"))
        try:
            return [
                CellRecord(r[0], r[1], json.loads(r[2]), r[3], r[4], json.loads(r[5] or "{}"), json.loads(r[6] or "{}"),
                           json.loads(r[7] or "{}"), json.loads(r[8] or "{}"), r[9], r[10], r[11], r[12], r[13])
                for r in rows
            ]
        except (TypeError, ValueError) as exc:
            raise StoreError(self.path, sqlite3.DatabaseError(f"a cell row cannot be read ({exc}); the store is damaged")) from None

    def arrays(self, key: str) -> dict[str, np.ndarray]:
        row = self.db.execute("SELECT arrays FROM cells WHERE key = ?", (key,)).fetchone()
        if not row or row[0] is None:
            return {}
        with np.load(io.BytesIO(row[0])) as z:
            return {k: z[k] for k in z.files}

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        out.update(dict(self.db.execute("SELECT status, COUNT(*) FROM cells GROUP BY status")))
        return out

    # ------------------------------------------------------------ probes

    def record_probe(self, cell_key: str, probe: str, version: str, status: str, values: dict[str, Any],
                     error: str | None = None, seconds: float | None = None) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO probes VALUES (?, ?, ?, ?, ?, ?, ?)",
                (cell_key, probe, version, status, dumps(values), error, seconds),
            )

    def probe_values(self) -> dict[str, dict[str, dict[str, Any]]]:
        """cell key -> probe name -> {version, status, values, error}."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for key, probe, version, status, values, error in self.db.execute(
            "SELECT cell_key, probe, version, status, values_json, error FROM probes"
        ):
            out.setdefault(key, {})[probe] = {"version": version, "status": status, "values": json.loads(values or "{}"), "error": error}
        return out


class StoreView:
    """Read access to a :class:`RunStore` restricted to some cells (see :meth:`RunStore.view`);
    anything else (``dir``, ``meta``, ...) is the store's."""

    def __init__(self, store: RunStore, keys: list[str]):
        self._store, self.keys = store, set(keys)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def records(self) -> list[CellRecord]:
        return [r for r in self._store.records() if r.key in self.keys]

    def statuses(self) -> dict[str, str]:
        return {k: v for k, v in self._store.statuses().items() if k in self.keys}

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATUSES}
        for status in self.statuses().values():
            out[status] = out.get(status, 0) + 1
        return out

    def probe_values(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {k: v for k, v in self._store.probe_values().items() if k in self.keys}
