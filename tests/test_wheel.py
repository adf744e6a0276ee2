"""ddbench as a new user gets it: the wheel built from this checkout, installed into a fresh environment
outside it, run from an empty directory.

The environment reuses the installed heavy dependencies (``--system-site-packages``: TensorFlow, Keras,
...) but not this checkout: the wheel is installed into the environment itself, which comes first on
its ``sys.path``, and every command runs from an empty directory with no ``PYTHONPATH``; the test
checks that ``ddbench`` is imported from the environment. A second environment installs the checkout
in editable mode (what ``.ci/run`` does) and checks the recipes are read there as package data too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "ddbench", "specs", "leaderboards")
#: what a new user types first, from an empty directory
COMMANDS = [
    ["list", "recipes"],
    ["validate", "quickstart"],
    ["leaderboard", "show", "quickstart"],
    ["leaderboard", "summary"],
    ["run", "quickstart", "--smoke"],
]  # then `plugin new hypothesis NAME`, its install, and `plugin test NAME`

pytestmark = pytest.mark.slow


def _source_copy(dest: Path) -> Path:
    """The files a build reads, copied, so the build leaves nothing in the checkout (no build/, egg-info)."""
    dest.mkdir()
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "*.pyc")
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=skip)
        else:
            shutil.copy2(src, dest / name)
    return dest


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return {**env, "PYTHONNOUSERSITE": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "COLUMNS": "100"}


def _run(cmd: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)


def _venv(path: Path) -> Path:
    """A fresh environment that sees the installed dependencies; its python."""
    res = _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", path], cwd=path.parent)
    assert res.returncode == 0, res.stderr
    return path / "bin" / "python"


def _pip_install(python: Path, *args: str | Path, cwd: Path) -> None:
    # pip comes from the system site-packages; it installs into the environment of the python running it.
    # --ignore-installed: the checkout's own (editable) ddbench, visible through the system site-packages,
    # is neither reused nor touched.
    res = _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                "--ignore-installed", *args], cwd=cwd)
    assert res.returncode == 0, res.stdout + res.stderr


def _where(python: Path, code: str, cwd: Path) -> str:
    res = _run([python, "-c", code], cwd=cwd)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_the_wheel_runs_a_recipe_from_an_empty_directory(tmp_path):
    src = _source_copy(tmp_path / "src")
    wheels = tmp_path / "wheels"
    res = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                "--disable-pip-version-check", src, "-w", wheels], cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    (wheel,) = wheels.glob("ddbench-*.whl")

    names = set(zipfile.ZipFile(wheel).namelist())
    recipes = {f"ddbench/recipes/{p.name}" for p in (ROOT / "specs").glob("*.yaml")}
    boards = {f"ddbench/published/{p.name}" for p in (ROOT / "leaderboards").glob("*.json")}
    assert recipes and boards and recipes | boards <= names, sorted((recipes | boards) - names)
    data = {n for n in names if n.startswith(("ddbench/recipes/", "ddbench/published/")) and not n.endswith(".py")}
    assert data == recipes | boards, sorted(data - recipes - boards)  # JSON only: reports are written on demand

    python = _venv(tmp_path / "venv")
    _pip_install(python, wheel, cwd=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    venv = (tmp_path / "venv").resolve()
    where = _where(python, "import ddbench, ddbench.catalog as c; print(ddbench.__file__); "
                           "print(c.directory(c.RECIPES)); print(c.directory(c.BOARDS))", empty)
    for line in where.splitlines():
        assert Path(line).resolve().is_relative_to(venv), f"not the wheel's ddbench: {where}"

    ddbench = tmp_path / "venv" / "bin" / "ddbench"
    for args in COMMANDS:
        res = _run([ddbench, *args], cwd=empty)
        out = res.stdout + res.stderr
        assert res.returncode == 0 and "Traceback" not in out, f"ddbench {' '.join(args)} (exit {res.returncode}):\n{out}"
        if args == ["list", "recipes"]:
            assert "quickstart" in out and "est. time" in out and str(venv) in out.replace("\n", "")
    assert (empty / "runs" / "quickstart-smoke" / "leaderboard.json").is_file()

    # a contributor's first steps: scaffold a hypothesis, install it beside the wheel, check its contract
    res = _run([ddbench, "plugin", "new", "hypothesis", "wider_helps"], cwd=empty)
    assert res.returncode == 0 and "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    _pip_install(python, "--no-build-isolation", empty / "ddbench-wider-helps", cwd=empty)
    res = _run([ddbench, "plugin", "test", "wider_helps", "-q"], cwd=empty, timeout=900)
    out = res.stdout + res.stderr
    assert res.returncode == 0 and "Traceback" not in out and "FAIL" not in out, out


def test_an_editable_install_reads_the_recipes_as_package_data(tmp_path):
    src = _source_copy(tmp_path / "src")
    python = _venv(tmp_path / "venv")
    _pip_install(python, "--no-build-isolation", "-e", src, cwd=tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    where = _where(python, "import importlib.resources as r, ddbench; print(ddbench.__file__); "
                           "print(r.files('ddbench.recipes')); print(r.files('ddbench.published'))", empty)
    assert [Path(p).resolve() for p in where.splitlines()] == [
        (src / "ddbench" / "__init__.py").resolve(), (src / "specs").resolve(), (src / "leaderboards").resolve()]
