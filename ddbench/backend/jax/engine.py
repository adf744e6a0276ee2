"""JAX: a bundle as one compiled program, ``jax.jit`` of a ``lax.scan`` over the epoch.

The cells are trained as a few *groups* (:mod:`ddbench.engine.lanes`): the seeds of one
architecture, and on accelerators narrow widths zero-padded into a wider one (only where
:func:`ddbench.backend.jax.padding.padding_is_exact` confirms it trains identically), are the
lanes of one ``jax.vmap``-ed step.

The state is a named pytree in the style of flax's ``TrainState``: a :class:`BundleState`
holds one :class:`LaneState` (parameters, non-trainable variables, optimizer slots, each
stacked over the group's lanes) per group, and the number of epochs trained (the position in
every seed's sequence of batch orders). :func:`make_train_step` returns the step as a pure
function ``(state, batch) -> (state, loss)``; an epoch is a ``lax.scan`` of it.

**Exactness.** XLA may compile the same step differently inside a ``lax.scan`` (a while loop) or
under ``vmap`` (lanes become grouped convolutions, batched matrix products) than as a program of its
own, which is what the reference ``fit`` runs per batch: on XLA:CPU a convolution's kernel gradient
is summed in another order in both (``tests/test_exact_path.py`` keeps the reproduction). Such a
round-off difference (1e-7) would be harmless if the loss were smooth, but max pooling and ReLU make
its gradient jump where two inputs nearly tie, and one flipped tie separates the trajectories for
good. So the first call of each vmapped function is checked against the same epochs run
*stepwise* (every lane on its own, one compiled step per batch: one cell's step, no ``vmap``, no
``scan``, bit for bit what ``fit`` runs; lanes unrolled into one program are not enough, XLA may fuse
their updates differently). Unless the states are bitwise identical, the bundle goes on with one
compiled epoch per lane (exact for MLPs, one call per lane and epoch) if that is identical, else
stepwise (conv nets on XLA:CPU, where it is also faster than the vmapped epoch). The path is
recorded in every cell's timings (``vmapped``, ``stepwise``). Holding the states during the check
costs two extra copies of the state, once.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, NamedTuple

import numpy as np

from ...data import TrainData, augment
from ...engine import lanes as lanes_mod
from ...engine.bundle_engine import BundleEngine, chunk
from ...engine.optimizer import make_optimizer
from ...plan import Cell
from ...spec.model import TrainingSpec
from . import device
from .padding import padding_is_exact

#: epochs per compiled call on accelerators; 1 on a CPU, where dispatch never shows
EPOCHS_PER_CALL = 8
#: how the lanes train (the module's docstring): one vmapped program, one compiled epoch per lane, or one
#: compiled step per lane and batch
Path = Literal["vmapped", "lanes", "stepwise"]


class LaneState(NamedTuple):
    """One group's state; every leaf has a leading lane axis when the group has several lanes."""

    params: list[Any]  # trainable variables
    non_trainable: list[Any]  # e.g. BatchNorm moving statistics, seed generator state
    opt_slots: list[Any]  # the optimizer's variables (iteration count, momenta)


class BundleState(NamedTuple):
    """The whole bundle's training state."""

    groups: tuple[LaneState, ...]
    epoch: Any  # int32 scalar: epochs trained = the position in every seed's batch-order sequence


class Batch(NamedTuple):
    """One step's inputs: the resident data, the step's indices ``(seeds, batch)`` and, when augmenting,
    each sample's random choices ``(seeds, batch, 3)`` (``None`` otherwise)."""

    x: Any  # the engine's ``x_src``: the training set, zero-padded images when augmenting
    y: Any
    idx: Any
    aug: Any = None


def make_train_step(groups: list[lanes_mod.Group], templates: list[Any], optimizers: list[Any],
                    loss_fn: Callable[..., Any], seed_row: list[int], augmented: bool,
                    batch_sharding: Any = None) -> Callable[[BundleState, Batch], tuple[BundleState, Any]]:
    """The pure training step ``(state, batch) -> (state, summed loss of every lane)``.

    ``templates[g]`` / ``optimizers[g]`` are group ``g``'s model (its architecture, called
    statelessly) and optimizer (its ``stateless_apply``); ``batch_sharding`` (a data-parallel
    mesh's) splits every gathered batch over the devices.
    """
    import jax
    import jax.numpy as jnp

    def lane_step(template: Any, optimizer: Any) -> Callable[..., Any]:
        def loss(tv: list[Any], ntv: list[Any], xb: Any, yb: Any) -> Any:
            logits, new_ntv, extra = template.stateless_call(tv, ntv, xb, training=True, return_losses=True)
            return loss_fn(yb, logits, list(extra)), new_ntv

        grad = jax.value_and_grad(loss, has_aux=True)

        def step(tv: list[Any], ntv: list[Any], ov: list[Any], xb: Any, yb: Any) -> Any:
            (value, ntv), grads = grad(tv, ntv, xb, yb)
            tv, ov = optimizer.stateless_apply(ov, grads, tv)
            return tv, ntv, ov, value

        return step

    steps = [lane_step(t, o) for t, o in zip(templates, optimizers)]

    def gather(g: lanes_mod.Group, batch: Batch) -> tuple[Any, Any, bool]:
        """The batch of every lane of ``g``; lanes that share a seed share one batch
        (``per_lane`` False: broadcast by vmap, not copied)."""
        x, y, idx_t, aug_t = batch
        rows = sorted({seed_row[i] for i in g.members})
        per_lane = len(rows) > 1
        lane_rows = np.array([seed_row[i] for i in g.members] if per_lane else rows, dtype=np.int32)
        sel = idx_t[lane_rows] if per_lane else idx_t[rows[0]]  # (lanes, batch) or (batch,)
        yb = jnp.take(y, sel, axis=0)
        if augmented:  # the crops and flips, gathered here from the resident padded images
            return augment.gather(x, sel, aug_t[lane_rows] if per_lane else aug_t[rows[0]]), yb, per_lane
        return jnp.take(x, sel, axis=0), yb, per_lane

    def shard(a: Any, per_lane: bool) -> Any:
        if batch_sharding is None:
            return a
        from jax.sharding import NamedSharding, PartitionSpec

        if per_lane:  # the batch is axis 1 behind the lane axis
            spec = PartitionSpec(None, *batch_sharding.spec)
            return jax.lax.with_sharding_constraint(a, NamedSharding(batch_sharding.mesh, spec))
        return jax.lax.with_sharding_constraint(a, batch_sharding)

    def train_step(state: BundleState, batch: Batch) -> tuple[BundleState, Any]:
        new, total = [], 0.0
        for g, step, lane in zip(groups, steps, state.groups):
            xb, yb, per_lane = gather(g, batch)
            xb, yb = shard(xb, per_lane), shard(yb, per_lane)
            if g.lanes == 1:
                tv, ntv, ov, value = step(*lane, xb, yb)
            else:
                ax = 0 if per_lane else None
                tv, ntv, ov, value = jax.vmap(step, in_axes=(0, 0, 0, ax, ax))(*lane, xb, yb)
            new.append(LaneState(tv, ntv, ov))
            total = total + jnp.sum(value)
        return BundleState(tuple(new), state.epoch), total

    return train_step


def states_identical(a: Any, b: Any) -> bool:
    """Whether two states (pytrees of the same structure) are bitwise equal, leaf by leaf."""
    import jax

    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    pairs = [(np.asarray(x), np.asarray(y)) for x, y in zip(la, lb)]
    return len(la) == len(lb) and all(x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
                                      for x, y in pairs)


def make_epoch(train_step: Callable[[BundleState, Batch], tuple[BundleState, Any]]) -> Callable[..., Any]:
    """``(state, x, y, idx, aug) -> (state, mean summed loss)``: a ``lax.scan`` of the step over ``idx``
    (``(steps, seeds, batch)``) and ``aug`` (``(steps, seeds, batch, 3)`` or ``None``), the epoch counter
    advanced by one."""
    import jax
    import jax.numpy as jnp

    def epoch(state: BundleState, x: Any, y: Any, idx: Any, aug: Any) -> tuple[BundleState, Any]:
        state, losses = jax.lax.scan(lambda st, o: train_step(st, Batch(x, y, *o)), state, (idx, aug))
        return state._replace(epoch=state.epoch + 1), jnp.mean(losses)

    return epoch


def make_block(epoch: Callable[..., Any]) -> Callable[..., Any]:
    """``(state, x, y, idx[k], aug[k]) -> (state, last epoch's loss)``: a ``lax.scan`` of ``k`` epochs."""
    import jax

    def block(state: BundleState, x: Any, y: Any, idx: Any, aug: Any) -> tuple[BundleState, Any]:
        state, losses = jax.lax.scan(lambda st, o: epoch(st, x, y, *o), state, (idx, aug))
        return state, losses[-1]

    return block


class Engine(BundleEngine):
    """Groups of lanes, one ``vmap`` each, all in one ``lax.scan`` over the epoch."""

    def __init__(self, cells: list[Cell], models: list[Any], data: TrainData, training: TrainingSpec,
                 pad: lanes_mod.PadPolicy = "auto", distribution: Any = None, epochs_per_call: int | None = None):
        import jax

        # data parallel (keras.distribution.DataParallel's mesh): data and state replicated, every batch split
        self.distribution = distribution
        replicated = distribution.replicated() if distribution is not None else None
        super().__init__(cells, models, data, training, put=lambda a: jax.device_put(a, replicated))
        self.platform = device.platform()
        # on an accelerator an MNIST-scale epoch takes well under a millisecond, so the per-call dispatch
        # shows: blocks of epochs go in one call (a second compiled variant); on a CPU it never shows
        self.epochs_per_call = epochs_per_call or (1 if self.platform == "cpu" else EPOCHS_PER_CALL)
        self.groups = self._plan_groups(pad)
        self.optimizers = [make_optimizer(training.optimizer, training.schedule, self.steps, training.epochs)
                           for _ in self.groups]
        lanes = []
        for g, opt in zip(self.groups, self.optimizers):
            template = models[g.template]
            opt.build(template.trainable_variables)
            t_shapes = [tuple(v.shape) for v in template.trainable_variables]
            n_shapes = [tuple(v.shape) for v in template.non_trainable_variables]
            g.shapes = [[tuple(v.shape) for v in models[i].trainable_variables + models[i].non_trainable_variables]
                        for i in g.members]
            tv = [[lanes_mod.embed(v.value, s) for v, s in zip(models[i].trainable_variables, t_shapes)] for i in g.members]
            ntv = [[lanes_mod.embed(v.value, s) for v, s in zip(models[i].non_trainable_variables, n_shapes)]
                   for i in g.members]
            ov = [[np.asarray(v.value) for v in opt.variables] for _ in g.members]
            lanes.append(LaneState(*(self._stack(g, leaves) for leaves in (tv, ntv, ov))))
        self._replicated = replicated
        self.state: BundleState = jax.device_put(BundleState(tuple(lanes), np.int32(0)), replicated)
        self.train_step = make_train_step(
            self.groups, [models[g.template] for g in self.groups], self.optimizers, self.loss, self.seed_row,
            self.augmented, distribution.batch_sharding() if distribution is not None else None)
        self.epoch_fn = make_epoch(self.train_step)
        donate = (0,) if self.platform != "cpu" else ()
        self._epoch_fn = jax.jit(self.epoch_fn, donate_argnums=donate)
        self._block = jax.jit(make_block(self.epoch_fn), donate_argnums=donate)  # traced on first use only
        # the fallbacks (see the module's docstring): per group, one lane's step compiled on its own, and one
        # lane's epoch (a scan of that step); both are called per lane, on slices of the state
        sharding = distribution.batch_sharding() if distribution is not None else None
        lane_fns = [make_train_step([lanes_mod.Group([0], 0)], [models[g.template]], [opt], self.loss, [0], self.augmented,
                                    sharding) for g, opt in zip(self.groups, self.optimizers)]
        self._lane_steps = [jax.jit(f) for f in lane_fns]
        self._lane_epochs = [jax.jit(make_epoch(f)) for f in lane_fns]
        self.path: Path = "vmapped"
        self._verified: set[str] = set()  # the vmapped functions ("epoch", "block") shown bitwise exact

    def _advance(self, epoch: int, stop: int) -> int:
        if self.path != "vmapped":
            run = self._run_stepwise if self.path == "stepwise" else self._run_lanes
            self.state, self._pending_loss = run(self.state, epoch, 1)
            return 1
        k = self.epochs_per_call
        kind, n = ("block", k) if k > 1 and stop - epoch >= k else ("epoch", 1)
        if kind in self._verified:
            self._run_vmapped(kind, epoch, n)
            return n
        import jax
        import jax.numpy as jnp

        start = self.state
        exact, exact_loss = self._run_stepwise(start, epoch, n)
        if self.platform != "cpu":  # the vmapped call donates its input
            start = jax.tree_util.tree_map(jnp.copy, start)
        self._run_vmapped(kind, epoch, n)
        if states_identical(self.state, exact):
            self._verified.add(kind)
            return n
        # the vmapped call rounds differently: each lane's own compiled epochs, if they are exact, else stepwise
        lanes, lanes_loss = self._run_lanes(start, epoch, n)
        if states_identical(lanes, exact):
            self.path, self.state, self._pending_loss = "lanes", lanes, lanes_loss
        else:
            self.path, self.state, self._pending_loss = "stepwise", exact, exact_loss
        return n

    def _run_vmapped(self, kind: str, epoch: int, n: int) -> None:
        if kind == "epoch":
            self.state, self._pending_loss = self._epoch(self.state, *self.epoch_inputs(epoch))
            return
        orders = [self.epoch_inputs(e) for e in range(epoch, epoch + n)]
        idx = np.stack([o[0] for o in orders])  # (k, steps, seeds, batch)
        aug = np.stack([o[1] for o in orders]) if self.augmented else None
        self.state, self._pending_loss = self._block(self.state, self.x_src, self.y_dev, idx, aug)

    def _run_lanes(self, state: BundleState, epoch: int, n: int) -> tuple[BundleState, Any]:
        """Epochs ``epoch .. epoch + n - 1`` from ``state``, one compiled epoch per lane (one cell's epoch)."""
        return self._per_lane(state, epoch, n, stepwise=False)

    def _run_stepwise(self, state: BundleState, epoch: int, n: int) -> tuple[BundleState, Any]:
        """Epochs ``epoch .. epoch + n - 1`` from ``state``, one compiled step per lane and batch (one cell's
        step: exactly what ``fit`` runs)."""
        return self._per_lane(state, epoch, n, stepwise=True)

    def _per_lane(self, state: BundleState, epoch: int, n: int, stepwise: bool) -> tuple[BundleState, Any]:
        """Every lane of every group on its own (sliced from the stacked state, stacked again); returns the
        last epoch's mean summed loss."""
        import jax
        import jax.numpy as jnp

        for e in range(epoch, epoch + n):
            idx, aug = self.epoch_inputs(e)
            losses: list[Any] = []
            groups = []
            for gi, (g, lane) in enumerate(zip(self.groups, state.groups)):
                lanes = []
                for j, i in enumerate(g.members):
                    one = lane if g.lanes == 1 else jax.tree_util.tree_map(lambda a, j=j: a[j], lane)
                    sub, r = BundleState((one,), state.epoch), self.seed_row[i]
                    if stepwise:
                        for t in range(self.steps):
                            batch = Batch(self.x_src, self.y_dev, idx[t, r:r + 1], None if aug is None else aug[t, r:r + 1])
                            sub, loss = self._lane_steps[gi](sub, batch)
                            losses.append(loss / self.steps)
                    else:
                        sub, loss = self._lane_epochs[gi](sub, self.x_src, self.y_dev, idx[:, r:r + 1],
                                                          None if aug is None else aug[:, r:r + 1])
                        losses.append(loss)
                    lanes.append(sub.groups[0])
                groups.append(lanes[0] if g.lanes == 1 else jax.tree_util.tree_map(lambda *a: jnp.stack(a), *lanes))
            state = BundleState(tuple(groups), state.epoch + 1)
        return state, jnp.sum(jnp.stack(losses))

    def _epoch(self, state: BundleState, idx: np.ndarray, aug: np.ndarray | None) -> tuple[BundleState, Any]:
        return self._epoch_fn(state, self.x_src, self.y_dev, idx, aug)

    def export_state(self) -> list[np.ndarray]:
        import jax

        return [np.asarray(a) for a in jax.tree_util.tree_leaves(self.state)]

    def import_state(self, arrays: list[np.ndarray], epoch: int) -> None:
        import jax

        tree = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(self.state), [np.asarray(a) for a in arrays])
        if int(tree.epoch) != epoch:
            raise ValueError(f"the saved state has trained {int(tree.epoch)} epochs, not {epoch}")
        self.state = jax.device_put(tree, self._replicated)
        self.epoch = epoch

    @staticmethod
    def _stack(g: lanes_mod.Group, per_lane: list[list[Any]]) -> list[Any]:
        if g.lanes == 1:
            return [np.asarray(v) for v in per_lane[0]]
        return [np.stack([np.asarray(lane[k]) for lane in per_lane]) for k in range(len(per_lane[0]))]

    # ------------------------------------------------------------ grouping

    def _plan_groups(self, pad: lanes_mod.PadPolicy) -> list[lanes_mod.Group]:
        buckets: dict[tuple[Any, ...], list[list[int]]] = {}
        by_arch: dict[tuple[Any, ...], dict[int, int]] = {}
        for i, c in enumerate(self.cells):
            by_arch.setdefault(lanes_mod.arch_key(c), {}).setdefault(c.width, i)
        for key, first in by_arch.items():
            if pad == "never" or len(first) == 1:
                buckets[key] = [[w] for w in sorted(first)]
                continue
            flops = {w: lanes_mod.step_flops(self.models[i], self.batch) for w, i in first.items()}
            buckets[key] = self._exact_buckets(lanes_mod.bucket_widths(flops, self.platform, pad), first)
        return lanes_mod.plan_groups(self.cells, buckets)

    def _exact_buckets(self, buckets: list[list[int]], first: dict[int, int]) -> list[list[int]]:
        """Keep a padded bucket only if every narrow width trains exactly inside the widest one."""
        xb = self.data.x_train[: self.batch]
        yb = self._y_host[: self.batch]
        out = []
        for bucket in buckets:
            wide = self.models[first[max(bucket)]]
            if len(bucket) > 1 and all(padding_is_exact(self.models[first[w]], wide, xb, yb, self.loss)[0]
                                       for w in bucket if w != max(bucket)):
                out.append(bucket)
            else:
                out += [[w] for w in bucket]
        return out

    def layout(self) -> list[dict[str, float]]:
        """Per cell: the lanes of its group, the width it was padded to, and the path it trained on: the lanes as
        one vmapped program (``vmapped``), one compiled step per lane and batch (``stepwise``), or neither (one
        compiled epoch per lane); recorded in timings."""
        out: list[dict[str, float]] = [{} for _ in self.cells]
        replicas = self.distribution.replicas if self.distribution is not None else 1
        for g in self.groups:
            for i in g.members:
                out[i] = {"lanes": g.lanes, "padded_to_width": self.cells[g.template].width, "replicas": replicas,
                          "vmapped": float(self.path == "vmapped"), "stepwise": float(self.path == "stepwise")}
        return out

    # ------------------------------------------------------------ evaluation and write-back

    def _forward_fn(self, bs: int) -> Callable[..., Any]:
        import jax

        templates = [self.models[g.template] for g in self.groups]
        groups, n_models = self.groups, len(self.models)

        def forward(state: BundleState, x: Any, start: Any) -> list[Any]:
            xb = chunk(x, start, bs)
            out: list[Any] = [None] * n_models
            for g, template, lane in zip(groups, templates, state.groups):
                def call(tv: list[Any], ntv: list[Any], template: Any = template) -> Any:
                    return template.stateless_call(tv, ntv, xb, training=False)[0]

                logits = call(lane.params, lane.non_trainable) if g.lanes == 1 else jax.vmap(call)(
                    lane.params, lane.non_trainable)
                for j, i in enumerate(g.members):
                    out[i] = logits if g.lanes == 1 else logits[j]
            return out

        return jax.jit(forward)

    def write_back(self) -> None:
        for g, lane in zip(self.groups, self.state.groups):
            leaves = [np.asarray(v) for v in list(lane.params) + list(lane.non_trainable)]
            for j, i in enumerate(g.members):
                model = self.models[i]
                variables = model.trainable_variables + model.non_trainable_variables
                for v, leaf, shape in zip(variables, leaves, g.shapes[j]):
                    v.assign(lanes_mod.unembed(leaf if g.lanes == 1 else leaf[j], shape))
