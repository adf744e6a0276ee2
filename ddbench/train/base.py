"""The trainer interface: a bundle of cells in, one outcome per cell out.

Every trainer follows the same protocol, so results agree across them:
  * a cell's initial weights come from ``set_random_seed(init_seed(cell))`` right
    before its model is built;
  * the batch order of epoch ``e`` is a seeded permutation of the training set
    cut into ``n // batch_size`` full batches (the remainder, different each
    epoch, is skipped; fixed shapes let compiled engines scan whole epochs);
  * the learning rate is a function of the epoch (``schedule.lr_at_epoch``);
  * curves are evaluated on the full train and test sets at the recorded epochs;
  * no early stopping, ever.
"""

from __future__ import annotations

import hashlib
import math
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Iterator, Protocol

import numpy as np

from ..data import TrainData
from ..plan import Bundle, Cell
from ..spec import TrainingSpec


@dataclass
class CellOutcome:
    cell: Cell
    status: str  # done | failed | diverged
    model: Any = None  # the trained keras.Model (done/diverged)
    metrics: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    params: int | None = None
    error: str | None = None


class TrainEvents(Protocol):
    """What a trainer tells the runner while it works."""

    def epochs_done(self, bundle: Bundle, epoch: int, total: int) -> None: ...

    def checkpoint(self, cell: Cell, epoch: int, model: Any) -> None: ...


class NullEvents:
    def epochs_done(self, bundle: Bundle, epoch: int, total: int) -> None:
        pass

    def checkpoint(self, cell: Cell, epoch: int, model: Any) -> None:
        pass


class Trainer(ABC):
    name: str = "?"

    @abstractmethod
    def train(self, bundle: Bundle, data: TrainData, training: TrainingSpec, events: TrainEvents) -> Iterator[CellOutcome]:
        """Train every cell of ``bundle``; yield each outcome as soon as it is final."""


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


def is_finite(metrics: dict[str, float]) -> bool:
    return all(math.isfinite(metrics[k]) for k in ("train_loss", "test_loss"))


def failed(cell: Cell, exc: BaseException | None = None) -> CellOutcome:
    tb = "".join(traceback.format_exception(exc)) if exc is not None else traceback.format_exc()
    return CellOutcome(cell, "failed", error=tb)
