"""The planner's throughput model: FLOPs counted from layer shapes (against hand counts), the device table
and its recorded measurements, and the paper-scale specs planned on one H100 / H200 without loading data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ddbench.cli.app import app
from ddbench.data import declared_shape, load_train_data
from ddbench.engine import throughput
from ddbench.engine.throughput import Work
from ddbench.families.flops import Flops, forward_flops
from ddbench.memory import CellCost
from ddbench.plan import plan_cells
from ddbench.spec.model import Spec
from ddbench.spec.validate import load_spec

ROOT = Path(__file__).resolve().parents[1]
#: the specs at the seed papers' own scale (issue 16, item 7)
PAPER_SCALE = ["nakkiran-resnet18", "gamba-cifar10-cnn", "gu-mnist-fcnn", "wang-rf-phi", "huh-depth", "doimo-wrn"]


# ------------------------------------------------------------------ FLOPs against hand counts


def test_dense_flops_match_a_hand_count():
    import keras

    from ddbench.families.layers import OverparamDense

    x = keras.Input((5,))
    h = keras.layers.Dense(3)(x)                                # 2 (5*3 + 3) = 36
    h = OverparamDense(4, depth=2)(h)                           # 2 (3*4 + 4*4 + 4) = 64: each factor applied
    y = keras.layers.Dense(2, use_bias=False)(h)                # 2 (4*2) = 16
    assert forward_flops(keras.Model(x, y)) == Flops(dense=36 + 64 + 16, conv=0)


def test_conv_flops_match_a_hand_count():
    import keras

    x = keras.Input((8, 8, 2))
    h = keras.layers.Conv2D(4, 3, padding="same")(x)            # 2 (3*3*2*4 + 4) * 8*8 = 9728
    h = keras.layers.BatchNormalization()(h)                    # not counted
    h = keras.layers.Conv2D(3, 3, strides=2)(h)                 # valid, 8 -> 3: 2 (3*3*4*3 + 3) * 3*3 = 1998
    s = keras.Input((10, 3))
    g = keras.layers.Conv1D(5, 3, padding="same", use_bias=False)(s)  # 2 (3*3*5) * 10 = 900
    h = keras.layers.Concatenate()([keras.layers.Flatten()(h), keras.layers.Flatten()(g)])
    y = keras.layers.Dense(2)(h)                                # 27 + 50 = 77 inputs: 2 (77*2 + 2) = 312
    assert forward_flops(keras.Model([x, s], y)) == Flops(dense=312, conv=9728 + 1998 + 900)


def test_a_dense_family_costs_twice_its_parameters():
    from ddbench import registry

    fam = registry.families.get("mlp")()
    config = fam.Config.model_validate({"depth": 2})
    model = fam.build(config, 7, (6,), 3, name="m")
    assert forward_flops(model) == Flops(dense=2 * fam.param_count(config, 7, (6,), 3))


# ------------------------------------------------------------------ many widths from a few builds


def _mlp_spec(widths: list[int]) -> Spec:
    return Spec.model_validate({"name": "t", "dataset": {"name": "mnist1d", "n_train": 200, "n_test": 100},
                                "model": {"family": "mlp", "config": {"depth": 2}, "widths": widths},
                                "training": {"epochs": 2, "batch_size": 50}})


def test_widths_are_interpolated_only_where_the_builds_confirm_it():
    spec = _mlp_spec([1, 2, 3, 4, 5, 6, 7, 9])
    cells = plan_cells(spec)
    fake = CellCost("mlp", (6,), 3, spec.training)
    built: list[int] = []
    fake.sizes = lambda c: built.append(c.width) or (3 * c.width**2 + 1, Flops(c.width**2, 7 * c.width))  # type: ignore
    fake.prepare(cells)
    assert sorted(set(built)) == [1, 3, 5, 7, 9] and len(built) == 5  # 3 to fit, 2 to check
    assert {k[0]: v for k, v in fake._sizes.items()} == {w: (3 * w**2 + 1, Flops(w**2, 7 * w)) for w in [1, 2, 3, 4, 5, 6, 7, 9]}
    cubic = CellCost("mlp", (6,), 3, spec.training)
    cubic.sizes = lambda c: (c.width**3, Flops(c.width, 0))  # type: ignore
    cubic.prepare(cells)
    assert cubic._sizes == {}  # not a polynomial of degree 2: every width is built when asked


def test_interpolated_costs_equal_the_built_ones():
    spec = _mlp_spec([1, 2, 3, 5, 8, 13, 21])  # built: 1, 5, 21 (fit) and 3, 13 (checks)
    cells = {c.width: c for c in plan_cells(spec)}
    fast = CellCost("mlp", (6,), 3, spec.training)
    fast.prepare(list(cells.values()))
    assert len(fast._sizes) == 7
    slow = CellCost("mlp", (6,), 3, spec.training)
    for w in (2, 8):  # interpolated, never built by ``fast``
        assert fast.sizes(cells[w]) == slow.sizes(cells[w]) and fast(cells[w]) == slow(cells[w]), w


# ------------------------------------------------------------------ the device table


def test_the_device_table_says_what_is_measured_and_what_is_assumed(tmp_path):
    table = throughput.devices(tmp_path / "none.json")
    assert list(table) == ["cpu", "h100", "h200"]
    assert table["cpu"].measured and table["cpu"].dense_gflops.value == 44.0
    for key in ("h100", "h200"):
        assert table[key].status == "assumed, unmeasured" and "assumed, unmeasured" in table[key].conv_gflops.source
    assert table["h200"].memory_bytes > table["h100"].memory_bytes
    path = tmp_path / "throughput.json"
    throughput.record("h100", "sweep_throughput.py --full on 1x NVIDIA H100", path, dense_gflops=1234.5)
    again = throughput.devices(path)
    assert again["h100"].dense_gflops.value == 1234.5 and again["h100"].dense_gflops.measured
    assert "sweep_throughput.py --full" in again["h100"].dense_gflops.source
    assert not again["h100"].conv_gflops.measured and again["h100"].status == "partly measured"
    assert again["h200"] == table["h200"]
    with pytest.raises(ValueError, match="unknown device 'a100'"):
        throughput.record("a100", "x", path, dense_gflops=1.0)
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a throughput record"):
        throughput.devices(path)


@pytest.mark.parametrize("described, key", [("1x NVIDIA H100 80GB HBM3", "h100"), ("1x NVIDIA H200", "h200"),
                                            ("cpu (x86_64, 2 cores)", "cpu"), ("1x NVIDIA A100-SXM4-40GB", None)])
def test_a_backends_device_maps_to_the_table(described, key):
    assert throughput.device_key(described) == key


def test_work_and_seconds_by_hand():
    # 1000 points, batch 300: 3 full batches (900 examples) x 4 epochs, 3 forward passes each; 2 recorded
    # epochs evaluate 1000 + 500 points once each
    w = throughput.cell_work(10.0, 100.0, n_train=1000, n_test=500, epochs=4, batch_size=300, recorded=2)
    passes = 3 * 900 * 4 + 2 * 1500
    assert w == Work(10.0 * passes, 100.0 * passes)
    assert throughput.cell_work(10.0, 0.0, n_train=1000, n_test=500, epochs=4, batch_size=300, recorded=1,
                                closed_form=True) == Work(10.0 * (3 * 1000 + 1500), 0.0)
    dev = throughput.DEVICES["h100"]
    assert throughput.seconds(Work(3.76e12, 2e13), 2, dev) == pytest.approx(1.0 + 2.0 + 2 * 30.0)


# ------------------------------------------------------------------ the paper-scale specs


@pytest.mark.parametrize("name", PAPER_SCALE)
def test_a_paper_scale_spec_validates_and_declares_its_data(name):
    spec = load_spec(ROOT / "specs" / f"{name}.yaml")
    assert spec.hypotheses and spec.probes
    shape = declared_shape(spec.dataset)  # what plan sizes it from: the data is never loaded
    assert shape is not None and shape.n_train > 0 and shape.n_test > 0


def test_declared_shapes_are_the_loaded_ones():
    from ddbench.spec.model import DatasetSpec

    for name, extra in [("mnist1d", {"n_train": 100, "n_test": 300, "options": {"num_samples": 400}}), ("digits", {}),
                        ("digits", {"n_test": 50, "options": {"flatten": False}}), ("mnist5k", {}),
                        ("mnist5k", {"options": {"flatten": False}}), ("synthetic", {"options": {"dim": 7, "num_classes": 3}})]:
        ds = DatasetSpec.model_validate({"name": name, **extra})
        shape, data = declared_shape(ds), load_train_data(ds, 0.0, 0)
        assert (shape.input_shape, shape.num_classes, shape.n_train, shape.n_test) == (
            data.input_shape, data.num_classes, len(data.x_train), len(data.x_test)), (name, extra)
        assert shape.nbytes == data.x_train.nbytes + data.x_test.nbytes
    cifar = declared_shape(DatasetSpec.model_validate({"name": "cifar10", "options": {"flatten": True}}))
    assert cifar.input_shape == (3072,) and (cifar.n_train, cifar.n_test) == (50000, 10000)


@pytest.fixture
def no_tfds(monkeypatch):
    """Loading a TFDS dataset (a download on a fresh machine) is recorded, and fails."""
    from ddbench.data import tfds

    calls: list[str] = []

    def refuse(*args, **kwargs):
        calls.append("tfds")
        raise AssertionError("the plan loaded TFDS data")

    monkeypatch.setattr(tfds, "_import_tfds", refuse)
    monkeypatch.setattr(tfds.TFDSImageDataset, "load", refuse)
    return calls


def test_plan_of_nakkiran_shows_cells_memory_and_hours_on_h100_and_h200(tmp_path, monkeypatch, no_tfds):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["plan", str(ROOT / "specs" / "nakkiran-resnet18.yaml"), "--device", "h200",
                                   "-s", "dataset.noise.rates=[0.2]"],
                             env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    out = res.output
    assert no_tfds == [] and "cannot load" not in out and "data not loaded: cifar10" in out
    assert "64 cells, 64 to train in 1 bundle(s)" in out and "11,172,170" in out  # ResNet18 at k = 64
    assert "largest cell est." in out and "of device 140.0 GiB" in out  # bundles cut for the H200
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") >= 6}
    assert {"cpu (here)", "h100", "h200"} <= set(rows), out
    for key in ("h100", "h200"):
        hours = float(rows[key].split("│")[5].replace(",", ""))
        assert 100 < hours < 100_000 and "assumed" in rows[key]
    assert "conv: assumed, unmeasured" in out and "dense: measured" in out
    assert not (tmp_path / "runs").exists()


def test_the_plan_adds_up_its_cells_work(tmp_path, monkeypatch, no_tfds):
    """On a TFDS MLP spec: each device's time is the throughput model applied to the summed cell FLOPs."""
    from ddbench.cli.planview import plan_view

    monkeypatch.chdir(tmp_path)
    spec = load_spec(ROOT / "specs" / "gu-mnist-fcnn.yaml")
    view = plan_view(spec, device="h100")
    assert no_tfds == [] and len(view.todo) == 175 and view.device == "h100"
    one = view.cells[0]
    assert one.work == throughput.cell_work(2.0 * one.params, 0.0, n_train=4000, n_test=10000, epochs=4000,
                                            batch_size=128, recorded=len(spec.training.recorded_epochs()))
    for d in view.devices:
        assert d.seconds == pytest.approx(throughput.seconds(view.work, len(d.bundles), d.device))
    assert view.est_seconds == next(d.seconds for d in view.devices if d.device.key == "h100")
    assert np.isclose(view.work.dense, sum(c.work.dense for c in view.todo)) and view.work.conv == 0
