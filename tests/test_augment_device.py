"""Augmentation on the device: the engines gather crops and flips from the resident padded images.

The reference is written here with slices (pad, cut the crop, reverse the columns, roll the
signal), sharing no index arithmetic with :mod:`ddbench.data.augment`; the host ``apply`` and the
compiled ``gather`` must both equal it exactly, on TensorFlow here and on JAX in a fresh process.
Then a bundle trained by the stateless engine with ``crop_flip`` on 8x8 images must match the
per-cell ``fit`` trainer, which augments on the host.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from util import run_script

from ddbench.data import augment, load_train_data
from ddbench.plan import make_bundles, plan_cells
from ddbench.spec.validate import load_spec_text
from ddbench.train import get_trainer
from ddbench.train.base import NullEvents


def reference(x: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Crop/flip (images) or circular shift (signals), one sample at a time, with slices."""
    out = []
    for xi, (a, b, flip) in zip(x, params):
        if x.ndim == 2:
            out.append(np.roll(xi, a))
            continue
        padded = np.zeros((xi.shape[0] + 8, xi.shape[1] + 8, xi.shape[2]), xi.dtype)
        padded[4:-4, 4:-4] = xi
        crop = padded[a:a + xi.shape[0], b:b + xi.shape[1]]
        out.append(crop[:, ::-1] if flip else crop)
    return np.stack(out)


def _arrays(seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((7, 6, 5, 2)).astype(np.float32)
    signals = rng.standard_normal((7, 11)).astype(np.float32)
    return images, signals


def test_draw_covers_every_choice_and_apply_matches_the_reference():
    images, signals = _arrays()
    p = augment.draw("crop_flip", (4000, 6, 5, 2), 4000, np.random.default_rng(1))
    assert p.dtype == np.int32 and set(p[:, 0]) == set(range(9)) == set(p[:, 1]) and set(p[:, 2]) == {0, 1}
    s = augment.draw("crop_flip", (4000, 11), 4000, np.random.default_rng(1))
    assert set(s[:, 0]) == set(range(-4, 5)) and not s[:, 1:].any()
    for x in (images, signals):
        params = augment.draw("crop_flip", x.shape, len(x), np.random.default_rng(3))
        np.testing.assert_array_equal(augment.apply(x, params), reference(x, params))
        # augment() is draw then apply on the same generator: the host trainers' inputs are unchanged
        np.testing.assert_array_equal(augment.augment(x, "crop_flip", np.random.default_rng(3)), reference(x, params))


def test_compiled_gather_equals_the_reference_tensorflow():
    import tensorflow as tf

    images, signals = _arrays()
    for x in (images, signals):
        src = tf.constant(augment.source(x, "crop_flip"))
        idx = np.array([[3, 0, 6], [6, 6, 1]], dtype=np.int32)  # (lanes, batch): repeats, any order
        params = augment.draw("crop_flip", x.shape, idx.size, np.random.default_rng(5)).reshape(*idx.shape, 3)
        got = tf.function(augment.gather, jit_compile=True)(src, tf.constant(idx), tf.constant(params)).numpy()
        want = reference(x[idx.ravel()], params.reshape(-1, 3)).reshape(*idx.shape, *x.shape[1:])
        np.testing.assert_array_equal(got, want)


def test_source_refuses_a_set_too_large_for_the_int32_index():
    big = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (2**21, 32, 32, 3), (0, 0, 0, 0))
    with pytest.raises(ValueError, match="too large"):
        augment.source(big, "crop_flip")


JAX_GATHER = textwrap.dedent("""
    import json, sys
    import numpy as np
    import jax
    sys.path.insert(0, {tests!r})
    from test_augment_device import _arrays, reference
    from ddbench.data import augment
    ok = []
    for x in _arrays():
        idx = np.array([[3, 0, 6], [6, 6, 1]], dtype=np.int32)
        params = augment.draw("crop_flip", x.shape, idx.size, np.random.default_rng(5)).reshape(*idx.shape, 3)
        got = np.asarray(jax.jit(augment.gather)(augment.source(x, "crop_flip"), idx, params))
        want = reference(x[idx.ravel()], params.reshape(-1, 3)).reshape(*idx.shape, *x.shape[1:])
        ok.append(bool(np.array_equal(got, want)))
    print("RESULT" + json.dumps(ok))
""")


def test_compiled_gather_equals_the_reference_jax():
    import os

    tests_dir = os.path.dirname(os.path.abspath(__file__))
    assert run_script(JAX_GATHER.format(tests=tests_dir), {"KERAS_BACKEND": "jax"}, timeout=120) == [True, True]


IMAGES = textwrap.dedent("""
    name: tiny-images
    dataset:
      name: digits
      options: {flatten: false}
      n_train: 240
      n_test: 200
      noise: {rates: [0.2], kind: exact}
    model:
      family: cnn5
      widths: [2, 3]
    training:
      optimizer: {name: sgd, lr: 0.05, momentum: 0.9}
      batch_size: 50
      augmentation: crop_flip
      epochs: 3
      record: {schedule: log, num: 2}
    seeds: [0, 1]
    probes: [weight_norm]
    hypotheses: [double_descent]
""")


def _train(trainer: str) -> dict[tuple[int, int], object]:
    spec = load_spec_text(IMAGES)
    data = load_train_data(spec.dataset, spec.dataset.noise.rates[0], 0)
    (bundle,) = make_bundles(plan_cells(spec))
    outs = get_trainer(trainer).train(bundle, data, spec.training, NullEvents())
    return {(o.cell.width, o.cell.seed): o for o in outs}


@pytest.mark.slow
def test_engine_with_device_augmentation_matches_host_augmented_fit_tensorflow():
    """Two seeds x two widths of cnn5 on 8x8 images, 4 steps per epoch with a remainder of 40 points."""
    ref, fast = _train("fit"), _train("stateless")
    assert set(ref) == set(fast) and len(ref) == 4
    for k, r in ref.items():
        assert fast[k].status == "done", fast[k].error
        for m in ("train_loss", "test_loss"):
            assert fast[k].metrics[m] == pytest.approx(r.metrics[m], rel=1e-3), (k, m)
