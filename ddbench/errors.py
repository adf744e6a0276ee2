"""One user-error type, the exit codes, and the translation of OS and store errors into one line a person
can act on (the CLI applies them: ``cli/failure.py``).

Every command ends in one of these exit codes (README "Exit codes"):

* 0 - done; 1 - refused, or the result says no (``leaderboard compare`` found a flip, ``plugin test`` failed a
  check, the run directory holds another spec's models or is locked by another run);
* 2 - a malformed input was refused (a spec, an argument, a file that is not what it should be); nothing was
  written;
* 3 - the run finished but some cells failed (``ddbench status RUN --failures``);
* 4 - the operating system or the run store stopped the command (disk full, read-only, permission
  denied, a damaged ``ddbench.sqlite``); the message names the file and what to do;
* 70 - an internal error (a bug): one line, and ``--debug`` or ``DDBENCH_DEBUG=1`` shows the traceback;
* 130 - interrupted (Ctrl-C): finished cells are kept.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

EXIT_NO = 1
EXIT_INPUT = 2
EXIT_CELLS_FAILED = 3
EXIT_ENVIRONMENT = 4
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130

DEBUG_ENV = "DDBENCH_DEBUG"


class UserError(Exception):
    """Something the user can fix: the message says what and how; never shown with a traceback."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class EnvironmentProblem(UserError):
    """The file system or the run store stopped the command (exit code 4)."""

    exit_code = EXIT_ENVIRONMENT


class StoreError(EnvironmentProblem):
    """A SQLite error of the run store, with the store's path."""

    def __init__(self, path: str | Path, exc: sqlite3.Error):
        self.path, self.cause = Path(path), exc
        super().__init__(describe_sqlite_error(exc, path))


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def describe_sqlite_error(exc: sqlite3.Error, path: str | Path) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 160:
        text = text[:157] + "..."
    low = text.lower()
    if any(w in low for w in ("malformed", "not a database", "file is encrypted", "corrupt")):
        return (f"{path}: the run store is damaged ({text}); restore it from a backup, "
                "or move it away to start over")
    if "readonly" in low or "read-only" in low:
        return (f"{path}: the run store is read-only ({text}); make the run directory writable, "
                "or copy it somewhere writable")
    if "disk is full" in low:
        return f"{path}: the disk is full ({text}); free some space and run the command again (finished cells are kept)"
    if "unable to open" in low:
        return f"{path}: cannot open the run store ({text}); check that the directory exists and is readable and writable"
    if "locked" in low:
        return f"{path}: the run store is locked by another process ({text}); wait for it to finish, then retry"
    if "disk i/o" in low:
        return f"{path}: input/output error ({text}); check the disk, then run the command again"
    return f"{path}: run store error ({text}); if it persists, restore the store, or move it away to start over"


_OS_HINTS = {
    errno.ENOSPC: "no space left on the device; free some space and run the command again",
    errno.EDQUOT: "disk quota exceeded; free some space and run the command again",
    errno.EROFS: "the file system is read-only; choose a writable location (e.g. --output DIR)",
    errno.EACCES: "permission denied; fix the permissions or choose another location",
    errno.EPERM: "operation not permitted; fix the permissions or choose another location",
    errno.ENOTDIR: "a part of this path is a file, not a directory; choose another location",
    errno.EISDIR: "this is a directory where a file was expected; give a file",
    errno.ENOENT: "no such file or directory; check the path",
    errno.ENAMETOOLONG: "the file name is too long; choose a shorter name",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) and retry",
    errno.EIO: "input/output error; check the disk",
}


def describe_os_error(exc: OSError) -> str:
    """One line: the file, what went wrong and what to do."""
    where = exc.filename if exc.filename is not None else None
    if exc.filename2 is not None:
        where = f"{exc.filename} -> {exc.filename2}"
    hint = _OS_HINTS.get(exc.errno or -1)
    reason = exc.strerror or str(exc)
    if hint is None:
        hint = reason
    elif reason and reason.lower() not in hint.lower():
        hint = f"{reason}: {hint}"
    return f"{where}: {hint}" if where else hint
