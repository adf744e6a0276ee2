"""Training-time augmentation, seeded per epoch so every trainer sees the same inputs.

``crop_flip`` is the standard CIFAR recipe (Nakkiran et al., Doimo et al.): pad 4
pixels, take a random 32x32 crop, flip horizontally with probability 1/2. For 1-D
signals (MNIST-1D) the analogue is a random circular shift of up to 4 positions
(flips would change the digit); the adaptation is recorded with the run.

An augmentation is split in two so that it can run on the device:

- :func:`draw` takes the random choices of one epoch on the host, three small integers per
  sample (``dy, dx, flip`` for images; ``shift, 0, 0`` for signals);
- :func:`gather` (Keras ops) builds the augmented samples from them, as one gather from the
  resident training set (:func:`source`: zero-padded once for images), inside the bundle
  engines' compiled step, so the images never travel between host and device during training;
  :func:`apply` runs the same function eagerly on the host for the per-cell ``fit`` trainer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PAD = 4
KINDS = ("none", "crop_flip")


def _check(kind: str, ndim: int, shape: tuple[int, ...]) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown augmentation {kind!r}; allowed: {', '.join(KINDS)}")
    if kind != "none" and ndim not in (2, 4):
        raise ValueError(f"crop_flip needs images (n, H, W, C) or 1-D signals (n, L); got shape {shape}")


def draw(kind: str, x_shape: tuple[int, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    """The random choices for ``n`` samples of a training array shaped ``x_shape``: int32 ``(n, 3)``."""
    _check(kind, len(x_shape), tuple(x_shape))
    out = np.zeros((n, 3), dtype=np.int32)
    if len(x_shape) == 2:
        out[:, 0] = rng.integers(-PAD, PAD + 1, size=n)
        return out
    out[:, 0] = rng.integers(0, 2 * PAD + 1, size=n)
    out[:, 1] = rng.integers(0, 2 * PAD + 1, size=n)
    out[:, 2] = rng.random(n) < 0.5
    return out


def apply(x: np.ndarray, params: np.ndarray) -> np.ndarray:
    """The augmented samples ``x[i]`` under ``params[i]`` (:func:`draw`), on the host: :func:`gather`
    run eagerly, so the host and the compiled step share one definition."""
    from keras import ops

    src = source(x, "crop_flip")
    return np.asarray(ops.convert_to_numpy(gather(src, np.arange(len(x), dtype=np.int32), params.astype(np.int32))))


def augment(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One epoch's augmentation of ``x`` on the host (``draw`` then ``apply``)."""
    _check(kind, x.ndim, x.shape)
    if kind == "none":
        return x
    return apply(x, draw(kind, x.shape, len(x), rng))


def source(x: np.ndarray, kind: str) -> np.ndarray:
    """The array :func:`gather` reads from: images zero-padded by ``PAD`` once, signals as they are."""
    _check(kind, x.ndim, x.shape)
    pixels = len(x) * (x.shape[1] if x.ndim == 2 else (x.shape[1] + 2 * PAD) * (x.shape[2] + 2 * PAD))
    if kind != "none" and pixels >= 2**31:
        raise ValueError(f"a training set of shape {x.shape} is too large for crop_flip's int32 gather index")
    if kind == "none" or x.ndim == 2:
        return x
    return np.pad(x, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)), mode="constant")


def gather(src: Any, idx: Any, params: Any) -> Any:
    """The augmented samples ``src[idx]`` under ``params`` (both shaped ``(..., )`` / ``(..., 3)``),
    as one gather in Keras ops, so it compiles into the engines' step on any backend.

    ``src`` is :func:`source`'s array, resident on the device. The flat index of every output
    pixel is computed from the three integers of its sample; the result has ``idx``'s shape
    followed by the sample shape.
    """
    from keras import ops

    lead = tuple(idx.shape)
    idx = ops.reshape(idx, (-1,))
    params = ops.reshape(params, (-1, 3))
    if len(src.shape) == 2:
        L = src.shape[1]
        t = ops.arange(L, dtype="int32")[None, :]
        flat = idx[:, None] * L + ops.mod(t - params[:, 0:1], L)  # (b, L)
        return ops.reshape(ops.take(ops.reshape(src, (-1,)), flat), (*lead, L))
    _, Hp, Wp, C = src.shape
    H, W = Hp - 2 * PAD, Wp - 2 * PAD
    rows = params[:, 0:1] + ops.arange(H, dtype="int32")[None, :]  # (b, H)
    j = ops.arange(W, dtype="int32")[None, :]
    cols = params[:, 1:2] + ops.where(params[:, 2:3] > 0, W - 1 - j, j)  # (b, W)
    flat = (idx[:, None, None] * Hp + rows[:, :, None]) * Wp + cols[:, None, :]  # (b, H, W)
    return ops.reshape(ops.take(ops.reshape(src, (-1, C)), flat, axis=0), (*lead, H, W, C))
