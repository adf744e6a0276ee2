"""Checks of a well-formed spec against the world, before anything is written.

* the grid's size, counted arithmetically (never by building 10^6 cells): above
  :data:`MAX_CELLS` a run needs an explicit ``--yes``;
* ``n_train``/``n_test`` against the dataset's size where the dataset plugin can tell it
  without loading (:meth:`DatasetPlugin.available_sizes`), and ``batch_size`` against ``n_train``;
* the run directory: no existing part of it may be a file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .model import Spec
from .problems import MISSING, Problem

#: the largest grid ``validate``/``run`` accept without ``--yes``
MAX_CELLS = 5000


def count_cells(spec: Spec) -> int:
    """The number of cells ``plan_cells`` would make (width x grid axes x noise rates x noise seeds x seeds)."""
    axes = math.prod(len(v) for v in spec.model.grid.values()) if spec.model.grid else 1
    return (len(spec.model.widths) * axes * len(spec.dataset.noise.rates) * len(spec.dataset.noise.seeds)
            * len(spec.seeds))


def grid_factors(spec: Spec) -> list[str]:
    factors = [f"{len(spec.model.widths)} widths"] + [f"{len(v)} {k}" for k, v in sorted(spec.model.grid.items())]
    factors += [f"{len(spec.dataset.noise.rates)} noise rates"]
    if len(spec.dataset.noise.seeds) > 1:
        factors.append(f"{len(spec.dataset.noise.seeds)} noise seeds")
    factors.append(f"{len(spec.seeds)} seeds")
    return factors


def check_size(spec: Spec, allow_large: bool = False) -> list[Problem]:
    n = count_cells(spec)
    if n <= MAX_CELLS or allow_large:
        return []
    return [Problem("model.widths", f"the grid has {n} cells ({' x '.join(grid_factors(spec))}), more than "
                    f"{MAX_CELLS}; shrink it, or pass --yes to accept a grid this large", MISSING)]


def _plugin_and_config(spec: Spec) -> tuple[Any, Any] | None:
    from .. import registry

    try:
        plugin = registry.datasets.get(spec.dataset.name)()
        return plugin, plugin.Config.model_validate(spec.dataset.options)
    except Exception:  # unknown dataset or bad options: reported by check_plugins
        return None


def check_data_sizes(spec: Spec) -> list[Problem]:
    found = _plugin_and_config(spec)
    if found is None:
        return []
    plugin, config = found
    ds = spec.dataset
    try:
        sizes = plugin.available_sizes(config)
    except (ValueError, OSError) as exc:
        return [Problem("dataset.options", str(exc), MISSING)]
    out: list[Problem] = []
    n_train = ds.n_train or getattr(plugin, "default_n_train", None)
    n_test = ds.n_test or getattr(plugin, "default_n_test", None)
    if sizes is not None:
        for field, n, have, what in (("n_train", n_train, sizes[0], "training"), ("n_test", n_test, sizes[1], "test")):
            if n is not None and n > have:
                given = getattr(ds, field)
                how = "" if given is not None else f" (the default {field})"
                out.append(Problem(f"dataset.{field}", f"{ds.name} has {have} {what} points with these options{how}; "
                                   f"allowed: 1 to {have}", n))
        n_train = n_train if n_train is not None else sizes[0]
    if n_train is not None and spec.training.batch_size > n_train:
        out.append(Problem("training.batch_size", f"larger than n_train={n_train}: an epoch would have no full batch; "
                           f"allowed: 1 to {n_train}", spec.training.batch_size))
    return out


def check_output_dir(spec: Spec) -> list[Problem]:
    """No existing part of the run directory may be a file (else every write fails)."""
    if spec.output_dir is None:
        return []
    path = Path(spec.output_dir).expanduser()
    for part in [path, *path.parents]:
        try:
            if part.exists() and not part.is_dir():
                return [Problem("output_dir", f"{part} is a file, not a directory; choose another output_dir "
                                "(or move the file away)", spec.output_dir)]
        except OSError:
            continue
    return []
