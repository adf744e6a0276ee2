"""The store's SQLite connection: every error names the file (:class:`~ddbench.errors.StoreError`)."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path
from typing import Any

from ..atomic import refuse_link
from ..errors import StoreError

_OPENED: list[Path] = []


def current_store_path() -> Path | None:
    """The store this process opened last (names the file in an error raised outside a store method)."""
    return _OPENED[-1] if _OPENED else None


class _Connection(sqlite3.Connection):
    """A connection whose errors name the store's file (:class:`StoreError`)."""

    store_path: Path

    def execute(self, *args: Any, **kw: Any) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().execute(*args, **kw)
        except sqlite3.Error as exc:
            raise StoreError(self.store_path, exc) from exc

    def executemany(self, *args: Any, **kw: Any) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().executemany(*args, **kw)
        except sqlite3.Error as exc:
            raise StoreError(self.store_path, exc) from exc

    def executescript(self, *args: Any, **kw: Any) -> sqlite3.Cursor:  # type: ignore[override]
        try:
            return super().executescript(*args, **kw)
        except sqlite3.Error as exc:
            raise StoreError(self.store_path, exc) from exc


#: the files SQLite keeps beside a store (write-ahead log, shared memory, rollback journal)
SIDE_FILES = ("-wal", "-shm", "-journal")


def refuse_links(path: Path) -> None:
    """Refuse a store, or a side file of it, that is a symbolic link, naming it: SQLite would open (and
    create, and write) the file it points at, anywhere, and put its side files beside that file."""
    refuse_link(path, "the run store")
    for side in SIDE_FILES:
        refuse_link(Path(f"{path}{side}"), "a side file of the run store")


def _connect(path: Path, read_only: bool = False, immutable: bool = False) -> _Connection:
    refuse_links(path)
    try:
        if read_only:
            uri = f"file:{path}?{'immutable=1' if immutable else 'mode=ro'}"
            db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None, factory=_Connection)
        else:
            db = sqlite3.connect(path, timeout=30, isolation_level=None, factory=_Connection)
    except sqlite3.Error as exc:
        raise StoreError(path, exc) from exc
    db.store_path = path
    return db


def file_digest(path: Path) -> tuple[int, str] | tuple[None, None]:
    """(size in bytes, SHA-256 hex) of a file, read in 1 MiB blocks; (None, None) if it does not exist."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
            return fh.tell(), h.hexdigest()
    except FileNotFoundError:
        return None, None
