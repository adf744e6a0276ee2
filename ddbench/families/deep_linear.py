"""Deep linear networks: a product of linear maps, no activation (Huh et al.'s low-rank setting).

``depth`` counts the hidden linear maps of ``width`` units, as in ``mlp`` (so the
same spec grid over ``depth`` means the same thing for both); with the head the
network is the product of ``depth + 1`` maps, ``x -> x W_1 ... W_{depth+1}``.
``h(x)`` is the output of the last hidden map. :func:`end_to_end_matrix` collapses
the whole network to one ``input_dim x num_classes`` matrix for the rank probes.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import families
from .base import HEAD, PENULTIMATE, FamilyPlugin
from .blocks import dense_params


@families.register("deep_linear", version="1")
class DeepLinear(FamilyPlugin):
    description = "deep linear network: depth hidden linear maps of `width` units (no activation), then a linear head"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        depth: int = Field(default=2, ge=1, le=64, description="number of hidden linear maps (the head is one more)")
        use_bias: bool = Field(default=False, description="biases make the maps affine; off keeps a pure matrix product")
        kernel_initializer: Literal["glorot_normal", "glorot_uniform", "lecun_normal", "orthogonal", "he_normal"] = Field(
            default="glorot_normal", description="Gaussian by default: random products are what lower the effective rank")

    def build(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int, name: str) -> Any:
        import keras

        inputs = keras.Input(shape=input_shape, name="inputs")
        h = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
        for i in range(config.depth):
            h = keras.layers.Dense(width, use_bias=config.use_bias, kernel_initializer=config.kernel_initializer,
                                   name=PENULTIMATE if i == config.depth - 1 else f"linear_{i}")(h)
        logits = keras.layers.Dense(num_classes, use_bias=config.use_bias,
                                    kernel_initializer=config.kernel_initializer, name=HEAD)(h)
        return keras.Model(inputs, logits, name=name)

    def param_count(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int) -> int:
        dims = [math.prod(input_shape)] + [width] * config.depth + [num_classes]
        return sum(dense_params(a, c, use_bias=config.use_bias) for a, c in zip(dims[:-1], dims[1:]))


def _linear_layers(model: Any) -> list[Any]:
    """The model's linear maps, input to output (layers with a kernel: Dense or an over-parameterised Dense)."""
    layers = [layer for layer in model.layers if hasattr(layer, "kernel")]
    if not layers:
        raise ValueError(f"model {model.name!r} has no linear layers")
    return layers


def _numpy(value: Any) -> np.ndarray:
    """A variable or backend tensor as float64 NumPy (``.numpy()`` avoids NumPy 2's ``__array__`` warning)."""
    return np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)


def end_to_end_matrix(model: Any) -> np.ndarray:
    """``W_1 W_2 ... W_L`` (``input_dim x num_classes``, head included): ``model(x) = x @ M + end_to_end_bias``."""
    matrix = None
    for layer in _linear_layers(model):
        kernel = _numpy(layer.kernel)
        matrix = kernel if matrix is None else matrix @ kernel
    return matrix.astype(np.float32)


def end_to_end_bias(model: Any) -> np.ndarray:
    """The affine offset of the collapsed network (zeros when the maps have no bias)."""
    offset = None
    for layer in _linear_layers(model):
        kernel = _numpy(layer.kernel)
        offset = np.zeros(kernel.shape[-1]) if offset is None else offset @ kernel
        if getattr(layer, "bias", None) is not None:
            offset = offset + _numpy(layer.bias)
    return offset.astype(np.float32)
