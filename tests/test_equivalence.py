"""The engine against references that share no code with it.

* losses: the engine's curve losses against ``keras.losses`` on the same logits;
* learning rates: every schedule against its closed form, written out here;
* optimizer steps: SGD, momentum SGD and Adam on a linear softmax model (and SGD on an
  ``mse`` loss), trained by the compiled engine and by a hand-written float64 NumPy loop
  (forward, gradient and update rule per Keras' documented formulas);
* the batch rule: the NumPy loop draws each epoch's order from the protocol as documented
  (a seeded permutation cut to ``n // batch`` full batches, the remainder skipped) on an ``n``
  that is not a multiple of the batch.

TensorFlow runs in-process, JAX in a fresh process (Keras fixes its backend at import).
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np
import pytest
from util import run_script, tiny_spec_text

N_TRAIN, BATCH, EPOCHS = 230, 50, 3  # 4 steps of 50 per epoch, 30 points skipped each epoch

CASES = {
    "sgd/constant": ("{name: sgd, lr: 0.5}", "{name: constant}", "cross_entropy"),
    "sgd/inverse_sqrt": ("{name: sgd, lr: 0.5}", "{name: inverse_sqrt, every: 1}", "cross_entropy"),
    "sgd/step": ("{name: sgd, lr: 0.5}", "{name: step, every: 2, factor: 0.3}", "cross_entropy"),
    "sgd/cosine": ("{name: sgd, lr: 0.5}", "{name: cosine, min_lr: 0.05}", "cross_entropy"),
    "momentum/step": ("{name: sgd, lr: 0.2, momentum: 0.9}", "{name: step, every: 1, factor: 0.5}", "cross_entropy"),
    "adam/cosine": ("{name: adam, lr: 0.01, beta_1: 0.8, beta_2: 0.99}", "{name: cosine, min_lr: 0.001}", "cross_entropy"),
    "sgd/mse": ("{name: sgd, lr: 0.5}", "{name: inverse_sqrt, every: 2}", "mse"),
}


# ------------------------------------------------------------------ independent references


def closed_form_lr(schedule: dict, lr: float, epoch: int, total: int) -> float:
    """The per-epoch learning rates as the README states them."""
    name = schedule["name"]
    if name == "constant":
        return lr
    if name == "inverse_sqrt":
        return lr / math.sqrt(1 + epoch // schedule["every"])
    if name == "step":
        return lr * schedule["factor"] ** (epoch // schedule["every"])
    if name == "cosine":
        return schedule["min_lr"] + 0.5 * (lr - schedule["min_lr"]) * (1 + math.cos(math.pi * epoch / total))
    raise AssertionError(name)


def protocol_order(seed: int, epoch: int, n: int, batch: int) -> np.ndarray:
    """Epoch ``epoch``'s points in batch order: a permutation seeded by sha256('order|seed|epoch'), cut to
    ``n // batch`` full batches."""
    digest = hashlib.sha256(f"order|{seed}|{epoch}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:4], "little") & 0x7FFFFFFF)
    return rng.permutation(n)[: (n // batch) * batch]


def numpy_training(w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray, classes: int, opt: dict,
                   schedule: dict, loss: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train ``logits = x @ w + b`` in float64 with Keras' update rules, batch by batch."""
    w, b = w.astype(np.float64), b.astype(np.float64)
    x = x.reshape(len(x), -1).astype(np.float64)
    steps = len(x) // BATCH
    slots = {k: [np.zeros_like(w), np.zeros_like(b)] for k in ("m", "v")}
    t = 0
    for epoch in range(EPOCHS):
        lr = closed_form_lr(schedule, opt["lr"], epoch, EPOCHS)
        order = protocol_order(seed, epoch, len(x), BATCH)
        for s in range(steps):
            idx = order[s * BATCH:(s + 1) * BATCH]
            xb, onehot = x[idx], np.eye(classes)[y[idx]]
            z = xb @ w + b
            if loss == "cross_entropy":
                p = np.exp(z - z.max(axis=1, keepdims=True))
                dz = (p / p.sum(axis=1, keepdims=True) - onehot) / BATCH
            else:  # mean over the batch of the mean over classes of (z - onehot)^2
                dz = 2 * (z - onehot) / (BATCH * classes)
            grads = [xb.T @ dz, dz.sum(axis=0)]
            t += 1
            params = [w, b]
            for i, (param, g) in enumerate(zip(params, grads)):
                if opt["name"] == "sgd" and not opt.get("momentum"):
                    param -= lr * g
                elif opt["name"] == "sgd":  # Keras: m = momentum * m - lr * g; w += m
                    slots["m"][i] = opt["momentum"] * slots["m"][i] - lr * g
                    param += slots["m"][i]
                else:  # Keras Adam: bias correction folded into the step size, eps outside the sqrt
                    b1, b2 = opt["beta_1"], opt["beta_2"]
                    slots["m"][i] += (g - slots["m"][i]) * (1 - b1)
                    slots["v"][i] += (g * g - slots["v"][i]) * (1 - b2)
                    alpha = lr * math.sqrt(1 - b2**t) / (1 - b1**t)
                    param -= alpha * slots["m"][i] / (np.sqrt(slots["v"][i]) + 1e-7)
    return w, b


def numpy_losses(logits: np.ndarray, y: np.ndarray, loss: str, classes: int) -> float:
    import keras

    if loss == "cross_entropy":
        return float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits))
    return float(keras.losses.MeanSquaredError()(np.eye(classes)[y], logits))


# ------------------------------------------------------------------ the engine under test


def _spec_text(opt: str, schedule: str, loss: str) -> str:
    text = tiny_spec_text(rates="[0.2]", widths="[4]", epochs=EPOCHS).replace("n_train: 300", f"n_train: {N_TRAIN}")
    text = text.replace("optimizer: {name: sgd, lr: 0.05, momentum: 0.9}", f"optimizer: {opt}\n  schedule: {schedule}")
    text = text.replace("record: {schedule: log, num: 3}", f"record: {{epochs: [{EPOCHS}]}}\n  loss: {loss}")
    return text


def check_cases(names: list[str]) -> dict[str, dict[str, float]]:
    """Train each case with the active backend's compiled engine and with NumPy; return the largest
    differences (weights relative, losses absolute)."""
    import keras

    from ddbench.data import load_train_data
    from ddbench.plan import plan_cells
    from ddbench.spec.validate import load_spec_text
    from ddbench.train.base import NullEvents, train_recorded
    from ddbench.train.stateless import make_engine

    out = {}
    for name in names:
        opt_text, schedule_text, loss = CASES[name]
        spec = load_spec_text(_spec_text(opt_text, schedule_text, loss))
        data = load_train_data(spec.dataset, 0.2, 0)
        (cell,) = plan_cells(spec)
        keras.utils.set_random_seed(3)
        model = keras.Sequential([keras.Input(shape=data.x_train.shape[1:]), keras.layers.Flatten(),
                                  keras.layers.Dense(data.num_classes)])
        w0, b0 = (np.asarray(v) for v in model.get_weights())
        engine = make_engine([cell], [model], data, spec.training)
        (outcome,) = train_recorded(engine, [cell], [model], [0], None, spec.training, NullEvents())
        w, b = numpy_training(w0, b0, data.x_train, data.y_train, data.num_classes,
                              spec.training.optimizer.model_dump(), spec.training.schedule.model_dump(), loss, cell.seed)
        got_w, got_b = model.get_weights()
        flat = lambda a: a.reshape(len(a), -1).astype(np.float64)  # noqa: E731
        ref_train = numpy_losses(flat(data.x_train) @ w + b, data.y_train, loss, data.num_classes)
        ref_test = numpy_losses(flat(data.x_test) @ w + b, data.y_test, loss, data.num_classes)
        scale = max(np.abs(w).max(), 1e-3)
        out[name] = {"w": float(np.abs(got_w - w).max() / scale), "b": float(np.abs(got_b - b).max() / scale),
                     "moved": float(np.abs(w - w0).max() / scale),
                     "train_loss": abs(outcome.metrics["train_loss"] - ref_train),
                     "test_loss": abs(outcome.metrics["test_loss"] - ref_test)}
    return out


def _assert_close(diffs: dict[str, dict[str, float]]) -> None:
    assert set(diffs) == set(CASES)
    for name, d in diffs.items():
        assert d["moved"] > 1e-2, (name, d)  # training did move the weights
        assert d["w"] < 2e-4 and d["b"] < 2e-4, (name, d)
        assert d["train_loss"] < 1e-4 and d["test_loss"] < 1e-4, (name, d)


# ------------------------------------------------------------------ tests


def test_protocol_order_is_the_engines_batch_rule():
    from ddbench.engine.protocol import epoch_order, steps_per_epoch

    assert steps_per_epoch(N_TRAIN, BATCH) == 4
    for seed, epoch in ((0, 0), (1, 5), (7, 2)):
        mine = protocol_order(seed, epoch, N_TRAIN, BATCH)
        assert len(mine) == 200 and len(set(mine.tolist())) == 200  # the 30 left over are skipped, no repeats
        np.testing.assert_array_equal(epoch_order(seed, epoch, N_TRAIN, BATCH), mine)
    # the skipped remainder changes from epoch to epoch
    assert set(protocol_order(0, 0, N_TRAIN, BATCH)) != set(protocol_order(0, 1, N_TRAIN, BATCH))


@pytest.mark.parametrize("schedule", ["{name: constant}", "{name: inverse_sqrt, every: 3}",
                                      "{name: step, every: 2, factor: 0.5}", "{name: cosine, min_lr: 0.01}"])
def test_every_schedule_matches_its_closed_form(schedule):
    import yaml

    from ddbench.engine.optimizer import make_schedule
    from ddbench.spec.model import ScheduleSpec

    spec = ScheduleSpec.model_validate(yaml.safe_load(schedule))
    steps, total, lr = 7, 10, 0.3
    keras_schedule = make_schedule(spec, lr, steps, total)
    for step in range(steps * total):
        want = closed_form_lr(spec.model_dump(), lr, step // steps, total)
        got = keras_schedule if isinstance(keras_schedule, float) else float(keras_schedule(step))
        assert got == pytest.approx(want, rel=1e-6), (schedule, step)


def test_curve_losses_match_keras_losses_on_the_same_logits():
    from ddbench.engine.evaluate import curve_point

    rng = np.random.default_rng(0)
    logits, y = rng.normal(size=(64, 5)).astype(np.float32) * 3, rng.integers(0, 5, 64)
    noisy = np.zeros(64, bool)
    for loss in ("cross_entropy", "mse"):
        metrics, _ = curve_point(logits, logits[:32], y, y, noisy, y[:32], loss)
        assert metrics["train_loss"] == pytest.approx(numpy_losses(logits, y, loss, 5), rel=1e-5)
        assert metrics["test_loss"] == pytest.approx(numpy_losses(logits[:32], y[:32], loss, 5), rel=1e-5)


@pytest.mark.slow
def test_tensorflow_engine_matches_numpy_sgd_momentum_adam():
    _assert_close(check_cases(list(CASES)))


JAX_SCRIPT = """
import json, sys
sys.path.insert(0, {tests!r})
from test_equivalence import CASES, check_cases
print("RESULT" + json.dumps(check_cases(list(CASES))))
"""


@pytest.mark.slow
def test_jax_engine_matches_numpy_sgd_momentum_adam():
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    _assert_close(run_script(JAX_SCRIPT.format(tests=tests_dir), {"KERAS_BACKEND": "jax"}, timeout=900))
