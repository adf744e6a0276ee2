"""PyTorch: forward and input-gradient functions of a Keras model (eager autograd, no compilation)."""

from __future__ import annotations

import weakref
from typing import Any, Callable

import numpy as np


def forward(model: Any) -> Callable[[Any], Any]:
    """``x -> model(x, training=False)`` without autograd."""
    import torch
    from keras import ops

    ref = weakref.ref(model)

    def fn(x: Any) -> Any:
        with torch.no_grad():
            return ref()(ops.convert_to_tensor(x), training=False)

    return fn


def input_gradient(model: Any, loss_sum: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``(x, y) -> (d loss_sum(model(x), y) / dx, model(x))``."""
    import torch
    from keras import ops

    ref = weakref.ref(model)

    def fn(x: Any, y: Any) -> Any:
        xt = ops.convert_to_tensor(x).detach().requires_grad_(True)
        z = ref()(xt, training=False)
        (g,) = torch.autograd.grad(loss_sum(z, ops.convert_to_tensor(np.asarray(y, np.int64))), xt)
        return g, z

    return fn
