"""Known-answer tests of the class_activation and smoothness probes and hypotheses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from ddbench.data import TrainData
from ddbench.hypotheses.base import decide
from ddbench.hypotheses.cells import CellView
from ddbench.hypotheses.class_activation import ClassActivationHypothesis
from ddbench.hypotheses.smoothness import NO_CHECKPOINTS, SmoothnessHypothesis, rise_fall
from ddbench.hypotheses.table import ResultTable
from ddbench.plan import Cell
from ddbench.probes.base import ProbeContext, run_probe
from ddbench.probes.class_activation import (
    ClassActivation,
    activation_ratio,
    cam_similarity,
    chunk_complexities,
    knn_predict,
)
from ddbench.probes.smoothness import (
    Smoothness,
    evaluation_subset,
    mc_sharpness,
    path_mean,
    roll_signals,
    shift_images,
    shift_offset,
    trapezoid_path,
)
from ddbench.spec.model import AnalysisSpec

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------ tiny models and data


def onehot_model(C: int, scale: float = 5.0):
    """Input one-hot of the class -> penultimate = the same one-hot (ReLU, identity) -> logits = scale * one-hot."""
    import keras

    inp = keras.Input((C,))
    h = keras.layers.Dense(C, activation="relu", name="penultimate")(inp)
    z = keras.layers.Dense(C, name="head")(h)
    model = keras.Model(inp, z)
    model.get_layer("penultimate").set_weights([np.eye(C, dtype=np.float32), np.zeros(C, np.float32)])
    model.get_layer("head").set_weights([scale * np.eye(C, dtype=np.float32), np.zeros(C, np.float32)])
    return model


def onehot_data(C: int = 4, per_class: int = 30, noisy_per_class: int = 2, test_per_class: int = 25) -> TrainData:
    y_true = np.repeat(np.arange(C), per_class)
    noisy = np.zeros(len(y_true), bool)
    for c in range(C):
        noisy[np.flatnonzero(y_true == c)[:noisy_per_class]] = True
    y_train = np.where(noisy, (y_true + 1) % C, y_true)
    y_test = np.repeat(np.arange(C), test_per_class)
    eye = np.eye(C, dtype=np.float32)
    return TrainData(eye[y_true], y_train, y_true, noisy, eye[y_test], y_test, C,
                     noise_rate=noisy.mean(), noise_kind="exact", noise_seed=0)


def ctx_for(model, data: TrainData, checkpoints=None) -> ProbeContext:
    cell = Cell(family="mlp", config={}, width=data.num_classes, noise_rate=float(data.noise_rate), key="k")
    return ProbeContext(cell, model, data, seed=0, checkpoints=checkpoints or {})


def image_setup(n: int = 40, C: int = 3, noisy_n: int = 5):
    import keras

    from ddbench.families.mlp import MLP

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 6, 6, 1)).astype(np.float32)
    y = rng.integers(0, C, n)
    noisy = np.zeros(n, bool)
    noisy[:noisy_n] = True
    y_tr = np.where(noisy, (y + 1) % C, y)
    data = TrainData(x, y_tr, y, noisy, x[:10], y[:10], C, noise_rate=noisy.mean(), noise_kind="exact", noise_seed=0)
    keras.utils.set_random_seed(0)
    model = MLP().build(MLP.Config(depth=1), 8, (6, 6, 1), C, name="img")
    return model, data


# ------------------------------------------------------------------ class_activation: pure functions


def test_class_pure_onehot_activations_have_zero_cam_similarity():
    C, rng = 5, np.random.default_rng(0)
    pred = rng.integers(0, C, 200)
    h = np.eye(C)[pred]
    z = rng.standard_normal((200, C))
    x = rng.standard_normal((200, 7))
    assert cam_similarity(h, z, pred, C) == pytest.approx(0.0, abs=1e-7)
    # identical maps for every class give similarity 1
    same = np.ones((200, 3))
    assert cam_similarity(same, same, pred, C) == pytest.approx(1.0)
    # a class never predicted has a zero map: cosine 0 with the others
    pred2 = np.where(pred == 0, 1, pred)
    assert cam_similarity(same, same, pred2, C) == pytest.approx((3 * 4) / (C * (C - 1)))
    assert np.isfinite(cam_similarity(x, h, pred, C))


def test_activation_ratio_of_known_h():
    assert activation_ratio(np.array([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]])) == pytest.approx(2 / 6)


def test_complexity_of_constant_sign_chunk_is_the_known_max():
    m, d = 4, 3
    plus_minus = lambda j: np.vstack([np.ones(m), -np.ones(m), [1, -1, 1, -1]])  # noqa: E731
    pred = np.zeros(2 * m + 3, int)  # two chunks, remainder of 3 dropped
    h = np.full((2 * m + 3, d), 2.0)
    c = chunk_complexities(h, pred, 1, m, 3, 0, signs=plus_minus)
    assert c.shape == (2,) and np.allclose(c, 2.0 * m)  # (1/d) sum_j sum_i 2 = 2m
    assert np.allclose(chunk_complexities(-h, pred, 1, m, 3, 0, signs=plus_minus), 2.0 * m)
    # with the seeded Rademacher draw: never above the bound (1/d) sum_i |row sum_i|; m = 2 draws (+,+) surely
    rng = np.random.default_rng(1)
    H = rng.random((100, d))
    P = rng.integers(0, 3, 100)
    vals = chunk_complexities(H, P, 3, 20, 50, 0)
    rows = [H[P == c][: (np.sum(P == c) // 20) * 20].sum(1).reshape(-1, 20) for c in range(3)]
    bound = np.abs(np.concatenate(rows)).sum(1) / d
    assert len(vals) == sum(np.sum(P == c) // 20 for c in range(3)) and np.all(vals <= bound + 1e-12)
    assert np.allclose(chunk_complexities(h, pred, 1, 2, 50, 0), 2.0 * 2)
    # seeded: same seed, same value; chunk signs depend on the chunk index
    assert np.array_equal(vals, chunk_complexities(H, P, 3, 20, 50, 0))


def test_knn_on_separable_clusters_recovers_true_labels():
    rng = np.random.default_rng(0)
    C, d = 4, 16
    centers = np.eye(d)[:C] * 10
    y = rng.integers(0, C, 400)
    h = centers[y] + rng.standard_normal((400, d)) * 0.5
    q = rng.integers(0, C, 300)
    hq = centers[q] + rng.standard_normal((300, d)) * 0.5
    assert np.array_equal(knn_predict(h, y, hq, C, k=5, block=64), q)


# ------------------------------------------------------------------ class_activation: the probe on a real model


def test_class_activation_probe_on_onehot_model():
    data = onehot_data()
    res = run_probe(ClassActivation, {"m": 20}, ctx_for(onehot_model(4), data))
    assert res.status == "ok", res.error
    v = res.values
    assert v["cam_ho_similarity"] == pytest.approx(0.0, abs=1e-7)
    assert v["cam_ih_similarity"] == pytest.approx(0.0, abs=1e-7)
    assert v["activation_ratio"] == pytest.approx(1 / 4)
    assert v["knn_noisy_acc_true"] == 1.0 and v["knn_noisy_acc_noisy"] == 0.0
    assert v["complexity_chunks"] == 4 and 0 < v["complexity"] <= 20 / 4  # row sums are 1: bound m/d
    clean = onehot_data(noisy_per_class=0)
    res = run_probe(ClassActivation, {}, ctx_for(onehot_model(4), clean))
    assert res.status == "ok" and res.values["knn_noisy_acc_true"] is None and res.values["knn_noisy_acc_noisy"] is None


# ------------------------------------------------------------------ input gradients

_JAX_SCRIPT = textwrap.dedent(
    """
    import numpy as np, keras, json
    from ddbench.probes.gradients import input_gradients
    rng = np.random.default_rng(0)
    W = rng.standard_normal((6, 3)).astype("float32"); b = rng.standard_normal(3).astype("float32")
    x = rng.standard_normal((50, 6)).astype("float32"); y = rng.integers(0, 3, 50)
    inp = keras.Input((6,)); m = keras.Model(inp, keras.layers.Dense(3)(inp)); m.layers[-1].set_weights([W, b])
    g = input_gradients(m, x, y, batch_size=16)
    z = x @ W + b; p = np.exp(z - z.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
    print(json.dumps({"backend": keras.backend.backend(), "err": float(np.abs(g - (p - np.eye(3)[y]) @ W.T).max())}))
    """
)


def analytic_linear_grad(W, b, x, y):
    z = x @ W + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return (p - np.eye(W.shape[1])[y]) @ W.T


def test_linear_model_input_gradient_matches_analytic_on_tensorflow():
    import keras

    from ddbench.probes.gradients import input_gradients

    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((6, 3)).astype("float32"), rng.standard_normal(3).astype("float32")
    x, y = rng.standard_normal((50, 6)).astype("float32"), rng.integers(0, 3, 50)
    inp = keras.Input((6,))
    model = keras.Model(inp, keras.layers.Dense(3)(inp))
    model.layers[-1].set_weights([W, b])
    g, z = input_gradients(model, x, y, batch_size=16, with_logits=True)
    assert keras.backend.backend() == "tensorflow"
    np.testing.assert_allclose(g, analytic_linear_grad(W, b, x, y), atol=1e-5)
    np.testing.assert_allclose(z, x @ W + b, atol=1e-5)


def test_linear_model_input_gradient_matches_analytic_on_jax():
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3",
           "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, "-c", _JAX_SCRIPT], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["backend"] == "jax" and res["err"] < 1e-5


# ------------------------------------------------------------------ smoothness: pure functions


def test_circular_shift_preserves_norms_and_is_periodic():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 40))
    for r in (1, 3, -2):
        s = roll_signals(x, (r,))
        np.testing.assert_allclose(np.linalg.norm(s, axis=1), np.linalg.norm(x, axis=1))
    np.testing.assert_array_equal(roll_signals(x, (40,)), x)
    x3 = rng.standard_normal((5, 40, 2))
    np.testing.assert_array_equal(roll_signals(x3, (1,))[:, 1:], x3[:, :-1])
    assert [shift_offset(k, 8, 1, 1) for k in range(4)] == [(1,), (-1,), (1,), (-1,)]


def test_image_shift_with_edge_padding():
    x = np.arange(9, dtype=float).reshape(1, 3, 3, 1)
    down = shift_images(x, (1, 0))[0, :, :, 0]
    np.testing.assert_array_equal(down, [[0, 1, 2], [0, 1, 2], [3, 4, 5]])  # top row repeated
    right = shift_images(x, (0, 1))[0, :, :, 0]
    np.testing.assert_array_equal(right, [[0, 0, 1], [3, 3, 4], [6, 6, 7]])
    offsets = {shift_offset(k, 8, 1, 2) for k in range(8)}
    assert len(offsets) == 8 and (0, 1) in offsets and (1, 1) in offsets
    np.testing.assert_array_equal(shift_images(x, (0, 0)), x)


def test_mc_volume_with_zero_shift_is_j_and_trapezoid():
    J0 = np.array([1.0, 2.0, 3.0])
    assert np.allclose(mc_sharpness(J0, np.tile(J0, (8, 1))), J0)
    assert np.allclose(mc_sharpness(J0, np.zeros((4, 3))), J0 / 2)
    J = np.array([[1.0], [3.0], [5.0]])
    assert trapezoid_path(J, np.array([[1.0], [2.0]]))[0] == pytest.approx(2 * 1 + 4 * 2)


def test_geodesic_path_value_is_the_length_weighted_mean_of_j():
    J = np.array([[1.0], [3.0], [5.0]])
    assert path_mean(J, np.array([[1.0], [2.0]]))[0] == pytest.approx((2 * 1 + 4 * 2) / 3)
    # J constant along the path: exactly J, whatever the step lengths (the undivided sum would be J * length)
    steps = np.array([[0.5, 3.0], [2.0, 7.0], [1.5, 0.0]])
    np.testing.assert_allclose(path_mean(np.full((4, 2), 2.5), steps), [2.5, 2.5], rtol=1e-15)
    # a path of length zero is its starting point
    assert path_mean(np.array([[4.0], [9.0]]), np.zeros((1, 1)))[0] == 4.0


def test_noisy_subset_includes_all_noisy_points():
    noisy = np.zeros(5000, bool)
    noisy[np.random.default_rng(0).choice(5000, 700, replace=False)] = True
    idx = evaluation_subset(noisy, 1024, seed=3)
    assert len(idx) == 1024 and noisy[idx].sum() == 700 and len(set(idx)) == 1024
    assert np.array_equal(idx, evaluation_subset(noisy, 1024, seed=3))
    few = evaluation_subset(noisy, 300, seed=3)
    assert len(few) == 300 and noisy[few].all()
    assert np.array_equal(evaluation_subset(noisy[:100], 1024, 0), np.arange(100))


def test_rise_fall_statistic():
    assert rise_fall(np.array([1.0, 5.0, 2.0]))[0] > 0
    assert rise_fall(np.array([1.0, 2.0, 3.0]))[0] < 0


# ------------------------------------------------------------------ smoothness: the probe on real models


def test_smoothness_probe_zero_shift_equals_j_on_signals():
    data = onehot_data(noisy_per_class=0)
    res = run_probe(Smoothness, {"radius": 0, "points": 64}, ctx_for(onehot_model(4), data))
    assert res.status == "ok", res.error
    v = res.values
    assert v["n_points"] == 64 and v["sharpness_noisy"] is None and v["noisy_clean_ratio"] is None
    assert v["sharpness_mean"] == pytest.approx(v["jacobian_norm_mean"], rel=1e-6)
    assert v["label_volume_mean"] == 1.0
    assert "circular" in v["adaptation"]


def test_smoothness_probe_noisy_points_and_shifts():
    data = onehot_data(noisy_per_class=3)
    res = run_probe(Smoothness, {"points": 40, "copies": 4}, ctx_for(onehot_model(4), data))
    assert res.status == "ok", res.error
    v = res.values
    assert v["n_noisy_points"] == 12
    # a noisy point sits at its true class: its training label has large loss gradients
    assert v["sharpness_noisy"] > v["sharpness_clean"] and v["noisy_clean_ratio"] > 1
    # shifting a one-hot input by one moves it to another class: no copy keeps the label
    assert v["label_volume_clean"] == 0.0


def test_smoothness_geodesic_of_a_model_with_j_constant_along_the_path_is_exactly_j():
    """Logits ``a * sum(x) + b`` (every input position has the same weight): a circular shift keeps
    ``sum(x)``, so J is the same at every anchor and the geodesic value is J itself, not J * length."""
    import keras

    L, C, n = 12, 3, 30
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, L)).astype(np.float32)
    y = rng.integers(0, C, n)
    noisy = np.zeros(n, bool)
    noisy[:6] = True
    data = TrainData(x, y, y, noisy, x[:10], y[:10], C, noise_rate=0.2, noise_kind="exact", noise_seed=0)
    inp = keras.Input((L,))
    model = keras.Model(inp, keras.layers.Dense(C, name="head")(inp))
    a = np.array([0.7, -0.4, 0.2], np.float32)
    model.get_layer("head").set_weights([np.tile(a, (L, 1)), np.array([0.1, 0.0, -0.2], np.float32)])
    res = run_probe(Smoothness, {"points": n, "copies": 4, "radius": 1, "geodesic": True, "geodesic_steps": 3},
                    ctx_for(model, data))
    assert res.status == "ok", res.error
    v = res.values
    assert v["geodesic_path_length"] > 2  # so the undivided trapezoid sum would be more than twice J
    for group in ("clean", "noisy", "mean"):
        assert v[f"geodesic_{group}"] == pytest.approx(v[f"sharpness_{group}"], rel=1e-5)
    assert v["geodesic_mean"] == pytest.approx(v["jacobian_norm_mean"], rel=1e-5)
    # the linear function's sharpness in closed form: grad_x CE = (a . (softmax(z) - e_y)) * ones(L)
    z = np.outer(x.sum(axis=1), a) + np.array([0.1, 0.0, -0.2])
    prob = np.exp(z - z.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    J = np.sqrt(L) * np.abs(((prob - np.eye(C)[y]) * a).sum(axis=1))
    assert v["sharpness_clean"] == pytest.approx(J[~noisy].mean(), rel=1e-4)
    assert v["sharpness_noisy"] == pytest.approx(J[noisy].mean(), rel=1e-4)


def test_smoothness_probe_images_geodesic_epochwise_restores_weights(tmp_path):
    model, data = image_setup()
    first = tmp_path / "epoch_00001.weights.h5"
    model.save_weights(first)
    final = [w + 0.1 for w in model.get_weights()]
    model.set_weights(final)
    second = tmp_path / "epoch_00002.weights.h5"
    model.save_weights(second)
    params = {"points": 20, "copies": 8, "geodesic": True, "epochwise": True}
    res = run_probe(Smoothness, params, ctx_for(model, data, {1: first, 2: second}))
    assert res.status == "ok", res.error
    v = res.values
    assert v["adaptation"] is None and v["n_noisy_points"] == 5 and "edge-padded" in v["augmentation"]
    assert set(v["epochwise"]) == {1, 2} and v["epochwise_peak_epoch"] in (1, 2)
    assert v["epochwise"][2] == pytest.approx(v["sharpness_mean"], rel=1e-5)
    assert v["geodesic_mean"] > 0 and v["geodesic_noisy"] is not None
    for w, f in zip(model.get_weights(), final):
        np.testing.assert_array_equal(w, f)
    g = run_probe(Smoothness, {"points": 20, "augmentation": "gaussian", "sigma": 0.1}, ctx_for(model, data))
    assert g.status == "ok" and g.values["augmentation"].startswith("gaussian") and g.values["adaptation"] is None


# ------------------------------------------------------------------ hypotheses on synthetic tables

WIDTHS = [2, 4, 8, 16, 32, 64, 128]
TRAIN = [0.6, 0.4, 0.2, 0.0, 0.0, 0.0, 0.0]  # k* = 16 (index 3)
ERROR = [0.50, 0.40, 0.35, 0.45, 0.38, 0.33, 0.30]  # double-descent peak at index 3
LOSS = [1.5, 1.4, 1.6, 2.5, 1.9, 1.5, 1.2]  # interior loss peak at index 3


def make_table(probe_values, rates=(0.2,), seeds=(0,), n_test=2000) -> ResultTable:
    """Cells with error/loss curves and probe values ``probe_values(rate, seed, i) -> {probe: values}``."""
    rng = np.random.default_rng(0)
    cells, arrays = [], {}
    for rate in rates:
        for seed in seeds:
            for i, w in enumerate(WIDTHS):
                wrong = np.zeros(n_test, bool)
                wrong[rng.permutation(n_test)[: int(round(ERROR[i] * n_test))]] = True
                loss = LOSS[i] * (1 + 0.1 * rng.standard_normal(n_test))
                key = f"{rate}-{seed}-{w}"
                arrays[key] = {"test_correct": ~wrong, "test_loss": loss.astype(np.float32)}
                cells.append(CellView(key, "mlp", {}, {}, w, rate, 0, seed, "done", w * 10,
                                      {"train_error": TRAIN[i], "test_error": ERROR[i], "test_loss": float(loss.mean())},
                                      {}, probe_values(rate, seed, i)))
    return ResultTable(cells, lambda k: arrays[k])


def verdicts_of(plugin, table, **params):
    evs = plugin().evidence(table, plugin.Config(**params), AnalysisSpec(bootstrap=300))
    verdicts, _ = decide([(plugin, evs)], alpha=0.05)
    return {v.claim.split(".", 1)[1]: v for v in verdicts}


def cam_values(cam_ho, rate, i, seed=0):
    j = 0.01 * seed  # seeds differ (identical seeds would be one seed to the permutation test)
    return {"class_activation": {
        "cam_ho_similarity": cam_ho[i] + j, "cam_ih_similarity": cam_ho[i] / 2,
        "complexity": LOSS[i] / 3, "complexity_se": 0.01,
        "activation_ratio": 0.9 - 0.1 * i + j,
        "knn_noisy_acc_true": (0.2 + 0.1 * i + j) if rate > 0 else None,
        "knn_noisy_acc_noisy": (0.5 - 0.05 * i) if rate > 0 else None,
    }}


@pytest.mark.parametrize("seeds", [(0,), (0, 1, 2)])
def test_class_activation_decreasing_similarity_holds_and_p0_knn_not_applicable(seeds):
    dec = [0.9, 0.85, 0.8, 0.7, 0.5, 0.3, 0.1]
    table = make_table(lambda r, s, i: cam_values(dec, r, i, s), rates=(0.0, 0.2), seeds=seeds)
    v = verdicts_of(ClassActivationHypothesis, table)
    # above k* there are 4 widths: with one seed a perfect Spearman happens by chance with p = 2/24 (the exact
    # permutation test; the two noise strata carry the same values here, so they count once), so the above-k*
    # trends cannot be decided from one seed; with 3 seeds, each monotone, the exact test decides them
    above = "holds" if len(seeds) == 3 else "inconclusive"
    cam = v["cam_similarity_decreases"]
    assert cam.verdict == above and "degenerate resampling" in cam.reason
    assert ("exact permutation test" in cam.reason) if len(seeds) == 3 else ("cannot give p below 0.0833" in cam.reason)
    assert "counted once" in cam.reason
    # complexity = test loss / 3: over grid points (one seed) resampled pairs vary; over seeds the ranks of the
    # mean curves never change (Spearman 0.991 in every replicate), and 0.5 is no threshold a permutation tests
    tracks = v["complexity_tracks_loss"]
    assert tracks.verdict == ("holds" if len(seeds) == 1 else "inconclusive")
    if len(seeds) == 3:
        assert "has no test of its own" in tracks.strata[0].reason and "not tested" in tracks.reason
    # the complexity and loss peaks never move in the bootstrap: an argmax distance with no spread is not decided
    peak = v["complexity_peak"]
    assert peak.verdict == "inconclusive" and peak.statistic == 0 and "degenerate resampling" in peak.reason
    assert v["activation_ratio_decreases"].verdict == "holds"
    knn = v["knn_true_rises"]
    by = {s.stratum.get("noise_rate"): s for s in knn.strata}
    assert by[0.0].verdict == "not_applicable" and "p = 0" in by[0.0].reason
    assert by[0.2].verdict == above and by[0.2].detail["knn_noisy_acc_noisy"] is not None
    assert knn.verdict == above


def test_class_activation_increasing_similarity_fails():
    inc = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    v = verdicts_of(ClassActivationHypothesis, make_table(lambda r, s, i: cam_values(inc, r, i, s), seeds=(0, 1, 2)))
    assert v["cam_similarity_decreases"].verdict == "fails" and "exact permutation test" in v["cam_similarity_decreases"].reason
    # three copies of one seed are one seed: over 4 widths no decision
    v = verdicts_of(ClassActivationHypothesis, make_table(lambda r, s, i: cam_values(inc, r, i), seeds=(0, 1, 2)))
    assert v["cam_similarity_decreases"].verdict == "inconclusive"


def test_class_activation_too_few_widths_above_k_star():
    def few(rate, seed, i):
        return cam_values([0.9, 0.85, 0.8, 0.7, 0.5, 0.3, 0.1], rate, i)

    table = make_table(few)
    for c in table.cells:  # k* = 64: only two widths at or above it
        c.metrics["train_error"] = 0.0 if c.width >= 64 else 0.3
    v = verdicts_of(ClassActivationHypothesis, table)
    assert v["cam_similarity_decreases"].verdict == "not_applicable"
    assert "only 2 widths" in v["cam_similarity_decreases"].reason


def smooth_values(sharp, rate, i, seed=0, epochwise=True):
    vals = {"sharpness_mean": sharp[i] * (1 + 0.01 * seed), "sharpness_mean_se": 0.01,
            "sharpness_clean": sharp[i], "sharpness_clean_se": 0.01,
            "sharpness_noisy": 2 * sharp[i] if rate > 0 else None, "sharpness_noisy_se": 0.01 if rate > 0 else None,
            "label_volume_noisy": (0.1 * i) if rate > 0 else None, "label_volume_noisy_se": 0.01 if rate > 0 else None}
    if epochwise and i == len(WIDTHS) - 1:
        vals["epochwise"] = {"1": 1.0, "10": 5.0 + seed * 0.1, "100": 2.0}
        vals["epochwise_se"] = {"1": 0.05, "10": 0.05, "100": 0.05}
    return {"smoothness": vals}


def test_smoothness_peaked_sharpness_holds():
    peaked = [1.0, 2.0, 3.0, 10.0, 6.0, 4.0, 2.0]
    v = verdicts_of(SmoothnessHypothesis, make_table(lambda r, s, i: smooth_values(peaked, r, i, s)))
    # both peaks at k* in every replicate: an argmax distance with no spread has no valid interval nor test
    assert v["peak_at_error_peak"].verdict == "inconclusive" and v["peak_at_error_peak"].statistic == 0
    assert "degenerate resampling" in v["peak_at_error_peak"].reason
    # 4 widths above k* and one seed: the exact permutation test cannot reject (p >= 2/24)
    assert v["decreases_above_k_star"].verdict == "inconclusive" and v["decreases_above_k_star"].statistic == -1
    assert v["noisy_sharper"].verdict == "holds" and v["noisy_sharper"].statistic == pytest.approx(2.0)
    assert v["noisy_volume_grows"].verdict == "holds" and v["noisy_volume_grows"].statistic == pytest.approx(0.3)
    assert v["epochwise_rise_fall"].verdict == "holds"
    # the same with three seeds: bootstrap over seeds
    v3 = verdicts_of(SmoothnessHypothesis, make_table(lambda r, s, i: smooth_values(peaked, r, i, s), seeds=(0, 1, 2)))
    assert v3["peak_at_error_peak"].verdict == "inconclusive" and v3["peak_at_error_peak"].statistic == 0
    assert v3["peak_at_error_peak"].strata[0].detail["bootstrap"] == "seeds+seeds"
    assert v3["decreases_above_k_star"].verdict == "holds" and v3["decreases_above_k_star"].unit == "seeds"
    assert "exact permutation test" in v3["decreases_above_k_star"].reason


def test_smoothness_monotone_sharpness_fails_and_missing_preconditions():
    rising = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    v = verdicts_of(SmoothnessHypothesis,
                    make_table(lambda r, s, i: smooth_values(rising, r, i, s, epochwise=False), rates=(0.0, 0.2),
                               seeds=(0, 1, 2)))
    # the sharpness maximum sits at the end of the grid in every replicate: degenerate, not decided
    assert v["peak_at_error_peak"].verdict == "inconclusive" and v["peak_at_error_peak"].statistic == len(WIDTHS)
    assert v["decreases_above_k_star"].verdict == "fails"
    ep = v["epochwise_rise_fall"]
    assert ep.verdict == "not_applicable" and ep.reason.startswith(NO_CHECKPOINTS[:50])
    by = {s.stratum.get("noise_rate"): s for s in v["noisy_sharper"].strata}
    assert by[0.0].verdict == "not_applicable" and "p = 0" in by[0.0].reason
