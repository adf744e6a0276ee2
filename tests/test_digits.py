"""The offline ``digits`` dataset: scikit-learn's bundled 8x8 images, a seeded stratified split."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from ddbench import registry
from ddbench.data.base import load_train_data
from ddbench.data.digits import N_IMAGES
from ddbench.data.split import stratified_split
from ddbench.spec.model import DatasetSpec


def _load(**options):
    plugin = registry.datasets.get("digits")()
    return plugin.load(plugin.Config.model_validate(options))


def test_digits_default_split_shapes_and_ranges():
    ds = _load()
    assert ds.x_train.shape == (1000, 64) and ds.x_test.shape == (797, 64)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert 0.0 == ds.x_train.min() and ds.x_train.max() == 1.0
    assert ds.num_classes == 10 and set(np.unique(ds.y_test)) == set(range(10))


def test_digits_split_is_a_partition_of_the_real_images():
    raw = load_digits()
    ds = _load(normalize="none")
    both = np.concatenate([ds.x_train, ds.x_test])
    assert len(both) == N_IMAGES == len(raw.target)
    # the two splits hold the original images with their own labels, nothing else
    def key(x, y):
        return {(*r, int(t)) for r, t in zip(x.astype(int), y)}

    assert key(both, np.concatenate([ds.y_train, ds.y_test])) == key(raw.data, raw.target)


def test_stratified_split_proportions_and_seed():
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    train, test = stratified_split(y, 25, seed=3)
    assert len(test) == 25 and len(train) == 75 and not set(train) & set(test)
    # 25 x (0.1, 0.2, 0.3, 0.4) = 2.5, 5, 7.5, 10: floors 2, 5, 7, 10 and the one left over to the first of the tied halves
    assert np.bincount(y[test]).tolist() == [3, 5, 7, 10]
    again, _ = stratified_split(y, 25, seed=3)
    other, _ = stratified_split(y, 25, seed=4)
    assert np.array_equal(train, again) and not np.array_equal(train, other)


def test_digits_images_for_convnets():
    ds = _load(flatten=False)
    assert ds.x_train.shape == (1000, 8, 8, 1)


def test_digits_through_load_train_data_with_noise():
    spec = DatasetSpec.model_validate({"name": "digits", "n_train": 500, "n_test": 300,
                                       "noise": {"rates": [0.2], "kind": "exact"}})
    d = load_train_data(spec, 0.2, 0)
    assert d.x_train.shape == (500, 64) and d.x_test.shape == (300, 64)
    assert d.noisy.sum() == 100 and np.all(d.y_train[d.noisy] != d.y_true[d.noisy])


def test_digits_options_are_checked():
    plugin = registry.datasets.get("digits")
    with pytest.raises(ValueError):
        plugin.Config.model_validate({"n_holdout": 5000})
