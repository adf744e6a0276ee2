"""The data containers every stage shares, and the dataset plugin contract.

A dataset plugin returns clean arrays (:class:`Dataset`); :func:`load_train_data`
applies the subset rule and the seeded label noise and keeps what probes need:
the noisy mask and the true labels (:class:`TrainData`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from .noise import inject_label_noise, noise_rng

if TYPE_CHECKING:
    from ..spec.model import DatasetSpec


@dataclass
class Dataset:
    """Clean data as a loader returns it (inputs float32, labels int64)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainData:
    """What a trainer and the probes see for one (dataset, noise rate, noise seed)."""

    x_train: np.ndarray
    y_train: np.ndarray  # labels trained on (noisy where ``noisy``)
    y_true: np.ndarray  # the original labels
    noisy: np.ndarray  # bool mask of points whose label was changed
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    noise_rate: float
    noise_kind: str
    noise_seed: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def fingerprint(self) -> str:
        """Hash of the exact training set and labels used (recorded with results; computed once)."""
        cached = self.__dict__.get("_fingerprint")
        if cached is None:
            h = hashlib.sha256()
            for arr in (self.x_train, self.y_train, self.x_test, self.y_test):
                h.update(np.ascontiguousarray(arr).tobytes())
            cached = self.__dict__["_fingerprint"] = h.hexdigest()[:16]
        return cached


class DatasetPlugin:
    """Base class of dataset plugins. Subclass, set ``Config``, implement ``load``."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    description: ClassVar[str] = ""
    default_n_train: ClassVar[int | None] = None
    default_n_test: ClassVar[int | None] = None
    #: known without loading, for validate-time checks (None: unknown until loaded)
    input_shape: ClassVar[tuple[int, ...] | None] = None
    num_classes: ClassVar[int | None] = None

    def load(self, config: BaseModel) -> Dataset:  # pragma: no cover - interface
        raise NotImplementedError

    def declared(self, config: BaseModel) -> tuple[tuple[int, ...], int] | None:
        """(input shape, classes) of the arrays :meth:`load` returns with ``config``, known without loading
        (``ddbench plan`` sizes models from it and never loads, e.g. downloads, data); None when unknown.
        By default the class's ``input_shape`` and ``num_classes``; a plugin whose options change the
        shape (``flatten``, a dimension) overrides it. ``ddbench plugin test`` checks it against a load."""
        if self.input_shape is None or self.num_classes is None:
            return None
        return tuple(self.input_shape), int(self.num_classes)

    def available_sizes(self, config: BaseModel) -> tuple[int, int] | None:
        """(training, test) points the dataset has with ``config``, when known without loading it;
        None when unknown. ``ddbench validate`` checks ``n_train``/``n_test``/``batch_size`` against
        it. May raise ``ValueError``/``OSError`` with a message when the options cannot work."""
        return None


@dataclass(frozen=True)
class DataShape:
    """What the planner needs to know of a dataset, without its arrays."""

    input_shape: tuple[int, ...]
    num_classes: int
    n_train: int
    n_test: int

    @property
    def nbytes(self) -> int:
        """Bytes of the float32 training and test inputs (what a stratum keeps resident)."""
        return (self.n_train + self.n_test) * int(np.prod(self.input_shape)) * 4


def declared_shape(spec: "DatasetSpec") -> DataShape | None:
    """The shapes and sizes a dataset spec will have, from what its plugin declares, without loading
    anything; None when the plugin cannot tell (then only loading the data says)."""
    from .. import registry

    plugin = registry.datasets.get(spec.name)()
    try:
        config = plugin.Config.model_validate(spec.options)
        declared = plugin.declared(config)
        sizes = plugin.available_sizes(config)
    except (ValueError, OSError):
        return None
    n_train = spec.n_train or plugin.default_n_train or (sizes[0] if sizes else None)
    n_test = spec.n_test or plugin.default_n_test or (sizes[1] if sizes else None)
    if declared is None or not n_train or not n_test:
        return None
    return DataShape(declared[0], declared[1], int(n_train), int(n_test))


def cache_dir() -> Path:
    """Where generated datasets are cached (``DDBENCH_CACHE`` or ~/.cache/ddbench)."""
    root = Path(os.environ.get("DDBENCH_CACHE", Path.home() / ".cache" / "ddbench"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def take_subset(x: np.ndarray, y: np.ndarray, n: int | None, rule: str, seed: int, num_classes: int, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The recorded subset rule: the first ``n`` points, or a seeded class-balanced draw."""
    if n is None or n == len(y):
        return x, y
    if n > len(y):
        raise ValueError(f"{what}={n} but the dataset has only {len(y)} points")
    if rule == "first":
        return x[:n], y[:n]
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(y == c)) for c in range(num_classes)]
    base, extra = divmod(n, num_classes)
    take = []
    for c, idx in enumerate(per_class):
        want = base + (1 if c < extra else 0)
        if want > len(idx):
            raise ValueError(f"{what}={n}: class {c} has only {len(idx)} points for a balanced subset")
        take.append(idx[:want])
    order = np.sort(np.concatenate(take))
    return x[order], y[order]


def load_train_data(spec: "DatasetSpec", noise_rate: float, noise_seed: int) -> TrainData:
    """Load the named dataset, apply the subset rule, inject label noise."""
    from .. import registry

    plugin_cls = registry.datasets.get(spec.name)
    plugin = plugin_cls()
    config = plugin.Config.model_validate(spec.options)
    ds = plugin.load(config)
    n_train = spec.n_train or plugin.default_n_train
    n_test = spec.n_test or plugin.default_n_test
    x_tr, y_tr = take_subset(ds.x_train, ds.y_train, n_train, spec.subset, spec.subset_seed, ds.num_classes, "n_train")
    x_te, y_te = take_subset(ds.x_test, ds.y_test, n_test, spec.subset, spec.subset_seed + 1, ds.num_classes, "n_test")
    dataset_id = f"{spec.name}:{sorted(spec.options.items())}:{spec.subset}:{spec.subset_seed}"
    rng = noise_rng(dataset_id, len(y_tr), noise_rate, noise_seed)
    y_noisy, mask = inject_label_noise(y_tr, noise_rate, ds.num_classes, spec.noise.kind, rng)
    return TrainData(
        x_train=np.ascontiguousarray(x_tr, dtype=np.float32),
        y_train=y_noisy,
        y_true=np.asarray(y_tr, dtype=np.int64),
        noisy=mask,
        x_test=np.ascontiguousarray(x_te, dtype=np.float32),
        y_test=np.asarray(y_te, dtype=np.int64),
        num_classes=ds.num_classes,
        noise_rate=noise_rate,
        noise_kind=spec.noise.kind,
        noise_seed=noise_seed,
        meta=dict(ds.meta),
    )
