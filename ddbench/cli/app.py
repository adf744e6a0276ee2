"""The ``ddbench`` command line (Typer + rich): the app, its command groups, and ``--version`` /
``--debug``. Each group's commands live in a module of their own (``run``, ``store``, ``board``,
``plugin``, ``scaffold``); this module only assembles them.
"""

from __future__ import annotations

import os
import sys

import typer

from .. import __version__
from . import board, common, plugin, run, store
from .failure import GuardedGroup
from .scaffold import plugin_new

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

app = typer.Typer(help="ddbench: a declarative benchmark for double descent and its explanations.", cls=GuardedGroup,
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
board_app = typer.Typer(help="Show, compare and summarise leaderboards (files, or published ones by name).", no_args_is_help=True)
app.add_typer(board_app, name="leaderboard")
plugin_app = typer.Typer(help="Write and check plugins.", no_args_is_help=True)
app.add_typer(plugin_app, name="plugin")


def _version(value: bool) -> None:
    if value:
        common.console.print(f"ddbench {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
         debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error (also DDBENCH_DEBUG=1).")) -> None:
    """ddbench: spec -> grid -> train -> probe -> hypotheses -> leaderboard.

    Exit codes: 0 done; 1 refused or the result says no (a flip, a failed plugin check, a run directory of
    another spec); 2 a malformed input (spec, file, argument); 3 some cells failed; 4 the system or the run
    store stopped the command; 70 internal error; 130 interrupted.
    """
    if debug:
        os.environ["DDBENCH_DEBUG"] = "1"


# the order here is the order of `ddbench --help`
app.command()(run.run)
app.command()(run.refine)
app.command()(run.validate)
app.command()(run.plan)
app.command()(run.schema)
app.command("list")(plugin.list_plugins)
app.command()(store.status)
app.command()(store.export)
app.command()(store.report)
app.command()(run.analyse)
plugin_app.command("new")(plugin_new)
plugin_app.command("test")(plugin.plugin_test)
board_app.command("show")(board.board_show)
board_app.command("compare")(board.board_compare)
board_app.command("summary")(board.board_summary)
board_app.command("rederive")(board.board_rederive)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
