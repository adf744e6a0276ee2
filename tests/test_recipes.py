"""Recipes and published leaderboards by name: ``ddbench run quickstart``, ``validate``, ``plan``,
``leaderboard show|compare NAME``, ``report NAME``, ``list recipes``; a path always wins, and an
unknown name is refused with the names there are and a "did you mean" (a renamed recipe: its new name)."""

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ddbench import catalog
from ddbench.cli.app import app
from ddbench.cli.planview import estimate_seconds, estimate_without_data, plan_view
from ddbench.errors import UserError
from ddbench.spec.validate import load_spec

ROOT = Path(__file__).resolve().parents[1]
cli = CliRunner()


def test_the_shelves_hold_the_repository_files():
    assert catalog.names(catalog.RECIPES) == sorted(p.stem for p in (ROOT / "specs").glob("*.yaml"))
    assert catalog.names(catalog.BOARDS) == sorted(p.stem for p in (ROOT / "leaderboards").glob("*.json"))
    quick = catalog.find(catalog.RECIPES, "quickstart")
    assert quick.read_bytes() == (ROOT / "specs" / "quickstart.yaml").read_bytes()
    assert catalog.find(catalog.BOARDS, "quickstart").read_bytes() == (ROOT / "leaderboards" / "quickstart.json").read_bytes()
    assert catalog.find(catalog.RECIPES, "README") is None and catalog.find(catalog.BOARDS, "table") is None


def test_the_data_of_another_installation_is_not_taken(tmp_path, monkeypatch):
    """An editable install of another checkout maps ddbench.recipes there; this checkout reads its own."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "elsewhere.yaml").write_text("name: elsewhere\n")
    monkeypatch.setattr(catalog.resources, "files", lambda package: tmp_path / "specs")
    assert catalog.directory(catalog.RECIPES) == ROOT / "specs" and "elsewhere" not in catalog.names(catalog.RECIPES)


@pytest.mark.parametrize("arg, bare", [("quickstart", True), ("quickstart.yaml", False), ("specs/quickstart", False),
                                       ("./quickstart", False), (".hidden", False), ("", False), ("a\\b", False)])
def test_a_bare_name_has_no_directory_and_no_suffix(arg, bare):
    assert catalog.is_bare_name(arg) is bare


def test_a_path_wins_over_a_recipe(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert catalog.resolve(catalog.RECIPES, "quickstart") == catalog.find(catalog.RECIPES, "quickstart")
    (tmp_path / "quickstart").write_text("name: mine\n")
    assert catalog.resolve(catalog.RECIPES, "quickstart") == Path("quickstart")
    assert catalog.resolve(catalog.RECIPES, "missing.yaml") == Path("missing.yaml")  # a path: its own error later


def test_an_unknown_name_lists_the_names_and_a_guess():
    with pytest.raises(UserError) as info:
        catalog.resolve(catalog.RECIPES, "quickstrat")
    msg = str(info.value)
    assert info.value.exit_code == 2 and "did you mean 'quickstart'" in msg and "gu-digits-fcnn" in msg
    assert "ddbench list recipes" in msg
    with pytest.raises(UserError) as info:
        catalog.resolve(catalog.BOARDS, "zzz")
    assert "did you mean" not in str(info.value) and "quickstart-3seeds" in str(info.value)


@pytest.mark.parametrize("shelf", [catalog.RECIPES, catalog.BOARDS], ids=["recipe", "board"])
def test_a_renamed_recipe_names_its_new_name(shelf):
    assert catalog.RENAMED, "the mapping is empty: drop this test with it"
    for old, new in catalog.RENAMED.items():
        assert catalog.find(shelf, old) is None and catalog.find(shelf, new) is not None
        with pytest.raises(UserError) as info:
            catalog.resolve(shelf, old)
        assert info.value.exit_code == 2 and f"renamed: use {new!r}" in str(info.value)


def test_validate_and_plan_take_a_recipe_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli.invoke(app, ["validate", "quickstart", "gu-digits-fcnn"])
    assert res.exit_code == 0, res.output
    assert f"hash {load_spec(ROOT / 'specs' / 'quickstart.yaml').spec_hash()}" in res.output
    res = cli.invoke(app, ["validate", "quickstrat", "quickstart"])  # the bad name reported, the other still checked
    assert res.exit_code == 2 and "did you mean 'quickstart'" in res.output and "ok " in res.output
    res = cli.invoke(app, ["plan", "quickstart", "--smoke"])
    assert res.exit_code == 0, res.output
    assert "plan of quickstart" in res.output and "runs/quickstart-smoke" in res.output


@pytest.mark.parametrize("command", [["run", "nakkiran"], ["plan", "nakkiran"], ["analyse", "nakkiran"]])
def test_run_plan_and_analyse_refuse_an_unknown_name_in_one_line(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli.invoke(app, command)
    assert res.exit_code == 2, res.output
    assert "'nakkiran' is neither a file nor a recipe; did you mean 'nakkiran-resnet18'" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "runs").exists()


def test_leaderboard_show_and_compare_take_published_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli.invoke(app, ["leaderboard", "show", "quickstart", "--format", "md"])
    assert res.exit_code == 0 and "quickstart" in res.output and "double_descent.peak" in res.output
    res = cli.invoke(app, ["leaderboard", "compare", "quickstart", str(ROOT / "leaderboards" / "quickstart.json")])
    assert res.exit_code == 0, res.output
    res = cli.invoke(app, ["leaderboard", "show", "quickstrt"])
    assert res.exit_code == 2 and "did you mean 'quickstart'" in res.output


def test_report_writes_a_published_leaderboards_page(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli.invoke(app, ["report", "wang-rf-phi-cpu"])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "wang-rf-phi-cpu.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "norm_capacity" in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wang-rf-phi-cpu.html"]


def test_list_recipes_shows_each_with_its_paper_cells_seeds_and_time(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = cli.invoke(app, ["list", "recipes"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    for name in catalog.names(catalog.RECIPES):
        assert name in res.output
    for word in ("paper", "dataset", "family", "cells", "seeds", "est. time", "Gamba et al.", "Nakkiran et al. 2020"):
        assert word in res.output
    assert str(catalog.directory(catalog.RECIPES)) in res.output.replace("\n", "")


def test_the_listing_estimate_is_the_planners(tmp_path, monkeypatch):
    """Counted without data, the time is the one ``ddbench plan`` prints for the same cells."""
    monkeypatch.chdir(tmp_path)
    spec = load_spec(ROOT / "specs" / "gu-digits-fcnn.yaml")
    todo, est, source = estimate_without_data(spec)
    view = plan_view(spec)
    assert todo == len(view.todo) == 72
    assert est == pytest.approx(view.est_seconds) and source == view.rate_source
    assert estimate_seconds([], 100, 5, 0)[0] == 0.0  # nothing to train
    assert estimate_seconds([10, 20], 100, 5, 2, rate=1e-6, measured=3) == (
        pytest.approx(1e-6 * 30 * 100 * 5), "measured on 3 finished cell(s) of this run")
    assert estimate_seconds([10, None], 100, 5, 2) == (None, "unknown (no parameter counts)")


def test_list_recipes_neither_imports_keras_nor_loads_data(tmp_path):
    code = ("import sys; from ddbench.cli.recipe_list import recipe_rows; rows = recipe_rows(); "
            "assert all(r.est_seconds is not None for r in rows), [r for r in rows if r.est_seconds is None]; "
            "heavy = [m for m in ('keras', 'tensorflow', 'jax', 'torch', 'tensorflow_datasets') if m in sys.modules]; "
            "assert not heavy, heavy")
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "DDBENCH_CACHE": str(tmp_path / "cache"), "HOME": str(tmp_path),
                              "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
