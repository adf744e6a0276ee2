"""Malformed-input corpus, part 1: specs. Each case is refused by `validate` (exit 2, no traceback, the
message names the field or the file) and, for a sample, by `run` before anything is written."""

from __future__ import annotations

import numpy as np
import pytest
from malformed_util import BASE, assert_refused, invoke, snapshot, sub

SEEDS_100 = "seeds: [" + ", ".join(str(i) for i in range(100)) + "]\n"
BOMB = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))

# (id, spec text, strings the message must contain)
TEXT_CASES = [
    # duplicate keys, at every level
    ("dup-key-top", BASE + "name: again\n", ["name", "duplicate key"]),
    ("dup-key-nested", sub("  epochs: 2\n", "  epochs: 2\n  epochs: 3\n"), ["training.epochs", "duplicate key"]),
    ("dup-key-flow", sub("{name: sgd, lr: 0.05}", "{name: sgd, lr: 0.05, lr: 0.5}"), ["training.optimizer.lr", "duplicate"]),
    ("dup-key-in-list", sub("probes: [weight_norm]", "probes: [{name: weight_norm, name: low_rank}]"), ["probes[0].name", "duplicate"]),
    ("dup-section", BASE + "training: {epochs: 3}\n", ["training", "duplicate key"]),
    # booleans are not numbers
    ("epochs-true", sub("epochs: 2", "epochs: true"), ["training.epochs", "true/false"]),
    ("batch-size-false", sub("batch_size: 50", "batch_size: false"), ["training.batch_size", "true/false"]),
    ("seeds-bool", BASE + "seeds: [true]\n", ["seeds", "true/false"]),
    ("width-bool", sub("widths: [2, 8]", "widths: [true, 8]"), ["model.widths"]),
    ("n-train-bool", sub("n_train: 300", "n_train: true"), ["dataset.n_train", "true/false"]),
    ("family-option-bool", sub("  family: mlp\n", "  family: mlp\n  config: {depth: true}\n"), ["model.config.depth", "true/false"]),
    ("grid-axis-bool", sub("  family: mlp\n", "  family: mlp\n  grid: {depth: [1, true]}\n"), ["model.grid.depth", "true/false"]),
    # finite numbers only
    ("lr-inf", sub("lr: 0.05", "lr: .inf"), ["training.optimizer.lr", "finite"]),
    ("lr-nan", sub("lr: 0.05", "lr: .nan"), ["training.optimizer.lr", "finite"]),
    ("weight-decay-minus-inf", sub("lr: 0.05}", "lr: 0.05, weight_decay: -.inf}"), ["training.optimizer.weight_decay"]),
    ("noise-rate-nan", sub("rates: [0.0, 0.2]", "rates: [0.0, .nan]"), ["dataset.noise.rates"]),
    ("alpha-inf", BASE + "analysis: {alpha: .inf}\n", ["analysis.alpha"]),
    ("threshold-nan", BASE + "analysis: {interpolation_threshold: .nan}\n", ["analysis.interpolation_threshold"]),
    ("hypothesis-param-inf", sub("hypotheses: [double_descent]", "hypotheses: [{double_descent: {delta: .inf}}]"),
     ["hypotheses[0].params.delta", "finite"]),
    ("min-lr-inf", sub("  epochs: 2\n", "  epochs: 2\n  schedule: {name: cosine, min_lr: .inf}\n"), ["training.schedule.min_lr"]),
    # widths within a sane range
    ("width-1e30", sub("widths: [2, 8]", "widths: [2, 1.0e+30]"), ["model.widths", "1000000"]),
    ("width-1e30-string", sub("widths: [2, 8]", "widths: [2, 1e30]"), ["model.widths", "positive integers"]),
    ("width-too-large", sub("widths: [2, 8]", "widths: [2, 2000000]"), ["model.widths", "1000000"]),
    ("width-zero", sub("widths: [2, 8]", "widths: [0, 8]"), ["model.widths", "positive integers"]),
    ("width-negative", sub("widths: [2, 8]", "widths: [-4, 8]"), ["model.widths"]),
    ("width-fraction", sub("widths: [2, 8]", "widths: [2.5, 8]"), ["model.widths"]),
    ("width-inf", sub("widths: [2, 8]", "widths: [2, .inf]"), ["model.widths", "positive integers"]),
    ("widths-empty", sub("widths: [2, 8]", "widths: []"), ["model.widths", "empty"]),
    ("widths-repeat", sub("widths: [2, 8]", "widths: [2, 8, 8]"), ["model.widths", "repeated"]),
    ("geomspace-inf", sub("widths: [2, 8]", "widths: {geomspace: [2, .inf, 10]}"), ["model.widths", "finite"]),
    ("geomspace-nan", sub("widths: [2, 8]", "widths: {geomspace: [.nan, 300, 10]}"), ["model.widths", "finite"]),
    ("geomspace-huge-stop", sub("widths: [2, 8]", "widths: {geomspace: [2, 1.0e+30, 10]}"), ["model.widths", "1000000"]),
    ("geomspace-huge-num", sub("widths: [2, 8]", "widths: {geomspace: [2, 300, 1.0e+9]}"), ["model.widths", "num"]),
    ("range-million", sub("widths: [2, 8]", "widths: {range: [1, 1000001]}"), ["model.widths"]),
    ("range-too-many", sub("widths: [2, 8]", "widths: {range: [1, 200000]}"), ["model.widths", "at most"]),
    ("range-step-zero", sub("widths: [2, 8]", "widths: {range: [1, 10, 0]}"), ["model.widths"]),
    ("grid-shorthand-unknown", sub("widths: [2, 8]", "widths: {logspace: [1, 2, 3]}"), ["model.widths", "geomspace"]),
    # other numeric ranges
    ("epochs-huge", sub("epochs: 2", "epochs: 1000000000"), ["training.epochs"]),
    ("epochs-5000-digits", sub("epochs: 2", "epochs: " + "9" * 5000), ["cannot be read"]),
    ("record-num-huge", sub("  epochs: 2\n", "  epochs: 2\n  record: {num: 1000000000}\n"), ["training.record.num"]),
    ("bootstrap-huge", BASE + "analysis: {bootstrap: 1000000000}\n", ["analysis.bootstrap"]),
    ("seed-negative", BASE + "seeds: [-1]\n", ["seeds", "0 to"]),
    ("seed-too-large", BASE + "seeds: [10000000000000]\n", ["seeds", "0 to"]),
    ("noise-seed-negative", sub("rates: [0.0, 0.2]}", "rates: [0.0, 0.2], seeds: [-3]}"), ["dataset.noise.seeds"]),
    ("noise-rate-one", sub("rates: [0.0, 0.2]", "rates: [0.0, 1.0]"), ["dataset.noise.rates"]),
    # data sizes against the dataset
    ("batch-size-over-n-train", sub("batch_size: 50", "batch_size: 500"), ["training.batch_size", "n_train=300"]),
    ("n-train-over-dataset", sub("n_train: 300", "n_train: 30000"), ["dataset.n_train", "4000"]),
    ("n-test-over-dataset", sub("n_test: 500", "n_test: 12001"), ["dataset.n_test", "12000"]),
    ("default-n-train-over-options", sub("  n_train: 300\n", "  options: {num_samples: 1000}\n"), ["dataset.n_train", "default"]),
    ("synthetic-pool-too-small", sub("  name: mnist1d\n", "  name: synthetic\n  options: {n_train_pool: 100}\n"),
     ["dataset.n_train", "100"]),
    # duplicate plugins
    ("probe-twice", sub("probes: [weight_norm]", "probes: [weight_norm, weight_norm]"), ["probes", "more than once"]),
    ("probe-twice-mixed-forms", sub("probes: [weight_norm]", "probes: [weight_norm, {weight_norm: {}}]"), ["probes", "more than once"]),
    ("hypothesis-twice", sub("hypotheses: [double_descent]", "hypotheses: [double_descent, double_descent]"),
     ["hypotheses", "more than once"]),
    # grid size
    ("grid-million-cells", sub("widths: [2, 8]", "widths: {range: [1, 10001]}") + SEEDS_100, ["model.widths", "--yes", "2000000 cells"]),
    # names safe as file names
    ("name-300-chars", sub("name: tiny", "name: " + "a" * 300), ["name", "100"]),
    ("name-slash", sub("name: tiny", "name: a/b"), ["name"]),
    ("name-dotdot", sub("name: tiny", "name: '..'"), ["name"]),
    ("name-empty", sub("name: tiny", "name: ''"), ["name"]),
    ("name-unicode-space", sub("name: tiny", "name: 'run one'"), ["name"]),
    # output paths stay where the user pointed
    ("output-dir-dotdot", BASE + "output_dir: ../../etc\n", ["output_dir", ".."]),
    ("output-dir-inner-dotdot", BASE + "output_dir: runs/../../x\n", ["output_dir", ".."]),
    ("output-dir-empty", BASE + "output_dir: ''\n", ["output_dir"]),
    ("output-dir-long-part", BASE + f"output_dir: runs/{'x' * 300}\n", ["output_dir", "255"]),
    # YAML structure
    ("empty-document", "", ["a spec must be a YAML mapping"]),
    ("top-level-list", "[1, 2, 3]\n", ["a spec must be a YAML mapping"]),
    ("top-level-string", "just words\n", ["a spec must be a YAML mapping"]),
    ("deep-flow-nesting", "a: " + "[" * 5000 + "]" * 5000 + "\n", ["nested"]),
    ("deep-block-nesting", "".join("  " * i + "k:\n" for i in range(60)) + "  " * 60 + "v: 1\n", ["nested"]),
    ("alias-bomb", BOMB, ["expands to more than"]),
    ("syntax-error", "name: [unclosed\n", ["not valid YAML"]),
    ("python-tag", "name: !!python/object/apply:os.system ['echo pwned']\n", ["not valid YAML"]),
    ("bad-date", sub("name: tiny", "name: 2024-13-45"), ["cannot be read"]),
    ("unhashable-key", BASE + "? [a, b]\n: 1\n", ["mapping key"]),
    ("unknown-key", sub("  epochs: 2", "  epoch: 2"), ["training.epoch", "did you mean 'epochs'"]),
    ("missing-section", "name: tiny\n", ["dataset", "required"]),
    # trainers: a registered name chosen by name
    ("trainer-unknown", BASE + "trainer: statless\n", ["trainer", "unknown trainer", "did you mean 'stateless'"]),
    ("trainer-closed-form-by-name", BASE + "trainer: closed_form\n", ["trainer", "never by name"]),
    ("trainer-not-a-name", BASE + "trainer: 'a b'\n", ["trainer"]),
]


def _write(tmp_path, text):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text,names", [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES])
def test_validate_refuses_spec(tmp_path, monkeypatch, text, names):
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path, text)
    before = snapshot(tmp_path)
    res = invoke("validate", path)
    assert_refused(res, 2, "spec.yaml", *names)
    assert snapshot(tmp_path) == before


BYTES_CASES = [
    ("not-utf8", "name: tiny\ndescription: caf\xe9\n".encode("latin-1"), ["not UTF-8", "line 2"]),
    ("binary-png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["binary"]),
    ("nul-bytes", b"name: tiny\x00\x00\n", ["binary"]),
    ("utf16", "name: tiny\n".encode("utf-16"), ["not UTF-8"]),
    ("too-large", b"name: tiny\ndescription: '" + b"x" * 1_100_000 + b"'\n", ["at most 1000000"]),
]


@pytest.mark.parametrize("data,names", [c[1:] for c in BYTES_CASES], ids=[c[0] for c in BYTES_CASES])
def test_validate_refuses_file(tmp_path, data, names):
    path = tmp_path / "spec.yaml"
    path.write_bytes(data)
    res = invoke("validate", path)
    assert_refused(res, 2, "spec.yaml", *names)


def test_validate_refuses_paths(tmp_path):
    assert_refused(invoke("validate", tmp_path / "missing.yaml"), 2, "missing.yaml", "cannot read")
    (tmp_path / "adir.yaml").mkdir()
    assert_refused(invoke("validate", tmp_path / "adir.yaml"), 2, "adir.yaml", "is a directory")


def test_output_dir_under_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    path = _write(tmp_path, BASE + f"output_dir: {tmp_path / 'afile' / 'run'}\n")
    assert_refused(invoke("validate", path), 2, "output_dir", "is a file")


def test_npz_sizes_read_from_headers(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.zeros((50, 4), np.float32), y_train=np.arange(50) % 2,
             x_test=np.zeros((20, 4), np.float32), y_test=np.arange(20) % 2)
    text = sub("  name: mnist1d\n", f"  name: npz\n  options: {{path: {tmp_path / 'd.npz'}}}\n")
    assert_refused(invoke("validate", _write(tmp_path, text)), 2, "dataset.n_train", "50 training points")
    missing = sub("  name: mnist1d\n", f"  name: npz\n  options: {{path: {tmp_path / 'nope.npz'}}}\n")
    assert_refused(invoke("validate", _write(tmp_path, missing)), 2, "dataset.options", "nope.npz")


def test_large_grid_needs_yes_and_is_counted_not_built(tmp_path):
    path = _write(tmp_path, sub("widths: [2, 8]", "widths: {range: [1, 10001]}") + SEEDS_100)
    res = invoke("validate", path, "--yes")
    assert res.exit_code == 0, res.output
    assert "2000000 cells" in res.output


RUN_SAMPLE = ["dup-key-top", "epochs-true", "lr-inf", "batch-size-over-n-train", "width-1e30", "probe-twice",
              "grid-million-cells", "name-300-chars", "output-dir-dotdot", "alias-bomb"]


@pytest.mark.parametrize("case", RUN_SAMPLE)
def test_run_refuses_before_writing(tmp_path, monkeypatch, case):
    (text, names), = [c[1:] for c in TEXT_CASES if c[0] == case]
    monkeypatch.chdir(tmp_path)
    if "output_dir" not in text and case != "alias-bomb":
        text += "output_dir: out\n"
    path = _write(tmp_path, text)
    before = snapshot(tmp_path)
    res = invoke("run", path, "-q")
    assert_refused(res, 2, *names)
    assert snapshot(tmp_path) == before  # no store, no run directory
    assert not (tmp_path / "runs").exists()
