"""Mixed precision for one cell's model, never leaking into the next.

Why: bfloat16 arithmetic roughly doubles GPU/TPU throughput, but it changes the trained
models, so it is a training choice (``training.precision``, part of the cell key) and
float32 stays the default for fidelity. ``mixed_bfloat16`` is Keras' mixed policy:
variables (and hence the optimizer's updates) stay float32, layers compute in
bfloat16. No loss scaling is needed (bfloat16 has float32's exponent range).

The head (the family's final layer, named ``head`` by the family contract) is kept in
float32, the usual practice: logits, softmax and the loss are then float32 in every
engine, not only in Keras ``fit`` (which casts losses to float32 anyway). Its inputs
are cast from bfloat16 at the head. The policy is a process-wide Keras setting, so it
is set only while a model is built and restored afterwards.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from ..families.base import HEAD

PRECISIONS = ("float32", "mixed_bfloat16")


@contextlib.contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Layers created inside get ``precision``'s Keras dtype policy; the previous policy is restored on exit."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}")
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_head(model: Any) -> None:
    """Make the model's ``head`` layer compute in float32 (a no-op for a model without one)."""
    try:
        head = model.get_layer(HEAD)
    except ValueError:
        return
    head.dtype_policy = "float32"


def build_with_precision(build: Any, precision: str) -> Any:
    """``build()`` under ``precision``'s policy; a mixed model gets a float32 head."""
    with dtype_policy(precision):
        model = build()
    if precision != "float32":
        float32_head(model)
    return model
