"""The trainer interface: a bundle of cells in, one outcome per cell out.

Every trainer follows the same protocol, so results agree across them (its seeded parts,
shared with the backends' compiled engines, are :mod:`ddbench.engine.protocol`):
  * a cell's initial weights come from ``set_random_seed(init_seed(cell))`` right
    before its model is built;
  * the batch order of epoch ``e`` is a seeded permutation of the training set
    cut into ``n // batch_size`` full batches (the remainder, different each
    epoch, is skipped; fixed shapes let compiled engines scan whole epochs);
  * the learning rate is a function of the epoch (``engine.lr_curve.lr_at_epoch``);
  * curves are evaluated on the full train and test sets at the recorded epochs;
  * no early stopping, ever.
"""

from __future__ import annotations

import contextlib
import math
import time
import traceback
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, ContextManager, Iterator, Protocol

import numpy as np

from .. import backend, registry
from ..data import TrainData
from ..engine.protocol import init_seed
from ..plan import Bundle, Cell
from ..spec.model import DEFAULT_PRECISION, TrainingSpec
from .precision import build_with_precision


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


def report_phase(events: TrainEvents, bundle: Bundle, name: str, detail: str = "") -> None:
    """Tell ``events`` of a phase (building, compiling, ...) if it listens (``phase`` is optional)."""
    phase = getattr(events, "phase", None)
    if phase is not None:
        phase(bundle, name, detail)


class NullEvents:
    def epochs_done(self, bundle: Bundle, epoch: int, total: int) -> None:
        pass

    def checkpoint(self, cell: Cell, epoch: int, model: Any) -> None:
        pass


class Trainer(ABC):
    """A registered trainer (``@registry.trainers.register(name)`` or a ``ddbench.trainers`` entry point).

    It must follow the training protocol of this module and train the same models as the reference
    ``fit`` (DEVELOPERS.md, "The training protocol"); ``name`` is recorded in each run's provenance.
    """

    name: str = "?"
    description: ClassVar[str] = ""
    #: the :class:`~ddbench.train.distribute.Distribution` to train under (set by ``get_trainer``); None: one device
    distribution: Any = None
    #: True if ``train`` really runs under ``distribution`` (recorded in provenance as ``applied``)
    uses_distribution: ClassVar[bool] = False
    #: False for a trainer chosen by a rule, never by name (``closed_form``: by the family)
    by_name: ClassVar[bool] = True

    @classmethod
    def create(cls, distribution: Any = None, engine: Any = None) -> "Trainer":
        """The trainer :func:`ddbench.train.get_trainer` hands out. ``distribution``: the resolved
        :class:`~ddbench.train.distribute.Distribution`, None on one device; ``engine``: the spec's
        ``engine:`` section, or None. Override it to take what the trainer uses."""
        return cls()

    @abstractmethod
    def train(self, bundle: Bundle, data: TrainData, training: TrainingSpec, events: TrainEvents) -> Iterator[CellOutcome]:
        """Train every cell of ``bundle``; yield each outcome as soon as it is final."""


def is_finite(metrics: dict[str, float]) -> bool:
    return all(math.isfinite(metrics[k]) for k in ("train_loss", "test_loss"))


def failed(cell: Cell, exc: BaseException | None = None) -> CellOutcome:
    tb = "".join(traceback.format_exception(exc)) if exc is not None else traceback.format_exc()
    return CellOutcome(cell, "failed", error=tb)


class Engine(Protocol):
    """What a joint trainer provides for one bundle: training and evaluation of its models."""

    def run_epochs(self, start: int, stop: int) -> None:
        """Train 0-based epochs ``start..stop-1``; return when they are finished."""

    def evaluate(self) -> list[tuple[dict[str, float], dict[str, np.ndarray]]]:
        """Curve metrics and per-point arrays of every model; afterwards the Keras models hold the trained weights."""


def build_cell_model(cell: Cell, data: TrainData, precision: str = DEFAULT_PRECISION) -> tuple[Any, int]:
    """The cell's Keras model, initialised from its own seed, and its parameter count.

    ``precision`` (``training.precision``) is the dtype policy of this build only (see
    :mod:`.precision`); the initial weights are the same float32 values either way.
    """
    fam = registry.families.get(cell.family)()
    config = fam.Config.model_validate(cell.family_config)
    backend.set_seed(init_seed(cell))
    model = build_with_precision(
        lambda: fam.build(config, cell.width, data.input_shape, data.num_classes, name=f"w{cell.width}_{cell.key[:8]}"),
        precision)
    return model, fam.param_count(config, cell.width, data.input_shape, data.num_classes)


def train_recorded(engine: Engine, cells: list[Cell], models: list[Any], params: list[int], bundle: Bundle,
                   training: TrainingSpec, events: TrainEvents, setup_seconds: float = 0.0) -> list[CellOutcome]:
    """Run ``engine`` to every recorded epoch, record curves and checkpoints; one outcome per cell.

    An engine that can export its state (the compiled ones), with ``events`` that offer a
    resume file (``events.resume(bundle)``, see :mod:`.resume`), continues from the bundle's last
    saved state, and saves it at every recorded epoch and whenever the file's interval is due.
    """
    curves: list[dict[str, list[float]]] = [{} for _ in cells]
    train_s = eval_s = 0.0
    done = resumed = 0
    last: list[tuple[dict[str, float], dict[str, np.ndarray]]] = []
    resume = events.resume(bundle) if hasattr(events, "resume") and hasattr(engine, "export_state") else None
    if resume is not None:
        saved = resume.load(engine.export_state())
        if saved is not None:
            done, state, curves = saved
            engine.import_state(state, done)
            resumed = done
    per_call = max(1, int(getattr(engine, "epochs_per_call", 1) or 1))
    pace = None  # seconds per epoch, as last measured
    for epoch in training.recorded_epochs():
        if epoch <= done and resumed:
            continue
        t0 = time.perf_counter()
        while done < epoch:  # in pieces, so that the resume file can be refreshed in between
            stop = epoch if resume is None else min(epoch, done + min(per_call, resume.epochs_until_due(pace)))
            t = time.perf_counter()
            engine.run_epochs(done, stop)
            pace = (time.perf_counter() - t) / (stop - done)
            done = stop
            if resume is not None and done < epoch and resume.due():
                resume.save(done, engine.export_state(), curves)
        t1 = time.perf_counter()
        last = engine.evaluate()
        eval_s += time.perf_counter() - t1
        train_s += t1 - t0
        for cell, model, curve, (metrics, _) in zip(cells, models, curves, last):
            curve.setdefault("epoch", []).append(epoch)
            for k, v in metrics.items():
                curve.setdefault(k, []).append(v)
            events.checkpoint(cell, epoch, model)
        if resume is not None:
            resume.save(done, engine.export_state(), curves)
        events.epochs_done(bundle, epoch, training.epochs)
    if not last:  # resumed after the last recorded epoch: evaluate (and write back) once more
        last = engine.evaluate()
    k = len(cells)
    timings = {"train_seconds": train_s / k, "eval_seconds": eval_s / k, "setup_seconds": setup_seconds / k, "bundle_size": k}
    if resume is not None:
        timings.update({"resumed_from_epoch": resumed, "checkpoint_bytes": resume.nbytes})
    compile_s = getattr(engine, "compile_seconds", None)
    if compile_s is not None:
        timings["compile_seconds"] = compile_s / k
    layout = engine.layout() if hasattr(engine, "layout") else [{} for _ in cells]
    outcomes = []
    for cell, model, n_params, curve, (metrics, arrays), where in zip(cells, models, params, curves, last, layout):
        diverged = not all(is_finite({m: curve[m][i] for m in ("train_loss", "test_loss")}) for i in range(len(curve["epoch"])))
        outcomes.append(
            CellOutcome(cell, "diverged" if diverged else "done", model=model, metrics={**metrics, "epochs": training.epochs},
                        curves=curve, arrays=arrays, params=n_params, timings={**timings, **where})
        )
    return outcomes


def train_jointly(bundle: Bundle, data: TrainData, training: TrainingSpec, events: TrainEvents,
                  make_engine: Callable[[list[Cell], list[Any]], Engine],
                  scope: Callable[[], ContextManager[Any]] | None = None) -> Iterator[CellOutcome]:
    """Build every cell of ``bundle`` (a cell that cannot be built fails alone), train the rest
    together with the engine ``make_engine(cells, models)`` (if that raises, they fail together).

    ``scope`` (a distribution's, see :mod:`.distribute`) is entered around building and around
    training, and left before any outcome is handed out, so probing and saving run outside it.
    """
    scope = scope or contextlib.nullcontext
    backend.clear_session()
    cells, models, params, broken = [], [], [], []
    with scope():
        for cell in bundle.cells:
            try:
                model, n_params = build_cell_model(cell, data, training.precision)
            except Exception as exc:
                broken.append(failed(cell, exc))
                continue
            cells.append(cell)
            models.append(model)
            params.append(n_params)
    yield from broken
    if not cells:
        return
    try:
        t0 = time.perf_counter()
        report_phase(events, bundle, "compiling", f"{len(cells)} models")
        with scope():
            engine = make_engine(cells, models)
            outcomes = train_recorded(engine, cells, models, params, bundle, training, events, time.perf_counter() - t0)
    except Exception as exc:
        for cell in cells:
            yield failed(cell, exc)
        return
    yield from outcomes
    if hasattr(events, "resume"):  # every outcome handed on: the resume file of this (part of a) bundle has served
        events.resume(bundle).remove()
