"""Models trained by every trainer under every schedule reload in a fresh process.

``fit`` saves its compiled optimizer (with the schedule) in the .keras file: the schedule is
the registered module-level ``ddbench>EpochSchedule`` with a complete config, so the model
reloads with ``compile=True`` too. Probing loads with ``compile=False`` (no optimizer needed).
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
from util import run_script, tiny_spec_text

from ddbench.data import load_train_data
from ddbench.plan import make_bundles, plan_cells
from ddbench.spec.validate import load_spec_text
from ddbench.train import get_trainer
from ddbench.train.base import NullEvents

SCHEDULES = {
    "constant": "{name: constant}",
    "inverse_sqrt": "{name: inverse_sqrt, every: 1}",
    "step": "{name: step, every: 1, factor: 0.5}",
    "cosine": "{name: cosine, min_lr: 0.001}",
}
TRAINERS = ("fit", "packed", "stateless")

LOAD = textwrap.dedent("""
    import json
    import numpy as np
    from ddbench.train.reload import load_trained_model
    cases = json.load(open({cases!r}))
    out = {{}}
    for name, (path, x_path) in cases.items():
        x = np.load(x_path)
        probe = load_trained_model(path)  # compile=False: what probing does
        full = load_trained_model(path, compile=True)  # the optimizer and its schedule too
        opt = getattr(full, "optimizer", None)  # models never compiled (stateless, packed parts) have none
        out[name] = {{"probe": np.asarray(probe.predict(x, verbose=0)).tolist(),
                     "full": np.asarray(full.predict(x, verbose=0)).tolist(),
                     "schedule": None if opt is None else opt.get_config()["learning_rate"]}}
    print("RESULT" + json.dumps(out))
""")


def _spec(schedule: str, family: str = "mlp") -> str:
    text = tiny_spec_text(rates="[0.2]", widths="[4]", epochs=2, family=family)
    text = text.replace("momentum: 0.9}", f"momentum: 0.9}}\n  schedule: {schedule}")
    if family == "random_features":
        text = text.replace("batch_size: 50", "batch_size: 50\n  loss: mse")
    return text


@pytest.mark.slow
def test_every_trainer_and_schedule_reloads_in_a_fresh_process(tmp_path):
    cases, expected = {}, {}
    runs = [(t, s, "mlp") for t in TRAINERS for s in SCHEDULES] + [("closed_form", "constant", "random_features")]
    for trainer, schedule, family in runs:
        spec = load_spec_text(_spec(SCHEDULES[schedule], family))
        assert spec.training.schedule.name == schedule
        data = load_train_data(spec.dataset, 0.2, 0)
        (bundle,) = make_bundles(plan_cells(spec))
        chosen = get_trainer("auto" if trainer == "closed_form" else trainer, family=_family(family))
        assert chosen.name == trainer
        (outcome,) = chosen.train(bundle, data, spec.training, NullEvents())
        assert outcome.status == "done", outcome.error
        name = f"{trainer}/{schedule}"
        path, x_path = tmp_path / f"{trainer}_{schedule}.keras", tmp_path / f"{trainer}_{schedule}.npy"
        outcome.model.save(path)
        np.save(x_path, data.x_test[:20])
        cases[name] = [str(path), str(x_path)]
        expected[name] = np.asarray(outcome.model.predict(data.x_test[:20], verbose=0))
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    out = run_script(LOAD.format(cases=str(tmp_path / "cases.json")), {})
    assert set(out) == set(cases)
    for name, got in out.items():
        np.testing.assert_allclose(got["probe"], expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(got["full"], expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
    # fit saves its compiled optimizer; a non-constant schedule comes back whole, total_epochs included
    for schedule in ("inverse_sqrt", "step", "cosine"):
        saved = out[f"fit/{schedule}"]["schedule"]
        assert saved["registered_name"] == "ddbench>EpochSchedule", saved
        assert saved["config"]["total_epochs"] == 2 and saved["config"]["schedule"]["name"] == schedule, saved


def _family(name: str) -> object:
    from ddbench import registry

    return registry.families.get(name)()


def test_epoch_schedule_config_round_trips():
    from ddbench.engine.lr_schedule import EpochSchedule
    from ddbench.spec.model import ScheduleSpec

    s = EpochSchedule(ScheduleSpec(name="cosine", min_lr=0.01), 0.1, 6, 40)
    config = s.get_config()
    assert config == {"schedule": ScheduleSpec(name="cosine", min_lr=0.01).model_dump(mode="json"), "lr": 0.1,
                      "steps_per_epoch": 6, "total_epochs": 40}
    again = EpochSchedule.from_config(config)
    for step in (0, 5, 6, 100, 239):
        assert float(again(step)) == pytest.approx(float(s(step)))
