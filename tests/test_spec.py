"""Spec validation: every error names the YAML path, the value and what is allowed."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner
from util import tiny_spec_text

from ddbench.cli.app import app
from ddbench.spec.model import expand_grid
from ddbench.spec.validate import SpecError, load_spec_text

runner = CliRunner()


def problems(text):
    with pytest.raises(SpecError) as info:
        load_spec_text(text, "spec.yaml")
    return info.value.problems


def test_grid_shorthands():
    assert expand_grid([8, 2, 4]) == [2, 4, 8]
    g = expand_grid({"geomspace": [2, 300, 20]})
    assert g == [int(v) for v in np.unique(np.round(np.geomspace(2, 300, 20)))]  # the science brief's rule
    assert g[0] == 2 and g[-1] == 300 and len(g) == 19  # 2.61 and 3.42 both round to 3: unique() drops one
    assert expand_grid({"range": [1, 5]}) == [1, 2, 3, 4]
    assert expand_grid({"range": {"start": 2, "stop": 10, "step": 4}}) == [2, 6]
    with pytest.raises(ValueError, match="positive integers"):
        expand_grid([2, -1])


def test_valid_tiny_spec_loads():
    spec = load_spec_text(tiny_spec_text())
    assert spec.model.widths == [2, 8, 32]
    assert spec.training.recorded_epochs()[-1] == 3
    assert len(spec.spec_hash()) == 16


def test_bad_width_names_path_line_value():
    text = tiny_spec_text(widths="[2, 8, 0, 32]")
    (p,) = problems(text)
    assert p.path == "model.widths"
    assert "item 2 is 0" in p.message and "positive integers" in p.message
    assert p.line == text.splitlines().index("  widths: [2, 8, 0, 32]") + 1


def test_unknown_key_is_an_error_with_suggestion():
    text = tiny_spec_text().replace("  epochs: 3", "  epoch: 3")
    (p,) = problems(text)
    assert p.path == "training.epoch"
    assert "unknown key 'epoch'" in p.message and "did you mean 'epochs'" in p.message
    assert "batch_size" in p.message  # what is allowed


def test_enum_errors_list_allowed_values():
    text = tiny_spec_text().replace("kind: exact", "kind: flip")
    (p,) = problems(text)
    assert p.path == "dataset.noise.kind"
    assert "'exact'" in p.message and "'may_keep'" in p.message
    assert p.value == "flip"


def test_every_problem_is_reported_at_once():
    text = tiny_spec_text(rates="[0.0, 1.5]").replace("batch_size: 50", "batch_size: 0")
    paths = {p.path for p in problems(text)}
    assert {"dataset.noise.rates", "training.batch_size"} <= paths


def test_unknown_plugins_and_bad_family_options():
    text = tiny_spec_text(family="mlpp")
    (p,) = problems(text)
    assert p.path == "model.family" and "allowed: " in p.message and "did you mean 'mlp'" in p.message
    text = tiny_spec_text().replace("  family: mlp", "  family: mlp\n  config: {depth: 0, activation: swishy}")
    paths = {p.path: p for p in problems(text)}
    assert "model.config.depth" in paths and "model.config.activation" in paths
    assert "relu" in paths["model.config.activation"].message
    text = tiny_spec_text().replace("hypotheses: [double_descent]", "hypotheses: [{double_descent: {delta: -1}}]")
    (p,) = problems(text)
    assert p.path == "hypotheses[0].params.delta"


def test_hypothesis_without_its_probe_is_refused():
    text = tiny_spec_text().replace("hypotheses: [double_descent]", "hypotheses: [double_descent, low_rank]")
    (p,) = problems(text)
    assert p.path == "hypotheses[1]" and "reads probe 'low_rank'; add it to probes" in p.message
    load_spec_text(text.replace("probes: [weight_norm]", "probes: [weight_norm, low_rank]"))


def test_cli_validate_exit_codes_and_no_traceback(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(tiny_spec_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text(tiny_spec_text(widths="[2, x]"))
    res = runner.invoke(app, ["validate", str(good)])
    assert res.exit_code == 0, res.output
    assert "6 cells" in res.output
    res = runner.invoke(app, ["validate", str(good), str(bad)])
    assert res.exit_code == 2
    assert "model.widths" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["validate", str(tmp_path / "missing.yaml")])
    assert res.exit_code == 2 and "cannot read" in res.output
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    res = runner.invoke(app, ["validate", str(tmp_path / "broken.yaml")])
    assert res.exit_code == 2 and "not valid YAML" in res.output


def test_validate_warns_when_grid_cannot_interpolate(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(tiny_spec_text(widths="[1, 2]").replace("n_train: 300", "n_train: 4000"))
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0
    assert "never reach the interpolation threshold" in res.output


def test_schema_is_json_schema():
    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0
    schema = json.loads(res.output)
    assert schema["title"] == "Spec" and "dataset" in schema["properties"]


def test_spec_hash_ignores_execution_fields():
    a = load_spec_text(tiny_spec_text())
    b = load_spec_text(tiny_spec_text(output_dir="elsewhere", trainer="fit"))
    c = load_spec_text(tiny_spec_text(epochs=4))
    assert a.spec_hash() == b.spec_hash() != c.spec_hash()
