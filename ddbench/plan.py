"""Spec -> grid cells -> bundles.

A *cell* is one model to train: (family config, width, noise rate, noise seed,
seed). Its key is a content hash of everything that determines its result, the
runtime included (Keras backend, Keras major.minor, precision: :mod:`ddbench.spec.identity`),
so a finished cell is recognised across re-runs and never retrained, and a cell
trained under another backend is never taken for this one. A *bundle* is a
group of cells that share their training data (same noise rate and noise draw) and
differ in width, family options or seed; trainers receive bundles so that they can
train the cells together (the fast engine vectorises seeds of the same shape).
Bundles are cut to fit the device memory (:mod:`ddbench.memory`), the widest
cells alone if need be.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .spec.hashing import content_hash
from .spec.identity import cell_identity
from .spec.model import Spec

#: 2: the cell identity (backend, Keras major.minor, precision) is part of the key
CELL_FORMAT = 2


@dataclass(frozen=True)
class Cell:
    family: str
    config: dict[str, Any] = field(hash=False, compare=False)
    width: int = 0
    noise_rate: float = 0.0
    noise_seed: int = 0
    seed: int = 0
    key: str = ""

    @property
    def label(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in sorted(self.config.get("_grid", {}).items()))
        return f"{self.family} w={self.width}{extra} p={self.noise_rate:g} seed={self.seed}"

    @property
    def family_config(self) -> dict[str, Any]:
        return {k: v for k, v in self.config.items() if k != "_grid"}

    @property
    def data_key(self) -> tuple[float, int]:
        return (self.noise_rate, self.noise_seed)


@dataclass
class Bundle:
    """Cells trained together: same data (noise rate and draw), same recipe; any seeds."""

    cells: list[Cell]
    #: estimated device bytes of training the cells together (the planner's cost; None when not estimated)
    est_bytes: float | None = field(default=None, compare=False)

    @property
    def noise_rate(self) -> float:
        return self.cells[0].noise_rate

    @property
    def noise_seed(self) -> int:
        return self.cells[0].noise_seed

    @property
    def seeds(self) -> list[int]:
        return sorted({c.seed for c in self.cells})

    def by_seed(self) -> list["Bundle"]:
        """One bundle per seed (for engines that share one batch order across their models)."""
        return [Bundle([c for c in self.cells if c.seed == s]) for s in self.seeds]

    def split(self) -> list["Bundle"]:
        """Two halves (for an out-of-memory retry); cells are ordered by width, so the halves are narrow/wide."""
        cells = sorted(self.cells, key=lambda c: (c.width, c.seed))
        half = len(cells) // 2
        return [Bundle(cells[:half]), Bundle(cells[half:])]

    @property
    def label(self) -> str:
        widths = ",".join(str(w) for w in sorted({c.width for c in self.cells}))
        seeds = ",".join(str(s) for s in self.seeds)
        return f"p={self.noise_rate:g} seeds=[{seeds}] widths=[{widths}]"


def cell_key(spec: Spec, family_version: str, config: dict[str, Any], width: int, noise_rate: float, noise_seed: int,
             seed: int, identity: Mapping[str, str] | None = None) -> str:
    """Hash of everything that determines a cell's trained model; ``identity`` is
    :func:`ddbench.spec.identity.cell_identity` (default: this process's)."""
    dataset = spec.dataset.model_dump(mode="json")
    dataset["noise"] = {"kind": spec.dataset.noise.kind}  # the rate and seed are the cell's own
    return content_hash(
        {
            "format": CELL_FORMAT,
            "identity": dict(identity) if identity is not None else cell_identity(spec),
            "dataset": dataset,
            "training": spec.training.hashed_dump(),  # float32 precision left out: keys of older specs stay
            "family": [spec.model.family, family_version],
            "config": config,
            "width": width,
            "noise": [noise_rate, noise_seed],
            "seed": seed,
        }
    )


def plan_cells(spec: Spec, runtime: Mapping[str, str] | None = None) -> list[Cell]:
    """Every cell of the spec's grid, in a stable order (noise, seed, grid, width), keyed for
    ``runtime`` (backend and Keras major.minor; default: this process's)."""
    from . import registry

    identity = cell_identity(spec, runtime)
    fam = registry.families.get(spec.model.family)
    axes = sorted(spec.model.grid)
    combos = list(itertools.product(*(spec.model.grid[a] for a in axes))) or [()]
    cells = []
    for rate in spec.dataset.noise.rates:
        for nseed in spec.dataset.noise.seeds:
            for seed in spec.seeds:
                for combo in combos:
                    overrides = dict(zip(axes, combo))
                    resolved = fam.Config.model_validate({**spec.model.config, **overrides}).model_dump(mode="json")
                    for width in spec.model.widths:
                        key = cell_key(spec, fam.plugin_version, resolved, width, rate, nseed, seed, identity)
                        config = {**resolved, "_grid": overrides} if overrides else resolved
                        cells.append(Cell(spec.model.family, config, width, rate, nseed, seed, key))
    return cells


def make_bundles(cells: list[Cell], max_cells: int | None = None, budget_bytes: float | None = None,
                 cost: Callable[[Cell], float] | None = None) -> list[Bundle]:
    """Group cells that share their data; cut groups to at most ``max_cells`` cells and, given a
    per-cell ``cost`` in bytes, to at most ``budget_bytes`` each.

    Cuts keep a grid's narrow widths together and give the widest ones bundles of their own:
    cells are taken by increasing width (all seeds of a width side by side, so the engine can
    vectorise them) and a bundle is closed when the next cell would not fit. A cell that alone
    exceeds the budget still gets a bundle (alone); the engine's out-of-memory handling decides.
    """
    groups: dict[tuple[Any, ...], list[Cell]] = {}
    for c in cells:
        groups.setdefault((c.noise_rate, c.noise_seed), []).append(c)
    bundles = []
    estimating = budget_bytes is not None and cost is not None
    for members in groups.values():
        if estimating:
            members = sorted(members, key=lambda c: (c.width, c.seed))
        current: list[Cell] = []
        used = 0.0
        for c in members:
            need = cost(c) if estimating else 0.0
            full = (max_cells is not None and len(current) >= max_cells) or (
                budget_bytes is not None and current and used + need > budget_bytes)
            if full:
                bundles.append(Bundle(current, used if estimating else None))
                current, used = [], 0.0
            current.append(c)
            used += need
        if current:
            bundles.append(Bundle(current, used if estimating else None))
    return bundles
