"""A user's own classification data, from one ``.npz`` file (``numpy.savez``).

The file needs four arrays: training inputs and labels, test inputs and labels
(names configurable). Labels are integer class ids ``0..C-1``; ``num_classes`` is
inferred as the largest label + 1 unless given (give it when a class is absent
from both splits). Every problem is reported with the path and the fix.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import datasets
from .base import Dataset, DatasetPlugin


class MissingArrayError(KeyError):
    """A configured array name that the file does not hold."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.args[0]


def _labels(y: np.ndarray, key: str, path: Path) -> np.ndarray:
    """Integer class ids of shape (n,), or an error saying how to get them."""
    if y.ndim != 1:
        hint = " (one-hot? store y.argmax(axis=1))" if y.ndim == 2 else ""
        raise ValueError(f"{path}: {key!r} has shape {y.shape}; labels must be class ids of shape (n,){hint}")
    if y.dtype.kind not in "iub":
        if y.dtype.kind != "f" or not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise ValueError(f"{path}: {key!r} has non-integer labels (dtype {y.dtype}); store integer class ids 0..C-1")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise ValueError(f"{path}: {key!r} has negative labels (min {y.min()}); class ids must be 0..C-1")
    return y


def refuse_objects(path: Path, key: str, dtype: np.dtype) -> None:
    """An array of Python objects is a pickle: never loaded (it could run any code), and never numbers."""
    if dtype.hasobject:
        raise ValueError(f"{path}: array {key!r} holds Python objects (dtype {dtype}), which ddbench never loads "
                         "(reading them would unpickle code); store numbers, e.g. np.asarray(x, dtype=np.float32)")


@datasets.register("npz", version="1")
class NPZ(DatasetPlugin):
    description = "your own arrays from a .npz file (x_train, y_train, x_test, y_test)"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        path: str = Field(description="the .npz file (numpy.savez); relative paths are from the working directory")
        x_train_key: str = "x_train"
        y_train_key: str = "y_train"
        x_test_key: str = "x_test"
        y_test_key: str = "y_test"
        num_classes: int | None = Field(default=None, ge=2, description="None: the largest label + 1")

    def available_sizes(self, config: BaseModel) -> tuple[int, int] | None:
        """The label counts, read from the .npy headers inside the archive (no array is loaded); an
        array of Python objects (dtype ``object``, stored as a pickle) is refused here, so ``validate``
        names it."""
        import zipfile

        path = Path(config.path).expanduser()
        if not path.is_file():
            raise ValueError(f"npz dataset: no file at {path.resolve()} (dataset.options.path)")
        headers: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
        try:
            with zipfile.ZipFile(path) as zf:
                for key in (config.x_train_key, config.y_train_key, config.x_test_key, config.y_test_key):
                    try:
                        member = zf.open(key + ".npy")
                    except KeyError:
                        continue  # load() names the missing array and what the file has
                    with member:
                        version = np.lib.format.read_magic(member)
                        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                else np.lib.format.read_array_header_2_0)
                        shape, _, dtype = read(member)
                    headers[key] = (tuple(shape), np.dtype(dtype))
        except (zipfile.BadZipFile, ValueError, TypeError) as exc:
            raise ValueError(f"npz dataset: {path} is not a .npz archive of arrays ({exc})") from None
        for key, (_, dtype) in headers.items():
            refuse_objects(path, key, dtype)
        if config.y_train_key not in headers or config.y_test_key not in headers:
            return None
        return tuple(int(headers[k][0][0]) if headers[k][0] else 0  # type: ignore[return-value]
                     for k in (config.y_train_key, config.y_test_key))

    def load(self, config: BaseModel) -> Dataset:
        path = Path(config.path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"npz dataset: no file at {path.resolve()} (dataset.options.path)")
        keys = {
            "x_train_key": config.x_train_key, "y_train_key": config.y_train_key,
            "x_test_key": config.x_test_key, "y_test_key": config.y_test_key,
        }
        with np.load(path, allow_pickle=False) as z:
            present = sorted(z.files)
            for option, key in keys.items():
                if key not in present:
                    raise MissingArrayError(
                        f"{path}: no array {key!r} (dataset.options.{option}); the file has: "
                        f"{', '.join(present) or '(no arrays)'}"
                    )
            arrays = []
            for key in keys.values():
                try:
                    arrays.append(z[key])
                except ValueError as exc:  # numpy refuses a pickled (object) array without allow_pickle
                    if "allow_pickle" not in str(exc):
                        raise
                    refuse_objects(path, key, np.dtype(object))
            x_train, y_train, x_test, y_test = arrays
        y_train = _labels(y_train, config.y_train_key, path)
        y_test = _labels(y_test, config.y_test_key, path)
        for x, y, xk, yk in ((x_train, y_train, config.x_train_key, config.y_train_key),
                             (x_test, y_test, config.x_test_key, config.y_test_key)):
            if x.ndim < 2 or len(x) != len(y):
                raise ValueError(f"{path}: {xk!r} has shape {x.shape} but {yk!r} has {len(y)} labels; "
                                 "inputs must be (n, ...) with one label per row")
        if x_train.shape[1:] != x_test.shape[1:]:
            raise ValueError(f"{path}: train inputs are {x_train.shape[1:]} per point but test inputs are {x_test.shape[1:]}")
        if len(y_train) == 0:
            raise ValueError(f"{path}: {config.y_train_key!r} is empty")
        largest = int(max(y_train.max(), y_test.max(initial=0)))
        num_classes = config.num_classes if config.num_classes is not None else largest + 1
        if largest >= num_classes:
            raise ValueError(f"{path}: label {largest} is out of range for num_classes={num_classes}; "
                             "raise dataset.options.num_classes or fix the labels")
        if num_classes < 2:
            raise ValueError(f"{path}: all labels are 0; a classification dataset needs at least two classes")
        try:
            x_train, x_test = x_train.astype(np.float32), x_test.astype(np.float32)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: inputs must be numeric ({exc})") from None
        return Dataset(
            x_train, y_train, x_test, y_test, num_classes=num_classes,
            meta={"source": "npz", "path": str(path.resolve()), **keys},
        )
