"""Known-answer tests of label noise (docs/science.md, "label noise")."""

import numpy as np
import pytest

from ddbench.data.noise import inject_label_noise, noise_rng


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.15, 0.2, 0.5])
def test_exact_noise_counts_and_always_wrong(rate):
    y = np.arange(1000) % 10
    y_noisy, mask = inject_label_noise(y, rate, 10, "exact", np.random.default_rng(0))
    assert mask.sum() == round(rate * len(y))  # exactly round(p*n) points
    assert np.all(y_noisy[mask] != y[mask])  # always wrong
    assert np.all(y_noisy[~mask] == y[~mask])  # nothing else touched
    assert y_noisy.min() >= 0 and y_noisy.max() < 10


def test_exact_noise_is_uniform_over_wrong_classes():
    y = np.zeros(90000, dtype=int)
    y_noisy, mask = inject_label_noise(y, 0.5, 10, "exact", np.random.default_rng(1))
    counts = np.bincount(y_noisy[mask], minlength=10)
    assert counts[0] == 0
    # each of the 9 wrong classes gets 1/9 of the noisy points, within 5 sigma
    expected = mask.sum() / 9
    assert np.all(np.abs(counts[1:] - expected) < 5 * np.sqrt(expected))


def test_may_keep_marks_only_changed_labels():
    y = np.arange(10000) % 10
    y_noisy, mask = inject_label_noise(y, 0.3, 10, "may_keep", np.random.default_rng(2))
    assert np.array_equal(mask, y_noisy != y)
    # randint(0, C) keeps the label 1/C of the time: ~0.3 * 0.9 of points change
    assert abs(mask.mean() - 0.27) < 0.02


def test_noise_draw_depends_only_on_dataset_n_rate_seed():
    y = np.arange(500) % 10
    a = inject_label_noise(y, 0.2, 10, "exact", noise_rng("mnist1d", 500, 0.2, 0))[0]
    b = inject_label_noise(y, 0.2, 10, "exact", noise_rng("mnist1d", 500, 0.2, 0))[0]
    c = inject_label_noise(y, 0.2, 10, "exact", noise_rng("mnist1d", 500, 0.2, 1))[0]
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_noise_arguments_are_refused():
    with pytest.raises(ValueError, match="outside"):
        inject_label_noise(np.zeros(10, int), 1.0, 10, "exact", np.random.default_rng(0))
    with pytest.raises(ValueError, match="allowed: exact, may_keep"):
        inject_label_noise(np.zeros(10, int), 0.1, 10, "flip", np.random.default_rng(0))


def test_load_train_data_keeps_mask_and_true_labels():
    from ddbench.data import load_train_data
    from ddbench.spec.model import DatasetSpec

    spec = DatasetSpec(name="mnist1d", n_train=400, n_test=100, noise={"rates": [0.25], "kind": "exact"})
    d = load_train_data(spec, 0.25, 0)
    assert d.x_train.shape == (400, 40) and d.x_test.shape == (100, 40)
    assert d.noisy.sum() == 100
    assert np.all(d.y_train[d.noisy] != d.y_true[d.noisy])
    assert np.array_equal(d.y_train[~d.noisy], d.y_true[~d.noisy])
    assert d.fingerprint() == load_train_data(spec, 0.25, 0).fingerprint()
    assert d.fingerprint() != load_train_data(spec, 0.25, 1).fingerprint()


def test_crop_flip_preserves_content_and_is_seeded():
    from ddbench.data.augment import augment

    x = np.random.default_rng(0).random((16, 32, 32, 3)).astype(np.float32)
    a = augment(x, "crop_flip", np.random.default_rng(1))
    b = augment(x, "crop_flip", np.random.default_rng(1))
    assert a.shape == x.shape and np.array_equal(a, b)
    # a crop of the zero-padded image: every output pixel is an input pixel or padding zero
    assert np.isin(a[0], np.concatenate([x[0].ravel(), [0.0]])).all()
    signals = np.arange(40, dtype=np.float32)[None, :].repeat(5, 0)
    s = augment(signals, "crop_flip", np.random.default_rng(2))
    assert np.array_equal(np.sort(s, axis=1), signals)  # circular shifts keep every sample
    assert augment(x, "none", np.random.default_rng(0)) is x
