"""Compiled forward passes and per-sample input gradients for probes, on any Keras backend.

Probes reach backend-specific code only through here. Each model gets two compiled
functions (built by the active backend's ``functions`` module, see :mod:`ddbench.backend`),
on first use, cached in a weak map keyed by the model: a forward
pass to chosen outputs (features) and the input gradient of the cross-entropy.
Inputs go through them in fixed-size chunks (the last one zero-padded, its extra
rows dropped), so each function is traced and compiled once per model however
many arrays a probe feeds it. Both read the model's *current* weights at every
call, so a probe may load a checkpoint into the model and call them again.

The loss of sample i depends only on x_i, so the gradient of the *summed* loss
with respect to the batch is exactly the stack of per-sample input gradients: one
backward pass per chunk, no per-sample loops, no vmap needed.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import numpy as np

from .. import backend

BATCH = 512
#: at most this many input bytes per compiled chunk (bounds device memory for large inputs)
CHUNK_BYTES = 16 * 2**20


def _ce_sum(logits: Any, y: Any) -> Any:
    """Summed sparse cross-entropy from logits, written with keras.ops (backend-neutral)."""
    from keras import ops

    logp = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    return -ops.sum(ops.take_along_axis(logp, ops.expand_dims(y, -1), axis=-1))


_CACHE: "weakref.WeakKeyDictionary[Any, dict[bool, Callable[..., Any]]]" = weakref.WeakKeyDictionary()


def compiled(model: Any, grad: bool) -> Callable[..., Any]:
    """The model's cached compiled forward (``grad=False``) or input-gradient function.

    Built by the active backend's :mod:`functions <ddbench.backend.jax.functions>` module and
    cached in a weak map keyed by the model (nothing is set on the model; the cache entry goes
    when the model does).
    """
    fns = _CACHE.setdefault(model, {})
    if grad not in fns:
        functions = backend.impl().functions
        fns[grad] = functions.input_gradient(model, _ce_sum) if grad else functions.forward(model)
    return fns[grad]


def chunk_rows(x: np.ndarray, batch_size: int) -> int:
    """Rows per compiled chunk: ``batch_size``, fewer for large inputs, never more than the data."""
    row_bytes = max(int(np.prod(x.shape[1:])) * 4, 1)
    return max(1, min(len(x), batch_size, max(64, CHUNK_BYTES // row_bytes)))


def run_chunked(fn: Callable[..., Any], x: np.ndarray, rows: int, *extra: np.ndarray) -> list[list[np.ndarray]]:
    """``fn`` over ``x`` (and row-aligned ``extra`` arrays) in chunks of exactly ``rows`` rows;
    returns, per output of ``fn``, the list of per-chunk results (padding rows dropped)."""
    outs: list[list[np.ndarray]] = []
    for s in range(0, len(x), rows):
        parts = [a[s:s + rows] for a in (x, *extra)]
        n = len(parts[0])
        if n < rows:  # pad to the compiled shape; padded rows are independent and dropped
            parts = [np.concatenate([p, np.zeros((rows - n, *p.shape[1:]), p.dtype)]) for p in parts]
        res = fn(*parts)
        res = res if isinstance(res, (list, tuple)) else [res]
        if not outs:
            outs = [[] for _ in res]
        for o, r in zip(outs, res):
            o.append(np.asarray(r, dtype=np.float32)[:n])
    return outs


def forward(model: Any, x: np.ndarray, batch_size: int = 2048) -> list[np.ndarray]:
    """Every output of ``model`` on every row of ``x``, through the cached compiled forward."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if len(x) == 0:
        return [np.zeros((0,), np.float32) for _ in model.outputs]
    outs = run_chunked(compiled(model, grad=False), x, chunk_rows(x, batch_size))
    return [np.concatenate(o) for o in outs]


def input_gradients(model: Any, x: np.ndarray, y: np.ndarray, batch_size: int = BATCH,
                    with_logits: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """``grad_x CE(f(x_i), y_i)`` for every row (same shape as ``x``), in compiled chunks.

    With ``with_logits`` also returns the logits ``f(x)`` of the same forward pass.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int32)
    if len(x) == 0:
        g, z = np.zeros_like(x), np.zeros((0, 0), np.float32)
    else:
        grads, logits = run_chunked(compiled(model, grad=True), x, chunk_rows(x, batch_size), y)
        g, z = np.concatenate(grads), np.concatenate(logits)
    return (g, z) if with_logits else g
