"""Fully connected ReLU networks: ``depth`` hidden layers of ``width`` units.

The MNIST-1D double-descent recipe is ``mlp`` with depth 2 (40-h-h-10); Gu's MNIST
recipe is depth 1 (784-k-10).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..registry import families
from .base import HEAD, PENULTIMATE, FamilyPlugin
from .blocks import dense_params, linear_overparam_field


@families.register("mlp", version="1")
class MLP(FamilyPlugin):
    description = "multi-layer perceptron: depth hidden Dense layers of `width` units, then a linear head"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        depth: int = Field(default=2, ge=1, le=64, description="number of hidden layers")
        activation: Literal["relu", "tanh", "gelu", "linear", "sigmoid"] = "relu"
        use_bias: bool = True
        kernel_initializer: Literal["glorot_uniform", "he_normal", "he_uniform", "lecun_normal"] = "glorot_uniform"
        linear_overparam: int = linear_overparam_field()

    def build(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int, name: str) -> Any:
        import keras

        from .layers import dense

        d = config.linear_overparam
        inputs = keras.Input(shape=input_shape, name="inputs")
        h = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
        for i in range(config.depth):
            layer_name = PENULTIMATE if i == config.depth - 1 else f"hidden_{i}"
            h = dense(width, linear_overparam=d, activation=config.activation, use_bias=config.use_bias,
                      kernel_initializer=config.kernel_initializer, name=layer_name)(h)
        logits = dense(num_classes, linear_overparam=d, use_bias=config.use_bias, name=HEAD)(h)
        return keras.Model(inputs, logits, name=name)

    def param_count(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int) -> int:
        d_in = math.prod(input_shape)
        dims = [d_in] + [width] * config.depth + [num_classes]
        return sum(dense_params(a, c, use_bias=config.use_bias, linear_overparam=config.linear_overparam)
                   for a, c in zip(dims[:-1], dims[1:]))
