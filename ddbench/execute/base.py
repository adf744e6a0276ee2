"""The executor contract and what every executor is given."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from ..data import TrainData, load_train_data
from ..plan import Bundle
from ..spec.model import Spec
from .work import CellResult


class StratumData:
    """Training data by (noise rate, noise seed), one stratum in memory at a time."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self._key: tuple[float, int] | None = None
        self._data: TrainData | None = None

    def get(self, key: tuple[float, int]) -> TrainData:
        if key != self._key:
            self._data = None  # free the previous stratum first
            self._data = load_train_data(self.spec.dataset, *key)
            self._key = key
        assert self._data is not None
        return self._data


@dataclass
class ExecContext:
    """What an executor needs besides the bundles."""

    spec: Spec
    run_dir: Path
    trainer: str  # the trainer name (resolved where the bundle runs)
    data: StratumData
    #: memory of the device a bundle trains on, when it is not the driver's (set by a remote executor
    #: before it draws the first bundle; the planner then cuts bundles to fit it)
    device_memory: int | None = None
    on_bundle: Callable[[Bundle], None] = lambda bundle: None
    on_epochs: Callable[[Bundle, int, int], None] = lambda bundle, epoch, total: None
    on_message: Callable[[str], None] = lambda text: None
    #: ``(name, bundle, detail)``: a phase of a bundle (``runner.PHASES``: building, compiling, training,
    #: probing, writing), as ``runner.Progress.phase``
    on_phase: Callable[[str, Bundle | None, str], None] = lambda name, bundle, detail: None


class Executor(Protocol):
    """Where bundles train. Registered (``@registry.executors.register(name)`` or a ``ddbench.executors``
    entry point) as a factory that :func:`ddbench.execute.get_executor` calls with its options;
    ``name`` is recorded in each run's provenance. Train each bundle with
    :func:`ddbench.execute.work.train_bundle` so every executor produces the same records."""

    name: str

    def execute(self, bundles: Iterable[Bundle], ctx: ExecContext) -> Iterator[CellResult]:
        """Train every bundle; yield each cell's result as soon as it is final (any order)."""
