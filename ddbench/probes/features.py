"""What most probes read from a trained model: h(x), logits z(x), and the head.

Every family names its penultimate representation ``penultimate`` and its final
linear layer ``head`` (families/base.py), so these helpers work for any family.
Features are computed on the backend's device in fixed-size chunks, through one
compiled function per model (cached; see :mod:`ddbench.probes.gradients`).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from ..families.base import HEAD, PENULTIMATE

BATCH = 2048
#: model -> its feature model (shares the layers, not the model object), gone with the model
_FEATURE_MODELS: "weakref.WeakKeyDictionary[Any, Any]" = weakref.WeakKeyDictionary()


def feature_model(model: Any) -> Any:
    """A model mapping inputs to ``[h(x), z(x)]`` that shares the trained weights."""
    import keras

    cached = _FEATURE_MODELS.get(model)
    if cached is not None:
        return cached
    penult = model.get_layer(PENULTIMATE).output
    fm = keras.Model(model.inputs, [penult, model.outputs[0]], name=f"{model.name}_features")
    _FEATURE_MODELS[model] = fm  # a weak map: nothing is set on the user's model
    return fm


def features(model: Any, x: np.ndarray, batch_size: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    """``(h, z)`` for every row of ``x``: penultimate features (flattened) and logits."""
    from .gradients import forward

    h, z = forward(feature_model(model), x, batch_size)
    return h.reshape(len(x), -1), z


def head_weights(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(W_out, b)`` of the final linear layer: logits = h @ W_out + b."""
    head = model.get_layer(HEAD)
    kernel = np.asarray(head.kernel, dtype=np.float32)
    bias = np.asarray(head.bias, dtype=np.float32) if getattr(head, "bias", None) is not None else np.zeros(kernel.shape[-1], np.float32)
    return kernel.reshape(-1, kernel.shape[-1]), bias
