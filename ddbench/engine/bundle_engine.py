"""What every compiled bundle engine shares, backend-neutral: resident data, per-seed batch orders,
the epoch loop, chunked evaluation and the loss.

A backend's engine (``ddbench/backend/<name>/engine.py``, reached through
:func:`ddbench.backend.impl`) subclasses :class:`BundleEngine` and provides the compiled
pieces: ``_epoch`` (one epoch), optionally ``_advance`` (several per call), ``_forward_fn``
(chunked logits) and ``write_back``. It keeps its trainable state in ``self.state``, a
named structure (see the backend's engine), and counts trained epochs in ``self.epoch``.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..data import TrainData, augment
from ..plan import Cell
from ..spec.model import TrainingSpec
from .evaluate import EVAL_BATCH, curve_point
from .protocol import augment_rng, epoch_order, steps_per_epoch

#: at most this many input bytes per evaluation chunk (bounds activation memory for images)
EVAL_CHUNK_BYTES = 32 * 2**20


def cell_loss(training: TrainingSpec, yb: Any, logits: Any, extra: list[Any]) -> Any:
    """A cell's mean batch loss (as the compiled Keras loss computes it, in float32) plus its regularisation."""
    from keras import losses, ops

    logits = ops.cast(logits, "float32")
    if training.loss == "cross_entropy":
        loss = ops.mean(losses.sparse_categorical_crossentropy(yb, logits, from_logits=True))
    else:
        loss = ops.mean(losses.mean_squared_error(yb, logits))
    for reg in extra:
        loss = loss + ops.cast(reg, "float32")
    return loss


def targets(data: TrainData, training: TrainingSpec) -> np.ndarray:
    """Training targets as the loss takes them: class indices (int32), or one-hot rows for ``mse``."""
    y = data.y_train.astype(np.int32)
    if training.loss == "mse":
        y = np.eye(data.num_classes, dtype=np.float32)[y]
    return y


def chunk(x: Any, start: Any, bs: int) -> Any:
    """Rows ``start .. start + bs`` of ``x`` (a traced start: one compiled shape for every chunk)."""
    from keras import ops

    return ops.slice(x, [start] + [0] * (len(x.shape) - 1), (bs, *x.shape[1:]))


class BundleEngine:
    """The backend-neutral part of a compiled bundle engine.

    ``put`` places a host array on the engine's device(s) (e.g. replicated over a mesh); it
    is an argument, so a subclass decides its placement before anything is uploaded.
    """

    def __init__(self, cells: list[Cell], models: list[Any], data: TrainData, training: TrainingSpec,
                 put: Callable[[np.ndarray], Any]):
        self.cells, self.models, self.data, self.training = cells, models, None, training
        self.put = put
        self.n = len(data.y_train)
        self.batch = training.batch_size
        self.steps = steps_per_epoch(self.n, self.batch)
        self.seeds = sorted({c.seed for c in cells})
        self.seed_row = [self.seeds.index(c.seed) for c in cells]
        self.augmented = training.augmentation != "none"
        self.bind_data(data)
        self.epoch = 0  # epochs trained: the position in every seed's sequence of batch orders
        self.compile_seconds: float | None = None
        self.last_loss = float("nan")
        self._pending_loss: Any = None
        self._forward: dict[int, Callable[..., Any]] = {}

    #: whether :meth:`rebind` can hand this engine, with its compiled programs, the next bundle of the same shapes
    reusable = False

    def bind_data(self, data: TrainData) -> None:
        """Put ``data`` on the device: the labels always, the inputs unless they are those already there
        (the noise rates of a dataset share them)."""
        old = self.data
        same_x = old is not None and all(a is b or np.array_equal(a, b) for a, b in
                                         ((old.x_train, data.x_train), (old.x_test, data.x_test)))
        self.data = data
        self._y_host = targets(data, self.training)
        self.y_dev = self.put(self._y_host)
        if same_x:
            return
        self.x_dev = self.put(data.x_train)
        # what the compiled step gathers its batches from (the padded images when augmenting)
        self.x_src = self.put(augment.source(data.x_train, self.training.augmentation)) if self.augmented else self.x_dev
        self.x_test_dev = self.put(data.x_test)

    def rebind(self, cells: list[Cell], models: list[Any], data: TrainData) -> None:
        """Train ``cells`` next (models ``models``, data ``data``) with this engine's compiled programs; only
        for a bundle of the same shapes (:func:`ddbench.train.stateless.engine_key`). ``reusable`` engines."""
        raise NotImplementedError

    def loss(self, yb: Any, logits: Any, extra: list[Any]) -> Any:
        return cell_loss(self.training, yb, logits, extra)

    def epoch_inputs(self, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        """``(idx, aug)`` of 0-based ``epoch``: every seed's batch order ``(steps, seeds, batch)`` and, when
        augmenting, each sample's random choices ``(steps, seeds, batch, 3)`` (:func:`augment.draw`):
        the only per-epoch upload; the compiled step gathers the augmented batch on the device."""
        orders = [epoch_order(s, epoch, self.n, self.batch) for s in self.seeds]
        idx = np.stack(orders).reshape(len(self.seeds), self.steps, self.batch)
        idx = np.ascontiguousarray(idx.transpose(1, 0, 2)).astype(np.int32)
        if not self.augmented:
            return idx, None
        aug = np.stack([augment.draw(self.training.augmentation, self.data.x_train.shape, len(o), augment_rng(s, epoch))
                        for s, o in zip(self.seeds, orders)])  # (seeds, steps * batch, 3)
        aug = aug.reshape(len(self.seeds), self.steps, self.batch, 3).transpose(1, 0, 2, 3)
        return idx, np.ascontiguousarray(aug)

    def run_epochs(self, start: int, stop: int) -> None:
        """Train 0-based epochs ``start..stop-1``, one compiled call each (or per block, see ``_advance``)."""
        if start != self.epoch:
            raise ValueError(f"the engine has trained {self.epoch} epochs; cannot continue from epoch {start}")
        while self.epoch < stop:
            if self.compile_seconds is None:
                t0 = time.perf_counter()
                self.epoch += self._advance(self.epoch, stop)
                self.sync()  # waits for the result
                self.compile_seconds = time.perf_counter() - t0
            else:
                self.epoch += self._advance(self.epoch, stop)
        self.sync()

    def _advance(self, epoch: int, stop: int) -> int:
        """Queue the training of epoch ``epoch`` (and possibly more, before ``stop``); return how many."""
        idx, aug = self.epoch_inputs(epoch)
        self.state, self._pending_loss = self._epoch(self.state, idx, aug)
        return 1

    def _epoch(self, state: Any, idx: np.ndarray, aug: np.ndarray | None) -> tuple[Any, Any]:
        """One compiled epoch over ``self.x_src`` / ``self.y_dev`` in the order ``idx`` (augmented by ``aug``)."""
        raise NotImplementedError

    def sync(self) -> None:
        """Wait for queued work (JAX dispatches asynchronously)."""
        if self._pending_loss is not None:
            self.last_loss = float(np.asarray(self._pending_loss))
            self._pending_loss = None

    def _forward_fn(self, bs: int) -> Callable[..., Any]:
        raise NotImplementedError

    def eval_chunk(self, row_bytes: int) -> int:
        """Rows per evaluation call. One size for the training and the test set where the smaller set
        holds at least half a chunk (it then bounds the size), so the forward function is compiled once
        per engine, not once per set; a set smaller than that is one call of its own size."""
        bs = min(EVAL_BATCH, max(64, EVAL_CHUNK_BYTES // max(row_bytes, 1)))
        smaller = min(len(self.data.y_train), len(self.data.y_test))
        return min(bs, smaller) if 2 * smaller >= bs else bs

    def logits(self, x_dev: Any, n: int) -> list[np.ndarray]:
        """Logits of every cell on ``x_dev`` (n points), chunked; the last chunk overlaps the previous one."""
        bs = min(n, self.eval_chunk(int(np.prod(x_dev.shape[1:])) * 4))
        if bs not in self._forward:
            self._forward[bs] = self._forward_fn(bs)
        fn = self._forward[bs]
        parts: list[list[np.ndarray]] = [[] for _ in self.models]
        for a in range(0, n, bs):
            start = min(a, n - bs)
            for i, o in enumerate(fn(self.state, x_dev, np.int32(start))):
                parts[i].append(np.asarray(o)[a - start:])
        return [np.concatenate(p) for p in parts]

    def evaluate(self) -> list[tuple[dict[str, float], dict[str, np.ndarray]]]:
        d = self.data
        tr = self.logits(self.x_dev, len(d.y_train))
        te = self.logits(self.x_test_dev, len(d.y_test))
        points = [curve_point(a, b, d.y_train, d.y_true, d.noisy, d.y_test, self.training.loss) for a, b in zip(tr, te)]
        self.write_back()
        return points

    def write_back(self) -> None:
        """Put the trained values into the Keras models."""

    def export_state(self) -> list[np.ndarray]:
        """The whole training state as host arrays (weights, optimizer slots, non-trainable variables, the
        epoch counter where the state holds one), for :mod:`~ddbench.train.resume`."""
        raise NotImplementedError

    def import_state(self, arrays: list[np.ndarray], epoch: int) -> None:
        """Continue from ``export_state()``'s arrays saved after ``epoch`` trained epochs."""
        raise NotImplementedError

    def layout(self) -> list[dict[str, float]]:
        """Per cell: how it was laid out (lanes, padding, replicas), recorded in its timings."""
        return [{} for _ in self.cells]
