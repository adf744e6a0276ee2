"""``distribution:``: validated against the backend, and data-parallel training trains the same models.

Validation runs in-process (TensorFlow, one CPU device) and with the JAX backend in a
fresh process (Keras fixes its backend at import). Training is checked in fresh
processes with two CPU devices: TensorFlow's two logical CPUs under MirroredStrategy,
and JAX's ``--xla_force_host_platform_device_count=2`` under DataParallel. A
distributed run must give the final losses of the same trainer on one device within
1e-4 relative: the only difference is that each batch's gradient is summed from two
halves (float32 reassociation; measured: equal to all printed digits on CPU).
"""

from __future__ import annotations

import json
import os
import textwrap

import pytest
from typer.testing import CliRunner
from util import run_script, tiny_spec_text

from ddbench.cli.app import app
from ddbench.spec.identity import training_hash
from ddbench.spec.model import EXECUTION_FIELDS
from ddbench.spec.validate import SpecError, check_distribution, load_spec_text
from ddbench.train import get_trainer
from ddbench.train.distribute import Distribution, DistributionError, visible_devices

TESTS = os.path.dirname(os.path.abspath(__file__))
REL = 1e-4


def _spec(dist: str, **kw: str) -> str:
    return tiny_spec_text(**kw) + f"distribution: {dist}\n"


def _problems(text: str) -> list:
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "spec.yaml")
    return info.value.problems


def _line(text: str, start: str) -> int:
    return next(i for i, ln in enumerate(text.splitlines(), 1) if ln.startswith(start))


def test_distribution_is_an_execution_field():
    assert "distribution" in EXECUTION_FIELDS
    a = load_spec_text(tiny_spec_text())
    b = load_spec_text(_spec("{strategy: mirrored, devices: 1}"))
    assert a.distribution.strategy == "none" and a.distribution.devices is None
    assert a.spec_hash() == b.spec_hash() and training_hash(a) == training_hash(b)


def test_data_parallel_on_tensorflow_names_field_value_and_allowed():
    text = _spec("{strategy: data_parallel}")
    (p,) = _problems(text)
    assert p.path == "distribution.strategy" and p.value == "data_parallel"
    assert p.line == _line(text, "distribution:")
    assert "needs the jax backend" in p.message and "active backend is tensorflow" in p.message
    assert "allowed with tensorflow: none, mirrored" in p.message


def test_mirrored_on_jax_names_field_value_and_allowed():
    spec = load_spec_text(_spec("{strategy: mirrored}"), check=False)
    (p,) = check_distribution(spec, backend_name="jax")
    assert p.path == "distribution.strategy" and p.value == "mirrored"
    assert "needs the tensorflow backend" in p.message and "allowed with jax: none, data_parallel" in p.message


def test_too_many_or_unknown_devices():
    n = len(visible_devices("tensorflow"))
    text = _spec(f"{{strategy: mirrored, devices: {n + 7}}}")
    (p,) = _problems(text)
    assert p.path == "distribution.devices" and p.value == n + 7 and p.line == _line(text, "distribution:")
    assert f"asks for {n + 7} devices, but tensorflow sees {n}" in p.message and f"allowed: 1 to {n}" in p.message
    (p,) = _problems(_spec("{strategy: mirrored, devices: [/gpu:7]}"))
    assert p.path == "distribution.devices" and "does not see ['/gpu:7']" in p.message
    load_spec_text(_spec("{strategy: mirrored, devices: [/cpu:0]}"))  # TF's short names are accepted


def test_structural_errors():
    (p,) = _problems(_spec("{strategy: horovod}"))
    assert p.path == "distribution.strategy" and "'data_parallel'" in p.message
    (p,) = _problems(_spec("{strategy: mirrored, devices: 0}"))
    assert p.path == "distribution.devices" and "positive number" in p.message
    (p,) = _problems(_spec("{devices: 2}"))
    assert p.path == "distribution" and "strategy is none" in p.message


def test_schema_documents_both_fields():
    schema = json.loads(CliRunner().invoke(app, ["schema"]).output)
    dist = schema["$defs"]["DistributionSpec"]["properties"]
    assert "MirroredStrategy" in dist["strategy"]["description"] and "first N" in dist["devices"]["description"]
    assert "mixed_bfloat16" in schema["$defs"]["TrainingSpec"]["properties"]["precision"]["description"]


def test_trainer_selection_under_mirrored():
    spec = load_spec_text(_spec("{strategy: mirrored, devices: 1}"))
    auto = get_trainer("auto", None, spec.distribution)
    assert auto.name == "packed" and auto.distribution.strategy == "mirrored" and auto.uses_distribution
    assert auto.distribution.describe() == {"strategy": "mirrored", "devices": visible_devices("tensorflow")[:1],
                                            "replicas": 1}
    fit = get_trainer("fit", None, spec.distribution)
    assert fit.name == "fit" and fit.distribution.strategy == "mirrored"
    with pytest.raises(ValueError, match="stateless cannot run under distribution.strategy mirrored"):
        get_trainer("stateless", None, spec.distribution)
    assert get_trainer("auto", None, load_spec_text(tiny_spec_text()).distribution).distribution is None
    assert Distribution().batch_sharding() is None and Distribution().replicated() is None


def test_data_parallel_refused_at_run_time_on_tensorflow():
    spec = load_spec_text(_spec("{strategy: data_parallel}"), check=False)
    with pytest.raises(DistributionError, match="distribution.strategy: data_parallel .* needs the jax backend"):
        get_trainer("auto", None, spec.distribution)


# --------------------------------------------------------------------------- training, in fresh processes

TRAIN = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    {setup}
    import numpy as np
    from ddbench.data import load_train_data
    from ddbench.plan import make_bundles, plan_cells
    from ddbench.run.pipeline import run
    from ddbench.train import get_trainer
    from ddbench.train.base import NullEvents
    from ddbench.spec.validate import SpecError, load_spec_text
    from util import tiny_spec_text

    base = tiny_spec_text(rates="[0.2]", widths="[4, 16]", epochs=3){edit}
    dist = "distribution: {{strategy: {strategy}, devices: {devices}}}\\n"
    out = {{"problems": {{}}}}
    for name, bad in {bad}.items():
        try:
            load_spec_text(bad, "bad.yaml")
        except SpecError as exc:
            out["problems"][name] = [[p.path, p.message, p.value] for p in exc.problems]

    def losses(outcomes):
        return {{o.cell.width: [o.metrics["train_loss"], o.metrics["test_loss"]] for o in outcomes}}

    # one device: the reference; then the same trainers over two devices, through the runner and directly
    spec = load_spec_text(base + dist)
    data = load_train_data(spec.dataset, 0.2, 0)
    (bundle,) = make_bundles(plan_cells(spec))
    reference = list(get_trainer("{trainer}").train(bundle, data, spec.training, NullEvents()))
    out["ref"] = losses(reference)
    res = run(load_spec_text(base + dist + "trainer: {dist_trainer}\\n"), run_dir={tmp!r} + "/dist")
    out["run"] = {{r.width: [r.train_loss, r.test_loss] for r in res.leaderboard.rows}}
    out["status"] = [r.status for r in res.leaderboard.rows] + [o.status for o in reference]
    out["probes"] = all("weight_norm.head_sq_norm" in r.probes for r in res.leaderboard.rows)
    out["summary"] = res.leaderboard.summary
    trainer = get_trainer("fit", None, spec.distribution)  # one model after the other in one process
    outcomes = list(trainer.train(bundle, data, spec.training, NullEvents()))
    out["fit"] = losses(outcomes)
    out["fit_errors"] = [o.error for o in outcomes if o.status != "done"]
    out["replicas"] = trainer.distribution.replicas
    import sqlite3
    out["run_replicas"] = sorted({{json.loads(t).get("replicas", 0) for (t,) in
                                  sqlite3.connect({tmp!r} + "/dist/ddbench.sqlite").execute("select timings from cells")}})
    {extra}
    print("RESULT" + json.dumps(out))
""")


def _check_same_models(out: dict) -> float:
    """Final losses of both distributed paths against the one-device reference; returns the worst relative gap."""
    assert set(out["status"]) == {"done"} and not out["fit_errors"], out
    assert out["probes"]
    worst = 0.0
    for key in ("run", "fit"):
        for w, (tr, te) in out[key].items():
            ref_tr, ref_te = out["ref"][w]
            assert tr == pytest.approx(ref_tr, rel=REL) and te == pytest.approx(ref_te, rel=REL), (key, w, out)
            worst = max(worst, abs(tr - ref_tr) / ref_tr, abs(te - ref_te) / ref_te)
    return worst


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_trains_the_same_models(tmp_path):
    setup = textwrap.dedent("""
        import tensorflow as tf  # before anything starts TF's devices: two logical CPUs
        cpus = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    """)
    bad = '{"devices": base + "distribution: {strategy: mirrored, devices: 3}\\n"}'
    script = TRAIN.format(tests=TESTS, setup=setup, edit="", strategy="mirrored", devices="[/cpu:0, /cpu:1]",
                          bad=bad, trainer="packed", dist_trainer="auto", tmp=str(tmp_path), extra="")
    out = run_script(script, {"KERAS_BACKEND": "tensorflow"})
    (p,) = out["problems"]["devices"]
    assert p[0] == "distribution.devices" and "asks for 3 devices, but tensorflow sees 2" in p[1]
    assert out["replicas"] == 2
    dist = out["summary"]["distribution"]
    assert dist["strategy"] == "mirrored" and dist["replicas"] == 2 and dist["applied"] is True
    assert [d[-5:] for d in dist["devices"]] == ["CPU:0", "CPU:1"]
    assert out["summary"]["trainer"] == "packed"  # auto under mirrored
    print(f"mirrored vs one device: worst relative gap in final losses {_check_same_models(out):.2e}")


@pytest.mark.slow
def test_data_parallel_over_two_jax_cpu_devices_trains_the_same_models(tmp_path):
    bad = textwrap.dedent("""{
        "mirrored": base + "distribution: {strategy: mirrored}\\n",
        "devices": base + "distribution: {strategy: data_parallel, devices: 3}\\n",
        "batch": base.replace("batch_size: 50", "batch_size: 25") + "distribution: {strategy: data_parallel}\\n"}""")
    extra = textwrap.dedent("""
        import jax, warnings
        d = trainer.distribution
        x = jax.device_put(np.arange(16.0).reshape(8, 2), d.batch_sharding())
        y = jax.jit(lambda a: jax.lax.with_sharding_constraint(a * 2, d.batch_sharding()))(x)
        out["shards"] = sorted(tuple(s.data.shape) for s in y.addressable_shards)
        out["shard_devices"] = len(y.sharding.device_set)
        out["replicated"] = d.replicated().is_fully_replicated and len(d.replicated().device_set) == 2
        out["weights_on"] = len(outcomes[0].model.weights[0].value.sharding.device_set)
        import keras
        out["restored"] = keras.distribution.distribution() is None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fast = get_trainer("auto", None, spec.distribution)
        out["stateless"] = [fast.name, fast.distribution.strategy, fast.distribution.replicas,
                            any("does not use distribution" in str(w.message) for w in caught)]
    """)
    # 301 training points: evaluation batches are padded to split evenly over the devices
    script = TRAIN.format(tests=TESTS, setup="", edit='.replace("n_train: 300", "n_train: 301")', strategy="data_parallel",
                          devices="2", bad=bad, trainer="fit", dist_trainer="auto", tmp=str(tmp_path), extra=extra)
    out = run_script(script, {"KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    probs = {k: v[0] for k, v in out["problems"].items()}
    assert probs["mirrored"][0] == "distribution.strategy" and "allowed with jax: none, data_parallel" in probs["mirrored"][1]
    assert probs["devices"][0] == "distribution.devices" and "jax sees 2" in probs["devices"][1]
    assert probs["batch"][0] == "training.batch_size" and "a multiple of 2" in probs["batch"][1] and probs["batch"][2] == 25
    assert out["replicas"] == 2 and out["weights_on"] == 2 and out["restored"]
    assert out["shards"] == [[4, 2], [4, 2]] and out["shard_devices"] == 2 and out["replicated"]
    # the runner's path is auto = the stateless engine, each batch split over both devices inside its scan
    assert out["summary"]["trainer"] == "stateless" and out["run_replicas"] == [2]
    assert out["stateless"] == ["stateless", "data_parallel", 2, False]  # no "trains on one device" warning
    dist = out["summary"]["distribution"]
    assert dist == {"strategy": "data_parallel", "devices": ["cpu:0", "cpu:1"], "replicas": 2, "applied": True}
    print(f"data_parallel vs one device: worst relative gap in final losses {_check_same_models(out):.2e}")
