"""Per-sample input gradients of the cross-entropy, batched, for any Keras backend.

This is the one place where probes touch backend-specific autodiff. The loss of
sample i depends only on x_i, so the gradient of the *summed* loss with respect
to the batch is exactly the stack of per-sample input gradients: one backward
pass per batch, no per-sample loops, no vmap needed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

BATCH = 512


def _ce_sum(logits: Any, y: Any) -> Any:
    """Summed sparse cross-entropy from logits, written with keras.ops (backend-neutral)."""
    from keras import ops

    logp = ops.log_softmax(logits, axis=-1)
    return -ops.sum(ops.take_along_axis(logp, ops.expand_dims(y, -1), axis=-1))


def _tensorflow(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    xt, yt = tf.convert_to_tensor(x), tf.convert_to_tensor(y, dtype=tf.int32)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        z = model(xt, training=False)
        loss = _ce_sum(z, yt)
    return np.asarray(tape.gradient(loss, xt)), np.asarray(z)


def _jax(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import jax
    import jax.numpy as jnp

    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    yj = jnp.asarray(y, dtype=jnp.int32)

    def loss(xx: Any) -> tuple[Any, Any]:
        z, _ = model.stateless_call(tv, ntv, xx, training=False)
        return _ce_sum(z, yj), z

    g, z = jax.grad(loss, has_aux=True)(jnp.asarray(x))
    return np.asarray(g), np.asarray(z)


def _torch(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import torch
    from keras import ops

    xt = ops.convert_to_tensor(x).detach().requires_grad_(True)
    yt = ops.convert_to_tensor(y.astype(np.int64))
    z = model(xt, training=False)
    (g,) = torch.autograd.grad(_ce_sum(z, yt), xt)
    return g.detach().cpu().numpy(), z.detach().cpu().numpy()


_ENGINES = {"tensorflow": _tensorflow, "jax": _jax, "torch": _torch}


def input_gradients(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = BATCH,
                    with_logits: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """``grad_x CE(f(x_i), y_i)`` for every row (same shape as ``x``), in batches.

    With ``with_logits`` also returns the logits ``f(x)`` of the same forward pass.
    """
    import keras

    engine = _ENGINES[keras.backend.backend()]
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int32)
    grads, logits = [], []
    for s in range(0, len(x), batch_size):
        g, z = engine(model, x[s : s + batch_size], y[s : s + batch_size])
        grads.append(g.astype(np.float32))
        logits.append(z.astype(np.float32))
    g = np.concatenate(grads) if grads else np.zeros_like(x)
    if with_logits:
        return g, (np.concatenate(logits) if logits else np.zeros((0, 0), np.float32))
    return g
