"""MNIST-1D, generated locally with ``mnist1d.data.make_dataset`` (never downloaded).

Default: 16000 samples with train_split 0.25, i.e. 4000 train / 12000 test, as in
the double-descent recipe of docs/science.md, "double_descent". Generation takes seconds,
so the arrays are cached by their generator arguments.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..atomic import atomic_path
from ..registry import datasets
from .base import Dataset, DatasetPlugin, cache_dir


@datasets.register("mnist1d", version="1")
class MNIST1D(DatasetPlugin):
    description = "MNIST-1D: 40-sample 1-D signals of 10 digit templates, generated locally"
    default_n_train = 4000
    default_n_test = 12000
    input_shape = (40,)
    num_classes = 10

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        num_samples: int = Field(default=16000, ge=20, description="points generated before the split")
        train_split: float = Field(default=0.25, gt=0, lt=1)
        seed: int = Field(default=42, description="the generator's seed (42 is the published dataset)")
        iid_noise_scale: float = Field(default=0.02, ge=0)
        corr_noise_scale: float = Field(default=0.25, ge=0)
        shear_scale: float = Field(default=0.75, ge=0)
        max_translation: int = Field(default=48, ge=0)

    def available_sizes(self, config: BaseModel) -> tuple[int, int]:
        total = (config.num_samples // 10) * 10  # make_dataset draws num_samples // 10 per template
        train = int(total * config.train_split)
        return train, total - train

    def load(self, config: BaseModel) -> Dataset:
        from ..spec.hashing import content_hash

        path = cache_dir() / f"mnist1d-{content_hash(config.model_dump())}.npz"
        if path.exists():
            with np.load(path) as z:
                arrays = {k: z[k] for k in z.files}
        else:
            from mnist1d.data import get_dataset_args, make_dataset

            args = get_dataset_args()
            for key, value in config.model_dump().items():
                setattr(args, key, value)
            d = make_dataset(args)
            arrays = {
                "x": d["x"].astype(np.float32),
                "y": d["y"].astype(np.int64),
                "x_test": d["x_test"].astype(np.float32),
                "y_test": d["y_test"].astype(np.int64),
            }
            with atomic_path(path) as tmp:  # a unique name: Ray workers may generate it at once
                np.savez(tmp, **arrays)
        return Dataset(
            arrays["x"], arrays["y"], arrays["x_test"], arrays["y_test"], num_classes=10,
            meta={"generator": "mnist1d.data.make_dataset", **config.model_dump()},
        )
