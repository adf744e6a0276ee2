"""The ``family`` scaffold: an MLP of ``depth`` hidden layers of ``width`` units, with its exact parameter count."""

SUMMARY = "an MLP of `depth` hidden layers of `width` units"

SOURCE = '''\
"""__NAME__: a ddbench model family (written by ``ddbench plugin new family __NAME__``).

A fully connected network: ``depth`` hidden Dense layers of ``width`` units, the last of them
named ``penultimate`` (its output is the representation probes read), then a linear layer named
``head`` to the logits. ``param_count`` is the exact count of trainable weights, in closed form.

Make it your own: change ``Config`` (the options; a spec grids over them with ``model.grid``),
``build`` and ``param_count``. Keep the contract: a functional ``keras.Model`` from inputs to
logits, the layers ``penultimate`` and ``head``, its initial weights from Keras' seed (ddbench
seeds each cell before it builds), and ``param_count`` equal to the trainable weights (``ddbench
plugin test __NAME__`` checks all of it).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from ddbench.families.base import HEAD, PENULTIMATE, FamilyPlugin
from ddbench.registry import families
from pydantic import BaseModel, ConfigDict, Field


@families.register("__NAME__", version="0.1")
class __CLASS__(FamilyPlugin):
    description = "an MLP: depth hidden Dense layers of `width` units (the last is the penultimate), a linear head"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        depth: int = Field(default=1, ge=1, le=16, description="number of hidden layers")
        activation: Literal["relu", "tanh", "gelu"] = Field(default="relu", description="of the hidden layers")
        use_bias: bool = Field(default=True, description="biases in every layer")

    def build(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int, name: str) -> Any:
        import keras  # here, not at the top: ddbench chooses the Keras backend before Keras is imported

        inputs = keras.Input(shape=input_shape, name="inputs")
        h = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
        for i in range(config.depth):
            layer_name = PENULTIMATE if i == config.depth - 1 else f"hidden_{i}"
            h = keras.layers.Dense(width, activation=config.activation, use_bias=config.use_bias, name=layer_name)(h)
        logits = keras.layers.Dense(num_classes, use_bias=config.use_bias, name=HEAD)(h)
        return keras.Model(inputs, logits, name=name)

    def param_count(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int) -> int:
        dims = [math.prod(input_shape)] + [width] * config.depth + [num_classes]
        return sum((a + int(config.use_bias)) * b for a, b in zip(dims[:-1], dims[1:]))
'''

USAGE = '''\
```yaml
model:
  family: __NAME__
  config: {depth: 1, activation: relu}
  widths: {geomspace: [2, 256, 8]}
  grid: {depth: [1, 2]}             # optional: a grid over its options
```
'''
