"""Trainers built on Keras ``fit``: the reference, and a packed bundle variant.

``fit`` trains each cell with its own ``model.fit``: the reference every faster
engine must match. ``packed`` wraps all cells of a bundle as sub-models of one
multi-output model and calls ``fit`` once; the summed loss gives every sub-model
exactly its own gradient (they share no weights), so it trains the same models
with one compiled step per batch instead of one per cell.
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from ..data import TrainData
from ..data.augment import augment
from ..plan import Bundle
from ..spec import TrainingSpec
from .base import CellOutcome, Trainer, TrainEvents, augment_rng, epoch_order, steps_per_epoch, train_jointly
from .evaluate import curve_point
from .schedule import make_optimizer

#: largest block of pre-ordered training data handed to one ``fit`` call
MAX_BLOCK_BYTES = 256 * 2**20
EVAL_BATCH = 4096


class _Loop:
    """The ``fit``-based engine: train a list of models on one bundle's data with the shared protocol."""

    def __init__(self, models: list[Any], data: TrainData, training: TrainingSpec, seed: int):
        import keras

        self.models, self.data, self.training, self.seed = models, data, training, seed
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
            jit_compile="auto",
        )

    def _targets(self, idx: np.ndarray) -> Any:
        y = self.data.y_train[idx]
        if self.training.loss == "mse":
            y = np.eye(self.data.num_classes, dtype=np.float32)[y]
        return [y] * len(self.models) if len(self.models) > 1 else y

    def run_epochs(self, start: int, stop: int) -> None:
        """Train 0-based epochs ``start..stop-1``, several per ``fit`` call."""
        row_bytes = self.data.x_train[0].nbytes * self.steps * self.training.batch_size
        per_call = max(1, MAX_BLOCK_BYTES // max(row_bytes, 1))
        for a in range(start, stop, per_call):
            b = min(stop, a + per_call)
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

    def evaluate(self) -> list[tuple[dict[str, float], dict[str, np.ndarray]]]:
        d = self.data
        tr = self.net.predict(d.x_train, batch_size=EVAL_BATCH, verbose=0)
        te = self.net.predict(d.x_test, batch_size=EVAL_BATCH, verbose=0)
        if len(self.models) == 1:
            tr, te = [tr], [te]
        return [
            curve_point(a, b, d.y_train, d.y_true, d.noisy, d.y_test, self.training.loss)
            for a, b in zip(tr, te)
        ]


class FitTrainer(Trainer):
    """One ``model.fit`` per cell: slow, simple, the reference."""

    name = "fit"

    def train(self, bundle: Bundle, data: TrainData, training: TrainingSpec, events: TrainEvents) -> Iterator[CellOutcome]:
        for cell in bundle.cells:
            yield from train_jointly(Bundle([cell]), data, training, events,
                                     lambda cells, models, seed=cell.seed: _Loop(models, data, training, seed))


class PackedFitTrainer(Trainer):
    """The cells of a bundle that share a seed as one multi-output model, one ``fit`` for them."""

    name = "packed"

    def train(self, bundle: Bundle, data: TrainData, training: TrainingSpec, events: TrainEvents) -> Iterator[CellOutcome]:
        for part in bundle.by_seed():  # one model shares one batch order, so one seed per fit
            yield from train_jointly(part, data, training, events,
                                     lambda cells, models, seed=part.seeds[0]: _Loop(models, data, training, seed))
