"""How much device memory a cell needs, so that bundles fit the device.

The estimate is deliberately simple and errs high: every parameter is held as
weights, gradients and optimizer slots (float32), and every layer's output is
kept for the backward pass, twice (activations and their gradients), for one
batch. Activation sizes come from the family's built (symbolic) Keras model, one
build per distinct architecture. The planner fills bundles up to
:data:`BUDGET_FRACTION` of the device; an out-of-memory error at run time splits
the bundle and retries (see :mod:`ddbench.execute`).

The same build also counts the model's forward FLOPs (:mod:`ddbench.families.flops`), which the
planner's throughput model (:mod:`ddbench.engine.throughput`) turns into hours. A grid of many
widths of one architecture is not built width by width: in the families ddbench ships, each
layer's channels are affine in the width, so activations and FLOPs are polynomials of degree at
most 2 in it. :meth:`CellCost.prepare` builds 3 widths of such a group (smallest, middle,
largest), interpolates, and accepts the polynomial only where it gives exactly the built counts
at 2 further widths; otherwise every width is built when it is asked for.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Iterator

from . import backend, registry
from .families.base import FamilyPlugin
from .families.flops import Flops, forward_flops
from .families.walk import walk_layers
from .plan import Bundle, Cell, make_bundles
from .spec.model import Spec, TrainingSpec

#: share of the device memory bundles may plan to use (XLA's workspace and fragmentation take the rest)
BUDGET_FRACTION = 0.6
#: optimizer slots per parameter (besides weights and gradients)
SLOTS = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 2}
FLOAT_BYTES = 4
#: a group of more widths of one architecture than this is interpolated (3 builds, 2 checks)
INTERPOLATE_ABOVE = 5


def budget_bytes(data_bytes: int, device_bytes: int | None = None) -> float | None:
    """Bytes bundles may use once the resident data is in; None when the device's memory is unknown.

    ``device_bytes``: the memory of the device bundles train on, when it is not this process's
    (a remote executor's GPUs); by default this process's device.
    """
    total = device_bytes if device_bytes is not None else backend.device_memory_bytes()
    if total is None:
        return None
    return max(total * BUDGET_FRACTION - data_bytes, 0.0)


def activation_count(model: Any) -> int:
    """Floats in the outputs of every layer of a built functional model, per example."""
    total = 0
    for layer in walk_layers(model):
        try:
            outputs = layer.output
        except (AttributeError, ValueError):
            continue  # a layer without a single symbolic output (e.g. a nested model's input layer)
        for out in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
            shape = getattr(out, "shape", None)
            if shape is not None and all(d is not None for d in shape[1:]):
                total += int(math.prod(shape[1:]))
    return total


def _interpolate(points: dict[int, int], width: int) -> Fraction:
    """The polynomial through ``points`` (width -> count) at ``width``, exactly (Lagrange, rational)."""
    total = Fraction(0)
    for wi, yi in points.items():
        term = Fraction(yi)
        for wj in points:
            if wj != wi:
                term *= Fraction(width - wj, wi - wj)
        total += term
    return total


class CellCost:
    """Estimated training bytes and forward FLOPs of a cell, cached per architecture."""

    def __init__(self, family: str, input_shape: tuple[int, ...], num_classes: int, training: TrainingSpec):
        self.family = registry.families.get(family)()
        self.input_shape, self.num_classes, self.training = tuple(input_shape), num_classes, training
        self._params: dict[tuple[Any, ...], int] = {}
        self._sizes: dict[tuple[Any, ...], tuple[int, Flops]] = {}

    def arch(self, cell: Cell) -> tuple[Any, ...]:
        """What a cell's cost depends on: its width and family options."""
        return (cell.width, tuple(sorted((k, repr(v)) for k, v in cell.family_config.items())))

    def counts_without_building(self) -> bool:
        """Whether the family counts its parameters by a formula (else :meth:`params` builds a model)."""
        return type(self.family).param_count is not FamilyPlugin.param_count

    def params(self, cell: Cell) -> int:
        key = self.arch(cell)
        if key not in self._params:
            config = self.family.Config.model_validate(cell.family_config)
            self._params[key] = int(self.family.param_count(config, cell.width, self.input_shape, self.num_classes))
        return self._params[key]

    def sizes(self, cell: Cell) -> tuple[int, Flops]:
        """Floats in every layer's output and the forward FLOPs, per example (one symbolic build, cached)."""
        key = self.arch(cell)
        if key not in self._sizes:
            import keras

            config = self.family.Config.model_validate(cell.family_config)
            # built in a stateless scope: its variables are never initialised (only the layers' shapes are
            # read); initialising them compiled one program per weight shape on JAX (quickstart: 32 s)
            with keras.StatelessScope(initialize_variables=False):
                model = self.family.build(config, cell.width, self.input_shape, self.num_classes, name="estimate")
                self._sizes[key] = (activation_count(model), forward_flops(model))
            backend.clear_session(free_memory=False)  # forgets the uninitialised variables; nothing to collect
        return self._sizes[key]

    def activations(self, cell: Cell) -> int:
        return self.sizes(cell)[0]

    def flops(self, cell: Cell) -> Flops:
        """Forward FLOPs per example (:mod:`ddbench.families.flops`)."""
        return self.sizes(cell)[1]

    def prepare(self, cells: list[Cell]) -> None:
        """Size each group of more than :data:`INTERPOLATE_ABOVE` widths of one architecture from 5 builds,
        where its counts are exactly a polynomial of degree 2 in the width (the module's docstring)."""
        groups: dict[tuple[Any, ...], dict[int, Cell]] = {}
        for c in cells:
            groups.setdefault(self.arch(c)[1], {}).setdefault(c.width, c)
        for by_width in groups.values():
            ws = sorted(by_width)
            if len(ws) <= INTERPOLATE_ABOVE or all(self.arch(by_width[w]) in self._sizes for w in ws):
                continue
            fit = [ws[0], ws[len(ws) // 2], ws[-1]]
            checks = sorted({ws[len(ws) // 4], ws[(3 * len(ws)) // 4]} - set(fit))
            built = {w: self.sizes(by_width[w]) for w in fit + checks}
            series = [{w: built[w][0] for w in fit}, {w: built[w][1].dense for w in fit},
                      {w: built[w][1].conv for w in fit}]

            def at(w: int) -> list[Fraction]:
                return [_interpolate(points, w) for points in series]

            if not checks or any(at(w) != [built[w][0], built[w][1].dense, built[w][1].conv] for w in checks):
                continue  # not a polynomial of degree 2 in the width: each width is built when asked
            for w in ws:
                values = at(w)
                if all(v.denominator == 1 and v >= 0 for v in values):
                    self._sizes.setdefault(self.arch(by_width[w]),
                                           (int(values[0]), Flops(int(values[1]), int(values[2]))))

    def param_bytes(self, cell: Cell) -> float:
        copies = 2 + SLOTS.get(self.training.optimizer.name, 2)
        return float(self.params(cell) * copies * FLOAT_BYTES)

    def __call__(self, cell: Cell) -> float:
        """Estimated bytes; 0 when the family cannot be estimated (the cell then never forces a cut)."""
        try:
            acts = self.activations(cell) * self.training.batch_size * 2 * FLOAT_BYTES
            return self.param_bytes(cell) + acts
        except Exception:
            return 0.0


def plan_bundles(spec: Spec, todo: list[Cell], data: Any, ctx: Any = None, declared: Any = None,
                 device_bytes: int | None = None, cost: CellCost | None = None) -> Iterator[Bundle]:
    """The pending cells as bundles that fit the device, stratum by stratum (lazily, so a local
    run loads each stratum's data once). ``data`` hands out a stratum's arrays (``execute.StratumData``);
    the device is this process's, or the one a remote executor names in ``ctx.device_memory`` (an
    ``execute.ExecContext``, read when the first bundle is drawn), or ``device_bytes`` (the planner's).
    ``declared`` (a ``data.DataShape``, the planner's): the sizes the dataset declares, so that no
    stratum is loaded; ``cost``: a :class:`CellCost` to share (its builds are cached)."""
    strata: dict[tuple[float, int], list[Cell]] = {}
    for c in todo:
        strata.setdefault(c.data_key, []).append(c)
    for key, cells in strata.items():
        budget = None
        try:
            if declared is not None:
                nbytes, shape, classes = declared.nbytes, declared.input_shape, declared.num_classes
            else:
                d = data.get(key)
                nbytes, shape, classes = d.x_train.nbytes + d.x_test.nbytes, d.input_shape, d.num_classes
            device = device_bytes if device_bytes is not None else (ctx.device_memory if ctx else None)
            budget = budget_bytes(nbytes, device)
            if budget is not None and cost is None:  # one per run: a cell's cost depends on its architecture only
                cost = CellCost(spec.model.family, shape, classes, spec.training)
        except Exception:
            budget = None  # the executor meets the data error again and records it on the cells
        if budget is not None and cost is not None:
            try:
                cost.prepare(cells)
            except Exception:
                pass  # a family that cannot be built: its cells cost 0 below and never force a cut
        yield from make_bundles(cells, budget_bytes=budget, cost=cost)
