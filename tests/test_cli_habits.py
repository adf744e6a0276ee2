"""Command-line habits: -s overrides, ddbench plan / run --dry-run, --smoke, --tensorboard, -q,
failed and NaN probes in the run summary and in leaderboard.md, the run's phases."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner
from util import assert_curves_close, tiny_spec_text

from ddbench import registry
from ddbench.cli.app import app
from ddbench.probes.base import ProbePlugin
from ddbench.spec.overrides import SMOKE_CAPS, OverrideError, apply_overrides, load_spec_with, smoke_spec
from ddbench.spec.validate import SpecError, load_spec, load_spec_text

ROOT = Path(__file__).resolve().parents[1]
cli = CliRunner()


@registry.probes.register("cli_test_raises", version="0")
class Raises(ProbePlugin):
    def measure(self, ctx, config):
        raise RuntimeError("this probe always raises")


@registry.probes.register("cli_test_nan", version="0")
class GivesNan(ProbePlugin):
    def measure(self, ctx, config):
        return {"value": float("nan")}


def mlp_params(w):  # 40-w-w-10, biases included
    return 40 * w + w + w * w + w + 10 * w + 10


# --------------------------------------------------------------------------- -s overrides


def test_overrides_set_nested_fields_with_yaml_values(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(tiny_spec_text())
    base = load_spec(path)
    spec = load_spec_with(path, ["training.epochs=5", "model.widths={geomspace: [2, 64, 4]}",
                                 "hypotheses[0].params.delta=0.02", "training.optimizer.name=adam", "seeds=[0, 1]"])
    assert spec.training.epochs == 5 and spec.model.widths == [2, 6, 20, 64]
    assert spec.hypotheses[0].name == "double_descent" and spec.hypotheses[0].params == {"delta": 0.02}
    assert spec.training.optimizer.name == "adam" and spec.seeds == [0, 1]
    assert spec.resolved()["training"]["epochs"] == 5 and spec.spec_hash() != base.spec_hash()
    assert load_spec_with(path, []).spec_hash() == base.spec_hash()


def test_override_errors_use_the_yaml_paths_and_messages(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(tiny_spec_text())
    with pytest.raises(SpecError) as info:
        load_spec_with(path, ["training.epochs=0"])
    (p,) = info.value.problems
    with pytest.raises(SpecError) as same:
        load_spec_text(tiny_spec_text(epochs=0))
    (q,) = same.value.problems
    assert p.path == q.path == "training.epochs"
    assert p.message.startswith(q.message) and p.message.endswith("(set by -s training.epochs=0)")
    assert p.line is None and q.line is not None

    with pytest.raises(SpecError) as info:
        load_spec_with(path, ["training.epoch=5"])
    (p,) = info.value.problems
    assert p.path == "training.epoch" and "unknown key 'epoch'" in p.message and "did you mean 'epochs'" in p.message

    # a problem of the file itself keeps its line while another field is overridden
    bad = tmp_path / "bad.yaml"
    text = tiny_spec_text().replace("batch_size: 50", "batch_size: 0")
    bad.write_text(text)
    with pytest.raises(SpecError) as info:
        load_spec_with(bad, ["training.epochs=4"])
    (p,) = info.value.problems
    assert p.path == "training.batch_size" and p.line == text.splitlines().index("  batch_size: 0") + 1


def test_malformed_overrides():
    for text, msg in (("training.epochs", "expected key.path=value"), ("=3", "expected key.path=value"),
                      ("name.x=1", "is not a mapping"), ("probes[5].params.x=1", "out of range"),
                      ("training..epochs=1", "empty part")):
        with pytest.raises(OverrideError, match=msg.replace(".", r"\.")):
            apply_overrides({"name": "x", "probes": ["a"], "training": {}}, [text])


def test_cli_validate_takes_overrides(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(tiny_spec_text())
    res = cli.invoke(app, ["validate", str(path), "-s", "training.epochs=7"])
    assert res.exit_code == 0, res.output
    res = cli.invoke(app, ["validate", str(path), "-s", "training.batch_size=-1"])
    assert res.exit_code == 2 and "training.batch_size" in res.output and "set by -s" in res.output
    assert "Traceback" not in res.output


# --------------------------------------------------------------------------- --smoke


def test_smoke_caps_the_quickstart():
    spec = load_spec(ROOT / "specs" / "quickstart.yaml")
    smoke = smoke_spec(spec)
    assert smoke.model.widths == [2, 4, 14]  # of the grid's widths up to 16: smallest, middle, largest
    assert len(smoke.model.widths) <= SMOKE_CAPS["widths"] and max(smoke.model.widths) <= SMOKE_CAPS["max_width"]
    assert smoke.training.epochs == 2 and smoke.dataset.n_train == 512 and smoke.dataset.n_test == 512
    assert smoke.seeds == [0] and smoke.analysis.bootstrap == 100
    assert [p.name for p in smoke.probes] == [p.name for p in spec.probes]
    assert [h.name for h in smoke.hypotheses] == [h.name for h in spec.hypotheses]
    assert smoke.run_dir() == Path("runs/quickstart-smoke") != spec.run_dir()
    assert smoke_spec(spec, "elsewhere").run_dir() == Path("elsewhere-smoke")
    grid = smoke_spec(load_spec(ROOT / "specs" / "huh-depth-cpu.yaml"))
    assert grid.model.grid == {"depth": [1, 2], "linear_overparam": [1, 2]} and grid.model.widths == [16]


# --------------------------------------------------------------------------- one tiny run through the CLI


@pytest.fixture(scope="module")
def quiet_run(tmp_path_factory, monkeypatch_module):
    """``ddbench run -q -s ... --tensorboard`` with a probe that raises and one that gives NaN."""
    import ddbench.cli.progress as progress_mod

    tmp = tmp_path_factory.mktemp("habits")
    spec = tmp / "spec.yaml"
    spec.write_text(tiny_spec_text(rates="[0.2]", widths="[2, 8]").replace(
        "probes: [weight_norm]", "probes: [weight_norm, cli_test_raises, cli_test_nan]"))
    phases = []

    class Recording(progress_mod.RichProgress):
        def phase(self, name, bundle=None, detail=""):
            phases.append(name)
            super().phase(name, bundle, detail)

    monkeypatch_module.setattr(progress_mod, "RichProgress", Recording)
    run_dir, tb = tmp / "run", tmp / "tb"
    # planned first (nothing written), then run
    res = cli.invoke(app, ["run", str(spec), "-o", str(run_dir), "-s", "training.epochs=2", "--dry-run"])
    dry = res
    assert not run_dir.exists()
    res = cli.invoke(app, ["run", str(spec), "-o", str(run_dir), "-q", "-s", "training.epochs=2",
                           "--tensorboard", str(tb)])
    return {"res": res, "dry": dry, "spec": spec, "run_dir": run_dir, "tb": tb, "phases": phases}


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_dry_run_lists_cells_bundles_params_memory_time(quiet_run):
    res = quiet_run["dry"]
    assert res.exit_code == 0, res.output
    out = res.output
    assert "2 cells, 2 to train in 1 bundle(s)" in out
    assert f"{mlp_params(2):,}" in out and f"{mlp_params(8):,}" in out
    assert "KiB" in out and "estimated time:" in out and "assumed" in out
    assert "bundle 1: 2 cells, p=0.2 seeds [0], widths 2..8 (2)" in out


def test_quiet_prints_only_the_summary_and_paths(quiet_run):
    res, run_dir = quiet_run["res"], quiet_run["run_dir"]
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0] == (f"{run_dir}: 2/2 cells done, 0 failed, 0 diverged (2 trained this run); "
                        f"probes: 2 failed, 2 NaN; " + lines[0].rsplit("; ", 1)[-1])
    assert lines[1:] == [f"  {run_dir / n}" for n in ("leaderboard.html", "leaderboard.json", "leaderboard.md", "error_vs_width.png",
                                                      "probes_vs_width.png")] + [f"  {quiet_run['tb']}"]


def test_overrides_are_recorded_in_the_resolved_spec(quiet_run):
    board = json.loads((quiet_run["run_dir"] / "leaderboard.json").read_text())
    assert board["spec"]["training"]["epochs"] == 2
    assert yaml.safe_load(quiet_run["spec"].read_text())["training"]["epochs"] == 3
    assert all(r["curves"]["epoch"][-1] == 2 for r in board["rows"])


def test_failed_and_nan_probes_are_marked_in_leaderboard_md(quiet_run):
    md = (quiet_run["run_dir"] / "leaderboard.md").read_text()
    assert "- probes: 2 failed, 2 NaN" in md
    section = md.split("## Probes without values", 1)[1]
    assert "| cli_test_nan | NaN | 2 | w=2 p=0.2 seed=0, w=8 p=0.2 seed=0 |" in section
    assert "| cli_test_raises | failed | 2 |" in section
    assert "weight_norm" not in section  # the probe that worked is not marked


def test_phases_are_reported_in_order(quiet_run):
    seen = list(dict.fromkeys(quiet_run["phases"]))
    assert seen == ["building", "compiling", "writing", "probing", "analysing"], quiet_run["phases"]
    assert quiet_run["phases"][-1] == "writing"  # the outputs, after the analysis
    # training is not a separate call: the first epoch report switches the display to it (test_progress)


def test_tensorboard_logs_hold_every_cells_curves(quiet_run):
    import tensorflow as tf  # an independent reader of the event files ddbench writes itself

    board = json.loads((quiet_run["run_dir"] / "leaderboard.json").read_text())
    files = sorted(quiet_run["tb"].rglob("events.out.tfevents.*"))
    assert len(files) == 2
    for row in board["rows"]:
        where = quiet_run["tb"] / "p0.2" / f"w{row['width']:05d}" / "noise0_seed0"
        (events,) = list(where.glob("events.out.tfevents.*"))
        got = {}
        for raw in tf.data.TFRecordDataset(str(events)):
            ev = tf.compat.v1.Event.FromString(raw.numpy())
            for v in ev.summary.value:
                assert v.WhichOneof("value") == "simple_value"
                got.setdefault(v.tag, {})[ev.step] = v.simple_value
        assert_curves_close(got["test_error"], dict(zip(row["curves"]["epoch"], row["curves"]["test_error"])),
                            rel=1e-6, name="test_error")
        assert set(got) >= {"train_loss", "test_loss", "train_error"}


def test_event_file_framing_and_crc32c(tmp_path):
    """CRC-32C of the standard check string, and an events file TensorFlow reads back record by record."""
    import tensorflow as tf

    from ddbench.store.tensorboard import crc32c, write_events

    assert crc32c(b"123456789") == 0xE3069283  # the published CRC-32C check value
    path = write_events(tmp_path, [("loss", 3, 0.25), ("loss", 7, 0.125), ("acc", 7, 0.5)])
    events = [tf.compat.v1.Event.FromString(raw.numpy()) for raw in tf.data.TFRecordDataset(str(path))]
    assert events[0].file_version == "brain.Event:2"
    assert [(e.step, e.summary.value[0].tag, e.summary.value[0].simple_value) for e in events[1:]] == [
        (3, "loss", 0.25), (7, "loss", 0.125), (7, "acc", 0.5)]


def test_plan_of_a_finished_run_has_nothing_to_train(quiet_run):
    res = cli.invoke(app, ["plan", str(quiet_run["spec"]), "-o", str(quiet_run["run_dir"]), "-s", "training.epochs=2"])
    assert res.exit_code == 0, res.output
    assert "2 cells, 0 to train in 0 bundle(s)" in res.output and "2 done" in res.output
    assert "estimated time: 0 s" in res.output
    res = cli.invoke(app, ["plan", str(quiet_run["spec"]), "-o", str(quiet_run["run_dir"]),
                           "-s", "training.epochs=2", "-s", "model.widths=[2, 8, 16]"])
    assert res.exit_code == 0, res.output
    assert "3 cells, 1 to train in 1 bundle(s)" in res.output and "measured on 2 finished cell(s)" in res.output
