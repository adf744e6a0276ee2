"""What a hypothesis returns: :class:`Evidence`, one claim in one stratum.

Plugins, the statistical core (:mod:`ddbench.hypotheses.core`, whose correlations come back as
evidence) and :func:`ddbench.hypotheses.base.decide` all use it, so it sits below them, with
the JSON-safe number helpers that verdict details and leaderboard records share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Evidence:
    """One claim in one stratum: a statistic and how sure we are of it."""

    claim: str
    stratum: dict[str, Any]
    statistic: float | None
    samples: np.ndarray | None = None  # bootstrap replicates of the statistic
    threshold: float = 0.0
    side: str = "greater"  # the claim holds when statistic > threshold ("greater") or < ("less")
    reason: str = ""  # why not applicable, or a note
    applicable: bool = True
    detail: dict[str, Any] = field(default_factory=dict)
    unit: str = ""  # what the replicates resample: seeds, test_points, grid_points, cells, probe_se, ...
    n_units: int | None = None  # how many units were resampled (degrees of freedom n - 1); None: normal quantiles
    #: draws of the statistic under the least-favourable null (a flat curve at the threshold, a permutation of
    #: widths): "holds" then also needs this one-sided test (docs/science.md, Statistics, "Null replicates")
    null_samples: np.ndarray | None = None
    #: the probabilities of ``null_samples`` when they are the whole null distribution (an exact test); None:
    #: random draws
    null_weights: np.ndarray | None = None
    #: the observed value of the null test's own statistic, where it is not ``statistic`` (e.g. the mean of
    #: per-seed rank correlations)
    null_observed: float | None = None
    #: the name of the test the null draws make on their own (a permutation test, valid without any
    #: interval: it alone decides a claim whose replicates are degenerate); "" for null draws derived from
    #: the bootstrap replicates, which decide only together with the interval
    null_test: str = ""
    #: a fingerprint of the values the null test arranged: pooled strata with the same one are copies (a
    #: quantity that does not depend on the stratum) and count once in the pooled test
    null_key: str = ""
    #: the statistic's range (e.g. (-1, 1) for a correlation): intervals are clipped to it (verdicts unchanged)
    bounds: tuple[float, float] | None = None


def finite_or_none(x: Any) -> float | None:
    """A JSON-safe number: ``None`` for missing, NaN or infinite values."""
    return None if x is None or not math.isfinite(float(x)) else float(x)


def finite_list(values: Any) -> list[float | None]:
    """:func:`finite_or_none` over a sequence (curves in verdict details)."""
    return [finite_or_none(v) for v in values]
