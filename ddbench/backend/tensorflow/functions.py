"""TensorFlow: compiled forward and input-gradient functions of a Keras model (``tf.function``).

The functions hold the model through a weak reference (they are cached in a weak map keyed
by the model, see :mod:`ddbench.probes.gradients`); the traced graph reads the model's
variables, so loading other weights into the model needs no retracing.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable


def forward(model: Any) -> Callable[[Any], Any]:
    """``x -> model(x, training=False)`` compiled."""
    import tensorflow as tf

    ref = weakref.ref(model)
    return tf.function(lambda x: ref()(x, training=False), reduce_retracing=True)


def input_gradient(model: Any, loss_sum: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``(x, y) -> (d loss_sum(model(x), y) / dx, model(x))`` compiled."""
    import tensorflow as tf

    ref = weakref.ref(model)

    @tf.function(reduce_retracing=True)
    def fn(x: Any, y: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(x)
            z = ref()(x, training=False)
            loss = loss_sum(z, y)
        return tape.gradient(loss, x), z

    return fn
