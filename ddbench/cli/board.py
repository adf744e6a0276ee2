"""``ddbench leaderboard show|compare``: read leaderboard files (checked against their hashes) or published
leaderboards by name; print one or line up two."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from . import common


class BoardFormat(str, Enum):
    table = "table"
    md = "md"
    json = "json"


_FORMAT = typer.Option(BoardFormat.table, "--format", "-f", help="table (terminal), md (markdown) or json.")
_BOARD = "A leaderboard.json, or a published leaderboard's name (e.g. quickstart)."


def _load(arg: Path) -> Any:
    """The leaderboard of a file or a published name, hashes checked; exit 2 when it is refused."""
    from ..leaderboard.integrity import load_leaderboard
    from ..leaderboard.schema import LeaderboardError

    try:
        return load_leaderboard(common.board_path(arg))
    except LeaderboardError as exc:
        common.fail(str(exc), code=2)


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
