"""scikit-learn's bundled 8x8 handwritten digits (UCI optdigits test set), offline.

1797 grey-scale images of the digits 0-9, 8x8 pixels with values 0..16, shipped
inside scikit-learn: real images that need no download, so an image recipe can
run (and be tested) on a machine without network. There is no official split:
a seeded, class-stratified split holds out ``n_holdout`` images per 1797 as the
test set (default 797, leaving 1000 training images); ``n_train``/``n_test`` of
the spec then take subsets of those, as for every dataset.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import datasets
from .base import Dataset, DatasetPlugin
from .split import stratified_split

#: images in scikit-learn's copy of the data set
N_IMAGES = 1797


def _import_sklearn_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(
            f"the digits dataset needs scikit-learn ({exc}); install it with: pip install 'ddbench[digits]'"
        ) from exc
    return load_digits


@datasets.register("digits", version="1")
class Digits(DatasetPlugin):
    description = "scikit-learn's bundled 8x8 handwritten digits, 1797 images, 10 classes (offline)"
    default_n_train = 1000
    default_n_test = 797
    input_shape = (64,)
    num_classes = 10

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n_holdout: int = Field(default=797, ge=10, le=N_IMAGES - 10, description="images held out as the test split")
        split_seed: int = Field(default=0, description="seed of the stratified train/test split")
        normalize: Literal["unit", "none"] = Field(default="unit", description="unit: pixel / 16 in [0, 1]; none: raw 0..16")
        flatten: bool = Field(default=True, description="vectors of 64 (for an MLP); false: images (8, 8, 1) for a CNN")

    def declared(self, config: BaseModel) -> tuple[tuple[int, ...], int]:
        return ((64,) if config.flatten else (8, 8, 1)), 10

    def load(self, config: BaseModel) -> Dataset:
        load_digits = _import_sklearn_digits()
        bunch = load_digits()
        x = np.asarray(bunch.images, dtype=np.float32)[..., None]  # (1797, 8, 8, 1)
        y = np.asarray(bunch.target, dtype=np.int64)
        if config.normalize == "unit":
            x = x / 16.0
        if config.flatten:
            x = x.reshape(len(x), -1)
        train, test = stratified_split(y, config.n_holdout, config.split_seed)
        return Dataset(
            x[train], y[train], x[test], y[test], num_classes=10,
            meta={"source": "sklearn.datasets.load_digits", "images": len(y), **config.model_dump()},
        )
