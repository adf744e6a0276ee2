"""Training-time augmentation, seeded per epoch so every trainer sees the same inputs.

``crop_flip`` is the standard CIFAR recipe (Nakkiran et al., Doimo et al.): pad 4
pixels, take a random 32x32 crop, flip horizontally with probability 1/2. For 1-D
signals (MNIST-1D) the analogue is a random circular shift of up to 4 positions
(flips would change the digit); the adaptation is recorded with the run.
"""

from __future__ import annotations

import numpy as np

PAD = 4


def augment(x: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "none":
        return x
    if kind != "crop_flip":
        raise ValueError(f"unknown augmentation {kind!r}; allowed: none, crop_flip")
    if x.ndim == 2:
        shifts = rng.integers(-PAD, PAD + 1, size=len(x))
        idx = (np.arange(x.shape[1])[None, :] - shifts[:, None]) % x.shape[1]
        return np.take_along_axis(x, idx, axis=1)
    if x.ndim != 4:
        raise ValueError(f"crop_flip needs images (n, H, W, C) or 1-D signals (n, L); got shape {x.shape}")
    n, H, W, _ = x.shape
    padded = np.pad(x, ((0, 0), (PAD, PAD), (PAD, PAD), (0, 0)), mode="constant")
    dy = rng.integers(0, 2 * PAD + 1, size=n)
    dx = rng.integers(0, 2 * PAD + 1, size=n)
    rows = dy[:, None] + np.arange(H)[None, :]  # (n, H)
    cols = dx[:, None] + np.arange(W)[None, :]  # (n, W)
    out = padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]
    flip = rng.random(n) < 0.5
    out[flip] = out[flip, :, ::-1]
    return out
