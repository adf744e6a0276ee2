"""Trainers built on Keras ``fit``: the reference, and a packed bundle variant.

``fit`` trains each cell with its own ``model.fit``: the reference every faster
engine must match. ``packed`` wraps all cells of a bundle as sub-models of one
multi-output model and calls ``fit`` once; the summed loss gives every sub-model
exactly its own gradient (they share no weights), so it trains the same models
with one compiled step per batch instead of one per cell.

Both run under a :class:`~.distribute.Distribution` when given one: models are built,
compiled, fitted and evaluated inside its scope (Keras ``fit`` splits each batch over
the devices, with ``tf.distribute.MirroredStrategy`` or ``keras.distribution.DataParallel``).
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ..data import TrainData
from ..data.augment import augment
from ..engine.evaluate import EVAL_BATCH, curve_point
from ..engine.optimizer import make_optimizer
from ..engine.protocol import augment_rng, epoch_order, steps_per_epoch
from ..plan import Bundle
from ..registry import trainers
from ..spec.model import TrainingSpec
from .base import CellOutcome, Trainer, TrainEvents, train_jointly

#: largest block of pre-ordered training data handed to one ``fit`` call
MAX_BLOCK_BYTES = 256 * 2**20


class _Loop:
    """The ``fit``-based engine: train a list of models on one bundle's data with the shared protocol."""

    def __init__(self, models: list[Any], data: TrainData, training: TrainingSpec, seed: int, split: int = 1,
                 jit_compile: Any = "auto"):
        import keras

        self.models, self.data, self.training, self.seed = models, data, training, seed
        self.split = split  # every batch must be a multiple of this (data-parallel devices)
        self.n = len(data.y_train)
        self.steps = steps_per_epoch(self.n, training.batch_size)
        if len(models) == 1:
            self.net = models[0]
        else:
            inputs = keras.Input(shape=data.input_shape)
            self.net = keras.Model(inputs, [m(inputs) for m in models], name="bundle")
        if training.loss == "cross_entropy":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        else:
            loss = keras.losses.MeanSquaredError()
        self.net.compile(
            optimizer=make_optimizer(training.optimizer, training.schedule, self.steps, training.epochs),
            loss=[loss] * len(models) if len(models) > 1 else loss,
            jit_compile=jit_compile,
        )
        # built now, not at the first step, so the state to resume into exists before training
        self.net.optimizer.build(self.net.trainable_variables)
        # epochs per ``fit`` call (their pre-ordered inputs up to MAX_BLOCK_BYTES); also how often
        # ``train_recorded`` may refresh the resume file between recorded epochs
        self.epochs_per_call = max(1, MAX_BLOCK_BYTES // max(data.x_train[0].nbytes * self.steps * training.batch_size, 1))

    def _targets(self, idx: np.ndarray) -> Any:
        y = self.data.y_train[idx]
        if self.training.loss == "mse":
            y = np.eye(self.data.num_classes, dtype=np.float32)[y]
        return [y] * len(self.models) if len(self.models) > 1 else y

    def run_epochs(self, start: int, stop: int) -> None:
        """Train 0-based epochs ``start..stop-1``, several per ``fit`` call."""
        for a in range(start, stop, self.epochs_per_call):
            b = min(stop, a + self.epochs_per_call)
            orders = [epoch_order(self.seed, e, self.n, self.training.batch_size) for e in range(a, b)]
            idx = np.concatenate(orders)
            if self.training.augmentation == "none":
                x = self.data.x_train[idx]
            else:  # seeded per epoch, so the inputs do not depend on how epochs are blocked
                x = np.concatenate([augment(self.data.x_train[o], self.training.augmentation, augment_rng(self.seed, e))
                                    for e, o in zip(range(a, b), orders)])
            self.net.fit(
                x, self._targets(idx), batch_size=self.training.batch_size,
                epochs=1, shuffle=False, verbose=0,
            )

    def _state_variables(self) -> list[Any]:
        return [*self.net.variables, *self.net.optimizer.variables]

    def export_state(self) -> list[np.ndarray]:
        """Every model's variables and the optimizer's (slots, iteration count): all ``fit`` carries from
        one epoch to the next, as the batch order and the schedule are functions of the epoch."""
        return [np.array(v) for v in self._state_variables()]

    def import_state(self, arrays: list[np.ndarray], epoch: int) -> None:
        for v, a in zip(self._state_variables(), arrays, strict=True):
            v.assign(a)

    def _predict(self, x: np.ndarray) -> list[np.ndarray]:
        """Logits of every model; with ``split`` > 1 the inputs are padded (with their own first rows)
        so that every batch splits evenly over the devices, and the padding is cut off again."""
        n, pad = len(x), (-len(x)) % self.split
        if pad:
            x = np.concatenate([x, np.resize(x, (pad, *x.shape[1:]))])
        out = self.net.predict(x, batch_size=max(self.split, EVAL_BATCH - EVAL_BATCH % self.split), verbose=0)
        return [o[:n] for o in (out if len(self.models) > 1 else [out])]

    def evaluate(self) -> list[tuple[dict[str, float], dict[str, np.ndarray]]]:
        d = self.data
        tr, te = self._predict(d.x_train), self._predict(d.x_test)
        return [
            curve_point(a, b, d.y_train, d.y_true, d.noisy, d.y_test, self.training.loss)
            for a, b in zip(tr, te)
        ]


class _FitBased(Trainer):
    """What both fit-based trainers share: running under an optional distribution."""

    uses_distribution = True

    def __init__(self, distribution: Any = None):
        self.distribution = distribution if distribution is not None and distribution.enabled else None

    @classmethod
    def create(cls, distribution: Any = None, engine: Any = None) -> "_FitBased":
        return cls(distribution)

    def _scope(self) -> Any:
        return self.distribution.scope if self.distribution is not None else None

    def _engine(self, data: TrainData, training: TrainingSpec, seed: int) -> Any:
        if self.distribution is None:
            return lambda cells, models: _Loop(models, data, training, seed)
        split, jit = self.distribution.even_split, self.distribution.jit_compile
        return lambda cells, models: _Loop(models, data, training, seed, split, jit)


@trainers.register("fit", version="1")
class FitTrainer(_FitBased):
    """One ``model.fit`` per cell: slow, simple, the reference."""

    name = "fit"
    description = "one Keras fit per cell: the reference every trainer must match"

    def train(self, bundle: Bundle, data: TrainData, training: TrainingSpec, events: TrainEvents) -> Iterator[CellOutcome]:
        for cell in bundle.cells:
            yield from train_jointly(Bundle([cell]), data, training, events, self._engine(data, training, cell.seed),
                                     scope=self._scope())


@trainers.register("packed", version="1")
class PackedFitTrainer(_FitBased):
    """The cells of a bundle that share a seed as one multi-output model, one ``fit`` for them."""

    name = "packed"
    description = "the cells of a bundle as one multi-output model, one Keras fit (auto under mirrored)"

    def train(self, bundle: Bundle, data: TrainData, training: TrainingSpec, events: TrainEvents) -> Iterator[CellOutcome]:
        for part in bundle.by_seed():  # one model shares one batch order, so one seed per fit
            yield from train_jointly(part, data, training, events, self._engine(data, training, part.seeds[0]),
                                     scope=self._scope())
