"""JAX: compiled forward and input-gradient functions of a Keras model (``jax.jit`` of ``stateless_call``).

The functions hold the model through a weak reference (they are cached in a weak map keyed
by the model, see :mod:`ddbench.probes.gradients`) and read its *current* variables at every
call, so loading other weights into the model needs no recompilation.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable


def _values(model: Any) -> tuple[list[Any], list[Any]]:
    return [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables]


def forward(model: Any) -> Callable[[Any], Any]:
    """``x -> model(x, training=False)`` compiled."""
    import jax

    ref = weakref.ref(model)

    def call(tv: Any, ntv: Any, x: Any) -> Any:
        return ref().stateless_call(tv, ntv, x, training=False)[0]

    jitted = jax.jit(call)

    def fn(x: Any) -> Any:
        return jitted(*_values(ref()), x)

    return fn


def input_gradient(model: Any, loss_sum: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``(x, y) -> (d loss_sum(model(x), y) / dx, model(x))`` compiled."""
    import jax

    ref = weakref.ref(model)

    def loss(x: Any, tv: Any, ntv: Any, y: Any) -> Any:
        z = ref().stateless_call(tv, ntv, x, training=False)[0]
        return loss_sum(z, y), z

    jitted = jax.jit(jax.grad(loss, has_aux=True))

    def fn(x: Any, y: Any) -> Any:
        return jitted(x, *_values(ref()), y)

    return fn
