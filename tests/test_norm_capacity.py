"""Norm-based capacity: the random-features family, its closed-form trainer, the hypothesis."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import erf

from ddbench import registry
from ddbench.families.base import HEAD, PENULTIMATE
from ddbench.hypotheses.base import decide
from ddbench.hypotheses.cells import CellView
from ddbench.hypotheses.norm_capacity import NormCapacity, interior_peak, near_window, peak_miss
from ddbench.hypotheses.table import ResultTable
from ddbench.spec.model import AnalysisSpec
from ddbench.train.ridge import ridge_solve


def _rf(width: int, input_shape=(40,), num_classes=10, seed=0, **config):
    import keras

    keras.utils.set_random_seed(seed)
    plugin = registry.families.get("random_features")
    cfg = plugin.Config(**config)
    return plugin(), cfg, plugin().build(cfg, width, input_shape, num_classes, name="rf_test")


def _features(width: int, n: int, d: int = 40, seed: int = 0, **config) -> np.ndarray:
    from ddbench.train.closed_form import penultimate_features

    _, _, model = _rf(width, (d,), **config)
    x = np.random.default_rng(seed).standard_normal((n, d)).astype("float32")
    return penultimate_features(model, x)


def _onehot(n: int, seed: int = 1) -> np.ndarray:
    return np.eye(10)[np.random.default_rng(seed).integers(0, 10, n)]


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


# ------------------------------------------------------------------ ridge algebra


def test_ridgeless_limit_matches_lstsq_below_n():
    F, Y = _features(50, 200), _onehot(200)
    a, method = ridge_solve(F, Y, 1e-10, "primal")
    ref, *_ = np.linalg.lstsq(F, Y, rcond=None)
    assert method == "primal" and _rel(a, ref) < 1e-6
    a0, method0 = ridge_solve(F, Y, 0.0)
    assert method0 == "min_norm" and _rel(a0, ref) < 1e-6


@pytest.mark.parametrize("width", [60, 400])  # P < n and P > n, n = 150
def test_primal_equals_dual(width):
    F, Y = _features(width, 150), _onehot(150)
    primal, _ = ridge_solve(F, Y, 1e-3, "primal")
    dual, _ = ridge_solve(F, Y, 1e-3, "dual")
    assert _rel(primal, dual) < 1e-6
    _, auto = ridge_solve(F, Y, 1e-3, "auto")
    assert auto == ("dual" if width > 150 else "primal")


# ------------------------------------------------------------------ the family


def test_erf_features_are_erf_xv_over_sqrt_p_with_unit_scale():
    from ddbench.train.closed_form import penultimate_features

    x = np.random.default_rng(0).standard_normal((500, 40)).astype("float32")
    sq = {}
    for width in (200, 2000):
        _, _, model = _rf(width)
        V = model.get_layer("features").kernel.numpy()
        h = penultimate_features(model, x)
        assert np.allclose(h, erf(x.astype(np.float64) @ V) / math.sqrt(width), atol=1e-5)
        assert V.std() == pytest.approx(1 / math.sqrt(40), rel=0.05)
        sq[width] = float(np.mean(np.sum(h * h, axis=1)))
    # ||h(x)||^2 = mean_j erf(x.v_j)^2 with x.v ~ N(0, 1): (2/pi) arcsin(2/3), whatever P
    expected = 2 / math.pi * math.asin(2 / 3)
    assert sq[200] == pytest.approx(expected, rel=0.1) and sq[2000] == pytest.approx(expected, rel=0.05)


def test_param_count_is_the_head_and_v_is_fixed():
    fam, cfg, model = _rf(37, (28, 28, 1), num_classes=10)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert fam.param_count(cfg, 37, (28, 28, 1), 10) == 37 * 10 == trainable
    assert not model.get_layer("features").trainable and model.get_layer("features").kernel.shape == (784, 37)
    assert {PENULTIMATE, HEAD} <= {layer.name for layer in model.layers}
    assert model.get_layer(HEAD).bias is None


def test_feature_seed_nests_features_over_p_and_relu_builds():
    _, _, small = _rf(10, feature_seed=3, seed=0)
    _, _, wide = _rf(20, feature_seed=3, seed=1)
    V10, V20 = (m.get_layer("features").kernel.numpy() for m in (small, wide))
    assert np.array_equal(V10, V20[:, :10])
    h = _features(10, 5, activation="relu")
    assert (h >= 0).all() and (h > 0).any()


# ------------------------------------------------------------------ end to end


RF_SPEC = """
name: rf-tiny
dataset: {name: mnist1d, n_train: 200, n_test: 1000}
model:
  family: random_features
  config: {ridge: 0.0001}
  widths: {geomspace: [20, 2000, 15]}
training: {loss: mse, epochs: 1, batch_size: 50}
hypotheses: [norm_capacity]
analysis: {bootstrap: 200}
"""


def test_closed_form_run_peaks_at_n(tmp_path):
    from ddbench.run.pipeline import run
    from ddbench.spec.validate import load_spec_text
    from ddbench.store.run_store import RunStore

    result = run(load_spec_text(RF_SPEC), run_dir=tmp_path, trainer="packed")
    assert result.counts["done"] == 15, result.counts
    recs = sorted(RunStore(tmp_path).records(), key=lambda r: r.descriptor["width"])
    assert all(r.provenance["trainer"] == "closed_form" for r in recs)  # whatever trainer was asked for
    widths = np.array([r.descriptor["width"] for r in recs])
    loss = np.array([r.metrics["test_loss"] for r in recs])
    norm = np.array([r.metrics["ridge_sq_norm"] for r in recs])
    assert all(r.metrics["n_train"] == 200 and r.curves["epoch"] == [1] and r.params == 10 * r.descriptor["width"]
               for r in recs)
    assert 100 <= widths[norm.argmax()] <= 400 and 100 <= widths[loss.argmax()] <= 400
    assert loss.max() > 2 * loss[-1] and norm.max() > 2 * norm[-1]
    verdicts = {v.claim: v for v in result.leaderboard.verdicts}
    # the peaks coincide in every replicate (statistic 0 with no spread): no interval is valid, and an argmax
    # distance has no test of its own, so the claim is inconclusive and says why
    peaks = verdicts["norm_capacity.peaks_coincide"]
    assert peaks.statistic == 0 and peaks.verdict == "inconclusive" and "degenerate resampling" in peaks.reason
    assert verdicts["norm_capacity.trained_norm_tracks_error"].verdict == "not_applicable"


# ------------------------------------------------------------------ the hypothesis on synthetic tables

N = 100
WIDTHS = [10, 16, 25, 40, 63, 100, 158, 251, 398, 631, 1000]


def _peak(widths, at):
    return np.array([1.0 / (abs(math.log(w / at)) + 0.05) for w in widths])


def rf_table(risk, norm, strata=((1e-4, None),), n_test=2000, family="random_features", probes=None):
    """Cells whose per-point test losses average to ``risk`` (paired noise across widths)."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal(n_test)
    cells, arrays = [], {}
    for ridge, grid in strata:
        for i, (w, r, m) in enumerate(zip(WIDTHS, risk, norm)):
            key = f"{ridge}-{w}"
            # paired noise across widths, and a little of each width's own (else the shape of the risk curve
            # could not vary under test-point resampling, and its claims would have no interval)
            own = 0.02 * rng.standard_normal(n_test)
            arrays[key] = {"test_loss": (r * (1 + 0.2 * z + own)).astype(np.float32),
                           "test_correct": rng.random(n_test) > 0.5}
            metrics = {"train_error": 0.0 if w >= N else 0.5, "test_loss": float(r), "test_error": float(r)}
            if family == "random_features":
                metrics.update(ridge_sq_norm=float(m), n_train=float(N), ridge=ridge)
            cells.append(CellView(key, family, {}, grid or {}, w, 0.0, 0, 0, "done", w * 10, metrics,
                                  {}, probes[i] if probes else {}))
    return ResultTable(cells, lambda k: arrays[k])


def evaluate(table, **params):
    evs = NormCapacity().evidence(table, NormCapacity.Config(**params), AnalysisSpec(bootstrap=300))
    verdicts, _ = decide([(NormCapacity, evs)], alpha=0.05)
    return {v.claim.split(".", 1)[1]: v for v in verdicts}


def test_helpers_known_answers():
    assert near_window(np.array(WIDTHS, float), 100, 0.1).tolist() == [5]
    assert near_window(np.array([50.0, 90, 120, 300]), 100, 0.1).tolist() == [1, 2]
    assert interior_peak(np.array([[1.0, 3.0, 2.0, 4.0]]))[0] == pytest.approx(1.0)
    assert interior_peak(np.array([[3.0, 1.0, 2.0, 4.0]]))[0] < 0  # a U: no interior peak
    assert peak_miss(np.array([[0, 5, 1.0]]), np.array([[0, 1, 5.0]]), np.array([1]), 1)[0] == 1


def _degenerate(verdict):
    """An argmax distance that never moves in the bootstrap: no interval, no test of its own."""
    return (verdict.verdict == "inconclusive" and verdict.ci is None and "degenerate resampling" in verdict.reason
            and "has no test of its own" in verdict.reason)


def test_peaks_together_hold_the_other_claims_and_their_argmax_is_degenerate():
    norm = 10 * _peak(WIDTHS, N)
    risk = 0.1 + 0.01 * norm
    v = evaluate(rf_table(risk, norm))
    assert v["peaks_coincide"].statistic == 0 and _degenerate(v["peaks_coincide"])
    assert v["fall_together"].verdict == "holds"
    assert v["unimodal_in_norm"].verdict == "holds"
    assert v["strong_ridge_flattens"].verdict == "not_applicable" and "no grid over ridge" in v["strong_ridge_flattens"].reason
    assert v["trained_norm_tracks_error"].verdict == "not_applicable"
    (s,) = v["peaks_coincide"].strata
    assert s.detail["risk_peak_width"] == s.detail["norm_peak_width"] == 100 and s.detail["bootstrap"] == "test_points"


def test_mismatched_peaks_are_degenerate_not_decided():
    risk = 0.1 + 0.1 * _peak(WIDTHS, N)
    norm = 10 * _peak(WIDTHS, 4 * N)  # the norm peaks at P ~ 4n
    v = evaluate(rf_table(risk, norm))
    assert v["peaks_coincide"].statistic > 0.5 and _degenerate(v["peaks_coincide"])  # the peaks miss, in every replicate
    assert v["peaks_coincide"].strata[0].detail["norm_peak_width"] == 398


def test_second_descent_in_norm_fails_unimodality():
    norm = 10 * _peak(WIDTHS, N)
    risk = 0.1 + 0.01 * norm
    risk[8] += 0.3  # P = 398: an interior bump on the over-parameterised branch
    v = evaluate(rf_table(risk, norm))
    assert v["unimodal_in_norm"].verdict == "fails"
    assert v["fall_together"].verdict == "fails"


def test_strong_ridge_is_recorded_not_tested():
    norm = 10 * _peak(WIDTHS, N)
    risk = 0.1 + 0.01 * norm
    v = evaluate(rf_table(risk, norm, strata=((1e-4, {"ridge": 1e-4}), (5e-3, {"ridge": 5e-3}))))
    by = {s.stratum.get("ridge"): s for s in v["peaks_coincide"].strata}
    assert _degenerate(by[1e-4]) and by[5e-3].verdict == "not_applicable" and "strong ridge" in by[5e-3].reason
    rec = v["strong_ridge_flattens"]
    assert rec.verdict == "not_applicable" and rec.strata[0].reason == "recorded, not tested"
    assert set(rec.strata[0].detail["per_ridge"]) == {"0.0001", "0.005"}


def test_trained_extension_needs_weight_norm():
    err = np.linspace(0.5, 0.2, len(WIDTHS))
    v = evaluate(rf_table(err, err, family="mlp"))
    t = v["trained_norm_tracks_error"]
    assert t.verdict == "not_applicable" and "weight_norm" in t.reason
    assert v["peaks_coincide"].verdict == "not_applicable"
    probes = [{"weight_norm": {"head_sq_norm": 10 * e, "total_sq_norm": 20 * e}} for e in err]
    v = evaluate(rf_table(err, err, family="mlp", probes=probes))
    t = v["trained_norm_tracks_error"]
    assert t.verdict == "holds" and t.strata[0].detail["k_star"] == N
