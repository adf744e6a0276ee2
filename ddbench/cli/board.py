"""``ddbench leaderboard show|compare|summary``: read leaderboard files (checked against their hashes) or
published leaderboards by name; print one, line up two, or summarise the claims of several."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

import typer

from . import common


class BoardFormat(str, Enum):
    table = "table"
    md = "md"
    json = "json"


class SummaryFormat(str, Enum):
    table = "table"
    md = "md"
    json = "json"
    html = "html"


_FORMAT = typer.Option(BoardFormat.table, "--format", "-f", help="table (terminal), md (markdown) or json.")
_BOARD = "A leaderboard.json, or a published leaderboard's name (e.g. quickstart)."


def _read(path: Path) -> Any:
    """The leaderboard in ``path``, hashes checked; exit 2 when it is refused."""
    from ..leaderboard.integrity import load_leaderboard
    from ..leaderboard.schema import LeaderboardError

    try:
        return load_leaderboard(path)
    except LeaderboardError as exc:
        common.fail(str(exc), code=2)


def _load(arg: Path) -> Any:
    """The leaderboard of a file or a published name."""
    return _read(common.board_path(arg))


def board_show(path: Path = typer.Argument(..., help=_BOARD), fmt: BoardFormat = _FORMAT) -> None:
    """Print a leaderboard (verdicts and error curves) after checking its spec and content hashes."""
    from ..leaderboard.render import print_board, render_markdown
    from ..leaderboard.schema import board_data

    board = _load(path)
    if fmt is BoardFormat.json:
        print(json.dumps(board_data(board), indent=1))
    elif fmt is BoardFormat.md:
        print(render_markdown(board), end="")
    else:
        print_board(board, common.console)


def board_compare(
    a: Path = typer.Argument(..., help="Leaderboard A: a file, or a published one by name (e.g. quickstart)."),
    b: Path = typer.Argument(..., help="Leaderboard B (e.g. your run: runs/quickstart/leaderboard.json)."),
    fmt: BoardFormat = _FORMAT,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on resolution changes too, not only on flips."),
) -> None:
    """Line up two leaderboards claim by claim: agree, resolution change, flip or not comparable.

    Exits 1 when a claim flips (holds vs fails, disjoint intervals), 2 when a leaderboard is refused.
    """
    from ..leaderboard import compare_render as view
    from ..leaderboard.compare import IncompatibleLeaderboards, compare

    first, second = _load(a), _load(b)
    try:
        cmp = compare(first, second)
    except IncompatibleLeaderboards as exc:
        common.fail(str(exc), code=2)
    if fmt is BoardFormat.json:
        print(json.dumps(view.comparison_json(cmp, strict), indent=1, default=str))
    elif fmt is BoardFormat.md:
        print(view.render_comparison_markdown(cmp, strict), end="")
    else:
        view.print_comparison(cmp, common.console, strict)
    raise typer.Exit(cmp.exit_code(strict))


def summary_refs(args: List[Path]) -> list[Any]:
    """The leaderboards to summarise (default: every published one), each with the address of its report:
    ``NAME.html`` for a published name (``ddbench report NAME`` writes it), else the file's ``.html`` beside it."""
    from ..catalog import BOARDS, names
    from ..leaderboard.summary import BoardRef

    args = list(args) or [Path(n) for n in names(BOARDS)]
    if not args:
        common.fail("this ddbench ships no published leaderboards; name leaderboard files", 2)
    refs = []
    for arg in args:
        path = common.board_path(arg)
        report = f"{arg}.html" if path != arg else str(arg.with_suffix(".html"))  # published: NAME.html
        refs.append(BoardRef(str(arg), _read(path), report))
    return refs


def board_summary(
    boards: Optional[List[Path]] = typer.Argument(None, help="Leaderboard files or published names (default: every published leaderboard)."),
    fmt: SummaryFormat = typer.Option(SummaryFormat.table, "--format", "-f", help="table (terminal), md (markdown), json or html (a page linking each verdict to its report)."),
) -> None:
    """One row per claim: its verdict on every recipe that tests it, the settings that differ, and a
    consensus (holds everywhere, fails everywhere, mixed, undecided)."""
    from ..leaderboard import summary_render as view
    from ..leaderboard.summary import summarise, summary_json

    refs = summary_refs(boards or [])
    rows = summarise(refs)
    labels = [r.label for r in refs]
    if fmt is SummaryFormat.json:
        print(json.dumps(summary_json(refs, rows), indent=1))
    elif fmt is SummaryFormat.md:
        print(view.render_markdown(rows), end="")
    elif fmt is SummaryFormat.html:
        print(view.render_html(rows, labels), end="")
    else:
        for item in view.rich_items(rows, labels):
            common.console.print(item)


def board_rederive(
    path: Path = typer.Argument(..., help=_BOARD),
    output: Path = typer.Option(..., "--output", "-o", help="Directory for the re-derived leaderboard.json, .md, "
                                "the report leaderboard.html and its figures (created; files there are replaced)."),
) -> None:
    """Decide a leaderboard again from its own rows with this ddbench's statistics, write it, and line it up
    against the original (agree / resolution change / flip).

    What ``ddbench analyse`` of its run would now give, without the run's store: possible where every claim
    is resampled over seeds (3 or more), since then the rows hold all a hypothesis reads. Exits 2 otherwise.
    """
    from ..leaderboard import compare_render as view
    from ..leaderboard.compare import compare
    from ..leaderboard.rederive import NotRederivable, rederive_board
    from ..run.analyse import write_outputs

    board = _load(path)
    try:
        again = rederive_board(board)
    except NotRederivable as exc:
        common.fail(f"{path}: cannot be re-derived from its rows: {exc}; run `ddbench analyse` on its run "
                    "directory instead", code=2)
    output.mkdir(parents=True, exist_ok=True)
    paths = write_outputs(again, output)
    view.print_comparison(compare(board, again), common.console, False)
    common.console.print(f"written: {', '.join(str(p) for p in paths.values())}", highlight=False)
