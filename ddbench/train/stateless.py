"""The fast engine: a bundle trained as one compiled program, a whole epoch per call.

``stateless`` trains every cell of a bundle with Keras' stateless API
(``model.stateless_call`` and ``optimizer.stateless_apply``): the weights,
non-trainable state (BatchNorm statistics, RNG states) and optimizer slots of all
cells are one pytree that a compiled function carries through the batches of an
epoch. The training data stay resident on the device; an epoch's batch indices
(``epoch_order``, shape ``(steps, batch)``) are the only per-epoch upload, and the
batches are gathered on the device. Different widths are just different leaves of
the same program. The loss is the sum of the cells' mean losses, so each cell gets
exactly its own gradient, as in the packed ``fit``; one Keras optimizer built over
all cells' variables applies the same update rule (and the same per-epoch
learning-rate schedule, driven by its step counter) as the reference.

Backends: JAX compiles ``jax.jit`` of a ``lax.scan`` over the epoch
(:func:`_compile_epoch_jax`), carrying the state pytree. TensorFlow compiles a
``tf.function(jit_compile=True)`` holding a ``tf.while_loop`` over the epoch
(:func:`_compile_epoch_tf`); Keras refuses ``optimizer.stateless_apply`` on
TensorFlow (it is incompatible with tf.distribute), so there the state stays in the
models' and optimizer's resource variables, updated in place inside the compiled
loop (same math, same single call per epoch). Any other backend falls back to
:class:`~ddbench.train.keras_fit.PackedFitTrainer`.

Keras models stay the source of truth: they are built (and initialised) exactly as
for ``fit``, and the trained values are written back into them at every recorded
epoch, so checkpoints, probes and saving see ordinary trained ``keras.Model``s.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import numpy as np

from .. import backend
from ..data import TrainData
from ..data.augment import augment
from ..plan import Bundle
from ..spec import TrainingSpec
from .base import CellOutcome, Trainer, TrainEvents, augment_rng, epoch_order, steps_per_epoch, train_jointly
from .evaluate import curve_point
from .keras_fit import EVAL_BATCH, PackedFitTrainer
from .schedule import make_optimizer

#: backends with a compiled whole-epoch path
COMPILED_BACKENDS = ("jax", "tensorflow")
#: at most this many input bytes per evaluation chunk (bounds activation memory for images)
EVAL_CHUNK_BYTES = 32 * 2**20


class _Engine:
    """All cells of a bundle as one state pytree and one compiled epoch function."""

    def __init__(self, models: list[Any], data: TrainData, training: TrainingSpec, seed: int):
        import keras

        self.keras = keras
        self.backend = keras.backend.backend()
        if self.backend not in COMPILED_BACKENDS:
            raise ValueError(f"no compiled epoch for backend {self.backend!r}")
        self.models, self.data, self.training, self.seed = models, data, training, seed
        self.n = len(data.y_train)
        self.batch = training.batch_size
        self.steps = steps_per_epoch(self.n, self.batch)
        self.optimizer = make_optimizer(training.optimizer, training.schedule, self.steps, training.epochs)
        trainable = [v for m in models for v in m.trainable_variables]
        self.optimizer.build(trainable)
        self._t_split = _offsets([len(m.trainable_variables) for m in models])
        self._n_split = _offsets([len(m.non_trainable_variables) for m in models])
        # resident data: inputs, and targets in the form the loss wants
        y = data.y_train.astype(np.int32)
        if training.loss == "mse":
            y = np.eye(data.num_classes, dtype=np.float32)[y]
        self.x_dev = self._put(data.x_train)
        self.y_dev = self._put(y)
        self._y_host = y
        self.x_test_dev = self._put(data.x_test)
        if self.backend == "jax":
            import jax

            # the state of every cell: one pytree carried through the compiled epoch
            self.state: Any = (
                [v.value for v in trainable],
                [v.value for m in models for v in m.non_trainable_variables],
                [v.value for v in self.optimizer.variables],
            )
            self._epoch = _compile_epoch_jax(self._loss, self.optimizer, donate=jax.default_backend() != "cpu")
        else:
            # Keras refuses ``optimizer.stateless_apply`` on TensorFlow (tf.distribute): the state lives in the
            # (resource) variables themselves, updated in place inside the compiled epoch
            self.state = None
            self._epoch = _compile_epoch_tf(self._loss_stateful, self.optimizer, trainable)
        self._forward: dict[int, Callable[..., Any]] = {}
        self.compile_seconds: float | None = None
        self.last_loss = float("nan")
        self._pending_loss: Any = None

    # ---------------------------------------------------------------- backend glue

    def _put(self, array: np.ndarray) -> Any:
        if self.backend == "tensorflow":
            import tensorflow as tf

            return tf.constant(array)
        import jax

        return jax.device_put(array)

    # ---------------------------------------------------------------- the math

    def _split(self, values: list[Any], offsets: list[int], i: int) -> list[Any]:
        return list(values[offsets[i]:offsets[i + 1]])

    def _cell_loss(self, yb: Any, logits: Any, extra: list[Any]) -> Any:
        """A cell's mean batch loss (as the compiled Keras loss computes it) plus its regularisation losses."""
        from keras import losses, ops

        if self.training.loss == "cross_entropy":
            loss = ops.mean(losses.sparse_categorical_crossentropy(yb, logits, from_logits=True))
        else:
            loss = ops.mean(losses.mean_squared_error(yb, logits))
        for reg in extra:
            loss = loss + reg
        return loss

    def _loss(self, tv: list[Any], ntv: list[Any], xb: Any, yb: Any) -> tuple[Any, list[Any]]:
        """Stateless: the sum over cells of each cell's loss, and the cells' new non-trainable state."""
        total = 0.0
        new_ntv: list[Any] = []
        for i, model in enumerate(self.models):
            logits, nt, extra = model.stateless_call(
                self._split(tv, self._t_split, i), self._split(ntv, self._n_split, i), xb,
                training=True, return_losses=True)
            total = total + self._cell_loss(yb, logits, list(extra))
            new_ntv += list(nt)
        return total, new_ntv

    def _loss_stateful(self, xb: Any, yb: Any) -> Any:
        """Stateful (TensorFlow): the same sum; BatchNorm statistics update in their variables."""
        total = 0.0
        for model in self.models:
            logits = model(xb, training=True)
            total = total + self._cell_loss(yb, logits, list(model.losses))
        return total

    # ---------------------------------------------------------------- training

    def _epoch_inputs(self, epoch: int) -> tuple[Any, Any, np.ndarray]:
        order = epoch_order(self.seed, epoch, self.n, self.batch)
        if self.training.augmentation == "none":
            return self.x_dev, self.y_dev, order.reshape(self.steps, self.batch).astype(np.int32)
        # augmented inputs change every epoch: upload the epoch's (ordered) inputs, index them in order
        x = augment(self.data.x_train[order], self.training.augmentation, augment_rng(self.seed, epoch))
        idx = np.arange(self.steps * self.batch, dtype=np.int32).reshape(self.steps, self.batch)
        return self._put(x), self._put(self._y_host[order]), idx

    def run_epochs(self, start: int, stop: int) -> None:
        """Train 0-based epochs ``start..stop-1``, one compiled call each."""
        for e in range(start, stop):
            x, y, idx = self._epoch_inputs(e)
            if self.compile_seconds is None:
                t0 = time.perf_counter()
                self.state, loss = self._epoch(self.state, x, y, idx)
                self.last_loss = float(np.asarray(loss))  # waits for the result
                self.compile_seconds = time.perf_counter() - t0
                self._pending_loss = None
            else:
                self.state, self._pending_loss = self._epoch(self.state, x, y, idx)
        self.sync()

    def sync(self) -> None:
        """Wait for queued work (JAX dispatches asynchronously)."""
        if self._pending_loss is not None:
            self.last_loss = float(np.asarray(self._pending_loss))
            self._pending_loss = None

    # ---------------------------------------------------------------- evaluation

    def _forward_fn(self, bs: int) -> Callable[..., Any]:
        if bs not in self._forward:
            from keras import ops

            def chunk(x: Any, start: Any) -> Any:
                return ops.slice(x, [start] + [0] * (len(x.shape) - 1), (bs, *x.shape[1:]))

            if self.backend == "jax":
                import jax

                def forward(state: Any, x: Any, start: Any) -> list[Any]:
                    tv, ntv, _ = state
                    xb = chunk(x, start)
                    return [m.stateless_call(self._split(tv, self._t_split, i), self._split(ntv, self._n_split, i), xb,
                                             training=False)[0]
                            for i, m in enumerate(self.models)]

                self._forward[bs] = jax.jit(forward)
            else:
                import tensorflow as tf

                def forward_tf(state: Any, x: Any, start: Any) -> list[Any]:
                    xb = chunk(x, start)
                    return [m(xb, training=False) for m in self.models]

                self._forward[bs] = tf.function(forward_tf, jit_compile=True)
        return self._forward[bs]

    def logits(self, x_dev: Any, n: int) -> list[np.ndarray]:
        """Logits of every cell on ``x_dev`` (n points), chunked; the last chunk overlaps the previous one."""
        row_bytes = int(np.prod(x_dev.shape[1:])) * 4
        bs = min(n, EVAL_BATCH, max(64, EVAL_CHUNK_BYTES // max(row_bytes, 1)))
        fn = self._forward_fn(bs)
        parts: list[list[np.ndarray]] = [[] for _ in self.models]
        for a in range(0, n, bs):
            start = min(a, n - bs)
            out = fn(self.state, x_dev, np.int32(start))
            for i, o in enumerate(out):
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
        """Put the trained values into the Keras models (and the optimizer); on TensorFlow they are there."""
        if self.state is None:
            return
        tv, ntv, ov = self.state
        for i, m in enumerate(self.models):
            for v, val in zip(m.trainable_variables, self._split(tv, self._t_split, i)):
                v.assign(val)
            for v, val in zip(m.non_trainable_variables, self._split(ntv, self._n_split, i)):
                v.assign(val)
        for v, val in zip(self.optimizer.variables, ov):
            v.assign(val)


def _offsets(counts: list[int]) -> list[int]:
    return [int(v) for v in np.concatenate([[0], np.cumsum(counts)])]


def _compile_epoch_jax(loss_fn: Callable[..., Any], optimizer: Any, donate: bool) -> Callable[..., Any]:
    """``(state, x, y, idx) -> (state, mean loss)``: ``jax.jit`` of a ``lax.scan`` over the epoch's batches."""
    import jax
    import jax.numpy as jnp

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def epoch(state: Any, x: Any, y: Any, idx: Any) -> Any:
        def step(carry: Any, batch_idx: Any) -> Any:
            tv, ntv, ov = carry
            xb = jnp.take(x, batch_idx, axis=0)
            yb = jnp.take(y, batch_idx, axis=0)
            (loss, ntv), grads = grad_fn(tv, ntv, xb, yb)
            tv, ov = optimizer.stateless_apply(ov, grads, tv)
            return (tv, ntv, ov), loss

        state, losses = jax.lax.scan(step, state, idx)
        return state, jnp.mean(losses)

    return jax.jit(epoch, donate_argnums=(0,) if donate else ())


def _compile_epoch_tf(loss_fn: Callable[..., Any], optimizer: Any, variables: list[Any]) -> Callable[..., Any]:
    """``(None, x, y, idx) -> (None, mean loss)``: one XLA-compiled ``tf.function`` whose ``tf.while_loop``
    runs the epoch's batches, updating the models' and the optimizer's variables in place."""
    import tensorflow as tf

    @tf.function(jit_compile=True, reduce_retracing=True)
    def epoch(x: Any, y: Any, idx: Any) -> Any:
        steps = tf.shape(idx)[0]
        total = tf.constant(0.0)
        for i in tf.range(steps):  # autograph: a tf.while_loop inside the one compiled call
            xb = tf.gather(x, idx[i])
            yb = tf.gather(y, idx[i])
            with tf.GradientTape() as tape:
                loss = loss_fn(xb, yb)
            grads = tape.gradient(loss, variables)
            optimizer.apply(grads, variables)
            total += tf.cast(loss, tf.float32)
        return total / tf.cast(steps, tf.float32)

    def run(state: Any, x: Any, y: Any, idx: Any) -> Any:
        return None, epoch(x, y, tf.constant(idx))

    return run


class StatelessTrainer(Trainer):
    """A bundle as one compiled program (stateless Keras API), a whole epoch per call, data on the device."""

    name = "stateless"

    def train(self, bundle: Bundle, data: TrainData, training: TrainingSpec, events: TrainEvents) -> Iterator[CellOutcome]:
        if backend.name() not in COMPILED_BACKENDS:
            yield from PackedFitTrainer().train(bundle, data, training, events)
            return
        yield from train_jointly(bundle, data, training, events, lambda models: _Engine(models, data, training, bundle.seed))
