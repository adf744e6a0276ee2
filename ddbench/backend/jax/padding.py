"""JAX: whether a narrow model zero-padded into a wider one's shapes trains exactly like it.

The vmapped lanes of :mod:`ddbench.backend.jax.engine` may pad narrow widths into a wide
template (:mod:`ddbench.engine.lanes`); this check, on a real batch, is what allows it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...engine.lanes import embed, shapes_nest, unembed

#: this backend trains padded lanes
PADS_LANES = True


def padding_is_exact(narrow: Any, wide: Any, xb: np.ndarray, yb: np.ndarray, loss_fn: Any,
                     rtol: float = 1e-4, atol: float = 1e-6) -> tuple[bool, str]:
    """Whether ``narrow`` embedded in ``wide``'s shapes trains exactly like ``narrow`` (JAX).

    Compares, on one batch, the training-mode logits, the loss gradients (the embedded
    part equal to the narrow model's, the padding exactly zero) and the updated
    non-trainable state. ``loss_fn(yb, logits, extra_losses)`` is the engine's loss.
    Returns (ok, reason).
    """
    import jax

    n_tv = [tuple(v.shape) for v in narrow.trainable_variables]
    n_ntv = [tuple(v.shape) for v in narrow.non_trainable_variables]
    w_tv = [tuple(v.shape) for v in wide.trainable_variables]
    w_ntv = [tuple(v.shape) for v in wide.non_trainable_variables]
    if not (shapes_nest(n_tv, w_tv) and shapes_nest(n_ntv, w_ntv)):
        return False, "variable shapes do not nest"

    def run(model: Any, tv: list[Any], ntv: list[Any]) -> Any:
        def loss(tv: list[Any]) -> Any:
            logits, new_ntv, extra = model.stateless_call(tv, ntv, xb, training=True, return_losses=True)
            return loss_fn(yb, logits, list(extra)), (logits, new_ntv)

        (value, (logits, new_ntv)), grads = jax.value_and_grad(loss, has_aux=True)(tv)
        return value, logits, new_ntv, grads

    a_tv = [np.asarray(v.value) for v in narrow.trainable_variables]
    a_ntv = [np.asarray(v.value) for v in narrow.non_trainable_variables]
    _, la, na, ga = run(narrow, a_tv, a_ntv)
    _, lb, nb, gb = run(wide, [embed(v, s) for v, s in zip(a_tv, w_tv)], [embed(v, s) for v, s in zip(a_ntv, w_ntv)])
    if not np.allclose(np.asarray(la), np.asarray(lb), rtol=rtol, atol=atol):
        return False, "logits differ"
    for g_narrow, g_wide, shape in zip(ga, gb, n_tv):
        g_wide = np.asarray(g_wide)
        inside = unembed(g_wide, shape)
        if not np.allclose(np.asarray(g_narrow), inside, rtol=rtol, atol=atol * max(1.0, float(np.abs(inside).max(initial=0)))):
            return False, "gradients differ"
        outside = g_wide.copy()
        outside[tuple(slice(0, n) for n in shape)] = 0.0
        if np.any(outside != 0.0):
            return False, "the padding receives gradient"
    for s_narrow, s_wide, shape in zip(na, nb, n_ntv):
        s_narrow, s_wide = np.asarray(s_narrow), np.asarray(s_wide)
        if s_narrow.dtype.kind == "f" and not np.allclose(s_narrow, unembed(s_wide, shape), rtol=rtol, atol=atol):
            return False, "state updates differ"
    return True, "exact"
