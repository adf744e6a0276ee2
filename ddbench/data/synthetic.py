"""Gaussian inputs labelled by a random teacher: a dataset whose true function is known.

``x ~ N(0, I_d)``; the label is the argmax of the teacher's logits. The ``linear``
teacher's logits are ``x W``; the ``random_features`` teacher's are
``(relu(x V / sqrt(d)) - E[relu]) A``, a linear readout of random ReLU features.
The readouts have orthonormal columns (unit-norm when there are fewer rows than
classes) and the RF features are centred, so no class dominates just because its
readout is longer: the linear teacher's classes are balanced in expectation, the
RF teacher's roughly so. Everything is drawn from ``seed`` with separate streams
for the teacher, the training pool and the test pool, so changing ``n_test_pool``
leaves the training set unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import datasets
from .base import Dataset, DatasetPlugin


class SyntheticConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    teacher: Literal["linear", "random_features"] = Field(
        default="linear", description="linear: logits x W; random_features: linear readout of relu(x V / sqrt(d))"
    )
    dim: int = Field(default=20, ge=1, description="input dimension d")
    num_classes: int = Field(default=10, ge=2)
    n_train_pool: int = Field(default=1000, ge=1, description="training points generated (n_train subsets this pool)")
    n_test_pool: int = Field(default=1000, ge=1, description="test points generated")
    rf_features: int = Field(default=100, ge=1, description="random_features teacher: number of ReLU features P")
    seed: int = Field(default=0, description="seed of the teacher and of both pools")


def _readout(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """Random readout whose columns are orthonormal (or unit-norm if rows < cols)."""
    g = rng.standard_normal((rows, cols))
    if rows >= cols:
        q, r = np.linalg.qr(g)
        return q * np.sign(np.diag(r))  # sign fix: a unique, seed-determined Q
    return g / np.linalg.norm(g, axis=0)


@dataclass(frozen=True)
class Teacher:
    """The labelling function; rebuilt from the config by :func:`make_teacher`."""

    kind: str
    readout: np.ndarray  # (d or P, C)
    V: np.ndarray | None = None  # (d, P), random_features only
    feature_mean: np.ndarray | None = None  # (P,), E[relu(x V / sqrt(d))]

    def features(self, x: np.ndarray) -> np.ndarray:
        if self.V is None:
            return x
        return np.maximum(x @ self.V / math.sqrt(self.V.shape[0]), 0.0) - self.feature_mean

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.features(x) @ self.readout

    def labels(self, x: np.ndarray) -> np.ndarray:
        return np.argmax(self.logits(x), axis=1).astype(np.int64)


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent (teacher, train, test) generators derived from one seed."""
    teacher, train, test = np.random.SeedSequence(seed).spawn(3)
    return np.random.default_rng(teacher), np.random.default_rng(train), np.random.default_rng(test)


def make_teacher(config: SyntheticConfig) -> Teacher:
    rng, _, _ = _streams(config.seed)
    d, C = config.dim, config.num_classes
    if config.teacher == "linear":
        return Teacher("linear", _readout(rng, d, C))
    V = rng.standard_normal((d, config.rf_features))
    # relu(z) with z ~ N(0, s^2), s = ||V_j|| / sqrt(d), has mean s / sqrt(2 pi)
    mean = np.linalg.norm(V, axis=0) / math.sqrt(d) / math.sqrt(2 * math.pi)
    return Teacher("random_features", _readout(rng, config.rf_features, C), V=V, feature_mean=mean)


@datasets.register("synthetic", version="1")
class Synthetic(DatasetPlugin):
    description = "Gaussian inputs labelled by a seeded linear or random-features teacher (argmax of its logits)"
    default_n_train = None  # the whole pool: set its size with options.n_train_pool
    default_n_test = None

    Config = SyntheticConfig

    def available_sizes(self, config: BaseModel) -> tuple[int, int]:
        return config.n_train_pool, config.n_test_pool

    def declared(self, config: BaseModel) -> tuple[tuple[int, ...], int]:
        return (config.dim,), config.num_classes

    def load(self, config: BaseModel) -> Dataset:
        teacher = make_teacher(config)
        _, rng_train, rng_test = _streams(config.seed)
        # label the float32 inputs that are returned, so labels are exactly a function of them
        x_train = rng_train.standard_normal((config.n_train_pool, config.dim)).astype(np.float32)
        x_test = rng_test.standard_normal((config.n_test_pool, config.dim)).astype(np.float32)
        y_train = teacher.labels(x_train.astype(np.float64))
        y_test = teacher.labels(x_test.astype(np.float64))
        return Dataset(
            x_train, y_train, x_test, y_test,
            num_classes=config.num_classes,
            meta={
                "generator": "ddbench.data.synthetic",
                **config.model_dump(),
                "train_class_counts": np.bincount(y_train, minlength=config.num_classes).tolist(),
            },
        )
