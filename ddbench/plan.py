"""Spec -> grid cells -> bundles.

A *cell* is one model to train: (family config, width, noise rate, noise seed,
seed). Its key is a content hash of everything that determines its result, so a
finished cell is recognised across re-runs and never retrained. A *bundle* is a
group of cells that share data and batch order (same noise draw, same seed) and
differ only in width or family options; trainers receive bundles so that they can
train the cells together.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from .spec import Spec, content_hash

CELL_FORMAT = 1


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
    """Cells trained together: same data, same seed (batch order), same recipe."""

    cells: list[Cell]

    @property
    def noise_rate(self) -> float:
        return self.cells[0].noise_rate

    @property
    def noise_seed(self) -> int:
        return self.cells[0].noise_seed

    @property
    def seed(self) -> int:
        return self.cells[0].seed

    @property
    def label(self) -> str:
        widths = ",".join(str(c.width) for c in self.cells)
        return f"p={self.noise_rate:g} seed={self.seed} widths=[{widths}]"


def cell_key(spec: Spec, family_version: str, config: dict[str, Any], width: int, noise_rate: float, noise_seed: int, seed: int) -> str:
    """Hash of everything that determines a cell's trained model."""
    dataset = spec.dataset.model_dump(mode="json")
    dataset["noise"] = {"kind": spec.dataset.noise.kind}  # the rate and seed are the cell's own
    return content_hash(
        {
            "format": CELL_FORMAT,
            "dataset": dataset,
            "training": spec.training.hashed_dump(),  # float32 precision left out: keys of older specs stay
            "family": [spec.model.family, family_version],
            "config": config,
            "width": width,
            "noise": [noise_rate, noise_seed],
            "seed": seed,
        }
    )


def plan_cells(spec: Spec) -> list[Cell]:
    """Every cell of the spec's grid, in a stable order (noise, seed, grid, width)."""
    from . import registry

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
                        key = cell_key(spec, fam.plugin_version, resolved, width, rate, nseed, seed)
                        config = {**resolved, "_grid": overrides} if overrides else resolved
                        cells.append(Cell(spec.model.family, config, width, rate, nseed, seed, key))
    return cells


def make_bundles(cells: list[Cell], max_cells: int | None = None) -> list[Bundle]:
    """Group cells that share data and seed; split groups larger than ``max_cells``."""
    groups: dict[tuple[Any, ...], list[Cell]] = {}
    for c in cells:
        groups.setdefault((c.noise_rate, c.noise_seed, c.seed), []).append(c)
    bundles = []
    for members in groups.values():
        step = max_cells or len(members)
        for i in range(0, len(members), step):
            bundles.append(Bundle(members[i : i + step]))
    return bundles
