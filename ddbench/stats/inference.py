"""Intervals, p-values, the non-finite rule and Holm's step-down (docs/science.md, "Statistics").

Interval method: the studentized bootstrap-SE interval
``statistic ± q · SE``, with SE the standard deviation of the finite replicates times
sqrt(n/(n-1)) (n = resampled units; the bootstrap's small-sample variance deficit) and q
the Student-t quantile with n - 1 degrees of freedom (normal for parametric draws or
when n is unknown). It is stable where percentile ends at Holm levels (single order
statistics of B replicates) are not, it is exact for the mean of normal seeds, and with
3 seeds its t(2) quantiles keep the false-holds rate at alpha where the 3-seed
percentile bootstrap cannot (its smallest attainable one-sided level is 1/8).

The p-value is the exact inversion of the same interval, two-sided:
``p = 2 (1 - T_df(|statistic - threshold| / SE))``, so the interval at level 1 - a
excludes the threshold exactly when p < a.

Null replicates. Where an interval alone is not calibrated (a statistic that is a
maximum over a data-chosen grid point, or a rank correlation over a handful of grid
points), the evidence also carries draws of the statistic under the least-favourable
null (the claim's boundary: a flat curve at the threshold; widths and values
unrelated, by permutation). Then ``p_null = (1 + #{null draws at least as far on the
side of the threshold as the statistic}) / (1 + #draws)``, and the test's p-value is
``max(p_interval, min(1, 2 p_null))``: a decided verdict ("holds" or "fails") needs
both the interval and the null test.

Degenerate replicates. When every finite replicate is the same number (a rank correlation that is
-1 in every resample because every seed is monotone; identical seeds; an argmax that never moves),
the bootstrap SE is 0 and no interval is valid: such a test never gets an interval. It is decided
by a test that stands on its own where the evidence carries one (``null_test``: the permutation
test of :mod:`.permutation`, exact where it can be enumerated), ``p = min(1, 2 p_null)``, and is
otherwise inconclusive with that reason. Null draws that come from the bootstrap itself (the
least-favourable null of a peak) are degenerate with it and decide nothing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sstats

from .permutation import TIE as PERMUTATION_TIE

#: a claim whose replicates are more than this share non-finite is inconclusive
NONFINITE_LIMIT = 0.05
#: replicates spread less than this (relative to the statistic, absolute below 1) are one number: a degenerate
#: distribution (quantities stored in float32 carry about 7 significant digits; a real spread is far larger)
DEGENERATE_SPREAD = 1e-6
INTERVAL = "studentized bootstrap SE (statistic ± t_{n-1} quantile × SE)"


def degrees_of_freedom(n_units: int | None) -> float:
    return float(n_units - 1) if n_units is not None and n_units >= 2 else math.inf


def quantile(df: float, prob: float) -> float:
    return float(sstats.norm.ppf(prob) if math.isinf(df) else sstats.t.ppf(prob, df))


@dataclass
class Test:
    """One claim in one stratum, ready for error control."""

    statistic: float
    threshold: float
    se: float | None  # None: no interval possible (reason says why)
    df: float
    replicates: int  # B, all of them (finite or not)
    nonfinite_share: float
    reason: str = ""
    side: str = "greater"
    p_null: float | None = None  # one-sided p of the null replicates (None: none given)
    by_null: bool = False  # degenerate replicates: decided by the null test alone, no interval
    p_floor: float | None = None  # the smallest two-sided p the null test can give (its resolution)

    @property
    def p_interval(self) -> float | None:
        return None if self.se is None else p_value(self.statistic, self.threshold, self.se, self.df)

    @property
    def p_value(self) -> float | None:
        if self.by_null:
            return None if self.p_null is None else min(1.0, 2.0 * self.p_null)
        p = self.p_interval
        if p is None or self.p_null is None:
            return p
        return max(p, min(1.0, 2.0 * self.p_null))

    def interval(self, level: float) -> tuple[float, float] | None:
        return None if self.se is None else interval(self.statistic, self.se, self.df, level)


def null_p(statistic: float, null: np.ndarray | None, side: str, weights: np.ndarray | None = None,
           tie: float = 1e-12) -> float | None:
    """One-sided p of ``statistic`` against draws under the least-favourable null, on ``side`` ("greater": draws
    at least as large, within ``tie``). ``weights``: the draws are the whole null distribution and these are
    their probabilities, so p is the probability beyond; else random draws, ``(1 + count) / (1 + draws)``, in
    which non-finite draws count against."""
    if null is None:
        return None
    null = np.asarray(null, dtype=float).ravel()
    if not len(null):
        return None
    with np.errstate(invalid="ignore"):
        beyond = null >= statistic - tie if side == "greater" else null <= statistic + tie
    if weights is not None:
        return float(min(1.0, np.sum(np.asarray(weights, dtype=float)[beyond & np.isfinite(null)])))
    return float((1 + np.count_nonzero(beyond | ~np.isfinite(null))) / (1 + len(null)))


def smallest_p(null: np.ndarray, side: str, weights: np.ndarray | None = None) -> float:
    """The smallest one-sided p :func:`null_p` can give with these draws on ``side`` (the test's resolution)."""
    null = np.asarray(null, dtype=float).ravel()
    finite = null[np.isfinite(null)]
    if weights is None or not len(finite):
        return 1.0 / (1 + len(null))
    return float(null_p(float(finite.max() if side == "greater" else finite.min()), null, side, weights) or 1.0)


def is_degenerate(replicates: np.ndarray, statistic: float) -> bool:
    """Whether finite ``replicates`` are all one number (at least two of them): no spread, no interval."""
    r = np.asarray(replicates, dtype=float)
    r = r[np.isfinite(r)]
    return len(r) >= 2 and float(np.ptp(r)) <= DEGENERATE_SPREAD * max(1.0, abs(float(statistic)))


def make_test(statistic: float, threshold: float, samples: np.ndarray, n_units: int | None, side: str = "greater",
              null: np.ndarray | None = None, null_weights: np.ndarray | None = None,
              null_observed: float | None = None, null_test: str = "") -> Test:
    """The :class:`Test` of a statistic and its replicates: SE, df, the non-finite rule, the null test, and
    the rule for degenerate replicates (decided by a test of its own, ``null_test``, or not at all).

    ``null_observed``: the value of the null test's own statistic where it is not ``statistic``;
    ``null_weights``: the null draws are the exact distribution (their probabilities)."""
    reps = np.asarray(samples, dtype=float).ravel()
    B = len(reps)
    finite = reps[np.isfinite(reps)]
    share = 1.0 - len(finite) / B if B else 1.0
    df = degrees_of_freedom(n_units)
    if share > NONFINITE_LIMIT:
        return Test(statistic, threshold, None, df, B, share,
                    f"{100 * share:.1f}% of the {B} replicates are non-finite (more than {100 * NONFINITE_LIMIT:g}%)", side)
    if len(finite) < 2:
        return Test(statistic, threshold, None, df, B, share, "fewer than 2 finite replicates", side)
    towards = "greater" if statistic > threshold else "less"  # the side the statistic lies on
    observed = statistic if null_observed is None else float(null_observed)
    tie = PERMUTATION_TIE if null_test else 1e-12  # permutation tests' values are rounded to a grid
    p_null = None if null is None else null_p(observed, null, towards, null_weights, tie) if math.isfinite(observed) else 1.0
    if is_degenerate(finite, statistic):
        what = (f"degenerate resampling distribution: all {len(finite)} finite replicates are {finite[0]:.4g}, "
                "so no interval is valid")
        if not null_test or p_null is None:
            return Test(statistic, threshold, None, df, B, share, f"{what}; this statistic has no test of its own here "
                        "(a permutation test exists only for trends with threshold 0)", side)
        floor = min(1.0, 2.0 * smallest_p(null, towards, null_weights))
        return Test(statistic, threshold, None, df, B, share, f"{what}; decided by the {null_test}", side, p_null,
                    by_null=True, p_floor=floor)
    sd = float(np.std(finite, ddof=1))
    if n_units is not None and n_units >= 2:
        sd *= math.sqrt(n_units / (n_units - 1))
    return Test(statistic, threshold, sd, df, B, share, "", side, p_null)


def p_value(statistic: float, threshold: float, se: float, df: float) -> float:
    """Two-sided p-value of ``statistic == threshold`` from the studentized interval."""
    d = abs(statistic - threshold)
    if se <= 0:
        return 0.0 if d > 0 else 1.0
    z = d / se
    tail = sstats.norm.sf(z) if math.isinf(df) else sstats.t.sf(z, df)
    return float(min(1.0, 2.0 * tail))


def interval(statistic: float, se: float, df: float, level: float) -> tuple[float, float]:
    q = quantile(df, 1.0 - (1.0 - level) / 2.0)
    return (float(statistic - q * se), float(statistic + q * se))


def p_below(p: float, cut: float) -> bool:
    """``p < cut`` for a rejection: a p-value equal to the cut is not below it, also where rounding makes
    them differ in the last digits (an exact test's p can equal a Holm cut: 2/120 = 0.05/3)."""
    return p < cut * (1.0 - 1e-9)


def holm(p_values: Sequence[float | None], alpha: float) -> tuple[list[float], list[float | None]]:
    """Holm's step-down over one family: (interval level, adjusted p-value) per test, in input order.

    Tests sorted by p (ties: input order); the j-th (0-based) is rejected while
    p < alpha / (m - j) for it and every smaller one. A rejected test's interval is at
    level 1 - alpha / (m - j) (its step), every other test's at 1 - alpha / (m - r),
    r = number rejected: so each interval excludes the threshold exactly when Holm
    rejects. A ``None`` p-value (no interval possible) counts in m and is never rejected.
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: (1.0 if p_values[i] is None else p_values[i], i))
    levels = [0.0] * m
    adjusted: list[float | None] = [None] * m
    rejected, running = 0, 0.0
    stopped = False
    for j, i in enumerate(order):
        p = p_values[i]
        if p is not None:
            running = max(running, min(1.0, (m - j) * p))
            adjusted[i] = running
        if not stopped and p is not None and p_below(p, alpha / (m - j)):
            levels[i] = 1.0 - alpha / (m - j)
            rejected += 1
        else:
            stopped = True
    rest = 1.0 - alpha / (m - rejected) if rejected < m else 1.0
    for j, i in enumerate(order):
        if j >= rejected:
            levels[i] = rest
    return levels, adjusted
