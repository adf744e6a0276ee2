"""``ddbench plugin new KIND NAME``: write a plugin package to start from (the templates: ``ddbench/scaffold``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from . import common


def plugin_new(
    kind: str = typer.Argument(..., help="dataset, family, probe, hypothesis, trainer or executor."),
    name: str = typer.Argument(..., help="The plugin's name: lowercase letters, digits and single underscores "
                               "(the package is ddbench-NAME, its module ddbench_NAME)."),
    directory: Optional[Path] = typer.Option(None, "--dir", help="The package directory to create "
                                             "(default ./ddbench-NAME); it must not exist."),
) -> None:
    """Write a plugin package to start from: pyproject with the entry point, the plugin, a README, a test.

    The plugin is a simple, real one with its Config. As written the package installs and passes its test:
    `ddbench plugin test NAME` (a trainer or an executor: a tiny run with --trainer / --executor NAME).
    """
    from ..scaffold import prepare, refuse_taken, write

    scaffold = prepare(kind, name, directory)  # malformed arguments are refused before any plugin loads
    common.select_backend(None)  # the installed plugins of most kinds import Keras
    refuse_taken(scaffold)
    dest = write(scaffold)
    values = scaffold.values
    common.console.print(f"wrote {escape(str(dest))}: the {scaffold.kind.name} {name!r} "
                         f"({values['CLASS']} in {values['MODULE']}, entry point in {values['GROUP']})",
                         highlight=False)
    for rel in sorted(scaffold.files):
        common.console.print(f"  {escape(rel)}", highlight=False)
    common.console.print("next:\n"
                         f"  cd {escape(str(dest))}\n"
                         '  pip install -e ".[test]"\n'
                         "  pytest", highlight=False)
