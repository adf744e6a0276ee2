"""Pre-activation residual networks: ResNet18 of width k (Nakkiran et al.) and Wide-ResNet-depth-k (used by Doimo et al.).

Both are built from the same pre-activation basic block (``blocks.preact_block``)
with 3x3 stems for small images; 1-D signals use the same graph with ``Conv1D``.
``h(x)`` is the global average pool of the last feature map.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..registry import families
from .base import HEAD, PENULTIMATE, FamilyPlugin
from .blocks import (
    conv_input,
    dense_params,
    global_pool,
    in_channels,
    linear_head,
    linear_overparam_field,
    preact_resnet,
    preact_resnet_params,
    signal_rank,
)

#: conv initializers; He (Kaiming) normal is the Wide-ResNet reference's choice for ReLU nets
Init = Literal["he_normal", "he_uniform", "glorot_uniform", "glorot_normal", "lecun_normal"]


class _PreActResNet(FamilyPlugin):
    """Shared build/param_count; subclasses say what the stem and the stages are.

    Configs without ``final_bn_relu`` (Wide-ResNet) always end with BN-ReLU;
    configs without ``dropout`` use none.
    """

    def _stem_stages(self, config: Any, width: int) -> tuple[int, list[tuple[int, int, int]]]:
        raise NotImplementedError  # pragma: no cover - interface

    def _arch(self, config: Any, width: int) -> dict[str, Any]:
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        stem, stages = self._stem_stages(config, width)
        return dict(stem=stem, stages=stages, batch_norm=config.batch_norm,
                    final_bn_relu=getattr(config, "final_bn_relu", True), linear_overparam=config.linear_overparam)

    def build(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int, name: str) -> Any:
        import keras

        inputs, x, rank = conv_input(input_shape)
        x = preact_resnet(x, rank, name="resnet", dropout=getattr(config, "dropout", 0.0),
                          kernel_initializer=config.kernel_initializer, **self._arch(config, width))
        h = global_pool(x, rank, "avg", name=PENULTIMATE)
        logits = linear_head(h, num_classes, linear_overparam=config.linear_overparam, name=HEAD)
        return keras.Model(inputs, logits, name=name)

    def param_count(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int) -> int:
        arch = self._arch(config, width)
        body = preact_resnet_params(signal_rank(input_shape), in_channels(input_shape), **arch)
        return body + dense_params(arch["stages"][-1][0], num_classes, linear_overparam=config.linear_overparam)


@families.register("resnet18k", version="1")
class ResNet18k(_PreActResNet):
    description = "pre-activation ResNet18 with stage widths k, 2k, 4k, 8k (Nakkiran et al.), BN optional"
    width_label = "k (channels of the first stage)"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        batch_norm: bool = Field(default=True, description="BatchNorm in every block (Gamba et al. train without it)")
        final_bn_relu: bool = Field(
            default=True,
            description="BN-ReLU before the global pool, as in He et al.'s pre-activation ResNet (Nakkiran et al.'s "
            "code, after kuangliu's, pools the raw last block output: set false to reproduce it exactly)",
        )
        kernel_initializer: Init = "he_normal"
        linear_overparam: int = linear_overparam_field()

    def _stem_stages(self, config: Any, width: int) -> tuple[int, list[tuple[int, int, int]]]:
        return width, [(width, 2, 1), (2 * width, 2, 2), (4 * width, 2, 2), (8 * width, 2, 2)]


@families.register("wide_resnet", version="1")
class WideResNet(_PreActResNet):
    description = "Wide-ResNet-depth-k (Zagoruyko & Komodakis), pre-activation, stage widths 16, 16k, 32k, 64k"
    width_label = "k (widen factor)"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        depth: int = Field(default=28, ge=10, description="total depth 6n+4: n blocks in each of 3 stages")
        batch_norm: bool = Field(default=True, description="BatchNorm in every block")
        dropout: float = Field(default=0.0, ge=0.0, lt=1.0, description="dropout between the two convs of a block")
        kernel_initializer: Init = "he_normal"
        linear_overparam: int = linear_overparam_field()

        @field_validator("depth")
        @classmethod
        def _six_n_plus_four(cls, depth: int) -> int:
            if (depth - 4) % 6 != 0:
                raise ValueError(f"depth must have the form 6n+4 (10, 16, 22, 28, 34, 40, ...), got {depth}")
            return depth

    def _stem_stages(self, config: Any, width: int) -> tuple[int, list[tuple[int, int, int]]]:
        n = (config.depth - 4) // 6
        return 16, [(16 * width, n, 1), (32 * width, n, 2), (64 * width, n, 2)]
