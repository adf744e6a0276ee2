"""Statistics of many replicate rows at once (vectorised, no loop over replicates).

Rows containing NaN give NaN; a constant row gives NaN (a correlation is undefined):
such replicates count as non-finite in :func:`ddbench.stats.inference.summarise`.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sstats


def row_pearson(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson correlation of matching rows of two (R, k) arrays."""
    A, B = np.broadcast_arrays(np.atleast_2d(np.asarray(A, float)), np.atleast_2d(np.asarray(B, float)))
    A = A - A.mean(axis=1, keepdims=True)
    B = B - B.mean(axis=1, keepdims=True)
    den = np.sqrt((A * A).sum(axis=1) * (B * B).sum(axis=1))
    with np.errstate(all="ignore"):
        r = np.where(den > 1e-300, (A * B).sum(axis=1) / np.where(den > 1e-300, den, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0)


def row_ranks(A: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share the mean of their ranks) within each row of (R, k)."""
    A = np.atleast_2d(np.asarray(A, float))
    if A.shape[1] > 64:
        return sstats.rankdata(A, axis=1)
    # rank = #smaller + (#equal + 1) / 2: exact, and faster than sorting for the few widths of a grid
    less = (A[:, None, :] < A[:, :, None]).sum(axis=2)
    equal = (A[:, None, :] == A[:, :, None]).sum(axis=2)
    return less + (equal + 1) / 2.0


def row_spearman(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Spearman correlation (Pearson of average ranks) of matching rows."""
    A, B = np.broadcast_arrays(np.atleast_2d(np.asarray(A, float)), np.atleast_2d(np.asarray(B, float)))
    bad = ~(np.isfinite(A).all(axis=1) & np.isfinite(B).all(axis=1))
    r = row_pearson(row_ranks(np.nan_to_num(A)), row_ranks(np.nan_to_num(B)))
    return np.where(bad, np.nan, r)


def correlation(method: str):
    """The row-wise correlation function called ``method`` ("spearman" or "pearson")."""
    return row_spearman if method == "spearman" else row_pearson
