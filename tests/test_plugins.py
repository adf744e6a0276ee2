"""The plugin API: one registry, entry points, the example package, `ddbench plugin test`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ddbench import registry
from ddbench.cli.app import app
from ddbench.registry import Registry, UnknownPluginError

ROOT = Path(__file__).resolve().parents[1]
cli = CliRunner()


def test_unknown_name_lists_allowed_and_suggests():
    with pytest.raises(UnknownPluginError) as info:
        registry.families.get("mpl")
    assert "allowed:" in str(info.value) and "did you mean 'mlp'" in str(info.value)


def test_decorator_sets_name_and_version_and_refuses_clashes():
    reg = Registry("thing", "ddbench.test-things", ())

    @reg.register("a", version="2")
    class A:
        pass

    assert reg.get("a") is A and A.plugin_name == "a" and A.plugin_version == "2"
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a")(type("B", (), {"__module__": "elsewhere"}))


def test_list_commands_show_builtins():
    for kind, expected in (("hypotheses", "double_descent"), ("families", "mlp"), ("datasets", "mnist1d"),
                           ("probes", "weight_norm")):
        res = cli.invoke(app, ["list", kind])
        assert res.exit_code == 0 and expected in res.output, res.output


@pytest.mark.slow
def test_example_plugin_installs_through_entry_point(tmp_path):
    """Install the example package into a private target and see it in `ddbench list hypotheses`."""
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(ROOT / "examples" / "ddbench-example-plugin")],
                   check=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}
    out = subprocess.run([sys.executable, "-m", "ddbench.cli", "list", "hypotheses"], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "wider_is_better" in out.stdout and "ddbench_example_plugin" in out.stdout
    out = subprocess.run([sys.executable, "-m", "ddbench.cli", "plugin", "test", "wider_is_better"], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "FAIL" not in out.stdout


@pytest.mark.slow
def test_plugin_test_command_on_builtins():
    for name in ("weight_norm", "mlp", "mnist1d"):
        res = cli.invoke(app, ["plugin", "test", name])
        assert res.exit_code == 0, res.output
        assert "FAIL" not in res.output


def test_plugin_test_reports_failures_of_a_broken_probe():
    from ddbench.cli.plugin_check import check_plugin
    from ddbench.probes.base import ProbePlugin

    @registry.probes.register("broken_probe_for_test", version="0")
    class Broken(ProbePlugin):
        def measure(self, ctx, config):
            raise RuntimeError("always broken")

    kind, checks = check_plugin("broken_probe_for_test", budget_s=60)
    assert kind == "probes"
    failed = {c.name for c in checks if not c.ok}
    assert "no exceptions" in failed and "always broken" in next(c.message for c in checks if c.name == "no exceptions")


# --------------------------------------------------------------------------- `plugin test` of a hypothesis


def _spearman_width(table, metric):
    """Evidence helper of the test plugins: Spearman of width vs a metric in each stratum, resampled over
    grid points by the core's helper (so a monotone curve is decided by the exact permutation test)."""
    import numpy as np

    from ddbench.hypotheses.core import correlation_evidence
    from ddbench.stats.plan import ResamplingPlan

    out = []
    for stratum, cells in table.strata():
        assert len(table.arrays(cells[0].key)) > 0  # per-point arrays can be read while the plugin runs
        w = np.array([c.width for c in cells], float)
        m = np.array([[c.metrics[metric]] for c in cells], float)
        out.append(correlation_evidence("", stratum, w, m, threshold=0.0, side="less", plan=ResamplingPlan(200, 0),
                                        unit="grid_points"))
    return out


def _hypothesis(name, claims, emit):
    from ddbench.hypotheses.base import HypothesisPlugin

    cls = type(name, (HypothesisPlugin,), {"claims": claims, "description": "test plugin",
                                           "evidence": lambda self, table, config, analysis: emit(table)})
    return registry.hypotheses.register(name, version="0")(cls)


def _relabel(evs, claim):
    for e in evs:
        e.claim = claim
    return evs


@pytest.fixture(scope="module")
def zoo_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("zoo")  # shared: the zoo trains once for the three plugins below


@pytest.mark.slow
def test_plugin_test_exercises_every_declared_claim_on_a_zoo_past_k_star(zoo_dir):
    from ddbench.cli.plugin_check import check_plugin

    _hypothesis("cli_wider_trains_better", {"train": "train error falls with width"},
                lambda t: _relabel(_spearman_width(t, "train_error"), "cli_wider_trains_better.train"))
    kind, checks = check_plugin("cli_wider_trains_better", workdir=zoo_dir)
    assert kind == "hypotheses"
    assert all(c.ok for c in checks), [(c.name, c.message) for c in checks if not c.ok]
    names = {c.name: c for c in checks}
    assert "k*=" in names["zoo reaches k*"].message and "noise_rate=0.2" in names["zoo reaches k*"].message
    assert names["claim cli_wider_trains_better.train: exercised"].ok
    assert "holds" in names["claim cli_wider_trains_better.train: verdict"].message  # train error falls with width


@pytest.mark.slow
def test_plugin_test_fails_an_unexercised_and_an_undeclared_claim_by_name(zoo_dir):
    from ddbench.cli.plugin_check import check_plugin
    from ddbench.hypotheses.evidence import Evidence

    def emit(table):
        evs = _relabel(_spearman_width(table, "test_loss"), "cli_half_tested.a")
        evs += [Evidence("cli_half_tested.b", s, None, applicable=False, reason="needs probe values it never reads")
                for s, _ in table.strata()]
        evs += _relabel(_spearman_width(table, "test_error"), "cli_half_tested.surprise")
        return evs

    _hypothesis("cli_half_tested", {"a": "declared and tested", "b": "declared, never tested"}, emit)
    _, checks = check_plugin("cli_half_tested", workdir=zoo_dir)
    failed = {c.name: c.message for c in checks if not c.ok}
    assert set(failed) == {"claim cli_half_tested.b: exercised", "claim cli_half_tested.surprise: declared"}, failed
    assert "needs probe values it never reads" in failed["claim cli_half_tested.b: exercised"]
    assert "does not declare" in failed["claim cli_half_tested.surprise: declared"]
    assert all(c.name.startswith("claim ") for c in checks if not c.ok)  # every failure names its claim
    res = cli.invoke(app, ["plugin", "test", "cli_half_tested", "-q", "--workdir", str(zoo_dir)])  # exits 1 on them
    assert res.exit_code == 1 and "cli_half_tested.b" in res.output


def test_zoo_overrides_apply_in_order():
    from ddbench.cli.plugin_check import HYPOTHESIS_ZOO, hypothesis_zoo

    plugin = registry.hypotheses.get("low_rank")
    spec = hypothesis_zoo(plugin, ["training.epochs=7"])
    assert spec.model.grid == {"depth": [1, 2, 4], "linear_overparam": [1, 2]} and spec.seeds == [0, 1, 2]
    assert spec.training.epochs == 7 and [p.name for p in spec.probes] == ["low_rank"]
    dd = hypothesis_zoo(registry.hypotheses.get("double_descent"))
    assert dd.model.widths == HYPOTHESIS_ZOO["model"]["widths"] and dd.hypotheses[0].name == "double_descent"
