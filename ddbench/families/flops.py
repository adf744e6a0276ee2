"""Floating-point operations of a built model's forward pass, per example, from its layer shapes.

Counted: the layers that carry a kernel (``Dense``, ``Conv1D/2D/3D``, ddbench's linear
over-parameterised ``OverparamDense`` / ``OverparamConv``, or any other layer with a ``kernel``).
Each weight costs 2 FLOPs (a multiply and an add) at every position the kernel is applied to;
the bias is counted as a weight. So a ``Dense(d_in -> u)`` layer costs ``2 (d_in u + u)`` and a
``Conv2D`` with a ``kh x kw x c_in x c_out`` kernel and an ``H x W`` output costs
``2 (kh kw c_in c_out + c_out) H W``; for a network of Dense layers the total is exactly
``2 x params``, the usual rule of thumb. Positions are the output's elements divided by its
channels (the kernel's last axis), so ``channels_first`` counts the same.

Not counted: element-wise and pooling layers (activations, BatchNorm, max pooling, additions),
a small share of a network whose kernels dominate, and the once-per-step product of an
``OverparamConv``'s factors (independent of the batch).

``OverparamDense`` multiplies the input by its factors one after another, so each factor costs
its weights at every position; ``OverparamConv`` contracts its factors into one kernel first and
convolves once, so it costs what its collapsed kernel (the first factor's shape) costs.

Training one example costs about three forward passes (the backward pass computes the gradient
with respect to both the inputs and the weights of each layer, about twice the forward work); the
throughput model (:mod:`ddbench.engine.throughput`) applies that factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .walk import walk_layers


@dataclass(frozen=True)
class Flops:
    """Forward FLOPs per example, split by the kind of layer (devices sustain different rates)."""

    dense: int = 0
    conv: int = 0

    @property
    def total(self) -> int:
        return self.dense + self.conv

    def __add__(self, other: "Flops") -> "Flops":
        return Flops(self.dense + other.dense, self.conv + other.conv)


def _size(shape: Any) -> int:
    return int(math.prod(int(d) for d in shape))


def _is_conv(layer: Any) -> bool:
    import keras

    from .layers import OverparamConv

    return isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D, OverparamConv))


def layer_flops(layer: Any) -> Flops:
    """Forward FLOPs per example of one built layer (0 for a layer without a kernel)."""
    from .layers import OverparamDense

    try:
        outputs = layer.output
    except (AttributeError, ValueError):
        return Flops()
    shape = getattr(outputs, "shape", None)
    if shape is None or any(d is None for d in shape[1:]):
        return Flops()
    bias = getattr(layer, "bias", None)
    bias_size = _size(bias.shape) if bias is not None else 0
    if isinstance(layer, OverparamDense):
        weights = sum(_size(f.shape) for f in layer.factors)
        channels = int(layer.units)
    else:
        kernel = getattr(layer, "kernel", None)
        if kernel is None or len(getattr(kernel, "shape", ())) < 2:
            return Flops()
        weights, channels = _size(kernel.shape), int(kernel.shape[-1])
    positions = _size(shape[1:]) // max(channels, 1)
    count = 2 * (weights + bias_size) * positions
    return Flops(conv=count) if _is_conv(layer) else Flops(dense=count)


def forward_flops(model: Any) -> Flops:
    """Forward FLOPs per example of a built functional model, over every (nested) layer."""
    total = Flops()
    for layer in walk_layers(model):
        total = total + layer_flops(layer)
    return total
