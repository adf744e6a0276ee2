"""Where a power estimate's pilot comes from (docs/science.md, Statistics, "Power").

A pilot is a run directory (its store: every number of every cell, and the per-point arrays), a
leaderboard file (its rows; no per-point arrays), or, when none is given, the closest published
leaderboard (:func:`closest_board`): the same dataset and model family, at least 2 seeds, and among
those the one whose recipe agrees with the spec on the most settings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..hypotheses.pilot import Pilot, PilotError

#: what a published board's recipe is compared on, after dataset and family (one point each)
SETTINGS = (("dataset", "n_train"), ("dataset", "noise", "kind"), ("dataset", "noise", "rates"), ("model", "config"),
            ("model", "widths"), ("model", "grid"), ("training", "epochs"), ("training", "optimizer"),
            ("training", "batch_size"), ("training", "loss"))
#: what "the same recipe" compares: a finished run with one seed takes its estimate from a published board only
#: when these sections are equal
RECIPE = ("dataset", "model", "training")


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for k in path:
        data = data.get(k) if isinstance(data, dict) else None
    return data


def closest_board(spec: Any, same_recipe: bool = False) -> tuple[Path | None, str]:
    """The published leaderboard closest to ``spec`` (same dataset and family, at least 2 seeds; with
    ``same_recipe`` the same dataset, model and training sections, seeds aside), and a line saying why it was
    chosen (or why none was)."""
    from ..catalog import BOARDS, find, names

    mine = spec.resolved()
    scored, skipped = [], []
    for name in names(BOARDS):
        path = find(BOARDS, name)
        try:
            other = json.loads(path.read_text(encoding="utf-8")).get("spec") or {}
        except (OSError, ValueError, AttributeError):
            continue
        if (_get(other, ("dataset", "name")), _get(other, ("model", "family"))) != (spec.dataset.name, spec.model.family):
            continue
        if same_recipe and any(other.get(k) != mine.get(k) for k in RECIPE):
            continue
        seeds = len(other.get("seeds") or [])
        if seeds < 2:
            skipped.append(f"{name} ({seeds} seed: no seed spread)")
            continue
        same = [".".join(p) for p in SETTINGS if _get(other, p) == _get(mine, p)]
        scored.append((len(same) + (other.get("name") == spec.name), seeds, name, path, same))
    where = (f"the recipe of {spec.name} (dataset, model and training)" if same_recipe
             else f"dataset {spec.dataset.name}, family {spec.model.family}")
    if not scored:
        why = f"no published leaderboard with 2 or more seeds has {where}"
        return None, why + (f" (skipped: {', '.join(skipped)})" if skipped else "")
    score, seeds, name, path, same = min(scored, key=lambda s: (-s[0], -s[1], s[2]))
    alike = ("the same recipe" if len(same) == len(SETTINGS)
             else f"same {', '.join(same)}" if same else "same dataset and family only")
    why = f"the closest published leaderboard with {where}: {name} ({seeds} seeds; {alike})"
    return path, why + (f"; skipped: {', '.join(skipped)}" if skipped else "")


def board_pilot(path: Path, analysis: Any, name: str | None = None) -> Pilot:
    """The pilot of a leaderboard file: its rows (no per-point arrays)."""
    from ..spec.model import Spec
    from .integrity import load_leaderboard
    from .rederive import table_from_rows

    board = load_leaderboard(path)
    spec = Spec.model_validate(board.spec)
    return Pilot(table_from_rows(board, spec), analysis, name or f"the leaderboard {path}", has_arrays=False)


@contextmanager
def run_pilot(run_dir: Path, analysis: Any) -> Iterator[Pilot]:
    """The pilot of a run directory (its store, read-only, open while the pilot is used)."""
    from ..store.run_store import RunStore
    from .build import cell_views

    try:
        store = RunStore.open_existing(run_dir, read_only=True)
    except (FileNotFoundError, OSError) as exc:
        raise UserError(f"--pilot {run_dir}: {exc}") from None
    try:
        yield Pilot(cell_views(store), analysis, f"run {run_dir}", has_arrays=True)
    finally:
        store.close()


@contextmanager
def open_pilot(spec: Any, pilot: Path | None) -> Iterator[tuple[Pilot, str]]:
    """The pilot for ``ddbench plan --power``: a run directory, a leaderboard file or published name, or
    (None) the closest published leaderboard; with a line saying which. :class:`UserError` when there is none."""
    from ..catalog import BOARDS, resolve

    try:
        if pilot is None:
            path, why = closest_board(spec)
            if path is None:
                raise UserError(f"{why}; give a pilot run with --pilot RUN_DIR")
            yield board_pilot(path, spec.analysis, f"the published leaderboard {path.stem}"), why
        elif Path(pilot).is_dir():
            with run_pilot(Path(pilot), spec.analysis) as p:
                yield p, f"pilot: the run in {pilot}"
        else:
            path = resolve(BOARDS, pilot)
            yield board_pilot(path, spec.analysis, f"the leaderboard {pilot}"), f"pilot: the leaderboard {pilot}"
    except PilotError as exc:
        raise UserError(str(exc)) from None


def pilot_for_run(spec: Any, table: Any) -> Pilot | str:
    """The pilot of a finished run's own power estimate: the run itself, or with fewer than 2 seeds a published
    leaderboard of the same recipe with more; a string saying why there is none."""
    try:
        return Pilot(table, spec.analysis, "this run", has_arrays=True)
    except PilotError:
        pass
    path, why = closest_board(spec, same_recipe=True)
    if path is None:
        return (f"this run has no seed spread (fewer than 2 seeds) and {why}; give a pilot: "
                f"ddbench plan SPEC --power --pilot RUN_DIR")
    try:
        return board_pilot(path, spec.analysis, f"the published leaderboard {path.stem}")
    except (PilotError, ValueError, OSError) as exc:
        return f"this run has no seed spread and the leaderboard {path.stem} cannot serve ({exc})"
