"""The ``dataset`` scaffold: Gaussian blobs, seeded, with their size, dimension and classes as options."""

SUMMARY = "seeded Gaussian blobs, one per class"

SOURCE = '''\
"""__NAME__: a ddbench dataset (written by ``ddbench plugin new dataset __NAME__``).

Gaussian blobs: ``classes`` centres drawn from ``seed`` at distance ``separation`` from the
origin of ``dim`` dimensions, and ``n`` training and ``n`` test points, each its class centre
plus standard normal noise, with balanced labels. The centres, the training points and the test
points come from three streams of the one seed, so the data depend on the options only.

Make it your own: change ``Config`` (the options, validated with their YAML path by
``ddbench validate``) and ``load``. Return clean arrays (float32 inputs, integer labels from 0);
ddbench takes the ``n_train``/``n_test`` subsets and adds the label noise. The same options must
give the same arrays (``ddbench plugin test __NAME__`` checks it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ddbench.data.base import Dataset, DatasetPlugin
from ddbench.registry import datasets
from pydantic import BaseModel, ConfigDict, Field


@datasets.register("__NAME__", version="0.1")
class __CLASS__(DatasetPlugin):
    description = "Gaussian blobs: seeded class centres, points around them with unit variance"
    default_n_train = None  # None: all n points (a spec's dataset.n_train takes fewer)
    default_n_test = None

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n: int = Field(default=1000, ge=1, description="points generated for training, and as many for testing")
        dim: int = Field(default=20, ge=1, description="input dimension")
        classes: int = Field(default=4, ge=2, description="number of classes, one blob each")
        separation: float = Field(default=3.0, gt=0, description="distance of every class centre from the origin")
        seed: int = Field(default=0, ge=0, description="seed of the centres and of the points")

    def available_sizes(self, config: Any) -> tuple[int, int]:
        """(training, test) points, known without loading: ``ddbench validate`` checks a spec's sizes against it."""
        return config.n, config.n

    def load(self, config: Any) -> Dataset:
        streams = np.random.SeedSequence(config.seed).spawn(3)
        centre_rng, train_rng, test_rng = (np.random.default_rng(s) for s in streams)
        centres = centre_rng.standard_normal((config.classes, config.dim))
        centres *= config.separation / np.linalg.norm(centres, axis=1, keepdims=True)
        x_train, y_train = draw(train_rng, centres, config.n)
        x_test, y_test = draw(test_rng, centres, config.n)
        return Dataset(x_train, y_train, x_test, y_test, num_classes=config.classes,
                       meta={"generator": "__MODULE__", **config.model_dump()})


def draw(rng: np.random.Generator, centres: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points with balanced labels in a random order, each its class centre plus N(0, I) noise."""
    labels = rng.permutation(np.arange(n) % len(centres)).astype(np.int64)
    x = centres[labels] + rng.standard_normal((n, centres.shape[1]))
    return x.astype(np.float32), labels
'''

USAGE = '''\
```yaml
dataset:
  name: __NAME__
  n_train: 500                    # a subset of the n points (default: all)
  n_test: 500
  options: {n: 1000, dim: 20, classes: 4, separation: 3.0, seed: 0}
  noise: {rates: [0.0, 0.2]}
```
'''
