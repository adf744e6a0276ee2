"""Trainers and executors are plugins: registered built-ins, entry points, a toy executor end to end."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner
from util import tiny_spec_text

from ddbench import registry
from ddbench.cli.app import app
from ddbench.registry import Registry

ROOT = Path(__file__).resolve().parents[1]

TOY_PACKAGE = '''
"""A third-party executor and trainer, found through entry points only."""

from pathlib import Path

from ddbench.execute.local import LocalExecutor
from ddbench.train.keras_fit import PackedFitTrainer

LOG = "toy-executor.log"


class ToyExecutor:
    """The local executor, writing one line per bundle it ran to RUN/toy-executor.log."""

    name = "toy"
    description = "local, with a log"

    def __init__(self, **options):
        self.options = options
        self.inner = LocalExecutor()

    def execute(self, bundles, ctx):
        for bundle in bundles:
            with (Path(ctx.run_dir) / LOG).open("a") as log:
                log.write(f"{len(bundle.cells)} cells\\n")
            yield from self.inner.execute([bundle], ctx)


class ToyTrainer(PackedFitTrainer):
    """The packed trainer under another name (a subclass of a registered built-in)."""

    name = "toy_packed"
'''

TOY_PYPROJECT = '''
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "ddbench-toy-executor"
version = "0.1.0"
dependencies = ["ddbench"]

[project.entry-points."ddbench.executors"]
toy = "ddbench_toy_executor:ToyExecutor"

[project.entry-points."ddbench.trainers"]
toy_packed = "ddbench_toy_executor:ToyTrainer"
'''


def test_builtins_are_registered_and_listed():
    from ddbench.execute import EXECUTORS, executor_names, get_executor
    from ddbench.train import TRAINERS, get_trainer, trainer_names

    assert TRAINERS == tuple(trainer_names()) == ("fit", "packed", "stateless")  # closed_form: by rule only
    assert "closed_form" in registry.trainers
    assert EXECUTORS == tuple(executor_names()) == ("local", "ray")
    assert get_trainer("fit").plugin_name == "fit" and get_executor("local").plugin_name == "local"
    with pytest.raises(ValueError, match="unknown trainer 'closed_form'; allowed: auto, fit, packed, stateless"):
        get_trainer("closed_form")
    with pytest.raises(ValueError, match="unknown executor 'slurm'; allowed: local, ray"):
        get_executor("slurm")
    cli = CliRunner()
    for kind, expected in (("trainers", ("stateless", "closed_form")), ("executors", ("local", "ray"))):
        res = cli.invoke(app, ["list", kind])
        assert res.exit_code == 0 and all(name in res.output for name in expected), res.output


def test_entry_point_subclass_of_a_registered_plugin_gets_its_own_name(tmp_path, monkeypatch):
    """An installed class that inherits ``plugin_name`` from a registered base is registered under its entry point."""
    (tmp_path / "toy_subclass.py").write_text(textwrap.dedent('''
        from ddbench.execute.local import LocalExecutor

        class Sub(LocalExecutor):
            name = "sub"
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    group = "ddbench.test-executors"
    found = [importlib.metadata.EntryPoint("sub", "toy_subclass:Sub", group)]
    monkeypatch.setattr(registry, "entry_points", lambda group: found if group == "ddbench.test-executors" else [])
    reg = Registry("executor", group, ())
    sub = reg.get("sub")
    assert reg.names() == ["sub"] and (sub.plugin_name, sub.plugin_version) == ("sub", "1")
    assert sub.__mro__[1].plugin_name == "local"  # the base keeps its own name


@pytest.mark.slow
def test_toy_executor_and_trainer_from_entry_points_run_a_spec(tmp_path):
    """Install a package with a ``ddbench.executors`` and a ``ddbench.trainers`` entry point into a private
    target; `ddbench list` shows them and `ddbench run --executor toy --trainer toy_packed` trains with them."""
    src = tmp_path / "toy"
    (src / "src" / "ddbench_toy_executor").mkdir(parents=True)
    (src / "src" / "ddbench_toy_executor" / "__init__.py").write_text(TOY_PACKAGE)
    (src / "pyproject.toml").write_text(TOY_PYPROJECT)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(src)], check=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), str(ROOT)])}

    def ddbench(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "ddbench.cli.app", *args], env=env, capture_output=True,
                              text=True, timeout=600)

    out = ddbench("list", "executors")
    assert out.returncode == 0 and "toy" in out.stdout and "ddbench_toy_executor" in out.stdout, out.stderr
    out = ddbench("list", "trainers")
    assert out.returncode == 0 and "toy_packed" in out.stdout, out.stderr

    spec = tmp_path / "spec.yaml"
    run_dir = tmp_path / "run"
    spec.write_text(tiny_spec_text(rates="[0.0]", widths="[2, 8]", epochs=2) + f"output_dir: {run_dir}\n")
    out = ddbench("run", str(spec), "--executor", "toy", "--trainer", "toy_packed", "--quiet")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (run_dir / "toy-executor.log").read_text().strip()  # the toy executor ran the bundles
    board = json.loads((run_dir / "leaderboard.json").read_text())
    assert len(board["rows"]) == 2 and all(r["status"] == "done" for r in board["rows"])

    from ddbench.store.run_store import RunStore

    records = RunStore(run_dir).records()
    assert len(records) == 2
    assert all(r.provenance["executor"] == "toy" and r.provenance["trainer"] == "toy_packed" for r in records)
