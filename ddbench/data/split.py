"""A seeded, class-stratified train/test split, for datasets that ship without an official one."""

from __future__ import annotations

import numpy as np


def stratified_split(y: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test), sorted: ``n_test`` points drawn per class in proportion to its size."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    want = np.floor(counts * n_test / len(y)).astype(int)
    # hand out the rounding remainder to the classes with the largest fractional parts
    frac = counts * n_test / len(y) - want
    for c in np.argsort(-frac, kind="stable")[: n_test - want.sum()]:
        want[c] += 1
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, want)])
    mask = np.zeros(len(y), bool)
    mask[test] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)
