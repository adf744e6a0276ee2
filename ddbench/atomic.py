"""Atomic file writes: a reader sees the old file or the new one, and a failure (disk full,
permission, Ctrl-C) leaves no partial file behind.

A run directory may be shared, so it may hold links someone planted. A write never follows one:
the new content goes to a fresh private directory beside the file (``mkdtemp``: a unique name,
mode 0700, so nothing can be planted in it) and is then renamed over the file; a rename replaces a
link itself, never the file it points at. Directories a run writes into are checked with
:func:`refuse_link`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import UserError


class LinkRefused(UserError):
    """A file or directory a run writes is a symbolic link: ddbench never writes through one."""


def refuse_link(path: str | Path, what: str = "") -> Path:
    """``path``, unless it is a symbolic link (refused with a message naming it)."""
    path = Path(path)
    if path.is_symlink():
        raise LinkRefused(f"{path} is a symbolic link{f' ({what})' if what else ''}; ddbench never writes through "
                          "a link in a run directory (one planted there could point at any file): remove it, "
                          "or use another run directory")
    return path


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path for ``path`` (same name, in a new private directory beside it, so writers that
    check the suffix are happy); renamed onto ``path`` when the block succeeds, removed when it raises."""
    path = Path(path)
    try:
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        exc.filename = str(path)  # name the file the user knows (a read-only directory, a full disk)
        raise
    tmp = tmp_dir / path.name
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        if isinstance(exc, OSError) and exc.filename == str(tmp):
            exc.filename = str(path)  # name the file the user knows, not the temporary one
        raise
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def discard(path: str | Path) -> None:
    """Remove ``path`` and whatever a write of it left behind when its process was killed mid-way (the
    private temporary directories :func:`atomic_path` makes beside it)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


def write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def write_text(path: str | Path, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))
