"""Commands about plugins: ``list`` (what is installed, and the recipes shipped) and ``plugin test`` (a plugin's
contract on a tiny zoo)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table
from rich.text import Text

from . import common


def list_plugins(kind: common.Kind = typer.Argument(..., help="datasets, families, probes, hypotheses, trainers, executors or recipes.")) -> None:
    """List the installed plugins of one kind (built-in and from entry points), or the recipes ddbench
    ships with their paper, dataset, family, cells, seeds and estimated time."""
    from .. import registry

    if kind is common.Kind.recipes:
        from .recipe_list import print_recipes, recipe_rows

        print_recipes(recipe_rows(), common.console)
        return

    reg = registry.KINDS[kind.value]
    table = Table(title=f"ddbench {kind.value}")
    for col in ("name", "version", "description", "from"):
        table.add_column(col)
    for name, plugin in reg.items():
        desc = str(getattr(plugin, "description", ""))
        claims = getattr(plugin, "claims", None)
        if isinstance(claims, dict) and claims:
            desc += "\n" + "\n".join(f"  claim {k}: {v}" for k, v in claims.items())
        # a plugin's strings are text: its "[bold]" or "[/]" is shown, never read as markup
        table.add_row(*(Text(common.text(v)) for v in (name, getattr(plugin, "plugin_version", "?"), desc,
                                                          reg.origin(name))))
    common.console.print(table)


def plugin_test(
    name: str = typer.Argument(..., help="The plugin's registered name."),
    kind: Optional[common.Kind] = typer.Option(None, "--kind", help="Needed only when several kinds share the name."),
    budget: float = typer.Option(60.0, "--budget", help="Seconds allowed for one measurement / evaluation."),
    input_shape: str = typer.Option("40", "--input-shape", help="Families: input shape, e.g. 40 or 32,32,3."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Keras backend."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", "-s", help="Hypotheses: change the zoo spec, e.g. -s training.epochs=300 (repeatable)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress while the zoo trains."),
    workdir: Optional[Path] = typer.Option(None, "--workdir", help="Keep the trained zoo here and reuse it next time (default: a temporary directory)."),
) -> None:
    """Run a plugin on a tiny zoo: determinism, output schema, status/NaN handling, time budget;
    a hypothesis on a zoo that reaches k*, every declared claim exercised, no undeclared claim."""
    if kind in (common.Kind.trainers, common.Kind.executors):
        common.fail(f"plugin test checks datasets, families, probes and hypotheses; a {kind.value[:-1]} is checked by "
                    "its own tests against the reference (docs/plugins.md, 'Trainers and executors')", 2)
    if kind is common.Kind.recipes:
        common.fail("plugin test checks plugins; check a recipe with `ddbench validate NAME` (or `ddbench run NAME --smoke`)", 2)
    common.select_backend(backend)
    from ..spec.overrides import OverrideError
    from ..spec.validate import SpecError
    from .plugin_check import check_plugin
    from .progress import RichProgress

    shape = tuple(int(v) for v in input_shape.split(",") if v.strip())
    try:
        resolved, checks = check_plugin(name, kind.value if kind else None, budget_s=budget, input_shape=shape,
                                        workdir=workdir, overrides=overrides or [],
                                        progress=RichProgress(common.err, enabled=not quiet))
    except KeyError as exc:
        common.fail(str(exc.args[0] if exc.args else exc))
    except (SpecError, OverrideError) as exc:
        common.fail(str(exc), 2)
    singular = {"datasets": "dataset", "families": "family", "probes": "probe", "hypotheses": "hypothesis"}
    table = Table(title=f"{singular.get(resolved, resolved)} {name}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for c in checks:
        table.add_row(Text(common.text(c.name)), Text("pass", style="green") if c.ok else Text("FAIL", style="red"),
                      Text(common.text(c.message)))
    common.console.print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)
