"""Calibration of the verdicts, measured on hundreds of small synthetic zoos (no training).

Under the null (error curves with no peak; probe values unrelated to width) the rate of
false ``holds`` must be at most alpha (tolerance: the 99% binomial quantile, so a
method twice as liberal as claimed fails); with a planted effect of known size the
claim must be detected. The measured rates are printed (``pytest -s``). Each scenario
is deterministic (seeded), so the test is not flaky; the tolerance only absorbs the
Monte Carlo error of the scenario's own draws.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sstats
from zoo import zoo

from ddbench.hypotheses.base import decide
from ddbench.hypotheses.class_activation import ClassActivationHypothesis
from ddbench.hypotheses.double_descent import DoubleDescent
from ddbench.spec.model import AnalysisSpec

ALPHA = 0.05
ZOOS = 300
ANALYSIS = AnalysisSpec(bootstrap=200, alpha=ALPHA)


def verdicts(plugin, table, **config) -> dict[str, str]:
    evs = plugin().evidence(table, plugin.Config(**config), ANALYSIS)
    out, _ = decide([(plugin, evs)], ALPHA)
    return {v.claim.split(".", 1)[1]: v.verdict for v in out}


def allowed(n: int, rate: float = ALPHA) -> int:
    """Most false holds in n zoos still consistent with a true rate <= ``rate`` (99% binomial quantile)."""
    return int(sstats.binom.ppf(0.99, n, rate))


def dd_rates(seeds, *, peak: float, n_test: int, seed_sd: float, zoos: int = ZOOS, seed: int = 0) -> dict[str, float]:
    """Share of zoos where each double-descent claim holds; 'any' = either claim (family-wise)."""
    rng = np.random.default_rng(seed)
    holds = {"peak": 0, "loss_peak": 0, "any": 0}
    for _ in range(zoos):
        offset = rng.normal(0, seed_sd, (len(seeds), 7))  # seed-to-seed variation of each width's error
        table = zoo(lambda r, s, i, off=offset: 0.3 + (peak if i == 3 else 0.0) + off[s, i], seeds=seeds,
                    n_test=n_test, rng=rng)
        v = verdicts(DoubleDescent, table)  # defaults: delta 0.01 (error), delta_loss 0 (loss)
        for claim in ("peak", "loss_peak"):
            holds[claim] += v[claim] == "holds"
        holds["any"] += v["peak"] == "holds" or v["loss_peak"] == "holds"
    return {k: n / zoos for k, n in holds.items()}


CA_CLAIMS = ("cam_similarity_decreases", "activation_ratio_decreases")


def ca_rates(seeds, *, slope: float, zoos: int = ZOOS, seed: int = 1) -> dict[str, float]:
    """Share of zoos where each class-activation trend claim holds (values = -slope * grid index + noise)."""
    rng = np.random.default_rng(seed)
    holds = dict.fromkeys((*CA_CLAIMS, "any"), 0)
    for _ in range(zoos):
        noise = rng.normal(0, 0.05, (len(seeds), 7, 2))

        def probes(rate, s, i, z=noise):
            return {"class_activation": {"cam_ho_similarity": 0.5 - slope * i + z[s, i, 0], "cam_ih_similarity": 0.1,
                                         "activation_ratio": 0.5 - slope * i + z[s, i, 1]}}

        v = verdicts(ClassActivationHypothesis, zoo(lambda r, s, i: 0.3, seeds=seeds, n_test=50, rng=rng, probes=probes))
        for claim in CA_CLAIMS:
            holds[claim] += v[claim] == "holds"
        holds["any"] += any(v[c] == "holds" for c in CA_CLAIMS)
    return {k: n / zoos for k, n in holds.items()}


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)], ids=["1 seed (test points)", "3 seeds"])
def test_flat_error_curves_rarely_hold_a_peak(seeds):
    rates = dd_rates(seeds, peak=0.0, n_test=400, seed_sd=0.02 if len(seeds) > 1 else 0.0)
    print(f"\nnull, flat error curves, {len(seeds)} seed(s): false holds {rates}")
    assert rates["any"] * ZOOS <= allowed(ZOOS)


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)], ids=["1 seed (grid points)", "3 seeds"])
def test_probe_values_unrelated_to_width_rarely_hold_a_trend(seeds):
    rates = ca_rates(seeds, slope=0.0)
    print(f"\nnull, probe values unrelated to width, {len(seeds)} seed(s): false holds {rates}")
    assert rates["any"] * ZOOS <= allowed(ZOOS)


def test_planted_peak_is_detected():
    # a peak 0.08 above both sides at k* (8 points above delta), 1000 test points: SE of a difference ~ 0.02
    rates = dd_rates((0,), peak=0.08, n_test=1000, seed_sd=0.0, zoos=150)
    print(f"\nplanted peak 0.08, 1 seed: detection {rates}")
    assert rates["peak"] >= 0.8


def test_planted_trend_is_detected():
    # a decrease of 0.04 per grid point against seed noise of sd 0.05, 3 seeds
    rates = ca_rates((0, 1, 2), slope=0.04, zoos=150)
    print(f"\nplanted trend -0.04 per grid point, 3 seeds: detection {rates}")
    assert rates["activation_ratio_decreases"] >= 0.8 and rates["cam_similarity_decreases"] >= 0.3
