"""The fast trainer: a bundle trained as one compiled program, a whole epoch per call.

``stateless`` trains every cell of a bundle with Keras' stateless API
(``model.stateless_call`` and ``optimizer.stateless_apply``). The training data
stay resident on the device; an epoch's batch indices (``epoch_order`` of every
seed, shape ``(steps, seeds, batch)``) and, with augmentation, each sample's crop and
flip (three integers, :func:`ddbench.data.augment.draw`) are the only per-epoch upload;
batches, augmented ones too, are gathered on the device. Each cell gets exactly its own gradient and its own
optimizer state, with the update rule and per-epoch learning-rate schedule of the
reference ``fit``.

The engine is the active backend's (``ddbench/backend/<name>/engine.py``, on top of the
backend-neutral :class:`~ddbench.engine.bundle_engine.BundleEngine`):

* JAX: ``jax.jit`` of a ``lax.scan`` over the epoch, seeds (and, where exact, padded
  widths) as the vmapped lanes of one step (:mod:`ddbench.backend.jax.engine`);
* TensorFlow: a ``tf.function`` holding a ``tf.while_loop`` over the epoch, XLA-compiled
  except for convolutions on a CPU, state in the Keras variables
  (:mod:`ddbench.backend.tensorflow.engine`);
* a backend without one (torch) falls back to :class:`~ddbench.train.keras_fit.PackedFitTrainer`.

Keras models stay the source of truth: they are built (and initialised) exactly as
for ``fit``, and the trained values are written back into them at every recorded
epoch, so checkpoints, probes and saving see ordinary trained ``keras.Model``s.
"""

from __future__ import annotations

from typing import Any, Iterator

from .. import backend
from ..data import TrainData
from ..engine import lanes as lanes_mod
from ..engine.bundle_engine import BundleEngine
from ..plan import Bundle, Cell
from ..registry import trainers
from ..spec.model import TrainingSpec
from .base import CellOutcome, Trainer, TrainEvents, train_jointly
from .keras_fit import PackedFitTrainer


def make_engine(cells: list[Cell], models: list[Any], data: TrainData, training: TrainingSpec,
                pad: lanes_mod.PadPolicy = "auto", distribution: Any = None,
                epochs_per_call: int | None = None) -> BundleEngine:
    """The compiled engine of the active backend (``distribution``: a data-parallel
    :class:`~ddbench.train.distribute.Distribution` its engine runs under, or None)."""
    engine = backend.impl().engine.Engine
    if engine is None:
        raise ValueError(f"no compiled epoch for backend {backend.name()!r}")
    return engine(cells, models, data, training, pad=pad, distribution=distribution, epochs_per_call=epochs_per_call)


#: the last reusable engine and the key of the shapes it was built for (:func:`make_or_reuse`)
_LAST: list[Any] = [None, None]


def engine_key(cells: list[Cell], data: TrainData, training: TrainingSpec, pad: Any, distribution: Any,
               epochs_per_call: int | None) -> tuple[Any, ...] | None:
    """What a bundle's compiled programs depend on: the backend, every cell's architecture and seed in
    order, the data's shapes, the whole training section and the engine options (None: never reused)."""
    if distribution is not None:
        return None
    return (backend.name(), tuple((c.family, repr(sorted(c.family_config.items())), c.width, c.seed) for c in cells),
            data.x_train.shape, str(data.x_train.dtype), data.x_test.shape, data.num_classes,
            training.model_dump_json(), pad, epochs_per_call)


def make_or_reuse(cells: list[Cell], models: list[Any], data: TrainData, training: TrainingSpec,
                  pad: lanes_mod.PadPolicy = "auto", distribution: Any = None,
                  epochs_per_call: int | None = None) -> BundleEngine:
    """The last engine rebound to this bundle when it has the same :func:`engine_key` and can be
    (``reusable``: TensorFlow's; JAX loads its programs from its compilation cache instead), else a new
    one (the last is let go first). The quickstart's second noise rate: no tracing, no compiling."""
    key = engine_key(cells, data, training, pad, distribution, epochs_per_call)
    last_key, last = _LAST
    if key is not None and key == last_key:
        last.rebind(cells, models, data)
        return last
    _LAST[:] = [None, None]
    engine = make_engine(cells, models, data, training, pad=pad, distribution=distribution,
                         epochs_per_call=epochs_per_call)
    if key is not None and engine.reusable:
        _LAST[:] = [key, engine]
    return engine


@trainers.register("stateless", version="1")
class StatelessTrainer(Trainer):
    """A bundle as one compiled program (stateless Keras API), a whole epoch per call, data on the device.

    ``pad``: whether narrow widths may be zero-padded into wider lanes (JAX; ``auto`` decides from
    step FLOPs and the platform, and only where padding is verified exact).
    """

    name = "stateless"
    description = "a bundle as one compiled program, a whole epoch per call (auto)"
    #: with data_parallel (JAX) every batch is split over the devices inside the compiled epoch
    uses_distribution = True

    def __init__(self, pad: lanes_mod.PadPolicy = "auto", distribution: Any = None, epochs_per_call: int | None = None):
        self.pad, self.distribution, self.epochs_per_call = pad, distribution, epochs_per_call

    @classmethod
    def create(cls, distribution: Any = None, engine: Any = None) -> "StatelessTrainer":
        """With the spec's ``engine:`` layout options; falls back to packed on backends other than JAX/TF."""
        opts = {"pad": engine.pad_widths, "epochs_per_call": engine.epochs_per_call} if engine is not None else {}
        return cls(distribution=distribution, **opts)

    def train(self, bundle: Bundle, data: TrainData, training: TrainingSpec, events: TrainEvents) -> Iterator[CellOutcome]:
        if backend.impl().engine.Engine is None:
            yield from PackedFitTrainer().train(bundle, data, training, events)
            return
        dist = self.distribution
        yield from train_jointly(
            bundle, data, training, events,
            lambda cells, models: make_or_reuse(cells, models, data, training, pad=self.pad, distribution=dist,
                                                epochs_per_call=self.epochs_per_call),
            scope=dist.scope if dist is not None else None)


__all__ = ["StatelessTrainer", "make_engine", "make_or_reuse"]
