"""TensorFlow: a bundle as one compiled ``tf.function`` (XLA where it is faster) holding a ``tf.while_loop`` over the epoch.

Keras refuses ``optimizer.stateless_apply`` on TensorFlow (it is incompatible with
tf.distribute), so the state is the models' and the optimizer's resource variables,
updated in place inside the compiled loop (same math as the JAX step, one call per epoch;
no vmap: every cell is a chain). :class:`TrainState` names those variables, in the layout
of the JAX engine's state (parameters, non-trainable variables, optimizer slots, epoch).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from ...data import TrainData, augment
from ...engine.bundle_engine import BundleEngine, chunk
from ...engine.optimizer import make_optimizer
from ...plan import Cell
from ...spec.model import TrainingSpec
from . import device


class TrainState(NamedTuple):
    """The bundle's training state: Keras/TF variables (updated in place by the compiled epoch)."""

    params: list[Any]  # every model's trainable variables, model after model
    non_trainable: list[Any]
    opt_slots: list[Any]  # the one optimizer's variables (its slots are per variable, so per model)


def make_train_step(models: list[Any], optimizer: Any, variables: list[Any], loss_fn: Callable[..., Any],
                    seed_row: list[int], augmented: bool, n_seeds: int) -> Callable[[Any, Any, Any], Any]:
    """The step ``(x, y, idx_t[, aug_t]) -> summed loss``: every model's gradient on its seed's batch, one
    update (it writes the variables: TensorFlow's optimizer has no stateless update). ``x`` is the
    engine's ``x_src``; with augmentation each seed's batch is gathered from it by
    :func:`~ddbench.data.augment.gather` under ``aug_t`` (``(seeds, batch, 3)``)."""
    import tensorflow as tf

    def batches(x: Any, y: Any, idx_t: Any, aug_t: Any) -> list[tuple[Any, Any]]:
        if augmented:
            return [(augment.gather(x, idx_t[r], aug_t[r]), tf.gather(y, idx_t[r])) for r in range(n_seeds)]
        return [(tf.gather(x, idx_t[r]), tf.gather(y, idx_t[r])) for r in range(n_seeds)]

    def step(x: Any, y: Any, idx_t: Any, aug_t: Any = None) -> Any:
        per_seed = batches(x, y, idx_t, aug_t)
        with tf.GradientTape() as tape:
            loss = 0.0
            for model, r in zip(models, seed_row):
                xb, yb = per_seed[r]
                loss += loss_fn(yb, model(xb, training=True), list(model.losses))
        grads = tape.gradient(loss, variables)
        optimizer.apply(grads, variables)
        return tf.cast(loss, tf.float32)

    return step


def use_xla(models: list[Any], platform: str) -> bool:
    """Whether to compile the bundle with XLA: everywhere but for convolutions on a CPU.

    XLA's CPU convolutions are far slower than TensorFlow's own kernels, while it fuses an MLP's
    step well. Measured on 2 cores (time between ``epochs_done`` events of one bundle):
    the 27-cell cnn5 bundle of ``nakkiran-mnist1d-cnn5-cpu`` took 14.5 s an epoch with XLA and 1.7 s
    without; the 14-cell MLP bundle of the quickstart 0.09 s with and 0.19 s without. A kernel
    of rank 3 or more is a convolution's.
    """
    return platform != "cpu" or not any(len(v.shape) >= 3 for m in models for v in m.trainable_variables)


class Engine(BundleEngine):
    """Every cell a chain of one compiled ``tf.while_loop`` (XLA where :func:`use_xla`), state in the
    Keras variables.

    Reusable (:meth:`rebind`): the compiled epoch reads this engine's own models' variables and takes the
    data as arguments, so the next bundle of the same shapes (the other noise rates of a run: the same
    architectures, seeds and initial weights, other labels) trains on it from the new models' initial
    values, without tracing or compiling again; :meth:`write_back` copies the trained values into the
    new models. Bitwise the same as a fresh engine (``tests/test_stateless.py``)."""

    reusable = True

    def __init__(self, cells: list[Cell], models: list[Any], data: TrainData, training: TrainingSpec,
                 pad: Any = "auto", distribution: Any = None, epochs_per_call: int | None = None):
        import tensorflow as tf

        if distribution is not None:
            raise ValueError("the compiled TensorFlow epoch cannot run under tf.distribute; use the packed trainer")
        super().__init__(cells, models, data, training, put=tf.constant)
        self.xla = use_xla(models, device.platform())
        self.optimizer = make_optimizer(training.optimizer, training.schedule, self.steps, training.epochs)
        variables = [v for m in models for v in m.trainable_variables]
        self.optimizer.build(variables)
        self.state = TrainState(variables, [v for m in models for v in m.non_trainable_variables],
                                list(self.optimizer.variables))
        self._initial_slots = [np.array(v.numpy()) for v in self.state.opt_slots]  # for rebind
        self._targets = models  # the models write_back fills (the engine's own until a rebind)
        step = make_train_step(models, self.optimizer, variables, self.loss, self.seed_row, self.augmented,
                               len(self.seeds))

        @tf.function(jit_compile=self.xla, reduce_retracing=True)
        def epoch(x: Any, y: Any, idx: Any, *aug: Any) -> Any:  # aug: (steps, seeds, batch, 3) when augmenting
            steps = tf.shape(idx)[0]
            total = tf.constant(0.0)
            for i in tf.range(steps):  # autograph: a tf.while_loop inside the one compiled call
                total += step(x, y, idx[i], *(a[i] for a in aug))
            return total / tf.cast(steps, tf.float32)

        self._compiled_epoch = epoch

    def _epoch(self, state: TrainState, idx: np.ndarray, aug: np.ndarray | None) -> tuple[TrainState, Any]:
        import tensorflow as tf

        orders = (tf.constant(idx),) if aug is None else (tf.constant(idx), tf.constant(aug))
        return state, self._compiled_epoch(self.x_src, self.y_dev, *orders)

    def _variables(self) -> list[Any]:
        return [*self.state.params, *self.state.non_trainable, *self.state.opt_slots]

    def export_state(self) -> list[np.ndarray]:
        return [np.asarray(v.numpy()) for v in self._variables()]

    def import_state(self, arrays: list[np.ndarray], epoch: int) -> None:
        for v, a in zip(self._variables(), arrays, strict=True):
            v.assign(a)
        self.epoch = epoch

    def rebind(self, cells: list[Cell], models: list[Any], data: TrainData) -> None:
        """Train ``cells`` next from ``models``' initial values on ``data`` (same shapes as this engine's)."""
        values = [np.asarray(v.numpy()) for m in models for v in m.trainable_variables]
        values += [np.asarray(v.numpy()) for m in models for v in m.non_trainable_variables]
        values += self._initial_slots
        if [a.shape for a in values] != [tuple(v.shape) for v in self._variables()]:
            raise ValueError("rebind: the models' variables differ in shape from the engine's")
        self.import_state(values, 0)
        self.bind_data(data)
        self.cells, self._targets = cells, models
        self.compile_seconds, self._pending_loss, self.last_loss = None, None, float("nan")

    def write_back(self) -> None:
        """After a :meth:`rebind`, copy the trained values into the bundle's own models."""
        if self._targets is not self.models:
            for src, dst in zip(self.models, self._targets, strict=True):
                dst.set_weights(src.get_weights())

    def _forward_fn(self, bs: int) -> Callable[..., Any]:
        """The chunked evaluation forward: XLA only off the CPU. On a CPU, XLA-compiling the bundle's
        forward took longer than all its evaluations without XLA (quickstart bundle, 2 cores: 6.7 s of
        compiling per chunk shape against a 0.8 s trace, and no faster per call after it)."""
        import tensorflow as tf

        models = self.models

        @tf.function(jit_compile=self.xla and device.platform() != "cpu")
        def forward(x: Any, start: Any) -> list[Any]:
            xb = chunk(x, start, bs)
            return [m(xb, training=False) for m in models]

        return lambda state, x, start: forward(x, start)  # the state is the models' own variables

    def layout(self) -> list[dict[str, float]]:
        """Per cell: whether its bundle was compiled with XLA (recorded in timings)."""
        return [{"xla": float(self.xla)} for _ in self.cells]
