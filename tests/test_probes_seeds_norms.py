"""Probe randomness comes from the cell and the probe's name, never from the probe's position in
``probes:``; and the known answers of the ``weight_norm`` probe."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from util import tiny_spec_text

from ddbench.data import TrainData
from ddbench.execute.work import probe_cell
from ddbench.plan import plan_cells
from ddbench.probes import low_rank
from ddbench.probes.base import ProbeContext, points_seed, probe_seed, run_probe
from ddbench.probes.basic import WeightNorm
from ddbench.probes.redundancy import Redundancy
from ddbench.spec.identity import training_hash
from ddbench.spec.model import Spec

# small settings that still make every Monte Carlo draw matter: subsets are cut, chunks are random,
# copies are Gaussian, the fresh initialisations are several
PARAMS = {
    "smoothness": {"points": 20, "copies": 3, "augmentation": "gaussian", "sigma": 0.1},
    "redundancy": {"n_chunks_acc": 4, "n_chunks_r2": 3, "max_points": 40},
    "low_rank": {"batch": 16, "init_draws": 2},
    "class_activation": {"m": 5, "sign_vectors": 4, "max_test_points": 30},
}


def spec_with(probes: list[str]) -> Spec:
    text = tiny_spec_text(widths="[4, 8]").replace("probes: [weight_norm]\n", "")
    raw = yaml.safe_load(text)
    raw["probes"] = [{p: PARAMS.get(p, {})} for p in probes]
    return Spec.model_validate(raw)


def model_and_data(width: int = 8, d_in: int = 6, C: int = 3) -> tuple:
    import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((d_in,))
    h = keras.layers.Dense(width, activation="relu", name="penultimate")(inp)
    model = keras.Model(inp, keras.layers.Dense(C, name="head")(h))
    rng = np.random.default_rng(0)
    x, xt = rng.standard_normal((60, d_in)).astype(np.float32), rng.standard_normal((50, d_in)).astype(np.float32)
    y_true, yt = rng.integers(0, C, 60), rng.integers(0, C, 50)
    noisy = np.zeros(60, bool)
    noisy[::6] = True
    y = np.where(noisy, (y_true + 1) % C, y_true)
    return model, TrainData(x, y, y_true, noisy, xt, yt, C, noise_rate=0.2, noise_kind="exact", noise_seed=0)


def probe_values(spec: Spec, tmp_path, cell, model, data) -> dict[str, dict]:
    low_rank._INIT_CACHE.clear()  # every value recomputed, none read back from a cache
    records = probe_cell(spec, tmp_path, cell, model, data)
    assert all(r.status == "ok" for r in records), [r.error for r in records if r.error]
    return {r.name: r.values for r in records}


def test_reordering_or_adding_probes_leaves_every_value_identical(tmp_path):
    model, data = model_and_data()
    first = spec_with(["smoothness", "redundancy", "low_rank", "class_activation"])
    second = spec_with(["weight_norm", "class_activation", "low_rank", "redundancy", "smoothness"])
    assert training_hash(first) == training_hash(second)
    cell = next(c for c in plan_cells(first) if c.width == 8 and c.noise_rate > 0)
    assert cell.key in {c.key for c in plan_cells(second)}  # probes are not part of a cell's identity
    a = probe_values(first, tmp_path, cell, model, data)
    b = probe_values(second, tmp_path, cell, model, data)
    assert set(b) == set(a) | {"weight_norm"}
    for name in a:
        assert a[name] == b[name], name
    # the check can fail: the same probe under another seed gives other values
    ctx = ProbeContext.for_cell(cell, model, data, "redundancy")
    ctx.seed += 1
    other = run_probe(Redundancy, PARAMS["redundancy"], ctx).values
    assert other["r2"] != a["redundancy"]["r2"]


def test_seeds_depend_on_the_cell_and_the_probe_name_only():
    spec = spec_with(["smoothness"])
    cells = plan_cells(spec)
    c4 = next(c for c in cells if c.width == 4 and c.noise_rate > 0)
    c8 = next(c for c in cells if c.width == 8 and c.noise_rate > 0 and c.seed == c4.seed)
    clean = next(c for c in cells if c.width == 8 and c.noise_rate == 0 and c.seed == c4.seed)
    assert probe_seed(c4, "smoothness") == probe_seed(c4, "smoothness")
    assert probe_seed(c4, "smoothness") != probe_seed(c4, "redundancy")
    assert probe_seed(c4, "smoothness") != probe_seed(c8, "smoothness")  # per-model draws: per cell
    # draws of points are shared by the widths of a curve (paired), not by other noise rates or probes
    assert points_seed(c4, "smoothness") == points_seed(c8, "smoothness")
    assert points_seed(c8, "smoothness") != points_seed(clean, "smoothness")
    assert points_seed(c8, "smoothness") != points_seed(c8, "redundancy")
    ctx = ProbeContext.for_cell(c8, None, None, "smoothness")
    assert (ctx.seed, ctx.points_seed) == (probe_seed(c8, "smoothness"), points_seed(c8, "smoothness"))


def test_weight_norm_known_answers_include_biases():
    import keras

    inp = keras.Input((3,))
    h = keras.layers.Dense(2, activation="relu", name="penultimate")(inp)
    model = keras.Model(inp, keras.layers.Dense(2, name="head")(h))
    k1, b1 = np.arange(6, dtype=np.float32).reshape(3, 2), np.array([1.0, -2.0], np.float32)
    k2, b2 = np.array([[1.0, 2.0], [0.0, -1.0]], np.float32), np.array([3.0, 0.5], np.float32)
    model.get_layer("penultimate").set_weights([k1, b1])
    model.get_layer("head").set_weights([k2, b2])
    cell = plan_cells(spec_with([]))[0]
    res = run_probe(WeightNorm, {}, ProbeContext.for_cell(cell, model, None, "weight_norm"))
    assert res.status == "ok", res.error
    v = res.values
    kernels = (0 + 1 + 4 + 9 + 16 + 25) + (1 + 4 + 0 + 1)
    biases = (1 + 4) + (9 + 0.25)
    assert v["kernels_sq_norm"] == pytest.approx(kernels)
    assert v["total_sq_norm"] == pytest.approx(kernels + biases)
    assert v["head_sq_norm"] == pytest.approx(6.0) and v["head_total_sq_norm"] == pytest.approx(6.0 + 9.25)
