"""``ddbench leaderboard show|compare``: read a leaderboard file (checked against its hashes), print or
line up two of them."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer

from . import common


class BoardFormat(str, Enum):
    table = "table"
    md = "md"
    json = "json"


_FORMAT = typer.Option(BoardFormat.table, "--format", "-f", help="table (terminal), md (markdown) or json.")


def board_show(path: Path = typer.Argument(..., help="A leaderboard.json."), fmt: BoardFormat = _FORMAT) -> None:
    """Print a leaderboard (verdicts and error curves) after checking its spec and content hashes."""
    from ..leaderboard.integrity import load_leaderboard
    from ..leaderboard.render import print_board, render_markdown
    from ..leaderboard.schema import LeaderboardError, board_data

    try:
        board = load_leaderboard(path)
    except LeaderboardError as exc:
        common.fail(str(exc), code=2)
    if fmt is BoardFormat.json:
        print(json.dumps(board_data(board), indent=1))
    elif fmt is BoardFormat.md:
        print(render_markdown(board), end="")
    else:
        print_board(board, common.console)


def board_compare(
    a: Path = typer.Argument(..., help="Leaderboard A (e.g. a published one in leaderboards/)."),
    b: Path = typer.Argument(..., help="Leaderboard B (e.g. your run)."),
    fmt: BoardFormat = _FORMAT,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on resolution changes too, not only on flips."),
) -> None:
    """Line up two leaderboards claim by claim: agree, resolution change, flip or not comparable.

    Exits 1 when a claim flips (holds vs fails, disjoint intervals), 2 when a leaderboard is refused.
    """
    from ..leaderboard import compare_render as view
    from ..leaderboard.compare import IncompatibleLeaderboards, compare
    from ..leaderboard.integrity import load_leaderboard
    from ..leaderboard.schema import LeaderboardError

    try:
        cmp = compare(load_leaderboard(a), load_leaderboard(b))
    except (LeaderboardError, IncompatibleLeaderboards) as exc:
        common.fail(str(exc), code=2)
    if fmt is BoardFormat.json:
        print(json.dumps(view.comparison_json(cmp, strict), indent=1, default=str))
    elif fmt is BoardFormat.md:
        print(view.render_comparison_markdown(cmp, strict), end="")
    else:
        view.print_comparison(cmp, common.console, strict)
    raise typer.Exit(cmp.exit_code(strict))
