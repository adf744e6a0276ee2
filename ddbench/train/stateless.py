"""The fast engine: a bundle trained as one compiled program, a whole epoch per call.

``stateless`` trains every cell of a bundle with Keras' stateless API
(``model.stateless_call`` and ``optimizer.stateless_apply``). The training data
stay resident on the device; an epoch's batch indices (``epoch_order`` of every
seed, shape ``(steps, seeds, batch)``) are the only per-epoch upload, and batches
are gathered on the device. Each cell gets exactly its own gradient and its own
optimizer state, with the update rule and per-epoch learning-rate schedule of the
reference ``fit``.

Backends:

* JAX compiles ``jax.jit`` of a ``lax.scan`` over the epoch. The cells are
  trained as a few *groups* (:mod:`ddbench.train.lanes`): the seeds of one
  architecture, and on accelerators narrow widths zero-padded into a wider one
  (only where :func:`~ddbench.train.lanes.padding_is_exact` confirms it trains
  identically), are the lanes of one ``jax.vmap``-ed step.
* TensorFlow compiles a ``tf.function(jit_compile=True)`` holding a
  ``tf.while_loop`` over the epoch. Keras refuses ``optimizer.stateless_apply`` on
  TensorFlow (it is incompatible with tf.distribute), so there the state stays in
  the models' and optimizer's resource variables, updated in place inside the
  compiled loop (same math, one call per epoch; no vmap: every cell is a chain).
* Any other backend falls back to :class:`~ddbench.train.keras_fit.PackedFitTrainer`.

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
from ..plan import Bundle, Cell
from ..spec import TrainingSpec
from . import lanes as lanes_mod
from .base import CellOutcome, Trainer, TrainEvents, augment_rng, epoch_order, steps_per_epoch, train_jointly
from .evaluate import curve_point
from .keras_fit import EVAL_BATCH, PackedFitTrainer
from .schedule import make_optimizer

#: backends with a compiled whole-epoch path
COMPILED_BACKENDS = ("jax", "tensorflow")
#: epochs per compiled call on accelerators (JAX, no augmentation)
EPOCHS_PER_CALL = 8
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


class _EngineBase:
    """What both backends share: resident data, per-seed batch orders, the epoch loop, evaluation."""

    def __init__(self, cells: list[Cell], models: list[Any], data: TrainData, training: TrainingSpec):
        self.cells, self.models, self.data, self.training = cells, models, data, training
        self.n = len(data.y_train)
        self.batch = training.batch_size
        self.steps = steps_per_epoch(self.n, self.batch)
        self.seeds = sorted({c.seed for c in cells})
        self.seed_row = [self.seeds.index(c.seed) for c in cells]
        y = data.y_train.astype(np.int32)
        if training.loss == "mse":
            y = np.eye(data.num_classes, dtype=np.float32)[y]
        self._y_host = y
        self.augmented = training.augmentation != "none"
        self.x_dev = self._put(data.x_train)
        self.y_dev = self._put(y)
        self.x_test_dev = self._put(data.x_test)
        self.compile_seconds: float | None = None
        self.last_loss = float("nan")
        self._pending_loss: Any = None
        self._forward: dict[int, Callable[..., Any]] = {}

    def _put(self, array: np.ndarray) -> Any:
        raise NotImplementedError

    def _epoch_inputs(self, epoch: int) -> tuple[Any, Any, np.ndarray]:
        """(x, y, idx): idx is ``(steps, seeds, batch)``. Without augmentation x, y are the resident
        training set; with it they are this epoch's augmented, ordered inputs of every seed,
        ``(seeds, steps * batch, ...)``, and idx indexes each seed's row in order."""
        orders = [epoch_order(s, epoch, self.n, self.batch) for s in self.seeds]
        if not self.augmented:
            idx = np.stack(orders).reshape(len(self.seeds), self.steps, self.batch)
            return self.x_dev, self.y_dev, np.ascontiguousarray(idx.transpose(1, 0, 2)).astype(np.int32)
        x = np.stack([augment(self.data.x_train[o], self.training.augmentation, augment_rng(s, epoch))
                      for s, o in zip(self.seeds, orders)])
        y = np.stack([self._y_host[o] for o in orders])
        idx = np.broadcast_to(np.arange(self.steps * self.batch, dtype=np.int32).reshape(1, self.steps, self.batch),
                              (len(self.seeds), self.steps, self.batch))
        return self._put(x), self._put(y), np.ascontiguousarray(idx.transpose(1, 0, 2))

    def run_epochs(self, start: int, stop: int) -> None:
        """Train 0-based epochs ``start..stop-1``, one compiled call each (or per block, see ``_advance``)."""
        e = start
        while e < stop:
            if self.compile_seconds is None:
                t0 = time.perf_counter()
                e += self._advance(e, stop)
                self.sync()  # waits for the result
                self.compile_seconds = time.perf_counter() - t0
            else:
                e += self._advance(e, stop)
        self.sync()

    def _advance(self, epoch: int, stop: int) -> int:
        """Queue the training of epoch ``epoch`` (and possibly more, before ``stop``); return how many."""
        x, y, idx = self._epoch_inputs(epoch)
        self.state, self._pending_loss = self._epoch(self.state, x, y, idx)
        return 1

    def sync(self) -> None:
        """Wait for queued work (JAX dispatches asynchronously)."""
        if self._pending_loss is not None:
            self.last_loss = float(np.asarray(self._pending_loss))
            self._pending_loss = None

    def _forward_fn(self, bs: int) -> Callable[..., Any]:
        raise NotImplementedError

    def logits(self, x_dev: Any, n: int) -> list[np.ndarray]:
        """Logits of every cell on ``x_dev`` (n points), chunked; the last chunk overlaps the previous one."""
        row_bytes = int(np.prod(x_dev.shape[1:])) * 4
        bs = min(n, EVAL_BATCH, max(64, EVAL_CHUNK_BYTES // max(row_bytes, 1)))
        fn = self._forward_fn(bs)
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


def _chunk(x: Any, start: Any, bs: int) -> Any:
    from keras import ops

    return ops.slice(x, [start] + [0] * (len(x.shape) - 1), (bs, *x.shape[1:]))


class _JaxEngine(_EngineBase):
    """Groups of lanes, one ``vmap`` each, all in one ``lax.scan`` over the epoch."""

    def __init__(self, cells: list[Cell], models: list[Any], data: TrainData, training: TrainingSpec,
                 pad: lanes_mod.PadPolicy = "auto", distribution: Any = None, epochs_per_call: int | None = None):
        import jax

        # data parallel (keras.distribution.DataParallel's mesh): data and state replicated, every batch split
        self.mesh = distribution.mesh() if distribution is not None else None
        super().__init__(cells, models, data, training)
        # on an accelerator an MNIST-scale epoch takes well under a millisecond, so the per-call dispatch
        # shows: blocks of epochs go in one call (a second compiled variant); on a CPU it never shows
        self.epochs_per_call = epochs_per_call or (1 if jax.default_backend() == "cpu" else EPOCHS_PER_CALL)
        self._block: Callable[..., Any] | None = None
        self.groups = self._plan_groups(pad)
        self.optimizers = []
        state = []
        for g in self.groups:
            template = models[g.template]
            opt = make_optimizer(training.optimizer, training.schedule, self.steps, training.epochs)
            opt.build(template.trainable_variables)
            self.optimizers.append(opt)
            t_shapes = [tuple(v.shape) for v in template.trainable_variables]
            n_shapes = [tuple(v.shape) for v in template.non_trainable_variables]
            g.shapes = [[tuple(v.shape) for v in models[i].trainable_variables + models[i].non_trainable_variables]
                        for i in g.members]
            tv = [[lanes_mod.embed(v.value, s) for v, s in zip(models[i].trainable_variables, t_shapes)] for i in g.members]
            ntv = [[lanes_mod.embed(v.value, s) for v, s in zip(models[i].non_trainable_variables, n_shapes)]
                   for i in g.members]
            ov = [[np.asarray(v.value) for v in opt.variables] for _ in g.members]
            state.append(tuple(self._stack(g, leaves) for leaves in (tv, ntv, ov)))
        self.state: Any = jax.device_put(state, self._replicated())
        self._epoch = self._compile_epoch(donate=jax.default_backend() != "cpu")

    def _replicated(self) -> Any:
        if self.mesh is None:
            return None
        from jax.sharding import NamedSharding, PartitionSpec

        return NamedSharding(self.mesh, PartitionSpec())

    def _put(self, array: np.ndarray) -> Any:
        import jax

        return jax.device_put(array, self._replicated())

    def _advance(self, epoch: int, stop: int) -> int:
        k = self.epochs_per_call
        if k <= 1 or self.augmented or stop - epoch < k:
            return super()._advance(epoch, stop)
        if self._block is None:
            import jax

            self._block = self._compile_block(self._epoch_body, donate=jax.default_backend() != "cpu")
        idx = np.stack([self._epoch_inputs(e)[2] for e in range(epoch, epoch + k)])  # (k, steps, seeds, batch)
        self.state, self._pending_loss = self._block(self.state, self.x_dev, self.y_dev, idx)
        return k

    @staticmethod
    def _stack(g: lanes_mod.Group, per_lane: list[list[Any]]) -> list[Any]:
        if g.lanes == 1:
            return [np.asarray(v) for v in per_lane[0]]
        return [np.stack([np.asarray(lane[k]) for lane in per_lane]) for k in range(len(per_lane[0]))]

    # ------------------------------------------------------------ grouping

    def _plan_groups(self, pad: lanes_mod.PadPolicy) -> list[lanes_mod.Group]:
        import jax

        buckets: dict[tuple[Any, ...], list[list[int]]] = {}
        by_arch: dict[tuple[Any, ...], dict[int, int]] = {}
        for i, c in enumerate(self.cells):
            by_arch.setdefault(lanes_mod.arch_key(c), {}).setdefault(c.width, i)
        platform = jax.default_backend()
        for key, first in by_arch.items():
            if pad == "never" or len(first) == 1:
                buckets[key] = [[w] for w in sorted(first)]
                continue
            flops = {w: lanes_mod.step_flops(self.models[i], self.batch) for w, i in first.items()}
            buckets[key] = self._exact_buckets(lanes_mod.bucket_widths(flops, platform, pad), first)
        return lanes_mod.plan_groups(self.cells, buckets)

    def _exact_buckets(self, buckets: list[list[int]], first: dict[int, int]) -> list[list[int]]:
        """Keep a padded bucket only if every narrow width trains exactly inside the widest one."""
        xb = self.data.x_train[: self.batch]
        yb = self._y_host[: self.batch]
        loss = lambda y, logits, extra: cell_loss(self.training, y, logits, extra)  # noqa: E731
        out = []
        for bucket in buckets:
            wide = self.models[first[max(bucket)]]
            if len(bucket) > 1 and all(lanes_mod.padding_is_exact(self.models[first[w]], wide, xb, yb, loss)[0]
                                       for w in bucket if w != max(bucket)):
                out.append(bucket)
            else:
                out += [[w] for w in bucket]
        return out

    # ------------------------------------------------------------ the compiled epoch

    def _gather(self, g: lanes_mod.Group, x: Any, y: Any, idx_t: Any) -> tuple[Any, Any, bool]:
        """The batch of every lane of ``g`` at one step: ``(xb, yb, per_lane)``; lanes that share a seed
        share one batch (``per_lane`` False: broadcast by vmap, not copied)."""
        import jax.numpy as jnp

        rows = sorted({self.seed_row[i] for i in g.members})
        if len(rows) == 1:
            r = rows[0]
            if self.augmented:
                return jnp.take(x[r], idx_t[r], axis=0), jnp.take(y[r], idx_t[r], axis=0), False
            return jnp.take(x, idx_t[r], axis=0), jnp.take(y, idx_t[r], axis=0), False
        lane_rows = np.array([self.seed_row[i] for i in g.members], dtype=np.int32)
        sel = idx_t[lane_rows]  # (lanes, batch)
        if self.augmented:
            return x[lane_rows[:, None], sel], y[lane_rows[:, None], sel], True
        return jnp.take(x, sel, axis=0), jnp.take(y, sel, axis=0), True

    def _shard(self, xb: Any, per_lane: bool) -> Any:
        """Split the batch axis over the data-parallel devices (XLA then all-reduces the gradients)."""
        if self.mesh is None:
            return xb
        import jax
        from jax.sharding import NamedSharding, PartitionSpec

        from .distribute import BATCH_AXIS

        spec = PartitionSpec(None, BATCH_AXIS) if per_lane else PartitionSpec(BATCH_AXIS)
        return jax.lax.with_sharding_constraint(xb, NamedSharding(self.mesh, spec))

    def _compile_epoch(self, donate: bool) -> Callable[..., Any]:
        """``(state, x, y, idx) -> (state, mean summed loss)``: ``jax.jit`` of a ``lax.scan`` over the steps."""
        import jax
        import jax.numpy as jnp

        def lane_step(template: Any, optimizer: Any) -> Callable[..., Any]:
            def loss(tv: list[Any], ntv: list[Any], xb: Any, yb: Any) -> Any:
                logits, new_ntv, extra = template.stateless_call(tv, ntv, xb, training=True, return_losses=True)
                return cell_loss(self.training, yb, logits, list(extra)), new_ntv

            grad = jax.value_and_grad(loss, has_aux=True)

            def step(tv: list[Any], ntv: list[Any], ov: list[Any], xb: Any, yb: Any) -> Any:
                (value, ntv), grads = grad(tv, ntv, xb, yb)
                tv, ov = optimizer.stateless_apply(ov, grads, tv)
                return tv, ntv, ov, value

            return step

        steps = [lane_step(self.models[g.template], opt) for g, opt in zip(self.groups, self.optimizers)]

        def epoch(state: Any, x: Any, y: Any, idx: Any) -> Any:
            def one(carry: Any, idx_t: Any) -> Any:
                new, total = [], 0.0
                for g, step, (tv, ntv, ov) in zip(self.groups, steps, carry):
                    xb, yb, per_lane = self._gather(g, x, y, idx_t)
                    xb, yb = self._shard(xb, per_lane), self._shard(yb, per_lane)
                    if g.lanes == 1:
                        tv, ntv, ov, value = step(tv, ntv, ov, xb, yb)
                    else:
                        ax = 0 if per_lane else None
                        tv, ntv, ov, value = jax.vmap(step, in_axes=(0, 0, 0, ax, ax))(tv, ntv, ov, xb, yb)
                    new.append((tv, ntv, ov))
                    total = total + jnp.sum(value)
                return new, total

            state, losses = jax.lax.scan(one, state, idx)
            return state, jnp.mean(losses)

        self._epoch_body = epoch
        return jax.jit(epoch, donate_argnums=(0,) if donate else ())

    @staticmethod
    def _compile_block(epoch: Callable[..., Any], donate: bool) -> Callable[..., Any]:
        """``(state, x, y, idx[k]) -> (state, last epoch's loss)``: a ``lax.scan`` of ``k`` epochs."""
        import jax

        def block(state: Any, x: Any, y: Any, idx: Any) -> Any:
            state, losses = jax.lax.scan(lambda st, i: epoch(st, x, y, i), state, idx)
            return state, losses[-1]

        return jax.jit(block, donate_argnums=(0,) if donate else ())

    def layout(self) -> list[dict[str, float]]:
        """Per cell: the lanes of its vmapped group and the width it was padded to (recorded in timings)."""
        out: list[dict[str, float]] = [{} for _ in self.cells]
        for g in self.groups:
            for i in g.members:
                out[i] = {"lanes": g.lanes, "padded_to_width": self.cells[g.template].width,
                          "replicas": int(self.mesh.size) if self.mesh is not None else 1}
        return out

    # ------------------------------------------------------------ evaluation and write-back

    def _forward_fn(self, bs: int) -> Callable[..., Any]:
        if bs not in self._forward:
            import jax

            def forward(state: Any, x: Any, start: Any) -> list[Any]:
                xb = _chunk(x, start, bs)
                out: list[Any] = [None] * len(self.models)
                for g, (tv, ntv, _) in zip(self.groups, state):
                    template = self.models[g.template]

                    def call(tv: list[Any], ntv: list[Any], template: Any = template) -> Any:
                        return template.stateless_call(tv, ntv, xb, training=False)[0]

                    logits = call(tv, ntv) if g.lanes == 1 else jax.vmap(call)(tv, ntv)
                    for j, i in enumerate(g.members):
                        out[i] = logits if g.lanes == 1 else logits[j]
                return out

            self._forward[bs] = jax.jit(forward)
        return self._forward[bs]

    def write_back(self) -> None:
        for g, (tv, ntv, _) in zip(self.groups, self.state):
            leaves = [np.asarray(v) for v in list(tv) + list(ntv)]
            for j, i in enumerate(g.members):
                model = self.models[i]
                variables = model.trainable_variables + model.non_trainable_variables
                for v, leaf, shape in zip(variables, leaves, g.shapes[j]):
                    v.assign(lanes_mod.unembed(leaf if g.lanes == 1 else leaf[j], shape))


class _TfEngine(_EngineBase):
    """Every cell a chain of one XLA-compiled ``tf.while_loop``, state in the Keras variables."""

    def __init__(self, cells: list[Cell], models: list[Any], data: TrainData, training: TrainingSpec):
        super().__init__(cells, models, data, training)
        self.optimizer = make_optimizer(training.optimizer, training.schedule, self.steps, training.epochs)
        self.variables = [v for m in models for v in m.trainable_variables]
        self.optimizer.build(self.variables)
        self.state = None
        self._epoch = self._compile_epoch()

    def _put(self, array: np.ndarray) -> Any:
        import tensorflow as tf

        return tf.constant(array)

    def _compile_epoch(self) -> Callable[..., Any]:
        import tensorflow as tf

        rows = self.seed_row

        def batches(x: Any, y: Any, idx_i: Any) -> list[tuple[Any, Any]]:
            if self.augmented:
                return [(tf.gather(x[r], idx_i[r]), tf.gather(y[r], idx_i[r])) for r in range(len(self.seeds))]
            return [(tf.gather(x, idx_i[r]), tf.gather(y, idx_i[r])) for r in range(len(self.seeds))]

        @tf.function(jit_compile=True, reduce_retracing=True)
        def epoch(x: Any, y: Any, idx: Any) -> Any:
            steps = tf.shape(idx)[0]
            total = tf.constant(0.0)
            for i in tf.range(steps):  # autograph: a tf.while_loop inside the one compiled call
                per_seed = batches(x, y, idx[i])
                with tf.GradientTape() as tape:
                    loss = 0.0
                    for model, r in zip(self.models, rows):
                        xb, yb = per_seed[r]
                        loss += cell_loss(self.training, yb, model(xb, training=True), list(model.losses))
                grads = tape.gradient(loss, self.variables)
                self.optimizer.apply(grads, self.variables)
                total += tf.cast(loss, tf.float32)
            return total / tf.cast(steps, tf.float32)

        def run(state: Any, x: Any, y: Any, idx: Any) -> Any:
            return None, epoch(x, y, tf.constant(idx))

        return run

    def _forward_fn(self, bs: int) -> Callable[..., Any]:
        if bs not in self._forward:
            import tensorflow as tf

            def forward(state: Any, x: Any, start: Any) -> list[Any]:
                xb = _chunk(x, start, bs)
                return [m(xb, training=False) for m in self.models]

            self._forward[bs] = tf.function(forward, jit_compile=True)
        return self._forward[bs]


def make_engine(cells: list[Cell], models: list[Any], data: TrainData, training: TrainingSpec,
                pad: lanes_mod.PadPolicy = "auto", distribution: Any = None,
                epochs_per_call: int | None = None) -> _EngineBase:
    """The compiled engine of the active backend (``distribution``: a data-parallel
    :class:`~ddbench.train.distribute.Distribution`, JAX only)."""
    name = backend.name()
    if name == "jax":
        return _JaxEngine(cells, models, data, training, pad=pad, distribution=distribution,
                          epochs_per_call=epochs_per_call)
    if name == "tensorflow":
        return _TfEngine(cells, models, data, training)
    raise ValueError(f"no compiled epoch for backend {name!r}")


class StatelessTrainer(Trainer):
    """A bundle as one compiled program (stateless Keras API), a whole epoch per call, data on the device.

    ``pad``: whether narrow widths may be zero-padded into wider lanes (JAX; ``auto`` decides from
    step FLOPs and the platform, and only where padding is verified exact).
    """

    name = "stateless"
    #: with data_parallel (JAX) every batch is split over the devices inside the compiled epoch
    uses_distribution = True

    def __init__(self, pad: lanes_mod.PadPolicy = "auto", distribution: Any = None, epochs_per_call: int | None = None):
        self.pad, self.distribution, self.epochs_per_call = pad, distribution, epochs_per_call

    def train(self, bundle: Bundle, data: TrainData, training: TrainingSpec, events: TrainEvents) -> Iterator[CellOutcome]:
        if backend.name() not in COMPILED_BACKENDS:
            yield from PackedFitTrainer().train(bundle, data, training, events)
            return
        dist = self.distribution if self.distribution is not None and backend.name() == "jax" else None
        yield from train_jointly(
            bundle, data, training, events,
            lambda cells, models: make_engine(cells, models, data, training, pad=self.pad, distribution=dist,
                                              epochs_per_call=self.epochs_per_call),
            scope=dist.scope if dist is not None else None)
