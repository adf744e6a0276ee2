"""The plugin API: one registry, entry points, the example package, `ddbench plugin test`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ddbench import registry
from ddbench.cli import app
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
    from ddbench.plugin_check import check_plugin
    from ddbench.probes.base import ProbePlugin

    @registry.probes.register("broken_probe_for_test", version="0")
    class Broken(ProbePlugin):
        def measure(self, ctx, config):
            raise RuntimeError("always broken")

    kind, checks = check_plugin("broken_probe_for_test", budget_s=60)
    assert kind == "probes"
    failed = {c.name for c in checks if not c.ok}
    assert "no exceptions" in failed and "always broken" in next(c.message for c in checks if c.name == "no exceptions")
