"""The run lock: one ``ddbench run`` at a time in a run directory, and a liveness check for the others.

The lock is an ``flock`` on ``RUN/run.lock``. The kernel releases it when its process dies, even on
``kill -9``, so a lock that can be taken belongs to no live run: ``ddbench status`` shows the cells a
killed run had marked running as interrupted. The file holds ``pid N since TIME`` for the message a
second run gets. It is never opened through a symbolic link (a link planted in a shared run
directory could point at any file, which opening for writing would truncate).
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

LOCK_NAME = "run.lock"


class RunLocked(RuntimeError):
    """Another process is running in this run directory (or its lock file cannot be trusted)."""


def acquire(run_dir: Path) -> int:
    """Take the run lock of ``run_dir``; return its file descriptor, or raise :class:`RunLocked` naming the holder."""
    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise RunLocked(f"{path} is a symbolic link; ddbench does not write through links in a run directory: "
                            "remove it, or use another --output") from None
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
        os.close(fd)
        raise RunLocked(f"{run_dir} is in use by {holder}; wait for it to finish, stop it, or use another --output") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode())
    return fd


def release(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def held(run_dir: Path) -> bool:
    """Whether a live process holds the run lock of ``run_dir`` (probed with a shared lock, never kept)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False  # never run here, or a link: no run holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock if it was taken
    return False
