"""Permutation tests of "values unrelated to the axis" that stand on their own (docs/science.md, Statistics,
"Degenerate replicates and the permutation test").

A correlation over a handful of grid points (a rank correlation over m widths takes only a few values) has
no valid bootstrap interval on its own, and none at all when every replicate is the same number (every seed
monotone gives -1 in every resample). The test here needs no resampling of the units: under the null
"values unrelated to the axis", each unit's (seed's, cell's) values are exchangeable over the grid, and units
are independent, so every arrangement of each unit's values over the grid points, independently per unit, is
equally likely. Its statistic is the mean over units of each unit's own correlation with the axis (a Page-type
trend statistic; all units monotone gives +-1, with null probability (t/m!)^s).

The null distribution is exact where it can be enumerated: each unit's correlation over all m! arrangements
(m <= 8), then the distribution of their mean by convolution (on values rounded to :data:`DIGITS` decimals, so
equal values computed in different orders are one value). Beyond that, random arrangements from the plan.

Units whose values are identical at every grid point are one unit (a copy is no new draw: three identical
seeds are one seed); units whose values are constant carry no ordering and are left out.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .plan import stream
from .rowstats import row_ranks

#: a unit's arrangements are enumerated whole up to this many (m! <= 50,000: m <= 8 grid points)
EXACT_ARRANGEMENTS = 50_000
#: random arrangements where the exact distribution is too large: a resolution of 2/10,001 two-sided, so a
#: family of up to 250 tests can be decided at alpha = 0.05 (the bootstrap's B does not limit it)
RANDOM_ARRANGEMENTS = 10_000
#: the exact distribution of a mean is kept up to this many distinct values (else random draws)
MAX_SUPPORT = 1_000_000
#: null values are rounded to this many decimals, so one value computed in two orders is one value
DIGITS = 9
#: a permutation test's observed and null values are equal within this (half the rounding step: two
#: distinct rounded values are never equal), read by ``inference.make_test``
TIE = 0.5 * 10.0**-DIGITS


@dataclass
class NullTest:
    """A test of its own: the null distribution of ``observed``, exact (``weights``: probabilities of
    ``values``) or random draws (``weights`` None: p = (1 + count) / (1 + draws))."""

    values: np.ndarray
    weights: np.ndarray | None
    observed: float
    name: str
    #: a fingerprint of the units arranged (their values and axis): two strata with the same one are copies
    key: str = ""

    @property
    def exact(self) -> bool:
        return self.weights is not None


def _histogram(values: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (rounded to DIGITS) and their total probability."""
    v, inverse = np.unique(np.round(np.asarray(values, float), DIGITS), return_inverse=True)
    w = np.ones(len(inverse)) / len(inverse) if weights is None else np.asarray(weights, float)
    return v, np.bincount(inverse.ravel(), weights=w, minlength=len(v))


def _convolve(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """The distribution of the sum of two independent discrete variables (None when it is too large)."""
    if len(a[0]) * len(b[0]) > MAX_SUPPORT * 4:
        return None
    out = _histogram((a[0][:, None] + b[0][None, :]).ravel(), (a[1][:, None] * b[1][None, :]).ravel())
    return out if len(out[0]) <= MAX_SUPPORT else None


def _mean(per_unit: np.ndarray) -> np.ndarray:
    """Rows of (R, s) per-unit statistics: their mean, each rounded to DIGITS and summed in column order, so
    the observed value and every null value are computed by the same operations (equal values are equal)."""
    r = np.round(np.atleast_2d(np.asarray(per_unit, float)), DIGITS)
    total = np.zeros(len(r))
    for k in range(r.shape[1]):  # as _convolve: each partial sum rounded
        total = np.round(total + r[:, k], DIGITS)
    return np.round(total / r.shape[1], DIGITS)


def _units(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Complete, non-constant and distinct units (columns) of X and Y."""
    keep = np.isfinite(Y).all(axis=0) & np.isfinite(X).all(axis=0)
    if len(Y):
        keep &= (np.ptp(np.where(keep, Y, 0), axis=0) > 0) & (np.ptp(np.where(keep, X, 0), axis=0) > 0)
    X, Y = X[:, keep], Y[:, keep]
    if not Y.shape[1]:
        return X, Y
    _, first = np.unique(np.vstack([X, Y]).T, axis=0, return_index=True)
    first = np.sort(first)
    return X[:, first], Y[:, first]


@functools.lru_cache(maxsize=16)
def _all_permutations(m: int) -> np.ndarray:
    return np.array(list(itertools.permutations(range(m))), dtype=np.int64)


def _correlations(arranged: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Rows of (R, m) standardised values against the standardised axis x: the correlations, summed term by
    term in a fixed order (no BLAS), so one arrangement gives the same number whichever batch it is in."""
    total = np.zeros(len(arranged))
    for j in range(arranged.shape[1]):
        total = total + arranged[:, j] * x[j]
    return np.clip(total, -1.0, 1.0)


@functools.lru_cache(maxsize=1024)
def _unit_distribution(x: bytes, y_sorted: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The distribution (rounded values, probabilities) of one unit's correlation over every arrangement: it
    depends on the unit's axis and on its values only as a set, so units alike share it (computed once)."""
    xs, ys = np.frombuffer(x), np.frombuffer(y_sorted)
    return _histogram(np.round(_correlations(ys[_all_permutations(len(ys))], xs), DIGITS))


def _standardised(V: np.ndarray, method: str) -> np.ndarray:
    """Columns of V as the correlation sees them (average ranks for Spearman), centred, of unit length: the
    correlation of two such columns is their dot product, and arranging one of them leaves its length alone."""
    R = row_ranks(V.T).T if method == "spearman" else V
    C = R - R.mean(axis=0)
    return C / np.sqrt((C * C).sum(axis=0))


def arrangement_test(x: np.ndarray, Y: np.ndarray, method: str, permutations: Callable[[int, int, int], np.ndarray],
                     unit: str = "seed", points: str = "grid points") -> NullTest | None:
    """The permutation test of "Y unrelated to x" with each unit (column of Y) arranged independently.

    ``x``: (m,) the axis (widths, depths, chunk sizes), or (m, s) one per unit (a paired quantity: then Y's
    values are arranged against each unit's own x). ``method``: ``spearman`` or ``pearson``.
    ``permutations(m, s, draws)``: (draws, s, m) random arrangements (the plan's), used where the exact
    distribution is too large. None when no unit has values at every point that vary.
    """
    Y = np.asarray(Y, float)
    X = np.asarray(x, float)
    X = np.broadcast_to(X[:, None], Y.shape) if X.ndim == 1 else X
    X, Y = _units(X, Y)
    m, s = Y.shape
    if not s or m < 2:
        return None
    Xs, Ys = _standardised(X, method), _standardised(Y, method)
    key = hashlib.sha256(method.encode() + np.ascontiguousarray(X).tobytes() + np.ascontiguousarray(Y).tobytes()
                         + str(Y.shape).encode()).hexdigest()[:16]

    def corr(k: int, order: np.ndarray) -> np.ndarray:  # unit k's correlation under each arrangement (rows)
        return _correlations(Ys[order, k], Xs[:, k])

    observed = float(_mean(np.array([[corr(k, np.arange(m)[None, :])[0] for k in range(s)]]))[0])
    what = f"the {unit}'s values over the {m} {points}" if s == 1 else f"each of {s} {unit}s' values over the {m} {points}"
    if math.factorial(m) <= EXACT_ARRANGEMENTS:
        dist: tuple[np.ndarray, np.ndarray] | None = (np.zeros(1), np.ones(1))
        for k in range(s):  # the sum of the units' rounded statistics, in column order (as in _mean)
            unit_dist = _unit_distribution(np.ascontiguousarray(Xs[:, k]).tobytes(), np.sort(Ys[:, k]).tobytes())
            dist = _convolve(dist, unit_dist)
            if dist is None:
                break
        if dist is not None:
            values, weights = _histogram(dist[0] / s, dist[1])
            total = math.factorial(m) ** s
            count = f"{math.factorial(m)}" if s == 1 else f"{math.factorial(m)}^{s}" + (f" = {total:,}" if total < 1e15 else "")
            return NullTest(values, weights, observed, f"exact permutation test (all {count} arrangements of {what})",
                            key)
    order = permutations(m, s, RANDOM_ARRANGEMENTS)  # (draws, s, m)
    per_unit = np.stack([corr(k, order[:, k]) for k in range(s)], axis=1)
    return NullTest(_mean(per_unit), None, observed, f"permutation test ({len(order):,} random arrangements of {what})",
                    key)


def pooled_test(tests: list[NullTest], key: str) -> NullTest:
    """The test of the mean over strata of their statistics, strata independent: the exact convolution of
    their exact distributions where it is small enough, else RANDOM_ARRANGEMENTS random draws (from a stream
    hashed from ``key``; strata tested by random draws contribute their own draws, row by row). Strata whose
    units are the same values (a quantity that does not depend on what tells the strata apart) count once."""
    draws = RANDOM_ARRANGEMENTS
    distinct = list({t.key or str(i): t for i, t in enumerate(tests)}.values())
    copies = len(tests) - len(distinct)
    tests = distinct
    k = len(tests)
    observed = float(_mean(np.array([[t.observed for t in tests]]))[0])
    if all(t.exact for t in tests):
        dist: tuple[np.ndarray, np.ndarray] | None = (np.zeros(1), np.ones(1))
        for t in tests:
            dist = _convolve(dist, (t.values, t.weights))
            if dist is None:
                break
        if dist is not None:
            values, weights = _histogram(dist[0] / k, dist[1])
            return NullTest(values, weights, observed, f"exact permutation test of the mean over {k} strata "
                            f"(each stratum's arrangements independent{_copies(copies)})")
    rng = stream("ddbench-pooled-null", key, k, draws)
    rows = [rng.choice(t.values, size=draws, p=t.weights / t.weights.sum()) if t.exact
            else np.resize(np.asarray(t.values, float), draws) for t in tests]
    return NullTest(_mean(np.stack(rows, axis=1)), None, observed,
                    f"permutation test of the mean over {k} strata ({draws:,} random draws{_copies(copies)})")


def _copies(n: int) -> str:
    return f"; {n} stratum{'s' if n > 1 else ''} with the same values as another counted once" if n else ""
