"""Calibration of the verdicts, measured on hundreds of small synthetic zoos (no training).

Under the null (error curves with no peak; probe values unrelated to width; with ties, with only 3 or 4
widths above k*, with identical seeds) the rate of false ``holds`` must be at most alpha. A rate measured
on n zoos has a Monte Carlo standard error of sqrt(alpha (1 - alpha) / n) near alpha (1.26% at n = 300,
alpha = 0.05); a null scenario fails when its rate exceeds alpha + 2.33 SE (one-sided 99%: 7.9% at
n = 300), so a method twice as liberal as claimed fails. With a planted effect of known size the claim
must be detected. The measured rates are printed (``pytest -s``; docs/science.md, "Calibration"). Each
scenario is deterministic (seeded), so the test is not flaky.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from zoo import TRAIN, zoo

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


def mc_se(n: int, rate: float = ALPHA) -> float:
    """Monte Carlo standard error of a rate near ``rate`` measured on n zoos."""
    return math.sqrt(rate * (1 - rate) / n)


def limit(n: int) -> float:
    """The largest false-holds rate on n zoos still consistent with a true rate <= alpha (alpha + 2.33 SE)."""
    return ALPHA + 2.33 * mc_se(n)


def check_null(what: str, rates: dict[str, float], zoos: int = ZOOS) -> None:
    print(f"\nnull, {what}: false holds {rates} (limit {limit(zoos):.3f} = alpha + 2.33 x MC SE {mc_se(zoos):.4f})")
    assert rates["any"] <= limit(zoos)


def dd_rates(seeds, *, peak: float, n_test: int, seed_sd: float, zoos: int = ZOOS, seed: int = 0,
             identical: bool = False) -> dict[str, float]:
    """Share of zoos where each double-descent claim holds; 'any' = either claim (family-wise)."""
    rng = np.random.default_rng(seed)
    holds = {"peak": 0, "loss_peak": 0, "any": 0}
    for _ in range(zoos):
        offset = rng.normal(0, seed_sd, (len(seeds), 7))  # seed-to-seed variation of each width's error
        table = zoo(lambda r, s, i, off=offset: 0.3 + (peak if i == 3 else 0.0) + off[s, i], seeds=seeds,
                    n_test=n_test, rng=rng, identical_seeds=identical)
        v = verdicts(DoubleDescent, table)  # defaults: delta 0.01 (error), delta_loss 0 (loss)
        for claim in ("peak", "loss_peak"):
            holds[claim] += v[claim] == "holds"
        holds["any"] += v["peak"] == "holds" or v["loss_peak"] == "holds"
    return {k: n / zoos for k, n in holds.items()}


CA_CLAIMS = ("cam_similarity_decreases", "activation_ratio_decreases", "knn_true_rises")


def ca_rates(seeds, *, slope: float, zoos: int = ZOOS, seed: int = 1, above: int = 4, levels: int = 0,
             identical: bool = False) -> dict[str, float]:
    """Share of zoos where each class-activation trend claim holds: values = -slope * grid index + noise (sd
    0.05) for the two decreasing claims, +slope * grid index + noise for knn_true_rises (above k*).

    ``above``: widths at or above k* (of 7); ``levels`` > 0: values rounded to that many levels over their
    range (ties); ``identical``: every seed has the first seed's values (copies)."""
    rng = np.random.default_rng(seed)
    holds = dict.fromkeys((*CA_CLAIMS, "any"), 0)
    train = TRAIN if above == 4 else [0.6, 0.4, 0.2, 0.1, 0.05, 0.02, 0.0][: 7 - above] + [0.0] * above
    for _ in range(zoos):
        noise = rng.normal(0, 0.05, (len(seeds), 7, 3))
        if identical:
            noise[:] = noise[0]
        if levels:  # a coarse probe: values on `levels` steps, many ties
            noise = np.round(noise * levels / 0.2) * 0.2 / levels

        def probes(rate, s, i, z=noise):
            return {"class_activation": {"cam_ho_similarity": 0.5 - slope * i + z[s, i, 0], "cam_ih_similarity": 0.1,
                                         "activation_ratio": 0.5 - slope * i + z[s, i, 1],
                                         "knn_noisy_acc_true": 0.5 + slope * i + z[s, i, 2],
                                         "knn_noisy_acc_noisy": 0.5}}

        v = verdicts(ClassActivationHypothesis, zoo(lambda r, s, i: 0.3, seeds=seeds, n_test=50, rng=rng,
                                                    probes=probes, train=train))
        for claim in CA_CLAIMS:
            holds[claim] += v[claim] == "holds"
        holds["any"] += any(v[c] == "holds" for c in CA_CLAIMS)
    return {k: n / zoos for k, n in holds.items()}


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)], ids=["1 seed (test points)", "3 seeds"])
def test_flat_error_curves_rarely_hold_a_peak(seeds):
    rates = dd_rates(seeds, peak=0.0, n_test=400, seed_sd=0.02 if len(seeds) > 1 else 0.0)
    check_null(f"flat error curves, {len(seeds)} seed(s)", rates)


def test_flat_error_curves_with_identical_seeds_never_hold_a_peak():
    # three copies of one seed: the seed bootstrap is degenerate, and so is the peak's null built from it
    rates = dd_rates((0, 1, 2), peak=0.0, n_test=400, seed_sd=0.0, identical=True)
    check_null("flat error curves, 3 identical seeds", rates)


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)], ids=["1 seed (grid points)", "3 seeds"])
def test_probe_values_unrelated_to_width_rarely_hold_a_trend(seeds):
    check_null(f"probe values unrelated to width, {len(seeds)} seed(s)", ca_rates(seeds, slope=0.0))


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)], ids=["1 seed (grid points)", "3 seeds"])
def test_tied_probe_values_rarely_hold_a_trend(seeds):
    check_null(f"probe values on 3 levels (ties), {len(seeds)} seed(s)", ca_rates(seeds, slope=0.0, levels=3, seed=2))


@pytest.mark.parametrize("above", [3, 4])
def test_few_widths_above_k_star_rarely_hold_a_trend(above):
    check_null(f"{above} widths above k*, 3 seeds", ca_rates((0, 1, 2), slope=0.0, above=above, seed=3))


def test_identical_seeds_rarely_hold_a_trend():
    check_null("probe values unrelated to width, 3 identical seeds",
               ca_rates((0, 1, 2), slope=0.0, identical=True, seed=4))


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


@pytest.mark.parametrize("case", ["3 above", "ties", "identical"])
def test_planted_trend_is_detected_where_the_exact_test_decides(case):
    # 3 widths above k*: every seed monotone (the bootstrap degenerate) happens often, the exact test decides it;
    # ties: values on 3 levels; identical seeds: one seed's information, over all 7 widths
    kwargs = {"3 above": dict(above=3, slope=0.08), "ties": dict(levels=3, slope=0.04),
              "identical": dict(identical=True, slope=0.04)}[case]
    rates = ca_rates((0, 1, 2), zoos=150, seed=5, **kwargs)
    print(f"\nplanted trend, {case}, 3 seeds: detection {rates}")
    claim = "activation_ratio_decreases" if case != "3 above" else "cam_similarity_decreases"
    assert rates[claim] >= 0.3
