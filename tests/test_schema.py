"""`ddbench schema` is a true JSON Schema of the specs: every committed spec validates against it,
the shorthand forms are in it, and plugin options are the registered plugins' Config schemas."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner
from util import tiny_spec_text

from ddbench.cli.app import app
from ddbench.spec.model import Spec
from ddbench.spec.schema import plugin_spec_model
from ddbench.spec.validate import load_spec_text

SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.yaml"))


@pytest.fixture(scope="module")
def validator():
    res = CliRunner().invoke(app, ["schema"])
    assert res.exit_code == 0, res.output
    schema = json.loads(res.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator, data):
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(data)]


def test_specs_dir_is_not_empty():
    assert len(SPECS) >= 10


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_committed_spec_validates_against_ddbench_schema(validator, path):
    data = yaml.safe_load(path.read_text())
    assert errors(validator, data) == []
    # the static model's schema (no plugins) accepts it too, and the plugin-typed model is a working Pydantic model
    assert list(jsonschema.Draft202012Validator(Spec.model_json_schema()).iter_errors(data)) == []
    plugin_spec_model().model_validate(data)


def test_shorthand_forms_are_in_the_schema(validator):
    base = yaml.safe_load(tiny_spec_text())
    forms = {
        "geomspace list": {"geomspace": [2, 300, 14]},
        "geomspace mapping": {"geomspace": {"start": 2, "stop": 300, "num": 14}},
        "range list": {"range": [1, 65, 1]},
        "range two": {"range": [1, 9]},
        "range mapping": {"range": {"start": 1, "stop": 9}},
        "list": [1, 2, 4],
    }
    for label, widths in forms.items():
        data = {**base, "model": {**base["model"], "widths": widths}}
        assert errors(validator, data) == [], label
        load_spec_text(yaml.safe_dump(data))  # and the spec model agrees
    for bad in ({"geomspace": [2, 300]}, {"linspace": [1, 2, 3]}, [0, 2], [], {"range": [1, 9], "geomspace": [1, 2, 3]}):
        data = {**base, "model": {**base["model"], "widths": bad}}
        assert errors(validator, data), bad
    lists = {"probes": ["weight_norm"], "hypotheses": [{"double_descent": {"delta": 0.01}}, "smoothness",
                                                          {"name": "low_rank", "params": {}}, {"class_activation": None}]}
    assert errors(validator, {**base, **lists}) == []


def test_plugin_options_come_from_the_registered_plugins(validator):
    base = yaml.safe_load(tiny_spec_text())
    bad = {
        "unknown probe": {"probes": ["weight_normm"]},
        "unknown hypothesis option": {"hypotheses": [{"double_descent": {"deltaa": 0.01}}]},
        "wrong option type": {"hypotheses": [{"name": "double_descent", "params": {"delta": "big"}}]},
        "family option out of range": {"model": {**base["model"], "config": {"depth": 0}}},
        "family option of another family": {"model": {**base["model"], "config": {"no_such_option": 1}}},
        "grid over an unknown option": {"model": {**base["model"], "grid": {"depthh": [1, 2]}}},
        "grid value out of range": {"model": {**base["model"], "grid": {"depth": [0, 2]}}},
        "unknown dataset option": {"dataset": {**base["dataset"], "options": {"num_samplez": 10}}},
        "unknown dataset": {"dataset": {**base["dataset"], "name": "mnist2d"}},
    }
    for label, change in bad.items():
        assert errors(validator, {**base, **change}), label
    good = {"model": {**base["model"], "config": {"depth": 3}, "grid": {"depth": [1, 2]}},
            "dataset": {**base["dataset"], "options": {"num_samples": 4000}},
            "hypotheses": [{"double_descent": {"delta": 0.02}}]}
    assert errors(validator, {**base, **good}) == []


def test_schema_shows_plugin_option_descriptions():
    text = json.dumps(plugin_spec_model().model_json_schema())
    from ddbench import registry

    smooth = registry.probes.get("smoothness").Config.model_fields["copies"].description
    assert smooth and smooth in text
    assert "discriminator" in text  # per-name discriminated unions


def test_schema_and_spec_model_resolve_alike():
    """The plugin-typed model accepts what Spec accepts; hashing still uses Spec only."""
    spec = load_spec_text(tiny_spec_text())
    assert plugin_spec_model().model_validate(yaml.safe_load(tiny_spec_text())).name == spec.name
