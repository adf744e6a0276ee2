"""Lanes: the cells of a bundle that one vectorised (``vmap``) program trains side by side.

On JAX the fast engine (:mod:`ddbench.backend.jax.engine`) trains a bundle as a few *groups*; the cells of a group have
variables of identical shapes and are the *lanes* of one ``jax.vmap``-ed step:

* the seeds of one architecture always share a group (same shapes, different
  initial weights and batch orders): three seeds cost about one chain, not three;
* narrow widths of one family config may be *padded* into the group of a wider
  one: a width-``w`` model is embedded, zero-filled, in the variables of the
  group's widest model (``W``). For families whose extra units start at zero and
  stay there (no input from, and no output to, the real units; ReLU-like f(0)=0),
  the padded model computes exactly the narrow one and its padding receives zero
  gradients, so it trains identically. That is *checked*, not assumed: the
  backend's ``padding_is_exact`` (:mod:`ddbench.backend.jax.padding`) compares logits, gradients and state updates of the
  padded and the narrow model on a real batch before a family is padded, and any
  mismatch (dropout masks of another shape, a concatenation, LayerNorm, a
  non-zero f(0)...) keeps the widths apart.

Padding trades FLOPs for fewer, fatter kernels: worth it where a step is bound by
latency (small widths on a GPU), not where it is bound by arithmetic (a CPU).
:func:`bucket_widths` makes that choice from estimated step FLOPs: a bucket's padded
cost may exceed its members' own by at most :data:`PAD_SLACK`, except below a
per-platform floor (:data:`PAD_FLOOR_FLOPS`) under which a step costs its launch
latency whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ..families.walk import walk_layers
from ..plan import Cell

PadPolicy = Literal["auto", "never", "always"]
#: step FLOPs under which a lane's step is bound by kernel-launch latency, so padding below it is free.
#: A CPU step is bound by arithmetic at any size that matters (and a padding check costs a compile), so 0.
PAD_FLOOR_FLOPS = {"cpu": 0.0, "gpu": 2e9, "tpu": 2e9}
#: a bucket's padded FLOPs may exceed its members' own by this factor
PAD_SLACK = 1.25


@dataclass
class Group:
    """Cells trained as lanes of one vmapped program around one template model."""

    members: list[int]  # indices into the engine's cells/models
    template: int  # index of the model whose architecture (widest) every lane takes
    shapes: list[list[tuple[int, ...]]] = field(default_factory=list)  # per member: its own variable shapes

    @property
    def lanes(self) -> int:
        return len(self.members)


def arch_key(cell: Cell) -> tuple[Any, ...]:
    """Cells with equal keys build models with identical variable shapes."""
    return (cell.family, repr(sorted(cell.family_config.items())))


def step_flops(model: Any, batch: int) -> float:
    """Training FLOPs of one step (forward + backward ~ 3x forward) from the model's kernels and output
    shapes: a Dense kernel costs 2*size per example, a convolution kernel 2*size per output position."""
    total = 0.0
    for layer in walk_layers(model):
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        positions = 1
        try:
            shape = layer.output.shape
            positions = int(np.prod([d for d in shape[1:-1] if d is not None])) if len(shape) > 2 else 1
        except (AttributeError, ValueError):
            pass
        total += 2.0 * int(np.prod(kernel.shape)) * positions
    if total == 0.0:  # no kernels found: parameters are a fair proxy
        total = 2.0 * model.count_params()
    return 3.0 * batch * total


def bucket_widths(flops: dict[int, float], platform: str, policy: PadPolicy) -> list[list[int]]:
    """Split the sorted widths of one architecture into buckets to pad together.

    ``flops[w]`` is one lane's step cost at width ``w``. A bucket grows (by increasing width)
    while ``lanes * flops[widest] <= max(floor, PAD_SLACK * sum of its members' flops)``.
    """
    widths = sorted(flops)
    if policy == "never":
        return [[w] for w in widths]
    if policy == "always":
        return [widths]
    floor = PAD_FLOOR_FLOPS.get(platform, PAD_FLOOR_FLOPS["gpu"])
    buckets: list[list[int]] = []
    for w in widths:
        if buckets:
            trial = buckets[-1] + [w]
            padded = len(trial) * flops[w]
            if padded <= max(floor, PAD_SLACK * sum(flops[v] for v in trial)):
                buckets[-1] = trial
                continue
        buckets.append([w])
    return buckets


def plan_groups(cells: list[Cell], width_buckets: dict[tuple[Any, ...], list[list[int]]]) -> list[Group]:
    """Groups from ``width_buckets`` (architecture key -> buckets of widths); every seed of a
    bucket's widths joins it. The template is the first cell of the widest width."""
    groups = []
    for key, buckets in width_buckets.items():
        for bucket in buckets:
            members = [i for i, c in enumerate(cells) if arch_key(c) == key and c.width in bucket]
            if not members:
                continue
            widest = max(cells[i].width for i in members)
            template = next(i for i in members if cells[i].width == widest)
            members.sort(key=lambda i: (cells[i].width, cells[i].seed))
            groups.append(Group(members, template))
    return groups


def embed(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` in the leading corner of a zero array of ``shape`` (every axis at least as long)."""
    value = np.asarray(value)
    if value.shape == tuple(shape):
        return value
    out = np.zeros(shape, dtype=value.dtype)
    out[tuple(slice(0, n) for n in value.shape)] = value
    return out


def unembed(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The leading corner of ``value`` with the narrow model's ``shape``."""
    value = np.asarray(value)
    return value[tuple(slice(0, n) for n in shape)]


def shapes_nest(narrow: list[tuple[int, ...]], wide: list[tuple[int, ...]]) -> bool:
    """Same number of variables, same ranks, every axis of the narrow one no longer than the wide one's."""
    return len(narrow) == len(wide) and all(
        len(a) == len(b) and all(x <= y for x, y in zip(a, b)) for a, b in zip(narrow, wide))
