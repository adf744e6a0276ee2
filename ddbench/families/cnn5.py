"""The 5-layer CNN of Nakkiran et al. (Deep Double Descent): conv k, 2k, 4k, 8k, then a linear head.

Layout (their ``make_cnn``): four 3x3 ``same`` convolutions with bias, each followed
by optional BatchNorm and ReLU; 2x max pooling after convolutions 2, 3 and 4; a
global max pool (their final ``MaxPool(4)`` on 32x32 inputs) gives ``h(x)`` of size
8k; one Dense layer gives the logits. The global pool makes the same network work
for 28x28 MNIST, 32x32 CIFAR and 1-D signals (``Conv1D``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..registry import families
from .base import HEAD, PENULTIMATE, FamilyPlugin
from .blocks import (
    bn_params,
    conv,
    conv_input,
    conv_params,
    dense_params,
    global_pool,
    in_channels,
    linear_head,
    linear_overparam_field,
    max_pool,
    norm_relu,
    signal_rank,
)

#: channel multipliers of the four convolutions, and whether a 2x max pool follows each
LAYERS = ((1, False), (2, True), (4, True), (8, True))


@families.register("cnn5", version="1")
class CNN5(FamilyPlugin):
    description = "5-layer CNN (Nakkiran et al.): conv k, 2k, 4k, 8k with optional BN, max pooling, linear head"
    width_label = "k (channels of the first conv)"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        batch_norm: bool = Field(default=True, description="BatchNorm after every conv (Gamba et al. train without it)")
        kernel_size: int = Field(default=3, ge=1, le=11, description="conv kernel size (3 in the paper)")
        kernel_initializer: Literal["he_normal", "he_uniform", "glorot_uniform", "glorot_normal", "lecun_normal"] = "he_normal"
        linear_overparam: int = linear_overparam_field()

    def build(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int, name: str) -> Any:
        import keras

        inputs, x, rank = conv_input(input_shape)
        for i, (mult, pool) in enumerate(LAYERS, start=1):
            x = conv(x, rank, mult * width, config.kernel_size, linear_overparam=config.linear_overparam,
                     kernel_initializer=config.kernel_initializer, name=f"conv{i}")
            x = norm_relu(x, batch_norm=config.batch_norm, name=f"conv{i}")
            if pool:
                x = max_pool(x, rank, name=f"conv{i}_pool")
        h = global_pool(x, rank, "max", name=PENULTIMATE)
        logits = linear_head(h, num_classes, linear_overparam=config.linear_overparam, name=HEAD)
        return keras.Model(inputs, logits, name=name)

    def param_count(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int) -> int:
        rank, c, d = signal_rank(input_shape), in_channels(input_shape), config.linear_overparam
        total = 0
        for mult, _ in LAYERS:
            total += conv_params(rank, c, mult * width, config.kernel_size, linear_overparam=d)
            total += bn_params(mult * width, config.batch_norm)
            c = mult * width
        return total + dense_params(c, num_classes, linear_overparam=d)
