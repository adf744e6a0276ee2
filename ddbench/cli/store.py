"""Commands that read a run directory: ``status``, ``export`` and ``report`` (which also writes a published
leaderboard's report, by name)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import common


def status(
    run_dir: Path = typer.Argument(..., help="A run directory."),
    failures: bool = typer.Option(False, "--failures", "-f", help="List every failed cell and failed/NaN probe with its traceback."),
) -> None:
    """Spec hash, a width x noise-rate table of cell states, failed cells and failed/NaN probes."""
    from ..store.run_store import RunStore
    from ..store.status import collect
    from .status_view import render

    try:
        store = RunStore.open_existing(run_dir)
    except FileNotFoundError as exc:
        common.fail(str(exc))
    try:
        render(collect(store), common.console, failures=failures)
    finally:
        store.close()


def export(
    run_dir: Path = typer.Argument(..., help="A run directory."),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv or parquet (parquet needs the results extra: pandas, pyarrow)."),
    out_dir: Optional[Path] = typer.Option(None, "--output", "-o", help="Directory for cells.FORMAT and curves.FORMAT (default: RUN_DIR)."),
) -> None:
    """Tidy tables of a run: cells.FORMAT (every metric, probe value and status, timings, provenance) and
    curves.FORMAT (one row per cell and recorded epoch)."""
    from ..store.results import export as export_tables

    try:
        paths = export_tables(run_dir, fmt, out_dir)
    except (FileNotFoundError, ValueError, ImportError) as exc:
        common.fail(str(exc))
    for path in paths.values():
        common.console.print(f"wrote {path}", highlight=False, markup=False)


def _published_report(name: Path, output: Optional[Path]) -> None:
    """The report of a published leaderboard (no run store: figures inline, no test-point bands)."""
    from ..leaderboard.html import write_html
    from ..leaderboard.integrity import load_leaderboard
    from ..leaderboard.schema import LeaderboardError

    try:
        board = load_leaderboard(common.board_path(name))
    except LeaderboardError as exc:
        common.fail(str(exc), 2)
    path = write_html(board, output or Path(f"{name}.html"))
    common.console.print(f"wrote {path}", highlight=False)


def report(
    run_dir: Path = typer.Argument(..., help="A run directory (with its leaderboard.json), or a published leaderboard's name."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The HTML file (default: RUN_DIR/leaderboard.html; NAME.html for a published leaderboard)."),
) -> None:
    """Write the run's self-contained HTML report (and its PNG figures) again from leaderboard.json; for a
    published leaderboard's name, its report (NAME.html here)."""
    import warnings

    from ..catalog import is_bare_name
    from ..leaderboard.io import read_leaderboard
    from ..leaderboard.report import write_report
    from ..leaderboard.schema import LeaderboardError

    if not run_dir.exists() and is_bare_name(str(run_dir)):
        _published_report(run_dir, output)
        return

    try:
        board = read_leaderboard(Path(run_dir) / "leaderboard.json")
    except LeaderboardError as exc:
        common.fail(str(exc))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = write_report(board, run_dir, html_path=output)
    for w in caught:
        common.warn(str(w.message))
    if "html" not in paths:
        common.fail(f"could not write the report of {run_dir}")
    for path in paths.values():
        common.console.print(f"wrote {path}", highlight=False, markup=False)
