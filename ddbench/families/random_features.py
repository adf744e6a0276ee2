"""Random-features ridge regression (docs/science.md, "norm_capacity", Wang, Chen, Rosasco, Liu).

``h(x) = phi(x V) / sqrt(P)`` with a fixed Gaussian ``V`` (d x P, never trained) and
``phi`` = erf or ReLU; the head ``a`` (P x C, no bias) is the ridge solution
``(F^T F + lambda I)^-1 F^T Y``, computed in closed form by
:class:`ddbench.train.closed_form.ClosedFormTrainer` (``closed_form = True``), not by
gradient descent. The width knob is the number of features P, so the capacity
sweep "P across n" is an ordinary width grid.

Design choices, and why:

* No intercept: the paper's estimator has none, and then ``||a||^2`` (the head's
  squared Frobenius norm) is exactly the capacity the claims are about.
* Targets are one-hot class labels (multi-output ridge, one column per class), so
  the model plugs into ddbench's classification pipeline (argmax error, MSE on
  one-hot). This *adapts* the paper, which regresses the digit value as a scalar;
  a scalar ``digit_value`` target is deliberately not offered: its output cannot
  be a logit vector, so error, loss and every probe would need a second pipeline.
* ``V_ij ~ N(0, weight_std^2 / d)`` (d = flattened input size), so pre-activations
  are O(1) for standardised inputs and erf is in its non-linear range.
* ``feature_seed: null`` (default) draws V from the cell's init seed: every seed
  and every P gets fresh features. An integer draws V from ``numpy`` with that seed,
  *nested* over P (the features of a narrower model are the first columns of a
  wider one) and shared by all seeds: smoother curves, one feature draw.
* Parameter count = P x C trainable head weights; the d x P random matrix is
  fixed (``trainable=False``) and not counted.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import families
from .base import HEAD, PENULTIMATE, FamilyPlugin

FEATURES = "features"


def feature_matrix(seed: int, d: int, width: int, std: float) -> np.ndarray:
    """V (d x P) from ``seed``, nested over P: row-major draws of (P, d), transposed."""
    return (np.random.default_rng(seed).standard_normal((width, d)).T * (std / math.sqrt(d))).astype(np.float32)


@families.register("random_features", version="1")
class RandomFeatures(FamilyPlugin):
    description = "random-features ridge regression: phi(xV)/sqrt(P), V Gaussian fixed, head solved in closed form"
    width_label = "features P"
    #: solved by ddbench.train.closed_form.ClosedFormTrainer, whatever the spec's trainer
    closed_form = True

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        activation: Literal["erf", "relu"] = Field(default="erf", description="phi of phi(xV)/sqrt(P)")
        ridge: float = Field(default=1e-4, ge=0, description="lambda of (F^T F + lambda I)^-1 F^T Y; 0 = min-norm (ridgeless)")
        solver: Literal["auto", "primal", "dual"] = Field(
            default="auto", description="primal (P x P system) or dual (n x n); auto: dual when P > n")
        feature_seed: int | None = Field(
            default=None, description="null: V from the cell's init seed; an int: V from numpy with this seed, nested over P")
        weight_std: float = Field(default=1.0, gt=0, description="V_ij ~ N(0, weight_std^2 / input_dim)")

    def build(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int, name: str) -> Any:
        import keras

        from .rf_activations import erf

        d = math.prod(input_shape)
        std = config.weight_std / math.sqrt(d)
        inputs = keras.Input(shape=input_shape, name="inputs")
        x = keras.layers.Flatten(name="flatten")(inputs) if len(input_shape) > 1 else inputs
        features = keras.layers.Dense(width, use_bias=False, trainable=False, name=FEATURES,
                                      kernel_initializer=keras.initializers.RandomNormal(stddev=std))
        h = features(x)
        h = keras.layers.Activation(erf if config.activation == "erf" else "relu", name="phi")(h)
        h = keras.layers.Rescaling(1.0 / math.sqrt(width), name=PENULTIMATE)(h)
        logits = keras.layers.Dense(num_classes, use_bias=False, kernel_initializer="zeros", name=HEAD)(h)
        if config.feature_seed is not None:
            features.set_weights([feature_matrix(config.feature_seed, d, width, config.weight_std)])
        return keras.Model(inputs, logits, name=name)

    def param_count(self, config: Any, width: int, input_shape: tuple[int, ...], num_classes: int) -> int:
        return width * num_classes
