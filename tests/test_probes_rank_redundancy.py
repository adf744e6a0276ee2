"""Known-answer tests of the low_rank and redundancy probes and hypotheses."""

from __future__ import annotations

import numpy as np
import pytest

from ddbench.data import TrainData
from ddbench.hypotheses.base import decide
from ddbench.hypotheses.cells import CellView
from ddbench.hypotheses.low_rank import LowRankHypothesis
from ddbench.hypotheses.redundancy import RedundancyHypothesis, slope_margin, value_at_size
from ddbench.hypotheses.table import ResultTable
from ddbench.plan import Cell
from ddbench.probes import low_rank as low_rank_module
from ddbench.probes.base import ProbeContext, architecture_seed, run_probe
from ddbench.probes.low_rank import (
    LowRank,
    effective_rank,
    fixed_subset,
    gram_effective_rank,
    init_draw_seed,
    is_linear_model,
)
from ddbench.probes.redundancy import (
    Redundancy,
    chunk_errors,
    chunk_regression,
    chunk_sizes,
    critical_chunk,
    draw_chunks,
    redundancy_values,
    residual_mean_abs_corr,
    scaling_slope,
)
from ddbench.spec.model import AnalysisSpec

# ------------------------------------------------------------------ effective rank


def orthonormal(n: int, r: int, seed: int = 0) -> np.ndarray:
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((n, r)))[0]


@pytest.mark.parametrize("r", [1, 3, 7])
def test_equal_singular_values_give_exactly_r(r):
    Q = orthonormal(20, r)
    erank, H = effective_rank(Q @ np.diag(np.ones(r)) @ Q.T)
    assert erank == pytest.approx(r, abs=1e-10) and H == pytest.approx(np.log(r), abs=1e-12)


def test_identity_and_unequal_spectrum_and_zero():
    assert effective_rank(np.eye(12))[0] == pytest.approx(12, abs=1e-10)
    Q = orthonormal(30, 4, seed=1)
    s = np.array([1.0, 0.8, 0.5, 0.2])
    erank, H = effective_rank(Q @ np.diag(s) @ Q.T)
    p = s / s.sum()
    assert H == pytest.approx(-(p * np.log(p)).sum(), rel=1e-10)
    assert 3.0 < erank < 4.0  # close to, and below, the rank
    assert all(np.isnan(effective_rank(np.zeros((5, 5)))))


def test_gram_erank_is_erank_of_phi_phi_t():
    phi = np.random.default_rng(0).standard_normal((40, 6)) @ np.diag([3, 2, 1, 1, 0.5, 0.1])
    assert gram_effective_rank(phi)[0] == pytest.approx(effective_rank(phi @ phi.T)[0], rel=1e-10)
    # rank-r embeddings with orthogonal equal-norm columns: Gram erank is exactly r
    assert gram_effective_rank(orthonormal(40, 5) * 3.0)[0] == pytest.approx(5, abs=1e-9)
    # more features than points: the points x points side is the one decomposed, same definition
    wide = np.random.default_rng(1).standard_normal((12, 30)) @ np.diag(np.linspace(3, 0.1, 30))
    assert gram_effective_rank(wide)[0] == pytest.approx(effective_rank(wide @ wide.T)[0], rel=1e-10)
    assert gram_effective_rank(wide)[0] != pytest.approx(gram_effective_rank(phi)[0], rel=1e-3)


# ------------------------------------------------------------------ redundancy: pure functions


def test_chunk_sizes_and_draws():
    # W, W//2, W//4, ... down to 1 (integer division), listed in increasing order
    assert chunk_sizes(8) == [1, 2, 4, 8] and chunk_sizes(10) == [1, 2, 5, 10] and chunk_sizes(1) == [1]
    assert chunk_sizes(12) == [1, 3, 6, 12] and chunk_sizes(300) == [1, 2, 4, 9, 18, 37, 75, 150, 300]
    rng = np.random.default_rng(0)
    c = draw_chunks(rng, 10, 4, 50)
    assert c.shape == (50, 4) and all(len(set(row)) == 4 for row in c) and c.max() < 10
    assert draw_chunks(rng, 10, 10, 50).tolist() == [list(range(10))]


def explicit_ridge(h_fit, h_score, idx, alpha):
    """Ridge with intercept from h_fit[:, idx] to h_fit, residuals on h_score (the definition, written out)."""
    mu = h_fit.mean(0)
    X, Y = h_fit[:, idx] - mu[idx], h_fit - mu
    B = np.linalg.inv(X.T @ X + alpha * np.eye(len(idx))) @ X.T @ Y
    return h_score - (mu + (h_score[:, idx] - mu[idx]) @ B)


def explicit_corr(E):
    """Mean |strict lower triangle| of cov / (sd_i sd_j + 1e-8) over all neurons, from explicit residuals."""
    Ec = E - E.mean(0)
    cov = Ec.T @ Ec / len(E)
    sd = np.sqrt(np.diag(cov))
    c = cov / (np.outer(sd, sd) + 1e-8)
    i, j = np.tril_indices(E.shape[1], -1)
    return np.abs(c[i, j]).mean()


def test_ridge_r2_and_residual_corr_match_explicit_closed_form():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((5, 7))
    h_tr = rng.standard_normal((60, 5)) @ A + 0.3 * rng.standard_normal((60, 7))
    h_te = rng.standard_normal((45, 5)) @ A + 0.3 * rng.standard_normal((45, 7)) + 0.2
    chunks = np.array([[0, 3], [2, 5], [1, 6]])
    alpha = 0.5
    # the authors' definition: fitted and scored on the same (test) features, residuals of all 7 neurons
    r2, corr = chunk_regression(h_te, None, chunks, alpha)
    # the out-of-sample variant: fitted on train, scored on test
    r2_o, corr_o = chunk_regression(h_tr, h_te, chunks, alpha)
    tot = ((h_te - h_te.mean(0)) ** 2).sum()
    for k, idx in enumerate(chunks):
        E = explicit_ridge(h_te, h_te, idx, alpha)
        assert r2[k] == pytest.approx(1 - (E**2).sum() / tot, rel=1e-9)
        assert corr[k] == pytest.approx(explicit_corr(E), rel=1e-7)
        assert corr[k] == pytest.approx(residual_mean_abs_corr(E), rel=1e-7)
        E = explicit_ridge(h_tr, h_te, idx, alpha)
        assert r2_o[k] == pytest.approx(1 - (E**2).sum() / tot, rel=1e-9)
        assert corr_o[k] == pytest.approx(explicit_corr(E), rel=1e-7)
    assert not np.allclose(r2, r2_o)  # the two definitions differ on this data


def duplicated(k: int, g: int, n: int = 200, seed: int = 0) -> np.ndarray:
    """h with k centred, orthogonal, equal-variance neurons, each copied g times (neuron j at columns j, j+k, ...)."""
    base = np.random.default_rng(seed).standard_normal((n, k))
    base = np.linalg.qr(base - base.mean(0))[0] * np.sqrt(n)  # QR keeps the columns in the centred span
    return np.tile(base, (1, g))


def test_duplicated_neurons_give_r2_one_and_known_residual_corr():
    k, g = 4, 8
    W = k * g
    h = duplicated(k, g)
    one_of_each = np.array([[0, 1 + k, 2 + 2 * k, 3 + 5 * k]])
    r2, corr = chunk_regression(h, None, one_of_each, alpha=1e-8)
    assert r2[0] == pytest.approx(1.0, abs=1e-6)
    assert corr[0] == pytest.approx(0.0, abs=1e-6)  # every residual is zero: no correlation left
    # one neuron of k orthogonal equal-variance neurons explains exactly 1/k of the layer
    r2, _ = chunk_regression(h, None, np.array([[2]]), alpha=1e-8)
    assert r2[0] == pytest.approx(1 / k, abs=1e-6)
    # missing base neuron 3: its g copies keep identical residuals (|corr| 1 for each of their g(g-1)/2
    # pairs); every other residual is zero. The mean over all W(W-1)/2 pairs is g(g-1) / (W(W-1)).
    r2, corr = chunk_regression(h, None, np.array([[0, 1, 2]]), alpha=1e-8)
    assert r2[0] == pytest.approx(1 - 1 / k, abs=1e-6)
    assert corr[0] == pytest.approx(g * (g - 1) / (W * (W - 1)), abs=1e-6)


def hypergeometric_r2(W: int, g: int, k: int, w: int) -> float:
    """Expected R^2 of a random w-chunk of k base neurons copied g times: the expected share of base
    neurons the chunk holds at least one copy of, ``1 - C(W-g, w) / C(W, w)``."""
    from math import comb

    return 1 - comb(W - g, w) / comb(W, w)


def test_duplicated_layer_has_the_known_w_c_and_groups_w_over_w_c():
    k, g = 4, 16
    W = k * g
    h = duplicated(k, g)
    C = 4
    W_out = np.tile(np.random.default_rng(1).standard_normal((k, C)), (g, 1)) / g
    y = np.argmax(h @ W_out, axis=1)
    vals = redundancy_values(h, y, h, y, W_out, np.zeros(C), n_chunks_acc=20, n_chunks_r2=400, seed=0)
    assert vals["chunk_sizes"] == [1, 2, 4, 8, 16, 32, 64]
    expected = [hypergeometric_r2(W, g, k, w) for w in vals["chunk_sizes"]]
    # the mean R^2 over 400 chunks is the hypergeometric expectation (chunk R^2 in {1/4, 1/2, 3/4, 1})
    assert vals["r2"] == pytest.approx(expected, abs=0.03)
    assert expected[3] < 0.92 and expected[4] > 0.99  # so w_c = 16 (w = 8 falls short of 0.95)
    assert vals["w_c"] == 16 and vals["groups"] == pytest.approx(W / 16)
    assert vals["r2"][0] == pytest.approx(1 / k, abs=1e-6) and vals["r2"][-1] == pytest.approx(1.0, abs=1e-6)
    assert vals["full_train_error"] == 0.0 and vals["residual_corr"][-1] == pytest.approx(0.0, abs=1e-6)
    # a single neuron repeated: any chunk explains the layer, w_c = 1 and every neuron is its own group
    h1 = duplicated(1, 12)
    vals = redundancy_values(h1, np.zeros(200, int), h1, np.zeros(200, int), np.ones((12, 2)), np.zeros(2))
    assert vals["chunk_sizes"] == [1, 3, 6, 12] and vals["w_c"] == 1 and vals["groups"] == 12
    # 12 distinct orthogonal neurons: a w-chunk explains exactly w/12 of the layer; only the whole layer reaches 0.95
    h12 = duplicated(12, 1)
    vals = redundancy_values(h12, np.zeros(200, int), h12, np.zeros(200, int), np.ones((12, 2)), np.zeros(2),
                             n_chunks_r2=5)
    assert vals["r2"] == pytest.approx([1 / 12, 3 / 12, 6 / 12, 1.0], abs=1e-6) and vals["w_c"] == 12


def test_out_of_sample_variant_has_its_own_names():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((3, 10))
    h_tr = np.maximum(rng.standard_normal((80, 3)) @ A + 0.2 * rng.standard_normal((80, 10)), 0)
    h_te = np.maximum(rng.standard_normal((70, 3)) @ A + 0.2 * rng.standard_normal((70, 10)), 0)
    W_out, b = rng.standard_normal((10, 3)), np.zeros(3)
    y_tr, y_te = rng.integers(0, 3, 80), rng.integers(0, 3, 70)
    base = redundancy_values(h_tr, y_tr, h_te, y_te, W_out, b, n_chunks_acc=5, n_chunks_r2=6, seed=1)
    both = redundancy_values(h_tr, y_tr, h_te, y_te, W_out, b, n_chunks_acc=5, n_chunks_r2=6, seed=1,
                             out_of_sample=True)
    assert "r2_out_of_sample" not in base
    assert both["r2"] == base["r2"] and both["residual_corr"] == base["residual_corr"] and both["w_c"] == base["w_c"]
    chunks = draw_chunks(np.random.default_rng([1, 2, 2]), 10, 2, 6)  # the R^2 chunks of size 2
    assert both["r2_out_of_sample"][1] == pytest.approx(chunk_regression(h_tr, h_te, chunks)[0].mean(), rel=1e-9)
    assert both["r2"][1] == pytest.approx(chunk_regression(h_te, None, chunks)[0].mean(), rel=1e-9)
    assert set(both) - set(base) == {"r2_out_of_sample", "residual_corr_out_of_sample", "w_c_out_of_sample",
                                     "groups_out_of_sample"}


def test_critical_chunk_and_scaling_slope():
    assert critical_chunk([1, 2, 4, 8], [0.5, 0.9, 0.96, 1.0]) == 4
    assert critical_chunk([1, 2], [0.5, 0.9]) is None
    sizes = [1, 2, 4, 8, 16, 32, 64]
    err = [0.1 + 0.3 * w**-0.5 for w in sizes[:-1]] + [0.1]
    assert scaling_slope(sizes, err, 0.1) == pytest.approx(-0.5, abs=1e-9)
    assert scaling_slope([1, 2, 4], [0.3, 0.2, 0.1], 0.1) is None  # only 2 points below W


# ------------------------------------------------------------------ probes on tiny Keras models


def tiny_model(d_in: int, width: int, C: int, activation: str = "relu", seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((d_in,))
    h = keras.layers.Dense(width, activation=activation, name="hidden_0")(inp)
    h = keras.layers.Dense(width, activation=activation, name="penultimate")(h)
    return keras.Model(inp, keras.layers.Dense(C, name="head")(h))


def tiny_data(d_in: int = 6, C: int = 3, n: int = 120, n_test: int = 80) -> TrainData:
    rng = np.random.default_rng(0)
    x, xt = rng.standard_normal((n, d_in)).astype(np.float32), rng.standard_normal((n_test, d_in)).astype(np.float32)
    y, yt = rng.integers(0, C, n), rng.integers(0, C, n_test)
    noisy = np.zeros(n, bool)
    return TrainData(x, y, y, noisy, xt, yt, C, noise_rate=0.0, noise_kind="exact", noise_seed=0)


def ctx_for(model, data: TrainData, family: str = "mlp") -> ProbeContext:
    return ProbeContext(Cell(family=family, config={}, width=8, key="k"), model, data, seed=3)


def test_chunk_with_all_neurons_equals_model_accuracy():
    from ddbench.probes.features import features, head_weights

    model, data = tiny_model(6, 16, 3), tiny_data()
    h, z = features(model, data.x_test)
    W_out, b = head_weights(model)
    err = chunk_errors(h, W_out, b, data.y_test, np.arange(16)[None])
    assert err[0] == pytest.approx(np.mean(z.argmax(1) != data.y_test))


def test_probes_run_on_a_tiny_keras_model():
    model, data = tiny_model(6, 16, 3), tiny_data()
    res = run_probe(LowRank, {"batch": 50}, ctx_for(model, data))
    assert res.status == "ok", res.error
    v = res.values
    assert 1.0 <= v["erank"] <= 16 and v["erank_per_width"] == pytest.approx(v["erank"] / 16)
    assert v["n_points"] == 50 and v["feature_dim"] == 16
    assert v["entropy"] == pytest.approx(np.log(v["erank"]))
    assert v["erank_init"] is not None and v["erank_end_to_end"] is None  # ReLU: no end-to-end matrix
    assert v["n_init_draws"] == 5 and v["erank_init_se"] > 0  # five fresh draws that differ
    low_rank_module._INIT_CACHE.clear()  # recomputed, not read back from the cache
    again = run_probe(LowRank, {"batch": 50}, ctx_for(model, data)).values
    assert again["erank_init"] == pytest.approx(v["erank_init"], rel=1e-6) and again["erank"] == v["erank"]

    res = run_probe(Redundancy, {"n_chunks_acc": 10, "n_chunks_r2": 5}, ctx_for(model, data))
    assert res.status == "ok", res.error
    v = res.values
    assert v["chunk_sizes"] == [1, 2, 4, 8, 16] and len(v["r2"]) == len(v["chunk_test_error"]) == 5
    assert v["chunk_test_error"][-1] == pytest.approx(v["model_test_error"])
    assert v["full_test_error"] == v["chunk_test_error"][-1]
    assert v["w_c"] in v["chunk_sizes"] and v["groups"] == pytest.approx(16 / v["w_c"])


def test_low_rank_init_is_the_mean_of_fresh_draws_with_its_standard_error():
    import keras

    from ddbench.probes.features import features

    model, data = tiny_model(6, 16, 3), tiny_data()
    ctx = ctx_for(model, data)
    low_rank_module._INIT_CACHE.clear()
    v = run_probe(LowRank, {"batch": 50, "init_draws": 3}, ctx).values
    x = data.x_test[fixed_subset(len(data.x_test), 50, 0)]
    draws = []
    for d in range(3):  # the definition, written out: draw d is a clone after set_random_seed(seed of draw d)
        keras.utils.set_random_seed(init_draw_seed(architecture_seed(ctx.cell, "low_rank"), d))
        h0, _ = features(keras.models.clone_model(model), x)
        draws.append(gram_effective_rank(h0)[0])
    assert len(set(draws)) == 3 and v["n_init_draws"] == 3
    assert v["erank_init"] == pytest.approx(np.mean(draws), rel=1e-5)
    assert v["erank_init_se"] == pytest.approx(np.std(draws, ddof=1) / np.sqrt(3), rel=1e-4)
    assert v["erank_init_per_width"] == pytest.approx(np.mean(draws) / 16, rel=1e-5)
    one = run_probe(LowRank, {"batch": 50, "init_draws": 1}, ctx).values
    assert one["erank_init"] == pytest.approx(draws[0], rel=1e-5) and one["erank_init_se"] is None


def test_low_rank_init_draws_are_shared_across_noise_but_not_seeds():
    model, data = tiny_model(6, 16, 3), tiny_data()

    def init_values(**axes):
        cell = Cell(family="mlp", config={}, width=8, key=f"k-{sorted(axes.items())}", **axes)
        ctx = ProbeContext.for_cell(cell, model, data, "low_rank")
        low_rank_module._INIT_CACHE.clear()  # each value computed from its own seeds, not read from the cache
        v = run_probe(LowRank, {"batch": 50, "init_draws": 2}, ctx).values
        return v["erank_init"], v["erank_init_se"]

    clean = init_values(noise_rate=0.0, noise_seed=0, seed=0)
    assert init_values(noise_rate=0.2, noise_seed=1, seed=0) == clean  # labels never enter an untrained model
    assert init_values(noise_rate=0.0, noise_seed=0, seed=1) != clean  # another seed: other draws
    other = Cell(family="mlp", config={}, width=9, key="k", seed=0)
    assert architecture_seed(other, "low_rank") != architecture_seed(Cell(family="mlp", config={}, width=8, key="k"),
                                                                     "low_rank")


def test_low_rank_end_to_end_on_a_deep_linear_model():
    import keras

    from ddbench.families.deep_linear import DeepLinear

    keras.utils.set_random_seed(0)
    model = DeepLinear().build(DeepLinear.Config(depth=3), 8, (6,), 3, name="dl")
    assert is_linear_model(model) and not is_linear_model(tiny_model(6, 8, 3))
    v = run_probe(LowRank, {"batch": 40}, ctx_for(model, tiny_data(), family="deep_linear")).values
    assert 1.0 <= v["erank_end_to_end"] <= 3.0 and v["erank_end_to_end_init"] is not None
    assert v["erank_end_to_end_init_se"] is not None


# ------------------------------------------------------------------ hypotheses on synthetic tables


def cell(key, width, seed, probes, grid=None, noise=0.2, train_error=0.0, test_error=0.3):
    return CellView(key, "mlp", {}, dict(grid or {}), width, noise, 0, seed, "done", width * 10,
                    {"train_error": train_error, "test_error": test_error}, {}, probes)


def verdicts_of(plugin, cells, **params):
    table = ResultTable(cells, lambda k: {})
    evs = plugin().evidence(table, plugin.Config(**params), AnalysisSpec(bootstrap=300))
    verdicts, _ = decide([(plugin, evs)], alpha=0.05)
    return {v.claim: v for v in verdicts}


def depth_table(sign: float, depths=(1, 2, 4, 8), widths=(16, 64), seeds=(0, 1, 2)):
    rng = np.random.default_rng(0)
    cells = []
    for w in widths:
        for d in depths:
            for s in seeds:
                e = 20 + sign * 2 * np.log2(d) + 0.1 * rng.standard_normal()
                cells.append(cell(f"{w}-{d}-{s}", w, s, {"low_rank": {"erank": e, "erank_init": e + 5,
                                                                      "erank_per_width": e / w}}, {"depth": d}))
    return cells


def test_erank_decreasing_with_depth_holds_and_increasing_fails():
    v = verdicts_of(LowRankHypothesis, depth_table(-1.0))
    assert v["low_rank.depth_lowers_rank"].verdict == "holds"
    assert v["low_rank.depth_lowers_rank_init"].verdict == "holds"
    strata = v["low_rank.depth_lowers_rank"].strata
    assert {s.stratum.get("width") for s in strata} == {16, 64, None} and any(s.stratum.get("pooled") for s in strata)
    assert v["low_rank.depth_lowers_rank"].statistic == pytest.approx(-1.0)
    v = verdicts_of(LowRankHypothesis, depth_table(+1.0))
    assert v["low_rank.depth_lowers_rank"].verdict == "fails"


def test_no_depth_axis_is_not_applicable_with_reason():
    cells = [cell(f"{w}-{s}", w, s, {"low_rank": {"erank": 10.0, "erank_per_width": 10.0 / w}})
             for w in (4, 8, 16) for s in (0, 1)]
    v = verdicts_of(LowRankHypothesis, cells)
    for claim in ("depth_lowers_rank", "depth_lowers_rank_init"):
        assert v[f"low_rank.{claim}"].verdict == "not_applicable"
        assert "no depth axis varies" in v[f"low_rank.{claim}"].reason
    assert v["low_rank.linear_overparam_lowers_rank"].verdict == "not_applicable"
    assert "linear_overparam" in v["low_rank.linear_overparam_lowers_rank"].reason


def test_linear_overparam_lowers_rank_paired_and_reports_test_error_change():
    rng = np.random.default_rng(1)
    cells = []
    for w in (16, 32):
        for d in (1, 2, 4):
            for s in (0, 1, 2):
                e = 30 - 3 * (d > 1) - 2 * (d > 2) + 0.2 * rng.standard_normal()
                cells.append(cell(f"{w}-{d}-{s}", w, s, {"low_rank": {"erank": e}}, {"linear_overparam": d},
                                  test_error=0.30 - 0.01 * (d > 1)))
    v = verdicts_of(LowRankHypothesis, cells)["low_rank.linear_overparam_lowers_rank"]
    assert v.verdict == "holds"
    (s,) = v.strata
    assert s.statistic == pytest.approx(-(3 + 5) / 2, abs=0.3) and s.detail["bootstrap"] == "seeds"
    assert s.detail["test_error_change_mean"] == pytest.approx(-0.01)
    assert set(s.detail["erank_change_by_d"]) == {"2", "4"}


def test_erank_per_width_above_k_star():
    widths, train = [4, 8, 16, 32, 64, 128], [0.5, 0.2, 0.0, 0.0, 0.0, 0.0]  # k* = 16
    cells = [cell(f"{w}-{s}", w, s, {"low_rank": {"erank": 12.0 + s * 0.01, "erank_per_width": (12.0 + s * 0.01) / w}},
                  train_error=tr) for w, tr in zip(widths, train) for s in (0, 1, 2)]
    v = verdicts_of(LowRankHypothesis, cells)["low_rank.erank_per_width_falls_above_k_star"]
    assert v.verdict == "holds" and v.strata[0].detail["k_star"] == 16


def redundancy_table(widths=(8, 16, 32, 64, 128, 256), k_star=32, seeds=(0, 1, 2), slope=-0.5, noise=0.2):
    rng = np.random.default_rng(2)
    cells = []
    for W in widths:
        for s in seeds:
            sizes = chunk_sizes(W)
            interp = W >= k_star
            w_c = 8 if interp else W
            full = 0.2
            te = [full + 0.3 * w ** slope * np.exp(0.01 * rng.standard_normal()) for w in sizes[:-1]] + [full]
            # small cell-to-cell noise: values that are the same in every cell have no spread to bootstrap
            tr = [0.3 * (w < w_c) + 0.001 * abs(rng.standard_normal()) for w in sizes[:-1]] + [0.0 if interp else 0.3]
            r2 = [min(1.0, (0.97 if interp else 0.7) * (w / 8) ** 0.05 * (1 + 0.005 * rng.standard_normal()))
                  if w < W else 1.0 for w in sizes]
            rc = [0.5 / np.log2(2 * w) + 0.01 * rng.standard_normal() for w in sizes[:-1]] + [None]
            probes = {"redundancy": {"chunk_sizes": sizes, "chunk_train_error": tr, "chunk_test_error": te, "r2": r2,
                                     "residual_corr": rc, "w_c": w_c, "full_test_error": full,
                                     "groups": W / w_c * (1 + 0.02 * rng.standard_normal()),
                                     "scaling_slope": scaling_slope(sizes, te, full)}}
            cells.append(cell(f"{W}-{s}", W, s, probes, noise=noise, train_error=0.0 if interp else 0.2))
    return cells


def test_redundancy_claims_hold_on_a_redundant_zoo():
    v = verdicts_of(RedundancyHypothesis, redundancy_table())
    for claim in ("chunks_interpolate", "residual_corr_falls", "groups_grow_linearly", "error_scaling",
                  "needs_interpolation"):
        assert v[f"redundancy.{claim}"].verdict == "holds", (claim, v[f"redundancy.{claim}"])
    (s,) = v["redundancy.error_scaling"].strata
    assert s.detail["mean_slope"] == pytest.approx(-0.5, abs=0.02)
    (s,) = v["redundancy.groups_grow_linearly"].strata
    assert s.statistic == pytest.approx(1.0, abs=0.01) and s.detail["k_star"] == 32


def test_redundancy_claims_without_spread_are_not_decided():
    # every cell the same: chunk errors exactly 0, groups exactly W / 8 (Pearson 1 in every replicate)
    cells = redundancy_table()
    for c in cells:
        r = c.probes["redundancy"]
        r["chunk_train_error"] = [0.3 * (w < r["w_c"]) for w in r["chunk_sizes"][:-1]] + [r["chunk_train_error"][-1]]
        r["groups"] = c.width / r["w_c"]
    v = verdicts_of(RedundancyHypothesis, cells)
    for claim in ("chunks_interpolate", "groups_grow_linearly"):
        assert v[f"redundancy.{claim}"].verdict == "inconclusive" and "degenerate" in v[f"redundancy.{claim}"].reason


def test_redundancy_scaling_outside_interval_fails_and_no_k_star_not_applicable():
    v = verdicts_of(RedundancyHypothesis, redundancy_table(slope=-1.5))
    assert v["redundancy.error_scaling"].verdict == "fails"
    v = verdicts_of(RedundancyHypothesis, redundancy_table(k_star=10**6))
    assert v["redundancy.groups_grow_linearly"].verdict == "not_applicable"
    assert "never reaches the interpolation threshold" in v["redundancy.groups_grow_linearly"].reason
    assert v["redundancy.chunks_interpolate"].verdict == "not_applicable"


def test_small_helpers():
    assert value_at_size([1, 2, 4, 8], [0.1, 0.2, 0.4, 1.0], 3) == pytest.approx(0.2 + 0.2 * np.log2(1.5))  # linear in log2 w
    assert value_at_size([1, 2, 4, 8], [0.1, 0.2, 0.4, 1.0], 2) == pytest.approx(0.2)
    assert value_at_size([1, 2, 4, 8], [0.1, 0.2, 0.4, 1.0], 8) is None  # the whole layer is not a chunk
    assert float(slope_margin(-0.5, -0.8, -0.3)) == pytest.approx(0.2)
    assert float(slope_margin(-1.0, -0.8, -0.3)) < 0 and float(slope_margin(0.0, -0.8, -0.3)) < 0
