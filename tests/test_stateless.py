"""The stateless engine trains the same models as the reference ``fit`` trainer.

Same init (per-cell seed), same batch order, same optimizer and per-epoch schedule:
final train/test losses must agree within 1e-3 relative (on CPU they agree to
float32 round-off). TensorFlow is checked in-process; JAX in a fresh process
(Keras fixes its backend at import), where ``fit`` on JAX is the reference: the
two backends draw different initial weights from the same seed, so a JAX run is
compared with a JAX ``fit``, never with a TensorFlow one.
"""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest
from util import run_script, tiny_spec_text

from ddbench.data import load_train_data
from ddbench.plan import make_bundles, plan_cells
from ddbench.run.pipeline import run
from ddbench.spec.validate import load_spec_text
from ddbench.train import TRAINERS, get_trainer
from ddbench.train.base import NullEvents

ADAM = "optimizer: {name: adam, lr: 0.01}\n  schedule: {name: inverse_sqrt, every: 1}"
SGD = "optimizer: {name: sgd, lr: 0.05, momentum: 0.9}"


def _text(optimizer: str = SGD) -> str:
    return tiny_spec_text(rates="[0.2]", widths="[4, 16]", epochs=4).replace(SGD, optimizer)


def _train(text: str, trainer: str) -> dict[int, object]:
    spec = load_spec_text(text)
    data = load_train_data(spec.dataset, spec.dataset.noise.rates[0], 0)
    (bundle,) = make_bundles(plan_cells(spec))
    return {o.cell.width: o for o in get_trainer(trainer).train(bundle, data, spec.training, NullEvents())}


def test_stateless_is_a_registered_trainer():
    assert "stateless" in TRAINERS and get_trainer("stateless").name == "stateless"
    spec = load_spec_text(_text() + "trainer: stateless\n")
    assert spec.trainer == "stateless"


@pytest.mark.slow
def test_stateless_matches_reference_fit_end_to_end_tensorflow(tmp_path):
    """Through the runner: same leaderboard numbers, same cell keys, trained weights written back."""
    results = {}
    for trainer in ("fit", "stateless"):
        res = run(load_spec_text(_text() + f"trainer: {trainer}\n"), run_dir=tmp_path / trainer)
        assert res.counts["done"] == 2, res.counts
        results[trainer] = {r.width: r for r in res.leaderboard.rows}
    for w in (4, 16):
        a, b = results["fit"][w], results["stateless"][w]
        assert b.train_loss == pytest.approx(a.train_loss, rel=1e-3)
        assert b.test_loss == pytest.approx(a.test_loss, rel=1e-3)
        assert b.curves["epoch"] == a.curves["epoch"]
        assert b.key == a.key  # the trainer is an execution choice, not part of the cell
        # the probe ran on the Keras model, so the trained weights were written back into it
        assert b.probes["weight_norm.head_sq_norm"] == pytest.approx(a.probes["weight_norm.head_sq_norm"], rel=1e-3)


@pytest.mark.slow
def test_stateless_matches_reference_fit_adam_inverse_sqrt_tensorflow():
    ref, fast = _train(_text(ADAM), "fit"), _train(_text(ADAM), "stateless")
    for w in (4, 16):
        assert fast[w].status == "done", fast[w].error
        for k in ("train_loss", "test_loss"):
            assert fast[w].metrics[k] == pytest.approx(ref[w].metrics[k], rel=1e-3)
        assert fast[w].metrics["epochs"] == 4 and fast[w].timings["bundle_size"] == 2
        for u, v in zip(ref[w].model.get_weights(), fast[w].model.get_weights()):
            np.testing.assert_allclose(u, v, rtol=1e-3, atol=1e-5)


JAX_SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from test_stateless import _text, _train, ADAM, SGD
    texts = {{"sgd": _text(SGD), "adam": _text(ADAM),
              # BatchNorm state, augmentation gathered on the device, mse on one-hot targets
              "cnn5": _text(SGD).replace("family: mlp", "family: cnn5").replace("widths: [4, 16]", "widths: [2]")
                      .replace("batch_size: 50", "batch_size: 50\\n  augmentation: crop_flip\\n  loss: mse")}}
    out = {{}}
    for name, text in texts.items():
        ref, fast = _train(text, "fit"), _train(text, "stateless")
        out[name] = {{w: {{"status": fast[w].status, "error": fast[w].error,
                          **{{k: [ref[w].metrics[k], fast[w].metrics[k]] for k in ("train_loss", "test_loss")}}}}
                     for w in ref}}
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
def test_stateless_matches_reference_fit_on_jax():
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    out = run_script(JAX_SCRIPT.format(tests=tests_dir), {"KERAS_BACKEND": "jax"}, timeout=240)
    assert set(out) == {"sgd", "adam", "cnn5"}
    for name, cells in out.items():
        for w, r in cells.items():
            assert r["status"] == "done", (name, w, r["error"])
            for k in ("train_loss", "test_loss"):
                ref, fast = r[k]
                assert fast == pytest.approx(ref, rel=1e-3), (name, w, k, ref, fast)


@pytest.mark.slow
def test_multi_seed_bundle_matches_fit_tensorflow():
    """Seeds share one compiled TF program (each its own batch order): same losses as fit, seed by seed."""
    text = tiny_spec_text(rates="[0.2]", widths="[4, 16]", epochs=3, seeds="[0, 1, 2]")
    spec = load_spec_text(text)
    data = load_train_data(spec.dataset, 0.2, 0)
    (bundle,) = make_bundles(plan_cells(spec))
    assert bundle.seeds == [0, 1, 2] and len(bundle.cells) == 6
    got = {}
    for trainer in ("fit", "stateless"):
        got[trainer] = {(o.cell.width, o.cell.seed): o for o in get_trainer(trainer).train(bundle, data, spec.training, NullEvents())}
    losses = set()
    for key, ref in got["fit"].items():
        fast = got["stateless"][key]
        assert fast.status == "done", fast.error
        assert fast.metrics["train_loss"] == pytest.approx(ref.metrics["train_loss"], rel=1e-5), key
        losses.add(round(ref.metrics["train_loss"], 6))
    assert len(losses) == 6  # the seeds really differ


@pytest.mark.slow
def test_tensorflow_engine_trains_the_next_noise_rate_without_recompiling_bitwise():
    """The second bundle of the same shapes (another noise rate) reuses the first's engine and compiled
    epoch, and trains exactly what a fresh engine trains; its outcomes carry the bundle's own models."""
    from ddbench.train import stateless

    spec = load_spec_text(tiny_spec_text(rates="[0.0, 0.2]", widths="[4, 16]", epochs=4))
    first, second = make_bundles(plan_cells(spec))
    trainer = get_trainer("stateless")

    def train(bundle):
        data = load_train_data(spec.dataset, bundle.noise_rate, bundle.noise_seed)
        return {o.cell.width: o for o in trainer.train(bundle, data, spec.training, NullEvents())}

    stateless._LAST[:] = [None, None]
    train(first)
    engine = stateless._LAST[1]
    assert engine is not None and engine.reusable
    reused = train(second)
    assert stateless._LAST[1] is engine  # rebound, not rebuilt
    stateless._LAST[:] = [None, None]
    fresh = train(second)
    assert stateless._LAST[1] is not engine
    for w in (4, 16):
        a, b = reused[w], fresh[w]
        assert a.status == b.status == "done"
        assert a.model not in engine.models and a.cell.key[:8] in a.model.name  # the bundle's own model
        assert all(np.array_equal(x, y) for x, y in zip(a.model.get_weights(), b.model.get_weights()))
        assert a.curves == b.curves and a.metrics == b.metrics
        assert a.timings["compile_seconds"] < b.timings["compile_seconds"]  # no trace, no compile
