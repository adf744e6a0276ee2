"""How much device memory a cell needs, so that bundles fit the device.

The estimate is deliberately simple and errs high: every parameter is held as
weights, gradients and optimizer slots (float32), and every layer's output is
kept for the backward pass, twice (activations and their gradients), for one
batch. Activation sizes come from the family's built (symbolic) Keras model, one
build per distinct architecture. The planner fills bundles up to
:data:`BUDGET_FRACTION` of the device; an out-of-memory error at run time splits
the bundle and retries (see :mod:`ddbench.execute`).
"""

from __future__ import annotations

import math
from typing import Any, Iterator

from . import backend, registry
from .families.base import FamilyPlugin
from .families.walk import walk_layers
from .plan import Bundle, Cell, make_bundles
from .spec.model import Spec, TrainingSpec

#: share of the device memory bundles may plan to use (XLA's workspace and fragmentation take the rest)
BUDGET_FRACTION = 0.6
#: optimizer slots per parameter (besides weights and gradients)
SLOTS = {"sgd": 1, "adam": 2, "adamw": 2, "rmsprop": 2}
FLOAT_BYTES = 4


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


class CellCost:
    """Estimated training bytes of a cell, cached per architecture."""

    def __init__(self, family: str, input_shape: tuple[int, ...], num_classes: int, training: TrainingSpec):
        self.family = registry.families.get(family)()
        self.input_shape, self.num_classes, self.training = tuple(input_shape), num_classes, training
        self._params: dict[tuple[Any, ...], int] = {}
        self._acts: dict[tuple[Any, ...], int] = {}

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

    def activations(self, cell: Cell) -> int:
        key = self.arch(cell)
        if key not in self._acts:
            import keras

            config = self.family.Config.model_validate(cell.family_config)
            # built in a stateless scope: its variables are never initialised (only the layers' output shapes
            # are read); initialising them compiled one program per weight shape on JAX (quickstart: 32 s)
            with keras.StatelessScope(initialize_variables=False):
                model = self.family.build(config, cell.width, self.input_shape, self.num_classes, name="estimate")
                self._acts[key] = activation_count(model)
            backend.clear_session(free_memory=False)  # forgets the uninitialised variables; nothing to collect
        return self._acts[key]

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


def plan_bundles(spec: Spec, todo: list[Cell], data: Any, ctx: Any = None) -> Iterator[Bundle]:
    """The pending cells as bundles that fit the device, stratum by stratum (lazily, so a local
    run loads each stratum's data once). ``data`` hands out a stratum's arrays (``execute.StratumData``);
    the device is this process's, or the one a remote executor names in ``ctx.device_memory`` (an
    ``execute.ExecContext``, read when the first bundle is drawn)."""
    strata: dict[tuple[float, int], list[Cell]] = {}
    for c in todo:
        strata.setdefault(c.data_key, []).append(c)
    cost: CellCost | None = None  # one per run: a cell's cost depends on its architecture only
    for key, cells in strata.items():
        budget = None
        try:
            d = data.get(key)
            budget = budget_bytes(d.x_train.nbytes + d.x_test.nbytes, ctx.device_memory if ctx else None)
            if budget is not None and cost is None:
                cost = CellCost(spec.model.family, d.input_shape, d.num_classes, spec.training)
        except Exception:
            budget = None  # the executor meets the data error again and records it on the cells
        yield from make_bundles(cells, budget_bytes=budget, cost=cost)
