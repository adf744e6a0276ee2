"""The model-family contract.

A family turns (config, width) into a plain functional Keras 3 model whose output
is the logits and whose penultimate representation ``h(x)`` (the input of the final
linear layer) is the output of a layer named :data:`PENULTIMATE`. Probes rely on
that name; the final Dense layer is named :data:`HEAD`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

PENULTIMATE = "penultimate"
HEAD = "head"


class FamilyPlugin:
    """Base class of model families. Subclass, set ``Config``, implement ``build``."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    description: ClassVar[str] = ""
    #: the name of the grid knob the family's ``width`` means (for plots and docs)
    width_label: ClassVar[str] = "width"
    #: the smallest width the family builds: grids are checked against it, and a refinement never goes below it
    min_width: ClassVar[int] = 1

    def build(self, config: BaseModel, width: int, input_shape: tuple[int, ...], num_classes: int, name: str) -> Any:
        """Return a functional ``keras.Model`` mapping inputs to logits."""
        raise NotImplementedError  # pragma: no cover - interface

    def param_count(self, config: BaseModel, width: int, input_shape: tuple[int, ...], num_classes: int) -> int:
        """Trainable parameters; families with a closed form override this."""
        model = self.build(config, width, input_shape, num_classes, name="count")
        return int(sum(int(w.numpy().size) for w in model.trainable_weights))
