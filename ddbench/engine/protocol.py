"""The seeded part of the training protocol: init seeds, batch orders, augmentation draws.

Every trainer and every compiled engine must see the same initial weights, batch orders and
augmentations for a cell (docs/science.md, "Seeds"), so they are derived here once, from the
cell's seed and the epoch only (never from bundling or the backend), and both ``train/`` and the
backends' engines import them from this one place.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ..plan import Cell


def _derive(*parts: Any) -> int:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def init_seed(cell: Cell) -> int:
    """Seed of a cell's initial weights: depends on (seed, width, config), not on bundling."""
    return _derive("init", cell.seed, cell.width, sorted(cell.family_config.items()))


def steps_per_epoch(n: int, batch_size: int) -> int:
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} exceeds the {n} training points")
    return n // batch_size


def epoch_order(seed: int, epoch: int, n: int, batch_size: int) -> np.ndarray:
    """Indices of the points used in 0-based ``epoch``, in batch order."""
    rng = np.random.default_rng(_derive("order", seed, epoch))
    return rng.permutation(n)[: steps_per_epoch(n, batch_size) * batch_size]


def augment_rng(seed: int, epoch: int) -> np.random.Generator:
    """Generator of the augmentation of 0-based ``epoch``."""
    return np.random.default_rng(_derive("augment", seed, epoch))
