"""``ddbench list recipes``: the recipes ddbench ships (:mod:`ddbench.catalog`), each with the paper it
follows, its dataset, model family, cells and seeds, and the planner's time estimate on this machine.

The estimate is ``ddbench plan``'s (:func:`.planview.estimate_without_data`, on the throughput table's
CPU): counted, never trained, and no data is loaded or downloaded; measured from ``runs/NAME`` when that
run has finished cells.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import catalog


@dataclass
class RecipeRow:
    name: str
    path: Path
    paper: str = "?"
    dataset: str = "?"
    family: str = "?"
    cells: int | None = None
    todo: int | None = None  # cells still to train in runs/NAME
    seeds: int | None = None
    est_seconds: float | None = None
    source: str = ""
    description: str = ""
    problem: str = ""  # why the recipe cannot be read here (a plugin missing, ...)


def paper_of(spec: Any) -> str:
    """The paper a recipe follows: the author part of its hypotheses' references, narrowed to the one
    its name starts with (``gu-...`` -> Gu) when there is one."""
    from .. import registry

    authors: list[str] = []
    for h in spec.hypotheses:
        try:
            reference = registry.hypotheses.get(h.name).reference
        except KeyError:
            continue
        for part in reference.split(";"):
            part = part.split("(")[0].strip().rstrip(",")
            if part and not part.startswith("docs/") and part not in authors:
                authors.append(part)
    first = spec.name.split("-")[0].lower()
    named = [a for a in authors if a.lower().startswith(first)]
    return ", ".join(named or authors) or "—"


def recipe_row(name: str, path: Path) -> RecipeRow:
    from ..spec.preflight import count_cells
    from ..spec.validate import SpecError, load_spec
    from .planview import estimate_without_data

    row = RecipeRow(name, path)
    try:
        spec = load_spec(path, allow_large=True)
    except SpecError as exc:
        row.problem = str(exc).splitlines()[0]
        return row
    row.description = " ".join((spec.description or "").split())
    row.paper = paper_of(spec)
    n_train = f" n={spec.dataset.n_train}" if spec.dataset.n_train else ""
    row.dataset, row.family = f"{spec.dataset.name}{n_train}", spec.model.family
    row.cells, row.seeds = count_cells(spec), len(spec.seeds)
    try:
        row.todo, row.est_seconds, row.source = estimate_without_data(spec)
    except Exception as exc:  # a damaged runs/NAME, a plugin that cannot count: the listing goes on
        row.source = f"no estimate ({type(exc).__name__}: {exc})"
    return row


def recipe_rows() -> list[RecipeRow]:
    root = catalog.directory(catalog.RECIPES)
    return [recipe_row(n, root / f"{n}{catalog.RECIPES.suffix}") for n in catalog.names(catalog.RECIPES)]


def _time(row: RecipeRow) -> str:
    from .plan_render import fmt_seconds

    if row.est_seconds is None:
        return "?"
    return fmt_seconds(row.est_seconds) + (" (measured)" if row.source.startswith("measured") else "")


def _cells(row: RecipeRow) -> str:
    if row.cells is None:
        return "?"
    if row.todo is not None and row.todo < row.cells:
        return f"{row.cells} ({row.todo} to train)"
    return str(row.cells)


def print_recipes(rows: list[RecipeRow], console: Any) -> None:
    """The recipes as a table that fits the terminal, then where they are and how the time is estimated."""
    from rich.text import Text

    from ..engine.throughput import devices
    from ..leaderboard.document import Table
    from ..leaderboard.terminal import FitTable, Wrapped
    from .planview import describe

    table = Table(["recipe", "paper", "dataset", "family", "cells", "seeds", "est. time", "description"],
                  [[r.name, r.paper, r.dataset, r.family, _cells(r), "?" if r.seeds is None else str(r.seeds),
                    _time(r), r.problem or r.description] for r in rows],
                  numeric=(4, 5), wrap=(1, 7))
    console.print(Text(f"{len(rows)} recipes", style="bold"))
    console.print(FitTable(table))
    root = catalog.directory(catalog.RECIPES)
    notes = [f"from {root}; run one with `ddbench run NAME` (`--smoke` for a quick check), see its cells and "
             "bundles with `ddbench plan NAME`, compare with its published board with "
             "`ddbench leaderboard compare NAME runs/NAME/leaderboard.json`",
             f"est. time: training the cells still to train, measured from runs/NAME when it has finished cells, "
             f"else 2 x params FLOPs per forward pass (3 per training example) on {describe(devices()['cpu'])} "
             "(a lower bound for convolutions; the full-size recipes need a GPU and their TFDS data prepared: `ddbench plan NAME` "
             "counts their FLOPs and gives their hours on one H100 and one H200)"]
    notes += [f"{r.name}: {r.source}" for r in rows if r.source and r.source.startswith("no estimate")]
    for note in notes:
        console.print(Wrapped(Text(note)))
