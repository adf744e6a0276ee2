"""The convolutional families train as bundles on the JAX engine, seeds as lanes of one group, with
the augmentation gathered on the device, and match the per-cell ``fit`` reference (which augments on
the host) for 6 epochs: ``resnet18k`` with and without BatchNorm and ``wide_resnet``, on 8x8
images, two seeds, bit for bit (a rounding difference shows after one epoch and never shrinks; the
20-epoch check of a vmapped conv bundle with BatchNorm and augmentation is ``tests/test_lanes.py``'s). Where the vmapped epoch does not round like ``fit``'s step (XLA:CPU,
see ``tests/test_exact_path.py``), the bundle trains stepwise, recorded in the timings."""

from __future__ import annotations

import os
import textwrap

import pytest
from util import run_script

SCRIPT = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from test_augment_device import IMAGES
    from ddbench.data import load_train_data
    from ddbench.plan import make_bundles, plan_cells
    from ddbench.train import get_trainer
    from ddbench.train.base import NullEvents
    import numpy as np

    from ddbench.spec.validate import load_spec_text

    def train(text, trainer):
        spec = load_spec_text(text)
        data = load_train_data(spec.dataset, spec.dataset.noise.rates[0], 0)
        (bundle,) = make_bundles(plan_cells(spec))
        return {{f"{{o.cell.width}},{{o.cell.seed}}": o for o in get_trainer(trainer).train(bundle, data, spec.training,
                                                                                     NullEvents())}}

    families = {{"resnet18k": "family: resnet18k\\n  widths: [1]",
                "resnet18k-nobn": "family: resnet18k\\n  config: {{batch_norm: false}}\\n  widths: [1]",
                "wide_resnet": "family: wide_resnet\\n  config: {{depth: 10}}\\n  widths: [1]"}}
    out = {{}}
    for name, model in families.items():
        text = (IMAGES.replace("family: cnn5\\n  widths: [2, 3]", model).replace("epochs: 3", "epochs: 6")
                .replace("num: 2", "num: 3"))
        ref, fast = train(text, "fit"), train(text, "stateless")
        out[name] = {{k: {{"status": fast[k].status, "error": fast[k].error, "lanes": fast[k].timings.get("lanes"),
                         "vmapped": fast[k].timings.get("vmapped"), "stepwise": fast[k].timings.get("stepwise"),
                         "weights": max(float(np.max(np.abs(u - v)) / max(float(np.max(np.abs(v))), 0.1))
                                        for u, v in zip(fast[k].model.get_weights(), ref[k].model.get_weights())),
                         **{{m: [ref[k].curves[m], fast[k].curves[m]] for m in ("train_loss", "test_loss")}}}}
                     for k in ref}}
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
def test_conv_families_train_as_vmapped_bundles_and_match_fit_on_jax():
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    out = run_script(SCRIPT.format(tests=tests_dir), {"KERAS_BACKEND": "jax"}, timeout=900)
    assert set(out) == {"resnet18k", "resnet18k-nobn", "wide_resnet"}
    for name, cells in out.items():
        assert len(cells) == 2, (name, cells)
        for key, r in cells.items():
            assert r["status"] == "done", (name, key, r["error"])
            assert r["lanes"] == 2, (name, key, r)  # both seeds in one group
            assert r["vmapped"] in (0.0, 1.0) and r["stepwise"] in (0.0, 1.0 - r["vmapped"]), (name, key, r)
            for m in ("train_loss", "test_loss"):  # every recorded epoch (three, the last 6): round-off only
                ref, fast = r[m]
                assert len(ref) == 3 and fast == pytest.approx(ref, rel=1e-5), (name, key, m, ref, fast)
            assert r["weights"] == 0.0, (name, key, r["weights"])  # bit for bit, moving averages too
