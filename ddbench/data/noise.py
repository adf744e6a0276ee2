"""Label noise exactly as docs/science.md, "label noise" defines it.

The draw depends only on (dataset, n, p, noise seed), never on the model, so all
widths of a grid see the same corrupted labels: a paired design.
"""

from __future__ import annotations

import hashlib

import numpy as np


def noise_rng(dataset_id: str, n: int, rate: float, seed: int) -> np.random.Generator:
    """A generator seeded by (dataset, n, p, seed) only."""
    digest = hashlib.sha256(f"{dataset_id}|{n}|{rate!r}|{seed}".encode()).digest()
    return np.random.default_rng(np.frombuffer(digest[:16], dtype=np.uint32).tolist())


def inject_label_noise(
    y: np.ndarray, rate: float, num_classes: int, kind: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(y_noisy, noisy_mask)``.

    ``exact``: exactly ``round(rate * n)`` points, chosen by a seeded permutation,
    get ``(y + u) mod C`` with ``u`` uniform in ``1..C-1``: always wrong.
    ``may_keep``: the same number of points get ``randint(0, C)``, which may equal
    the old label; the mask marks only labels that actually changed.
    """
    y = np.asarray(y, dtype=np.int64)
    n = len(y)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"noise rate {rate} is outside [0, 1)")
    if num_classes < 2:
        raise ValueError("label noise needs at least two classes")
    count = int(round(rate * n))
    idx = rng.permutation(n)[:count]
    y_noisy = y.copy()
    if kind == "exact":
        y_noisy[idx] = (y[idx] + rng.integers(1, num_classes, size=count)) % num_classes
    elif kind == "may_keep":
        y_noisy[idx] = rng.integers(0, num_classes, size=count)
    else:
        raise ValueError(f"unknown noise kind {kind!r}; allowed: exact, may_keep")
    return y_noisy, y_noisy != y
