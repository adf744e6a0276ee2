"""The trainer of closed-form families (``closed_form = True``): solve, don't train.

For each cell: build the model from its own init seed (so V is the cell's own
feature draw), compute ``F = h(x_train)`` with the model's ``penultimate`` layer,
solve the ridge system in float64 (:mod:`ridge`), write the solution into the
``head`` kernel and evaluate with the same :func:`curve_point` as every trainer.
There are no epochs: the curves hold one point, at the spec's final epoch, so
stores, plots and hypotheses read them like any other cell's. Optimizer, batch
size and schedule are ignored; early stopping cannot arise.

The fitted targets are the one-hot (possibly noisy) training labels. The loss
reported is the spec's ``training.loss``; for random-features specs use
``mse``: it is the squared loss the ridge estimator minimises, so ``test_loss`` is
the test risk of section 4 (cross-entropy of ridge outputs is reported if asked,
but means little).

Extra metrics: ``ridge_sq_norm`` = ``||a||_F^2`` (the capacity of section 4),
``n_train`` (hypotheses cannot see the spec and compare P with n), ``ridge``,
``features`` (P) and ``dual`` (1 if the dual form was used).
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Iterator

import numpy as np

from .. import backend, registry
from ..data import TrainData
from ..engine.evaluate import EVAL_BATCH, curve_point
from ..families import rf_activations  # noqa: F401  (registers erf so saved models load)
from ..families.base import HEAD, PENULTIMATE
from ..plan import Bundle
from ..spec.model import TrainingSpec
from .base import CellOutcome, Trainer, TrainEvents, build_cell_model, failed, is_finite
from .ridge import ridge_solve


def penultimate_features(model: Any, x: np.ndarray, batch: int = EVAL_BATCH) -> np.ndarray:
    """``h(x)`` from the model's penultimate layer, in batches, as float64."""
    import keras

    feat = keras.Model(model.input, model.get_layer(PENULTIMATE).output)
    parts = [keras.ops.convert_to_numpy(feat(x[i : i + batch], training=False)) for i in range(0, len(x), batch)]
    return np.concatenate(parts).astype(np.float64)


@registry.trainers.register("closed_form", version="1")
class ClosedFormTrainer(Trainer):
    """Ridge regression on the penultimate features, one cell at a time."""

    name = "closed_form"
    by_name = False  # chosen for closed-form families, whatever the spec names
    description = "ridge solution of closed-form families (chosen for them, never by name)"

    def train(self, bundle: Bundle, data: TrainData, training: TrainingSpec, events: TrainEvents) -> Iterator[CellOutcome]:
        if training.loss != "mse":
            warnings.warn(f"closed-form ridge fits the squared loss; training.loss = {training.loss!r} only changes what "
                          "test_loss reports (use loss: mse for the norm-capacity claims)", stacklevel=2)
        for cell in bundle.cells:
            try:
                backend.clear_session()
                yield self._solve(cell, data, training, events)
            except Exception as exc:
                yield failed(cell, exc)
        events.epochs_done(bundle, training.epochs, training.epochs)

    def _solve(self, cell: Any, data: TrainData, training: TrainingSpec, events: TrainEvents) -> CellOutcome:
        fam = registry.families.get(cell.family)
        config = fam.Config.model_validate(cell.family_config)
        t0 = time.perf_counter()
        model, n_params = build_cell_model(cell, data)
        f_train = penultimate_features(model, data.x_train)
        f_test = penultimate_features(model, data.x_test)
        t1 = time.perf_counter()
        targets = np.eye(data.num_classes)[data.y_train]
        ridge = float(getattr(config, "ridge", 0.0))
        a, method = ridge_solve(f_train, targets, ridge, getattr(config, "solver", "auto"))
        model.get_layer(HEAD).kernel.assign(a.astype(np.float32))
        t2 = time.perf_counter()
        metrics, arrays = curve_point(f_train @ a, f_test @ a, data.y_train, data.y_true, data.noisy, data.y_test, training.loss)
        t3 = time.perf_counter()
        epoch = training.epochs
        curves: dict[str, list[float]] = {"epoch": [epoch], **{k: [v] for k, v in metrics.items()}}
        metrics = {
            **metrics, "epochs": epoch, "ridge_sq_norm": float(np.sum(a * a)), "n_train": float(len(data.y_train)),
            "ridge": ridge, "features": float(f_train.shape[1]), "dual": float(method.startswith("dual")),
        }
        events.checkpoint(cell, epoch, model)
        return CellOutcome(
            cell, "done" if is_finite(metrics) and np.isfinite(metrics["ridge_sq_norm"]) else "diverged",
            model=model, metrics=metrics, curves=curves, arrays=arrays, params=n_params,
            timings={"train_seconds": t2 - t0, "feature_seconds": t1 - t0, "solve_seconds": t2 - t1,
                     "eval_seconds": t3 - t2, "bundle_size": 1},
        )
