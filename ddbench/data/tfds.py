"""Image classification datasets from TensorFlow Datasets (TFDS).

One loader serves all five registrations; each plugin only names its TFDS
builder and what is known about it before loading (for ``validate``). Full
splits are returned: ``n_train``/``n_test`` subsets and label noise are applied
by :func:`ddbench.data.base.load_train_data`, so they are recorded the same way
for every dataset.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import datasets
from .base import Dataset, DatasetPlugin

Normalize = Literal["none", "unit", "standardize"]

#: examples per tf.data batch while reading a split into memory
_CHUNK = 10_000


def _import_tfds() -> Any:
    """Import TFDS lazily: it is an optional dependency and slow to import."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as exc:
        raise ImportError(
            f"TFDS datasets need tensorflow-datasets ({exc}); install it with: pip install 'ddbench[tfds]'"
        ) from exc
    return tfds


def _to_numpy(tfds: Any, ds: Any) -> tuple[np.ndarray, np.ndarray]:
    """Read a supervised split into two arrays, in the split's order.

    This is what ``tfds.load(..., batch_size=-1)`` does, but in bounded chunks:
    when a builder does not know its split sizes (as under
    ``tfds.testing.mock_data``), ``batch_size=-1`` batches by ``sys.maxsize``,
    which aborts the whole process on TF 2.21 (an uncatchable C++ length_error).
    """
    xs, ys = [], []
    for x, y in tfds.as_numpy(ds.batch(_CHUNK)):
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError("the split is empty")
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


def normalize_images(
    x_train: np.ndarray, x_test: np.ndarray, how: Normalize
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Scale uint8 images to float32.

    ``unit`` divides by 255; ``standardize`` then subtracts the per-channel mean and
    divides by the per-channel std of the *full* training split (the same
    statistics for every ``n_train``, so subsets stay comparable); ``none`` keeps
    raw pixel values.
    """
    x_train = x_train.astype(np.float32)
    x_test = x_test.astype(np.float32)
    meta: dict[str, Any] = {"normalize": how}
    if how == "none":
        return x_train, x_test, meta
    x_train /= 255.0
    x_test /= 255.0
    if how == "standardize":
        axes = tuple(range(x_train.ndim - 1))  # all but the channel axis
        mean = x_train.mean(axis=axes, dtype=np.float64)
        std = np.maximum(x_train.std(axis=axes, dtype=np.float64), 1e-8)
        x_train = ((x_train - mean) / std).astype(np.float32)
        x_test = ((x_test - mean) / std).astype(np.float32)
        meta.update(channel_mean=mean.tolist(), channel_std=std.tolist())
    return x_train, x_test, meta


class TFDSImageDataset(DatasetPlugin):
    """Shared loader of the TFDS image plugins. Subclasses set ``tfds_name``.

    ``input_shape`` is the image shape (H, W, C); with ``flatten`` the arrays are
    (n, H*W*C) instead, which an MLP needs and a CNN must not get.
    """

    tfds_name: ClassVar[str] = ""
    #: (train, test) split sizes, known from the TFDS catalogue (for validate-time checks)
    split_sizes: ClassVar[tuple[int, int] | None] = None
    train_split: ClassVar[str] = "train"
    test_split: ClassVar[str] = "test"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        data_dir: str | None = Field(
            default=None,
            description="TFDS data directory (None: TFDS's default, $TFDS_DATA_DIR or ~/tensorflow_datasets)",
        )
        normalize: Normalize = Field(
            default="unit",
            description="none: raw 0..255; unit: [0, 1]; standardize: per-channel mean 0, std 1 (training-split statistics)",
        )
        flatten: bool = Field(default=False, description="reshape each image (H, W, C) to a vector of H*W*C")

    def available_sizes(self, config: BaseModel) -> tuple[int, int] | None:
        return self.split_sizes

    def declared(self, config: BaseModel) -> tuple[tuple[int, ...], int] | None:
        """The catalogue's image shape (flattened with ``flatten``) and classes, without TFDS or the data."""
        found = super().declared(config)
        if found is None or not config.flatten:
            return found
        return (int(np.prod(found[0])),), found[1]

    def load(self, config: BaseModel) -> Dataset:
        tfds = _import_tfds()
        name = self.tfds_name
        try:
            (ds_train, ds_test), info = tfds.load(
                name,
                split=[self.train_split, self.test_split],
                as_supervised=True,
                with_info=True,
                data_dir=config.data_dir,
            )
            x_train, y_train = _to_numpy(tfds, ds_train)
            x_test, y_test = _to_numpy(tfds, ds_test)
        except Exception as exc:
            raise RuntimeError(
                f"could not load TFDS dataset {name!r} (data_dir={config.data_dir!r}): {exc}. "
                "The first load downloads and prepares it, which needs network access; on an offline "
                "machine, copy a prepared TFDS data directory and set dataset.options.data_dir to it."
            ) from exc
        num_classes = int(info.features["label"].num_classes)
        x_train, x_test, norm_meta = normalize_images(x_train, x_test, config.normalize)
        image_shape = tuple(int(s) for s in x_train.shape[1:])
        if config.flatten:
            x_train = x_train.reshape(len(x_train), -1)
            x_test = x_test.reshape(len(x_test), -1)
        return Dataset(
            x_train, y_train, x_test, y_test, num_classes=num_classes,
            meta={
                "source": "tensorflow_datasets",
                "tfds_name": name,
                "tfds_version": str(info.version),
                "splits": [self.train_split, self.test_split],
                "image_shape": list(image_shape),
                "flatten": config.flatten,
                **norm_meta,
            },
        )


@datasets.register("mnist", version="1")
class MNIST(TFDSImageDataset):
    description = "MNIST handwritten digits, 28x28x1, 10 classes, 60000/10000 (TFDS)"
    tfds_name = "mnist"
    split_sizes = (60000, 10000)
    input_shape = (28, 28, 1)
    num_classes = 10


@datasets.register("fashion_mnist", version="1")
class FashionMNIST(TFDSImageDataset):
    description = "Fashion-MNIST clothing images, 28x28x1, 10 classes, 60000/10000 (TFDS)"
    tfds_name = "fashion_mnist"
    split_sizes = (60000, 10000)
    input_shape = (28, 28, 1)
    num_classes = 10


@datasets.register("cifar10", version="1")
class CIFAR10(TFDSImageDataset):
    description = "CIFAR-10 natural images, 32x32x3, 10 classes, 50000/10000 (TFDS)"
    tfds_name = "cifar10"
    split_sizes = (50000, 10000)
    input_shape = (32, 32, 3)
    num_classes = 10


@datasets.register("cifar100", version="1")
class CIFAR100(TFDSImageDataset):
    description = "CIFAR-100 natural images, 32x32x3, 100 fine classes, 50000/10000 (TFDS)"
    tfds_name = "cifar100"
    split_sizes = (50000, 10000)
    input_shape = (32, 32, 3)
    num_classes = 100


@datasets.register("svhn_cropped", version="1")
class SVHNCropped(TFDSImageDataset):
    description = "SVHN cropped house-number digits, 32x32x3, 10 classes, 73257/26032 (TFDS; 'extra' unused)"
    tfds_name = "svhn_cropped"
    split_sizes = (73257, 26032)
    input_shape = (32, 32, 3)
    num_classes = 10
