"""What ties a run directory to a recipe: binding a store to a spec, and refusing a spec it was not made for.

A run directory is bound to its *recipe* (``spec.identity.recipe_of``: the training part less the grid
values) and its cell identity (Keras backend, Keras version, precision). Grid values may be added or
removed (their cells are keyed by content); anything else is refused with the list of changes.
"""

from __future__ import annotations

import json
import time
from typing import Any

from .. import __version__
from ..spec.identity import RunBinding, describe, grid_changes, merge_grids
from .run_store import STORE_FORMAT, RunStore


class SpecChanged(RuntimeError):
    """The run directory holds results of a different spec."""


def bind(store: RunStore, binding: RunBinding, keys: list[str]) -> list[str]:
    """Tie the store to what determines its trained cells (``ddbench run``); return the grid
    changes since the last run (``model.widths: added [64]``), empty for a new store.

    Refused with the list of changes (:class:`SpecChanged`): another recipe (dataset, family,
    family options, training) or another cell identity (Keras backend, Keras version,
    precision). Grid values (widths, grid axes' values, noise rates and draws, seeds) may be
    added or removed: their cells are keyed by content, new ones are trained here, old ones
    kept. Probes, hypotheses and analysis may change freely. ``keys`` are the spec's cells.
    """
    old_grid = _recorded_grid(store, binding)
    fresh, previous = old_grid is None, store.meta("spec_grid", {})
    meta: dict[str, Any] = {
        "recipe": binding.recipe, "identity": binding.identity, "grid": merge_grids(old_grid or {}, binding.grid),
        "spec_grid": binding.grid, "spec_hash": binding.spec_hash, "training_hash": binding.training_hash,
        "training": binding.training, "spec": binding.spec, "cells": keys}
    if fresh:
        meta.update(ddbench_version=__version__, store_format=STORE_FORMAT,
                    created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    store.set_meta(**meta)
    return [] if fresh else grid_changes(previous, binding.grid)


def check_binding(store: RunStore, binding: RunBinding, keys: list[str]) -> None:
    """Refuse (:class:`SpecChanged`) to analyse ``binding``'s spec on this store unless its
    recipe and identity are the store's and every one of its cells (``keys``) was planned here
    (``ddbench analyse``; it trains nothing, so it writes no binding)."""
    if _recorded_grid(store, binding) is None:
        raise SpecChanged(f"{store.dir} has no trained cells; run `ddbench run SPEC` first")
    known = set(store.statuses())
    missing = [k for k in keys if k not in known]
    if missing:
        added = grid_changes(store.meta("grid", {}), binding.grid)
        added = [a.split(", removed")[0] for a in added if ": added" in a]
        what = "; ".join(added) if added else "a combination of grid values never planned together"
        raise SpecChanged(
            f"{len(missing)} cell(s) of this spec were never trained in {store.dir} ({what}). "
            "Run `ddbench run SPEC` to train them, or analyse the grid that was trained.")


def _recorded_grid(store: RunStore, binding: RunBinding) -> dict[str, list[Any]] | None:
    """The store's grid if ``binding`` may use it, None for a new store; raise SpecChanged otherwise."""
    recipe, identity = store.meta("recipe"), store.meta("identity")
    if recipe is None or identity is None:
        if store.meta("training_hash") is not None:
            raise SpecChanged(
                f"{store.dir} was made by ddbench {store.meta('ddbench_version', '?')}, whose cell keys leave out "
                "the Keras backend and version; its cells cannot be told apart from other runtimes'. "
                "Use --output DIR for a new run (or delete the directory to start over).")
        return None
    changes = [f"{k}: {_short(identity.get(k))} -> {_short(binding.identity.get(k))}"
               for k in sorted(set(identity) | set(binding.identity)) if identity.get(k) != binding.identity.get(k)]
    runtime = bool(changes)
    changes += [c for c in diff_specs(recipe, binding.recipe) if not c.startswith("training.precision")]
    if changes:
        shown = "; ".join(changes[:8]) + (f"; ... ({len(changes) - 8} more)" if len(changes) > 8 else "")
        why = ""
        if runtime:
            why = (f" Its cells were trained under {describe(identity)}; the Keras backend, Keras version "
                   "and precision are part of what a cell is.")
            if identity.get("backend") != binding.identity.get("backend"):
                why += f" Use --backend {identity.get('backend')} to continue it."
        raise SpecChanged(
            f"{store.dir} holds models trained for another spec: {shown}.{why} "
            "Use --output DIR for a new run, or delete the directory to start over."
        )
    return store.meta("grid", {})


def diff_specs(old: Any, new: Any, path: str = "") -> list[str]:
    """Human lines for every changed leaf between two resolved specs."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new)):
            sub = f"{path}.{k}" if path else str(k)
            if k not in old:
                out.append(f"{sub} added")
            elif k not in new:
                out.append(f"{sub} removed")
            else:
                out += diff_specs(old[k], new[k], sub)
        return out
    if old != new:
        return [f"{path}: {_short(old)} -> {_short(new)}"]
    return []


def _short(v: Any) -> str:
    s = json.dumps(v)
    return s if len(s) < 60 else s[:57] + "..."
