"""The MNIST-1D convolutional baseline (Greydanus & Kobak), with its channel count as the width.

Reference (``ConvBase`` in the mnist1d package): three ``Conv1d`` of ``c`` channels,
kernels 5, 3, 3, all stride 2, ReLU after each, flatten, linear head. With
``same`` padding a length-40 signal goes 40 -> 20 -> 10 -> 5, so ``h(x)`` has
``5c`` entries (the reference's ``linear_in=125`` for c=25). The flattened last
feature map *is* ``h(x)``: the layer doing the flattening is named ``penultimate``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..registry import families
from .base import HEAD, PENULTIMATE, FamilyPlugin
from .blocks import conv, conv_input, conv_params, dense_params, in_channels, linear_head, linear_overparam_field


@families.register("cnn1d", version="1")
class CNN1D(FamilyPlugin):
    description = "MNIST-1D conv net: Conv1D(c, 5, /2) - Conv1D(c, 3, /2) - Conv1D(c, 3, /2), ReLU, flatten, linear head"
    width_label = "c (channels)"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        kernel_sizes: list[int] = Field(default=[5, 3, 3], min_length=1, description="one kernel size per conv layer")
        strides: list[int] = Field(default=[2, 2, 2], min_length=1, description="one stride per conv layer")
        use_bias: bool = True
        kernel_initializer: Literal["he_normal", "he_uniform", "glorot_uniform", "glorot_normal", "lecun_normal"] = "he_uniform"
        linear_overparam: int = linear_overparam_field()

        @model_validator(mode="after")
        def _same_length(self) -> "CNN1D.Config":
            if len(self.kernel_sizes) != len(self.strides):
                raise ValueError(f"kernel_sizes {self.kernel_sizes} and strides {self.strides} need one entry per conv layer")
            if min(self.kernel_sizes) < 1 or min(self.strides) < 1:
                raise ValueError("kernel sizes and strides must be >= 1")
            return self

    @staticmethod
    def _check(input_shape: tuple[int, ...]) -> None:
        if len(input_shape) not in (1, 2):
            raise ValueError(f"cnn1d takes signals of shape (L,) or (L, C), got {tuple(input_shape)}")

    def build(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int, name: str) -> Any:
        import keras

        self._check(input_shape)
        inputs, x, rank = conv_input(input_shape)
        for i, (k, s) in enumerate(zip(config.kernel_sizes, config.strides), start=1):
            x = conv(x, rank, width, k, strides=s, use_bias=config.use_bias, linear_overparam=config.linear_overparam,
                     kernel_initializer=config.kernel_initializer, name=f"conv{i}")
            x = keras.layers.ReLU(name=f"conv{i}_relu")(x)
        h = keras.layers.Flatten(name=PENULTIMATE)(x)
        logits = linear_head(h, num_classes, linear_overparam=config.linear_overparam, use_bias=config.use_bias, name=HEAD)
        return keras.Model(inputs, logits, name=name)

    def param_count(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int) -> int:
        self._check(input_shape)
        length, c, d, total = int(input_shape[0]), in_channels(input_shape), config.linear_overparam, 0
        for k, s in zip(config.kernel_sizes, config.strides):
            total += conv_params(1, c, width, k, use_bias=config.use_bias, linear_overparam=d)
            length, c = -(-length // s), width  # "same" padding: ceil(L / s)
        return total + dense_params(length * width, num_classes, use_bias=config.use_bias, linear_overparam=d)
