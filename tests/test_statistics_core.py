"""The statistical core: one k* and plan per stratum, Holm within each hypothesis, the non-finite rule,
and verdicts that do not move when an unrelated hypothesis is added."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict
from zoo import zoo

from ddbench.hypotheses.base import HypothesisPlugin, decide
from ddbench.hypotheses.class_activation import ClassActivationHypothesis
from ddbench.hypotheses.double_descent import DoubleDescent
from ddbench.hypotheses.evidence import Evidence
from ddbench.hypotheses.low_rank import LowRankHypothesis
from ddbench.hypotheses.smoothness import SmoothnessHypothesis
from ddbench.spec.model import AnalysisSpec
from ddbench.stats.inference import holm, make_test
from ddbench.stats.plan import ResamplingPlan
from ddbench.stats.threshold import interpolation_index, peak_excess, peak_window

PEAKED = [0.50, 0.40, 0.35, 0.45, 0.38, 0.33, 0.30]


def test_k_star_is_the_smallest_width_whose_seed_mean_interpolates():
    assert interpolation_index([2, 4, 8], [0.5, 0.01, 0.0], 0.01) == 1
    assert interpolation_index([2, 4, 8], [0.5, np.nan, 0.0], 0.01) == 2
    assert interpolation_index([2, 4, 8], [0.5, 0.2, 0.02], 0.01) is None


def test_peak_window_two_grid_points_or_half_to_double():
    widths = np.array([1, 2, 3, 4, 5, 6, 7, 8, 16, 32])
    # k* = 8 (index 7): indices 5..9 by grid points, widths 4..16 by ratio; interior only (not 0, not 9)
    assert peak_window(widths, 7).tolist() == [3, 4, 5, 6, 7, 8]
    assert peak_window(widths, None).tolist() == []
    j, exc = peak_excess(np.array([PEAKED]), np.array([1, 2, 3, 4, 5]))
    assert j[0] == 3 and exc[0] == pytest.approx(0.10)


def test_one_failed_cell_gives_every_claim_the_same_k_star():
    """A failed cell at width 16 (seed 1): k* is the stratum's, computed once, for every claim."""
    train = [0.6, 0.4, 0.2, 0.005, 0.0, 0.0, 0.0]
    table = zoo(lambda r, s, i: PEAKED[i], seeds=(0, 1, 2), train=train, failed={(0.2, 1, 16)},
                probes=lambda r, s, i: {"smoothness": {"sharpness_mean": float(10 - i)},
                                        "class_activation": {"cam_ho_similarity": 1.0 - 0.1 * i}})
    analysis = AnalysisSpec(bootstrap=200)
    (core,) = table.cores(analysis)
    # seed 1 lacks width 16: the paired design keeps seeds 0 and 2 (test-point unit); k* uses every finished cell
    assert core.k_star == 16 and len(core.seeds) == 2 and core.unit == "test_points"
    assert table.cores(analysis)[0] is core  # built once, shared
    ks = set()
    for plugin in (DoubleDescent, SmoothnessHypothesis, ClassActivationHypothesis):
        for e in plugin().evidence(table, plugin.Config(), analysis):
            if "k_star" in e.detail:
                ks.add(e.detail["k_star"])
    assert ks == {16}


def test_plan_depends_on_the_design_only_and_is_paired():
    a, b = ResamplingPlan(300, 7), ResamplingPlan(300, 7)
    b.indices("seeds", 5)  # asking in another order changes nothing
    assert np.array_equal(a.indices("test_points", 50), b.indices("test_points", 50))
    assert np.array_equal(a.indices("seeds", 5), b.indices("seeds", 5))
    assert not np.array_equal(a.indices("seeds", 5), ResamplingPlan(300, 8).indices("seeds", 5))
    assert a.indices("seeds", 5).shape == (300, 5) and (a.counts("seeds", 5).sum(axis=1) == 5).all()
    # the replicate mean of a matrix is the mean over the drawn units, the same draw for every row (width)
    M = np.arange(10.0).reshape(2, 5)
    idx = a.indices("seeds", 5)
    assert np.allclose(a.mean("seeds", M), M[:, idx].mean(axis=2).T)


def test_holm_levels_and_adjusted_p_known_answer():
    levels, adj = holm([0.01, 0.04, 0.03, None], 0.05)
    # sorted: 0.01 (< 0.05/4 rejected), 0.03 (not < 0.05/3): stop; r = 1
    assert levels == pytest.approx([1 - 0.05 / 4, 1 - 0.05 / 3, 1 - 0.05 / 3, 1 - 0.05 / 3])
    assert adj[:3] == pytest.approx([0.04, 0.09, 0.09]) and adj[3] is None


def test_more_than_five_percent_nonfinite_replicates_is_inconclusive():
    class P:
        plugin_name, plugin_version, claims = "p", "1", {}

    reps = np.full(1000, 0.5)
    reps[:60] = np.nan  # 6 % non-finite
    few = reps.copy()
    few[60:] = np.linspace(0.4, 0.6, 940)
    few[:40] = 0.5  # 2 % non-finite
    evs = [Evidence("p.a", {"noise_rate": 0.1}, 0.5, reps, 0.0), Evidence("p.b", {"noise_rate": 0.1}, 0.5, few, 0.0)]
    verdicts, _ = decide([(P, evs)], 0.05)
    a, b = verdicts
    assert a.verdict == "inconclusive" and "6.0% of the 1000 replicates are non-finite" in a.reason
    assert a.strata[0].nonfinite_share == pytest.approx(0.06) and a.ci is None
    assert b.verdict == "holds" and b.strata[0].nonfinite_share == pytest.approx(0.02)
    assert make_test(0.5, 0.0, reps, None).se is None


def test_studentized_interval_is_t_with_units_minus_one_df():
    reps = np.random.default_rng(0).normal(0.0, 1.0, 4000)
    t = make_test(2.0, 0.0, reps, 3)
    # SE = sd * sqrt(3/2); t(2) quantile at 0.975 = 4.303
    se = np.std(reps, ddof=1) * np.sqrt(1.5)
    lo, hi = t.interval(0.95)
    assert lo == pytest.approx(2.0 - 4.3027 * se, rel=1e-3) and hi == pytest.approx(2.0 + 4.3027 * se, rel=1e-3)


# ------------------------------------------------------------------ invariance under an unrelated plugin


class Unrelated(HypothesisPlugin):
    """A small extra hypothesis with many tested claims (as a third-party plugin would add)."""

    plugin_name, plugin_version = "unrelated_extra", "1"
    claims = {f"c{i}": f"claim {i}" for i in range(4)}

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def evidence(self, table, config, analysis):
        out = []
        for core in table.cores(analysis):
            curve = core.curve("test_error")
            for i in range(4):
                out.append(Evidence(f"unrelated_extra.c{i}", core.stratum, float(curve[0][i]), curve[1][:, i], 0.3,
                                    unit=core.unit, n_units=core.n_units))
        return out


def _quickstart_like_table(seeds):
    def probes(rate, seed, i):
        j = 0.05 * seed
        return {
            "class_activation": {"cam_ho_similarity": 0.9 - 0.1 * i + j, "cam_ih_similarity": 0.5 - 0.05 * i,
                                 "complexity": [1, 2, 3, 5, 3, 2, 1][i] + j, "complexity_se": 0.1,
                                 "activation_ratio": 0.9 - 0.1 * i + j,
                                 "knn_noisy_acc_true": 0.2 + 0.1 * i + j if rate > 0 else None,
                                 "knn_noisy_acc_noisy": 0.5 - 0.05 * i if rate > 0 else None},
            "smoothness": {"sharpness_mean": [1, 2, 3, 9, 6, 4, 2][i] + j, "sharpness_mean_se": 0.1,
                           "sharpness_clean": 1.0 + i, "sharpness_clean_se": 0.1,
                           "sharpness_noisy": 2.0 + i if rate > 0 else None, "sharpness_noisy_se": 0.1,
                           "label_volume_noisy": 0.1 * i + j if rate > 0 else None, "label_volume_noisy_se": 0.01},
            "low_rank": {"erank": 10.0 - i, "erank_per_width": 1.0 / (i + 1) + j},
        }

    return zoo(lambda r, s, i: PEAKED[i] + 0.01 * s, rates=(0.0, 0.2), seeds=seeds, probes=probes)


def _verdict_json(plugins, table, analysis):
    results = [(p, p().evidence(table, p.Config(), analysis)) for p in plugins]
    verdicts, _ = decide(results, analysis.alpha)
    return {v.claim: json.dumps(v.model_dump(mode="json"), sort_keys=True) for v in verdicts}


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)])
def test_adding_an_unrelated_plugin_leaves_other_verdicts_byte_identical(seeds):
    analysis = AnalysisSpec(bootstrap=200)
    quick = [DoubleDescent, ClassActivationHypothesis, SmoothnessHypothesis, LowRankHypothesis]
    before = _verdict_json(quick, _quickstart_like_table(seeds), analysis)
    # the extra plugin first (it draws from the plan before the others) and last
    for order in ([Unrelated, *quick], [*quick, Unrelated]):
        after = _verdict_json(order, _quickstart_like_table(seeds), analysis)
        assert {c for c in after if c.startswith("unrelated_extra.")} == {f"unrelated_extra.c{i}" for i in range(4)}
        assert {c: j for c, j in after.items() if not c.startswith("unrelated_extra.")} == before
    tested = [json.loads(j) for j in before.values()]
    assert any(v["verdict"] in ("holds", "fails") for v in tested)
    assert all(v["family"] == v["hypothesis"] and v["correction"] == "holm" for v in tested if v["p_value"] is not None)


def test_markdown_and_plots_read_k_star_and_peaks_that_the_core_recorded():
    from test_leaderboard_render import make_board

    from ddbench.leaderboard.curves import curve_groups
    from ddbench.leaderboard.render import render_markdown

    board = make_board()
    board.analysis = {**board.analysis, "strata": [
        {"stratum": {"family": "mlp", "noise_rate": 0.1}, "k_star": 16, "test_error_peak": {"width": 32, "excess": 0.1},
         "test_loss_peak": None}]}
    groups = {g.noise_rate: g for g in curve_groups(board)}
    assert (groups[0.1].k_star, groups[0.1].k_star_source, groups[0.1].peaks) == (16, "core", {"peak": 32})
    # a stratum the core did not record falls back to the verdicts' details (older leaderboards)
    assert (groups[0.2].k_star, groups[0.2].k_star_source, groups[0.2].peaks["peak"]) == (8, "verdict", 16)
    assert "k* = 16 (interpolation threshold" in render_markdown(board)


def test_core_record_matches_the_verdicts():
    table = zoo(lambda r, s, i: PEAKED[i], rates=(0.0, 0.2), seeds=(0, 1, 2), n_test=2000)
    analysis = AnalysisSpec(bootstrap=200)
    records = {r["stratum"]["noise_rate"]: r for r in (c.record() for c in table.cores(analysis))}
    evs = DoubleDescent().evidence(table, DoubleDescent.Config(), analysis)
    for e in evs:
        if e.claim == "double_descent.peak" and not e.stratum.get("pooled"):
            rec = records[e.stratum["noise_rate"]]
            assert rec["k_star"] == e.detail["k_star"] == 16 and rec["unit"] == "seeds" and rec["seeds"] == 3
            assert rec["test_error_peak"]["width"] == e.detail["peak_width"] == 16
            assert rec["peak_window"] == [4, 8, 16, 32, 64]


# ------------------------------------------------------------------ degenerate replicates and the permutation test


def test_exact_permutation_distribution_is_every_arrangement_of_every_seed():
    from itertools import permutations, product

    from ddbench.stats.inference import null_p
    from ddbench.stats.permutation import arrangement_test, pooled_test
    from ddbench.stats.rowstats import row_spearman

    rng = np.random.default_rng(3)
    x = np.array([1.0, 2.0, 4.0, 8.0])
    Y = rng.normal(size=(4, 2))
    Y[1, 1] = Y[2, 1]  # a tie in the second seed
    plan = ResamplingPlan(100, 0)
    t = arrangement_test(x, Y, "spearman", plan.unit_permutations)
    assert t.exact and "24^2 = 576 arrangements" in t.name and t.weights.sum() == pytest.approx(1.0)

    def rho(y):
        return row_spearman(x[None], np.asarray(y)[None])[0]

    brute = np.array([(rho(Y[list(p), 0]) + rho(Y[list(q), 1])) / 2 for p, q in product(permutations(range(4)), repeat=2)])
    observed = (rho(Y[:, 0]) + rho(Y[:, 1])) / 2
    assert t.observed == pytest.approx(observed)
    assert null_p(t.observed, t.values, "greater", t.weights, 0.5e-9) == pytest.approx(np.mean(brute >= observed - 1e-9))
    assert null_p(t.observed, t.values, "less", t.weights, 0.5e-9) == pytest.approx(np.mean(brute <= observed + 1e-9))
    # two strata: the mean's distribution is the convolution of theirs
    t3 = arrangement_test(x[:3], rng.normal(size=(3, 1)), "spearman", plan.unit_permutations)
    both = pooled_test([t, t3], "claim")
    pairs = (brute[:, None] + np.array([rho3 for rho3 in t3.values])[None, :]) / 2
    w = np.ones(len(brute))[:, None] / len(brute) * t3.weights[None, :]
    assert both.exact and null_p(both.observed, both.values, "greater", both.weights, 0.5e-9) == pytest.approx(
        w[pairs >= both.observed - 1e-9].sum())
    # identical seeds are one seed; constant ones carry no order
    copies = np.repeat(rng.normal(size=(5, 1)), 3, axis=1)
    assert "all 120 arrangements of the seed's values" in arrangement_test(np.arange(5.0), copies, "spearman",
                                                                           plan.unit_permutations).name
    assert arrangement_test(np.arange(5.0), np.ones((5, 3)), "spearman", plan.unit_permutations) is None


def _trend_zoo(seeds, identical=False, slope=-0.1):
    """Probe values falling with width in every seed (so the seed bootstrap is degenerate above k*)."""
    def probes(rate, s, i):
        j = 0.0 if identical else 0.01 * s
        return {"class_activation": {"cam_ho_similarity": 0.9 + slope * i + j, "cam_ih_similarity": 0.1,
                                     "activation_ratio": 0.9 + slope * i + j}}

    return zoo(lambda r, s, i: 0.3, seeds=seeds, n_test=50, probes=probes, identical_seeds=identical)


def _decided(plugin, table, bootstrap=200):
    analysis = AnalysisSpec(bootstrap=bootstrap)
    out, _ = decide([(plugin, plugin().evidence(table, plugin.Config(), analysis))], 0.05)
    return {v.claim.split(".", 1)[1]: v for v in out}


def test_every_seed_monotone_is_decided_by_the_exact_test_not_by_an_interval():
    v = _decided(ClassActivationHypothesis, _trend_zoo((0, 1, 2)))
    cam = v["cam_similarity_decreases"]  # 4 widths above k* = 16, 3 seeds, each monotone: Spearman -1 in every replicate
    assert cam.verdict == "holds" and cam.ci is None and "degenerate resampling distribution" in cam.reason
    assert "decided by the exact permutation test (all 24^3 = 13,824 arrangements" in cam.reason
    assert cam.p_value == pytest.approx(2 / 24**3)
    up = _decided(ClassActivationHypothesis, _trend_zoo((0, 1, 2), slope=0.1))["cam_similarity_decreases"]
    assert up.verdict == "fails" and "exact" in up.reason  # monotone the other way: the claim fails


def test_identical_seeds_are_one_seed_for_the_exact_test():
    v = _decided(ClassActivationHypothesis, _trend_zoo((0, 1, 2), identical=True))
    cam, ratio = v["cam_similarity_decreases"], v["activation_ratio_decreases"]
    # three copies of one seed are one seed: over 4 widths no arrangement test can go below 2/24
    assert cam.verdict == "inconclusive" and cam.p_value == pytest.approx(2 / 24)
    assert "cannot give p below 0.0833" in cam.reason
    # over all 7 widths one monotone seed can decide: p = 2/7!
    assert ratio.verdict == "holds" and ratio.p_value == pytest.approx(2 / 5040) and "exact" in ratio.reason


def test_a_degenerate_statistic_without_a_test_of_its_own_is_inconclusive():
    class P:
        plugin_name, plugin_version, claims = "p", "1", {}

    flat = np.full(1000, 9.0)
    # an argmax distance that never moves, and a degenerate statistic whose null draws come from the same
    # (degenerate) bootstrap: neither is decided
    evs = [Evidence("p.argmax", {"noise_rate": 0.1}, 9.0, flat, 2.5, "less"),
           Evidence("p.peak", {"noise_rate": 0.1}, 0.05, np.full(1000, 0.05), 0.01, null_samples=np.full(1000, 0.01))]
    for v in decide([(P, evs)], 0.05)[0]:
        assert v.verdict == "inconclusive" and v.ci is None and v.p_value is None
        assert "degenerate resampling distribution" in v.reason and "has no test of its own" in v.reason
    # identical seeds make a double-descent peak's seed bootstrap degenerate: not a peak that holds
    table = zoo(lambda r, s, i: PEAKED[i], seeds=(0, 1, 2), identical_seeds=True)
    peak = _decided(DoubleDescent, table)["peak"]
    assert peak.verdict == "inconclusive" and "degenerate" in peak.reason


def test_a_p_value_equal_to_a_holm_cut_is_not_below_it():
    levels, _ = holm([2 / 120, 2 / 120, 2 / 120], 0.05)  # 2/120 = 0.05/3 exactly
    assert levels == pytest.approx([1 - 0.05 / 3] * 3)
    from ddbench.stats.inference import p_below

    assert not p_below(2 / 120, 0.05 / 3) and p_below(0.0166, 0.05 / 3)


def test_malformed_null_fields_are_refused_at_the_boundary():
    from ddbench.hypotheses.evaluate import EvidenceError, checked_evidence

    class P:
        plugin_name = "p"

    ok = Evidence("p.a", {}, -1.0, np.full(10, -1.0), null_samples=np.array([-1.0, 1.0]),
                  null_weights=np.array([0.5, 0.5]), null_observed=-1.0, null_test="exact permutation test")
    assert checked_evidence(P, [ok]) == [ok]
    for bad, why in ((dict(null_weights=np.array([0.5, 0.6])), "not probabilities"),
                     (dict(null_weights=np.array([1.0])), "same length"),
                     (dict(null_observed="x"), "null_observed"), (dict(null_test=3), "null_test")):
        e = Evidence("p.a", {}, -1.0, np.full(10, -1.0), null_samples=np.array([-1.0, 1.0]), **bad)
        with pytest.raises(EvidenceError, match=why):
            checked_evidence(P, [e])
