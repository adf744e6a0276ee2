"""Every layer of a Keras model, through public APIs only."""

from __future__ import annotations

from typing import Any, Iterator


def walk_layers(model: Any) -> Iterator[Any]:
    """Depth-first, every layer of ``model`` (not the model itself), entering nested models
    (anything with a public ``layers`` list, e.g. ``keras.Model`` / ``Sequential``)."""
    for layer in getattr(model, "layers", []):
        yield layer
        if isinstance(getattr(layer, "layers", None), list):
            yield from walk_layers(layer)
