"""Resume mid-bundle: a bundle killed (SIGKILL) in the middle of its training resumes from its last
saved state and ends bit-identical (CPU) to an uninterrupted run, under every trainer that trains
in epochs; the resume file goes once the cells are committed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import numpy as np
import pytest
from util import tiny_spec_text

from ddbench.plan import make_bundles, plan_cells
from ddbench.run.pipeline import run
from ddbench.spec.validate import load_spec_text
from ddbench.store.run_store import RunStore
from ddbench.train.resume import BundleCheckpoint

#: the child dies while saving the state after this many epochs (after the temporary file is written,
#: before it replaces the previous one): the file on disk then holds the state one epoch earlier
KILL_AT = 9

CHILD = """
import json, os, signal, sys
import numpy as np
real_replace = os.replace

def replace(src, dst):  # SIGKILL in the middle of a save: the new state written, not yet in place
    if "/resume/" in str(src):
        with np.load(src) as z:
            epoch = json.loads(z["meta"].tobytes().decode())["epoch"]
        if epoch >= {kill_at}:
            os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst)

os.replace = replace
from ddbench.cli.app import app
app(["run", {spec!r}, "--quiet"])
"""


def _text(run_dir, trainer: str = "stateless") -> str:
    text = tiny_spec_text(rates="[0.2]", widths="[4, 16]", epochs=20, seeds="[0, 1]")
    text = text.replace("record: {schedule: log, num: 3}", "record: {epochs: [5, 12, 20]}")
    return text + f"trainer: {trainer}\nengine: {{checkpoint_minutes: 0.000001}}\noutput_dir: {run_dir}\n"


def _weights(run_dir, rec) -> list[np.ndarray]:
    import keras

    return keras.saving.load_model(run_dir / rec.weights, compile=False).get_weights()


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["stateless", "fit", "packed"])
def test_a_bundle_killed_mid_way_resumes_to_identical_models_and_curves(tmp_path, trainer):
    """The compiled engine saves the whole bundle; ``fit`` (one cell at a time) and ``packed`` (one
    seed's cells at a time) save the part of the bundle they are training."""
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "killed"
    spec_path = tmp_path / "s.yaml"
    spec_path.write_text(_text(run_dir, trainer))
    child = subprocess.run([sys.executable, "-c", CHILD.format(kill_at=KILL_AT, spec=str(spec_path))],
                           capture_output=True, text=True, timeout=900, check=False)
    assert child.returncode == -signal.SIGKILL, child.stdout[-2000:] + child.stderr[-2000:]
    spec = load_spec_text(_text(run_dir, trainer))
    (bundle,) = make_bundles(plan_cells(spec))
    (saved,) = (run_dir / "resume").glob("*.npz")
    assert list(saved.parent.glob("*.tmp"))  # the old file and the torn new one
    with np.load(saved) as z:
        meta = json.loads(z["meta"].tobytes().decode())
    assert meta["epoch"] == KILL_AT - 1 and meta["curves"][0]["epoch"] == [5]  # mid-way between recorded epochs
    killed = set(meta["keys"])
    assert len(killed) == {"stateless": 4, "fit": 1, "packed": 2}[trainer]
    if trainer == "stateless":
        assert saved == BundleCheckpoint(run_dir, bundle).path
    assert RunStore(run_dir).records() == [] or all(r.status != "done" for r in RunStore(run_dir).records())

    resumed = run(spec, run_dir=run_dir)
    reference = run(load_spec_text(_text(ref_dir, trainer)), run_dir=ref_dir)
    assert resumed.counts["done"] == reference.counts["done"] == 4
    assert not list(saved.parent.glob("*"))  # every resume file removed once its cells are committed
    got = {r.key: r for r in RunStore(run_dir).records()}
    want = {r.key: r for r in RunStore(ref_dir).records()}
    assert set(got) == set(want) and killed <= set(got)
    for key, ref in want.items():
        rec = got[key]
        assert rec.timings["resumed_from_epoch"] == (KILL_AT - 1 if key in killed else 0)
        assert ref.timings["resumed_from_epoch"] == 0
        assert 0 < rec.timings["checkpoint_bytes"] < 10 * 2**20  # one copy of the (part of the) bundle's state
        assert rec.curves == ref.curves  # bit-identical, every recorded epoch
        assert rec.metrics == ref.metrics
        for a, b in zip(_weights(run_dir, rec), _weights(ref_dir, ref), strict=True):
            np.testing.assert_array_equal(a, b)


ROUND_TRIP = """
import json, sys
sys.path.insert(0, {tests!r})
import numpy as np
from util import tiny_spec_text
from ddbench import backend
from ddbench.data import load_train_data
from ddbench.plan import plan_cells
from ddbench.train.base import build_cell_model
from ddbench.train.stateless import make_engine
from ddbench.spec.validate import load_spec_text

spec = load_spec_text(tiny_spec_text(rates="[0.2]", widths="[4, 16]", epochs=6, seeds="[0, 1]"))
data = load_train_data(spec.dataset, 0.2, 0)
cells = plan_cells(spec)

def engine():
    backend.clear_session()
    return make_engine(cells, [build_cell_model(c, data)[0] for c in cells], data, spec.training, pad="always")

a = engine()
a.run_epochs(0, 3)
saved = a.export_state()
a.run_epochs(3, 6)
b = engine()  # a fresh process's engine: new models, the saved state loaded
b.import_state(saved, 3)
b.run_epochs(3, 6)
same = all(np.array_equal(x, y) for x, y in zip(a.export_state(), b.export_state(), strict=True))
print("RESULT" + json.dumps({{"backend": backend.name(), "same": same, "leaves": len(saved),
                             "lanes": [g.lanes for g in a.groups]}}))
"""


@pytest.mark.slow
def test_jax_engine_state_round_trips_bit_identically():
    import os

    from util import run_script

    out = run_script(ROUND_TRIP.format(tests=os.path.dirname(os.path.abspath(__file__))), {"KERAS_BACKEND": "jax"},
                     timeout=900)
    assert out["backend"] == "jax" and out["same"] and out["leaves"] > 0, out
    assert out["lanes"] == [4]  # seeds and padded widths in one vmapped group: the state is stacked lanes
