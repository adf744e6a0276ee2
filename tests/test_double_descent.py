"""Verdict logic of the double-descent hypothesis on synthetic curves with known answers."""

import numpy as np
import pytest

from ddbench.hypotheses.base import decide, verdict_of
from ddbench.hypotheses.cells import CellView
from ddbench.hypotheses.curves import interpolation_threshold, peak_excess
from ddbench.hypotheses.double_descent import DoubleDescent
from ddbench.hypotheses.evidence import Evidence
from ddbench.hypotheses.table import ResultTable
from ddbench.spec.model import AnalysisSpec

WIDTHS = [2, 4, 8, 16, 32, 64, 128]
TRAIN = [0.6, 0.4, 0.2, 0.0, 0.0, 0.0, 0.0]  # k* = 16
PEAKED = [0.50, 0.40, 0.35, 0.45, 0.38, 0.33, 0.30]  # peak at k*: 0.45 - max(0.35, 0.30) = 0.10
MONOTONE = [0.50, 0.45, 0.40, 0.37, 0.35, 0.33, 0.30]


def make_table(curves: dict[float, list[float]], train=TRAIN, seeds=(0,), n_test=3000, jitter=0.0):
    """Cells whose per-point correctness reproduces the given error curves exactly."""
    rng = np.random.default_rng(0)
    cells, arrays = [], {}
    for rate, errors in curves.items():
        for seed in seeds:
            for w, e, tr in zip(WIDTHS, errors, train):
                e = min(max(e + jitter * rng.standard_normal(), 0), 1)
                wrong = np.zeros(n_test, bool)
                wrong[rng.permutation(n_test)[: int(round(e * n_test))]] = True
                key = f"{rate}-{seed}-{w}"
                arrays[key] = {"test_correct": ~wrong, "test_loss": wrong.astype(np.float32) * 2.0}
                cells.append(CellView(key, "mlp", {}, {}, w, rate, 0, seed, "done", w * 10,
                                      {"train_error": tr, "test_error": e}, {}, {}))
    return ResultTable(cells, lambda k: arrays[k])


def evaluate(table, **params):
    plugin = DoubleDescent
    evs = plugin().evidence(table, plugin.Config(**params), AnalysisSpec(bootstrap=300))
    verdicts, analysis = decide([(plugin, evs)], alpha=0.05)
    return {v.claim: v for v in verdicts}, analysis


def test_peak_excess_known_answer():
    j, exc = peak_excess(np.array([PEAKED]), np.array([1, 2, 3, 4, 5]))
    assert j[0] == 3 and exc[0] == pytest.approx(0.10)
    j, exc = peak_excess(np.array([MONOTONE]), np.array([1, 2, 3, 4, 5]))
    assert exc.max() < 0


def test_interpolation_threshold():
    assert interpolation_threshold(np.array(WIDTHS), np.array(TRAIN), 0.01) == 3
    assert interpolation_threshold(np.array(WIDTHS), np.array([0.5] * 7), 0.01) is None


def test_clear_peak_holds_and_reports_k_star():
    verdicts, _ = evaluate(make_table({0.2: PEAKED}))
    v = verdicts["double_descent.peak"]
    assert v.verdict == "holds"
    assert v.statistic == pytest.approx(0.10, abs=1e-3)
    assert v.ci[0] > 0.01
    (s,) = v.strata
    assert s.detail["k_star"] == 16 and s.detail["peak_width"] == 16
    assert s.detail["bootstrap"] == "test_points"


def test_monotone_curve_fails():
    verdicts, _ = evaluate(make_table({0.2: MONOTONE}))
    assert verdicts["double_descent.peak"].verdict == "fails"


def test_tiny_peak_is_inconclusive_or_fails_against_delta():
    small = list(PEAKED)
    small[3] = 0.355  # 0.5 points above the left minimum, below delta = 1 point
    verdicts, _ = evaluate(make_table({0.2: small}, n_test=400))
    assert verdicts["double_descent.peak"].verdict in ("inconclusive", "fails")


def test_grid_that_never_interpolates_is_not_applicable_with_suggestion():
    verdicts, _ = evaluate(make_table({0.2: PEAKED}, train=[0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]))
    v = verdicts["double_descent.peak"]
    assert v.verdict == "not_applicable"
    assert "never reaches the interpolation threshold" in v.reason and "add widths above 128" in v.reason


def test_grid_starting_above_k_star_is_not_applicable():
    verdicts, _ = evaluate(make_table({0.2: PEAKED}, train=[0.0] * 7))
    assert verdicts["double_descent.peak"].verdict == "not_applicable"
    assert "already interpolates" in verdicts["double_descent.peak"].reason


def test_clean_labels_are_reported_not_tested_and_pooled_over_noisy_strata():
    verdicts, analysis = evaluate(make_table({0.0: MONOTONE, 0.1: PEAKED, 0.2: PEAKED}))
    v = verdicts["double_descent.peak"]
    by = {s.stratum.get("noise_rate", "pooled"): s for s in v.strata}
    assert by[0.0].verdict == "not_applicable" and by[0.0].statistic is not None and "p = 0" in by[0.0].reason
    assert by[0.1].verdict == by[0.2].verdict == "holds"
    assert by["pooled"].verdict == "holds" and v.verdict == "holds"
    # two claims x (2 noisy strata + pooled) are tested: one Holm family of 6 (this hypothesis only)
    assert analysis["families"] == {"double_descent": 6} and analysis["correction"] == "holm"
    tested = [s for c in verdicts.values() for s in c.strata if s.verdict != "not_applicable"]
    assert len(tested) == 6 and all(s.family == "double_descent" and s.family_size == 6 for s in tested)
    # all six rejected: Holm's step levels 1 - alpha/6, 1 - alpha/5, ..., 1 - alpha
    assert sorted(s.ci_level for s in tested) == pytest.approx(sorted(1 - 0.05 / k for k in range(1, 7)))
    assert all(s.p_value is not None and s.p_adjusted >= s.p_value and s.unit == "test_points" for s in tested)


def test_three_seeds_bootstrap_over_seeds():
    verdicts, _ = evaluate(make_table({0.2: PEAKED}, seeds=(0, 1, 2), jitter=0.01))
    (s,) = verdicts["double_descent.peak"].strata
    assert s.detail["bootstrap"] == "seeds" and s.detail["seeds"] == 3
    assert verdicts["double_descent.peak"].verdict == "holds"


def test_verdict_of_sides():
    assert verdict_of(1.0, (0.5, 1.5), 0.1, "greater") == "holds"
    assert verdict_of(-1.0, (-1.5, -0.5), 0.1, "greater") == "fails"
    assert verdict_of(0.1, (-0.5, 0.5), 0.1, "greater") == "inconclusive"
    assert verdict_of(-1.0, (-1.5, -0.5), 0.0, "less") == "holds"


def test_decide_marks_missing_preconditions_not_applicable():
    class P:
        plugin_name, plugin_version, claims = "p", "1", {}

    verdicts, analysis = decide([(P, [Evidence("p.x", {"noise_rate": 0.0}, None, applicable=False, reason="no noisy points")])], 0.05)
    assert verdicts[0].verdict == "not_applicable" and verdicts[0].reason == "no noisy points"
    assert analysis["families"] == {"p": 0}
