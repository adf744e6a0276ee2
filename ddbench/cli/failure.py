"""The CLI's exit-code policy: every error a command meets becomes one line and an exit code.

``explain`` maps an exception to its line and code (``ddbench.errors`` defines the user errors and
the codes; the store's SQLite errors name the store being read); ``GuardedGroup`` is the one place
that applies it, so no command ever ends in a traceback unless ``--debug`` asks for one.
"""

from __future__ import annotations

import sqlite3
import sys
import warnings
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from ..errors import (
    EXIT_ENVIRONMENT,
    EXIT_INPUT,
    EXIT_INTERNAL,
    UserError,
    debug_enabled,
    describe_os_error,
    describe_sqlite_error,
)
from ..store.db import current_store_path
from . import common


def explain(exc: BaseException) -> tuple[str, int] | None:
    """The one line and exit code for an exception a command should not show as a traceback."""
    if isinstance(exc, UserError):
        return exc.message, exc.exit_code
    if isinstance(exc, sqlite3.Error):
        return describe_sqlite_error(exc, current_store_path() or "ddbench.sqlite"), EXIT_ENVIRONMENT
    if isinstance(exc, OSError):
        return describe_os_error(exc), EXIT_ENVIRONMENT
    if isinstance(exc, MemoryError):
        return "out of memory; use a smaller spec (fewer or narrower cells, smaller n_train)", EXIT_ENVIRONMENT
    if isinstance(exc, RecursionError):
        return "an input is nested too deeply to process", EXIT_INPUT
    return None


class GuardedGroup(TyperGroup):
    """Runs a command; its errors become one line and an exit code (``--debug`` shows tracebacks)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning  # a plugin's warning is text too
                return super().invoke(ctx)
        except Exception as exc:
            if debug_enabled() or type(exc).__module__.split(".")[0] in ("click", "typer"):
                raise  # usage errors and exits are the framework's (exit code 2 with the usage line)
            message, code = explain(exc) or (
                f"internal error: {type(exc).__name__}: {exc}; run again with --debug (or DDBENCH_DEBUG=1) for the "
                "traceback, and please report it", EXIT_INTERNAL)
            common.err.print(f"[bold red]error:[/] {escape(common.text(message))}", highlight=False)
            raise typer.Exit(code) from None


def _show_warning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """Python's warning line, with control characters shown as escapes (:func:`ddbench.safetext.terminal`):
    a plugin that fails to load, or a figure that cannot be drawn, may quote a hostile string."""
    out = file if file is not None else sys.stderr
    try:
        out.write(common.text(warnings.formatwarning(message, category, filename, lineno, line)))
    except OSError:
        pass
