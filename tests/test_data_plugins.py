"""Dataset plugins: TFDS (mocked, never downloaded), synthetic teachers, npz files.

TFDS runs the real ``load`` path under ``tfds.testing.mock_data``: random uint8
images with the real feature shapes and random labels in ``0..C-1``; the train
and test splits hold the same examples.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ddbench import registry  # noqa: E402
from ddbench.data.base import load_train_data  # noqa: E402
from ddbench.data.synthetic import SyntheticConfig, make_teacher  # noqa: E402
from ddbench.spec.model import DatasetSpec  # noqa: E402

N_MOCK = 200  # examples per mocked split


def _load(name: str, **options):
    plugin = registry.datasets.get(name)()
    return plugin.load(plugin.Config.model_validate(options))


@pytest.fixture
def mock_tfds():
    import tensorflow_datasets as tfds  # pinned by the test extra: missing, the test fails

    with tfds.testing.mock_data(num_examples=N_MOCK):
        yield tfds


# --------------------------------------------------------------------------- TFDS


@pytest.mark.parametrize(
    "name, shape, classes",
    [("mnist", (28, 28, 1), 10), ("cifar10", (32, 32, 3), 10), ("cifar100", (32, 32, 3), 100)],
)
def test_tfds_load_shapes_dtypes_ranges(mock_tfds, name, shape, classes):
    ds = _load(name)
    assert ds.x_train.shape == (N_MOCK, *shape) and ds.x_test.shape == (N_MOCK, *shape)
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    assert ds.x_train.max() > 0.5  # scaled from 0..255, not left raw and not all zero
    assert ds.y_train.dtype == np.int64 and ds.y_test.dtype == np.int64
    assert ds.num_classes == classes
    for y in (ds.y_train, ds.y_test):
        assert y.min() >= 0 and y.max() < classes
    plugin = registry.datasets.get(name)
    assert plugin.input_shape == shape and plugin.num_classes == classes  # validate-time facts match
    assert plugin.default_n_train is None and plugin.default_n_test is None
    assert ds.meta["tfds_name"] == name


def test_tfds_normalize_and_flatten(mock_tfds):
    raw = _load("mnist", normalize="none")
    assert raw.x_train.dtype == np.float32 and raw.x_train.max() > 1.0
    assert np.all(raw.x_train == np.round(raw.x_train))  # pixel values kept as they are
    std = _load("mnist", normalize="standardize", flatten=True)
    assert std.x_train.shape == (N_MOCK, 28 * 28) and std.x_test.shape == (N_MOCK, 28 * 28)
    assert abs(float(std.x_train.mean())) < 1e-4 and abs(float(std.x_train.std()) - 1) < 1e-3
    mean, sd = std.meta["channel_mean"], std.meta["channel_std"]
    expected = (raw.x_test.reshape(N_MOCK, -1) / 255.0 - mean[0]) / sd[0]
    np.testing.assert_allclose(std.x_test, expected, rtol=1e-4, atol=1e-4)  # test uses training statistics
    cifar = _load("cifar10", normalize="standardize")
    assert len(cifar.meta["channel_mean"]) == 3
    np.testing.assert_allclose(cifar.x_train.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)


def test_tfds_options_are_checked():
    from pydantic import ValidationError

    cfg = registry.datasets.get("cifar10").Config
    with pytest.raises(ValidationError):
        cfg.model_validate({"normalise": "unit"})  # typo: extra keys are errors
    with pytest.raises(ValidationError):
        cfg.model_validate({"normalize": "zscore"})


def test_tfds_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install 'ddbench\[tfds\]'"):
        _load("mnist")


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_tfds_train_data_subset_and_exact_noise(mock_tfds, name):
    n, p = 100, 0.2
    spec = DatasetSpec(name=name, n_train=n, n_test=50, subset="balanced", subset_seed=3,
                       noise={"rates": [p], "kind": "exact"})
    full = _load(name)
    counts = np.bincount(full.y_train, minlength=full.num_classes)
    # mock labels are random: the balanced draw is only possible if every class has n/C points
    assert counts.min() >= n // full.num_classes, f"mock labels too unbalanced for this test: {counts}"

    data = load_train_data(spec, noise_rate=p, noise_seed=0)
    assert data.x_train.shape == (n, *full.x_train.shape[1:]) and data.x_train.dtype == np.float32
    assert data.x_test.shape[0] == 50
    np.testing.assert_array_equal(np.bincount(data.y_true, minlength=10), np.full(10, n // 10))
    assert data.noisy.sum() == round(p * n)
    assert np.all(data.y_train[data.noisy] != data.y_true[data.noisy])
    assert np.all(data.y_train[~data.noisy] == data.y_true[~data.noisy])
    assert data.y_train.min() >= 0 and data.y_train.max() < data.num_classes
    # the subset is made of real rows of the loaded split, with their labels
    rows = {(bytes(x.tobytes()), int(y)) for x, y in zip(full.x_train, full.y_train)}
    assert all((x.tobytes(), int(y)) in rows for x, y in zip(data.x_train, data.y_true))
    again = load_train_data(spec, noise_rate=p, noise_seed=0)
    assert again.fingerprint() == data.fingerprint()
    np.testing.assert_array_equal(again.noisy, data.noisy)


def test_tfds_first_n_subset(mock_tfds):
    full = _load("mnist")
    data = load_train_data(DatasetSpec(name="mnist", n_train=30, subset="first"), noise_rate=0.0, noise_seed=0)
    np.testing.assert_array_equal(data.x_train, full.x_train[:30])
    np.testing.assert_array_equal(data.y_true, full.y_train[:30])
    assert not data.noisy.any()


# --------------------------------------------------------------------------- synthetic


def test_synthetic_is_deterministic_and_seeded():
    a = _load("synthetic", seed=1, n_train_pool=300, n_test_pool=200)
    b = _load("synthetic", seed=1, n_train_pool=300, n_test_pool=200)
    c = _load("synthetic", seed=2, n_train_pool=300, n_test_pool=200)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert not np.array_equal(a.x_train, c.x_train) and not np.array_equal(a.y_train, c.y_train)
    assert a.x_train.shape == (300, 20) and a.x_test.shape == (200, 20)
    assert a.x_train.dtype == np.float32 and a.y_train.dtype == np.int64 and a.num_classes == 10
    # a larger test pool does not change the training set
    d = _load("synthetic", seed=1, n_train_pool=300, n_test_pool=500)
    np.testing.assert_array_equal(a.x_train, d.x_train)


def test_synthetic_linear_teacher_labels_are_argmax_of_xw():
    cfg = SyntheticConfig(teacher="linear", dim=8, num_classes=4, n_train_pool=2000, n_test_pool=500, seed=5)
    ds = _load("synthetic", **cfg.model_dump())
    W = make_teacher(cfg).readout
    assert W.shape == (8, 4)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        np.testing.assert_array_equal(y, np.argmax(x.astype(np.float64) @ W, axis=1))
    counts = np.bincount(ds.y_train, minlength=4)
    assert counts.min() > 0.15 * 2000  # balanced in expectation: no class is starved


def test_synthetic_random_features_teacher():
    cfg = SyntheticConfig(teacher="random_features", dim=6, num_classes=3, rf_features=50,
                          n_train_pool=1000, n_test_pool=100, seed=0)
    ds = _load("synthetic", **cfg.model_dump())
    t = make_teacher(cfg)
    x = ds.x_train.astype(np.float64)
    phi = np.maximum(x @ t.V / np.sqrt(6), 0) - t.feature_mean
    np.testing.assert_array_equal(ds.y_train, np.argmax(phi @ t.readout, axis=1))
    assert len(np.unique(ds.y_train)) == 3
    # the RF labels are not those of a linear teacher on the same inputs
    lin = _load("synthetic", **{**cfg.model_dump(), "teacher": "linear"})
    np.testing.assert_array_equal(lin.x_train, ds.x_train)
    assert not np.array_equal(lin.y_train, ds.y_train)


def test_synthetic_train_data_with_noise():
    spec = DatasetSpec(name="synthetic", n_train=200, options={"n_train_pool": 400, "n_test_pool": 100},
                       noise={"rates": [0.2], "kind": "exact"})
    data = load_train_data(spec, noise_rate=0.2, noise_seed=1)
    assert data.x_train.shape == (200, 20) and data.noisy.sum() == 40
    assert np.all(data.y_train[data.noisy] != data.y_true[data.noisy])


# --------------------------------------------------------------------------- npz


def test_npz_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.standard_normal((40, 3, 2)), "y_train": rng.integers(0, 4, 40),
        "x_test": rng.standard_normal((10, 3, 2)), "y_test": rng.integers(0, 4, 10),
    }
    arrays["y_train"][0] = 4  # the largest label sets num_classes
    path = tmp_path / "mine.npz"
    np.savez(path, **arrays)
    ds = _load("npz", path=str(path))
    assert ds.num_classes == 5
    np.testing.assert_allclose(ds.x_train, arrays["x_train"].astype(np.float32))
    np.testing.assert_array_equal(ds.y_test, arrays["y_test"])
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert _load("npz", path=str(path), num_classes=7).num_classes == 7

    spec = DatasetSpec(name="npz", n_train=20, options={"path": str(path)})
    data = load_train_data(spec, noise_rate=0.25, noise_seed=0)
    assert data.x_train.shape == (20, 3, 2) and data.noisy.sum() == 5


def test_npz_custom_keys(tmp_path):
    path = tmp_path / "k.npz"
    np.savez(path, a=np.zeros((4, 2)), b=np.array([0, 1, 1, 0]), c=np.ones((2, 2)), d=np.array([1, 0]))
    ds = _load("npz", path=str(path), x_train_key="a", y_train_key="b", x_test_key="c", y_test_key="d")
    assert ds.x_train.shape == (4, 2) and ds.num_classes == 2


def test_npz_errors_name_the_problem(tmp_path):
    path = tmp_path / "bad.npz"
    np.savez(path, x_train=np.zeros((4, 2)), labels=np.zeros(4, dtype=int), x_test=np.zeros((2, 2)),
             y_test=np.zeros(2, dtype=int))
    with pytest.raises(KeyError) as info:
        _load("npz", path=str(path))
    msg = str(info.value)
    assert "'y_train'" in msg and "y_train_key" in msg
    assert "labels, x_test, x_train, y_test" in msg  # the keys the file does have

    with pytest.raises(FileNotFoundError, match="no file at"):
        _load("npz", path=str(tmp_path / "absent.npz"))

    np.savez(path, x_train=np.zeros((4, 2)), y_train=np.eye(4, 2), x_test=np.zeros((2, 2)), y_test=np.zeros(2))
    with pytest.raises(ValueError, match="one-hot"):
        _load("npz", path=str(path))

    np.savez(path, x_train=np.zeros((4, 2)), y_train=np.array([0, 1, 2, 1]), x_test=np.zeros((2, 2)),
             y_test=np.array([0, 1]))
    with pytest.raises(ValueError, match="out of range for num_classes=2"):
        _load("npz", path=str(path), num_classes=2)

    np.savez(path, x_train=np.zeros((4, 2)), y_train=np.array([0, 1, 1]), x_test=np.zeros((2, 2)),
             y_test=np.array([0, 1]))
    with pytest.raises(ValueError, match="one label per row"):
        _load("npz", path=str(path))
