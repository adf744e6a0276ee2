"""Refining a grid around k* and the test-error peak: the spec block, the widths it adds, a run and
``ddbench refine`` that grow a grid in place, the refinements a leaderboard records and ``compare`` names."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_compare import make_board
from typer.testing import CliRunner
from util import tiny_spec_text

from ddbench import registry
from ddbench.cli.app import app
from ddbench.hypotheses.cells import CellView
from ddbench.hypotheses.table import ResultTable
from ddbench.leaderboard import SCHEMA_VERSION
from ddbench.leaderboard.compare import compare
from ddbench.leaderboard.compare_render import render_comparison_markdown
from ddbench.leaderboard.integrity import check_integrity, load_leaderboard
from ddbench.leaderboard.io import read_leaderboard, write_leaderboard
from ddbench.leaderboard.render import render_markdown
from ddbench.leaderboard.schema import Refinement, board_data, content_hash
from ddbench.run.refine import kept_refinements, refinement, settings_from
from ddbench.spec.grid import RefineSpec, expand_grid, fill_gaps, grid_spacing, refine_gaps, refine_widths
from ddbench.spec.identity import recipe_of
from ddbench.spec.validate import SpecError, load_spec_text

cli = CliRunner()
BLOCK = "  widths: [2, 8, 32]\n"


def _with_refine(block: str, **kw: str) -> str:
    text = tiny_spec_text(**kw)
    assert BLOCK in text
    return text.replace(BLOCK, f"{BLOCK}  refine: {block}\n")


# --------------------------------------------------------------------------- the spec block


def test_a_refine_block_is_validated_and_changes_no_hash_when_absent():
    plain = load_spec_text(tiny_spec_text(), check=False)
    assert "refine" not in plain.resolved()["model"]  # specs without it keep their hashes
    spec = load_spec_text(_with_refine("{}"), check=False)
    assert spec.model.refine == RefineSpec(around=["k_star", "peak"], points=4, spacing="auto")
    assert spec.resolved()["model"]["refine"] == {"around": ["k_star", "peak"], "points": 4, "spacing": "auto"}
    assert spec.spec_hash() != plain.spec_hash()  # another spec: it asks for more cells
    assert recipe_of(spec) == recipe_of(plain)  # the same recipe: a run directory accepts both
    peak = load_spec_text(_with_refine("{around: [peak], points: 2, spacing: linear}"), check=False)
    assert peak.model.refine.around == ["peak"] and peak.model.refine.points == 2
    assert peak.model.with_widths([5, 8]).widths == [2, 5, 8, 32] and peak.model.with_widths([]).refine is None


@pytest.mark.parametrize("block, field, words", [
    ("{around: [k_star, peek]}", "model.refine.around", "item 1 is 'peek'; allowed: k_star, peak"),
    ("{around: []}", "model.refine.around", "empty; allowed: one or both of k_star, peak"),
    ("{around: k_star}", "model.refine.around", "allowed: a list of one or both of k_star, peak"),
    ("{around: [peak, peak]}", "model.refine.around", "peak is listed twice"),
    ("{points: 0}", "model.refine.points", "greater than or equal to 1"),
    ("{points: 65}", "model.refine.points", "less than or equal to 64"),
    ("{points: true}", "model.refine.points", "true/false is not allowed"),
    ("{points: 2.5}", "model.refine.points", "integer"),
    ("{spacing: log}", "model.refine.spacing", "'auto', 'geometric' or 'linear'"),
    ("{pointz: 3}", "model.refine.pointz", "unknown key 'pointz'; allowed: around, points, spacing"),
    ("[k_star]", "model.refine", "valid dictionary"),
])
def test_a_bad_refine_block_names_the_field_the_value_and_what_is_allowed(block, field, words):
    with pytest.raises(SpecError) as err:
        load_spec_text(_with_refine(block), check=False)
    (problem,) = err.value.problems
    assert problem.path == field and words in problem.message, str(problem)
    line = _with_refine(block).splitlines().index(f"  refine: {block}") + 1
    assert problem.line == line and "[got:" in str(problem)


def test_the_json_schema_knows_the_refine_block():
    import jsonschema

    from ddbench.spec.schema import spec_json_schema
    from ddbench.spec.yaml_io import load_yaml

    validator = jsonschema.Draft202012Validator(spec_json_schema())
    good = load_yaml(_with_refine("{around: [peak], points: 2, spacing: geometric}"))[0]
    assert list(validator.iter_errors(good)) == []
    for block in ("{around: [peek]}", "{around: []}", "{around: [peak, peak]}", "{points: 0}", "{spacing: log}",
                  "{pointz: 1}"):
        assert list(validator.iter_errors(load_yaml(_with_refine(block))[0])), block


def test_refine_options_are_checked_like_the_block():
    assert settings_from(None, None, None) == RefineSpec()
    assert settings_from("peak, k_star", 2, "geometric") == RefineSpec(around=["peak", "k_star"], points=2,
                                                                       spacing="geometric")
    for args, words in (((None, 0, None), "--points 0: Input should be greater than or equal to 1"),
                        (("k_star,peek", None, None), "--around ['k_star', 'peek']: item 1 is 'peek'; allowed"),
                        (("", None, None), "--around []: the list is empty"),
                        ((None, None, "log"), "--spacing 'log': Input should be")):
        with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
            settings_from(*args)


def test_a_grid_below_the_family_minimum_is_refused(monkeypatch):
    monkeypatch.setattr(registry.families.get("mlp"), "min_width", 4)
    with pytest.raises(SpecError, match=r"model.widths.*mlp builds widths from 4; allowed: integers >= 4 \[got: \[2\]\]"):
        load_spec_text(tiny_spec_text())


# --------------------------------------------------------------------------- the widths it adds


def test_geometric_grid_known_targets_give_known_widths():
    grid = [2, 4, 8, 16, 32, 64]
    assert grid_spacing(grid) == "geometric" == grid_spacing(expand_grid({"geomspace": [2, 300, 14]}))
    # k* = 16: two widths in each of (8, 16) and (16, 32), at geomspace's interior points
    assert refine_widths(grid, [16], 4, "auto") == [10, 13, 20, 25]
    # k* = 16 and the peak at 32: three gaps share the 4 widths, the narrowest gap gets the extra one
    assert refine_gaps(grid, [16, 32]) == [(8, 16), (16, 32), (32, 64)]
    assert refine_widths(grid, [16, 32], 4, "auto") == [10, 13, 23, 45]
    assert refine_widths([2, 8, 32], [8], 1, "auto") == [4]  # one width: the geometric middle below


def test_linear_grid_and_explicit_spacing():
    grid = [10, 20, 30, 40, 50]
    assert grid_spacing(grid) == "linear" == grid_spacing(expand_grid({"range": [10, 60, 10]}))
    assert refine_widths(grid, [30], 4, "auto") == [23, 27, 33, 37]
    assert refine_widths(grid, [30], 4, "geometric") == [23, 26, 33, 36]  # geometric: nearer the lower ends


def test_no_duplicates_no_grid_values_and_never_more_than_the_gaps_hold():
    assert refine_widths([2, 3, 4], [3], 4, "auto") == []  # no integer between neighbours
    assert fill_gaps([(8, 12)], 10, "linear") == [9, 10, 11]  # at most what the gap holds
    # crowded geometric spacing near the low end: each ideal point takes the nearest free integer
    assert fill_gaps([(2, 6)], 3, "geometric") == [3, 4, 5]
    for grid in ([2, 4, 8, 16, 32, 64], [1, 2, 3, 5, 8, 13, 21], [10, 20, 30, 40, 50], [3, 7, 50, 51, 400]):
        for targets in ([grid[1]], [grid[0], grid[-1]], grid[1:4]):
            for points in (1, 3, 7, 20):
                new = refine_widths(grid, targets, points, "auto")
                assert new == sorted(set(new)) and not set(new) & set(grid) and len(new) <= points
                assert all(any(a < w < b for a, b in refine_gaps(grid, targets)) for w in new)
    with pytest.raises(ValueError, match="9 is not a value of the grid"):
        refine_gaps([2, 8, 32], [9])


def test_below_the_smallest_width_the_family_minimum_bounds_the_gap():
    # k* at the smallest width: the threshold lies below the grid, down to the family's smallest width
    assert refine_gaps([5, 10, 20], [5]) == [(1, 5), (5, 10)]
    assert refine_widths([5, 10, 20], [5], 4, "auto") == [2, 3, 4, 7]
    assert refine_widths([5, 10, 20], [5], 4, "auto", min_width=4) == [6, 7, 8, 9]  # never below 4
    assert refine_gaps([4, 10, 20], [4], min_width=4) == [(4, 10)]
    assert refine_gaps([5, 10, 20], [20]) == [(10, 20)]  # nothing above the widest width


# --------------------------------------------------------------------------- from the statistical core


def _table(k_star: dict[float, int], peak: dict[float, int], widths=(4, 8, 16, 32, 64, 128)) -> ResultTable:
    """Three seeds per width (so the core reads the cells' own metrics); train error reaches 0 at ``k_star``,
    test error peaks at ``peak``."""
    cells = []
    for p in k_star:
        for w in widths:
            for s in range(3):
                test = 0.3 + (0.2 if w == peak[p] else 0.0) + 0.001 * s
                cells.append(CellView(f"{p}-{w}-{s}", "mlp", {}, {}, w, p, 0, s, "done", 10 * w,
                                      {"train_error": 0.0 if w >= k_star[p] else 0.2, "test_error": test,
                                       "test_loss": 2 * test}, {}, {}))
    return ResultTable(cells, lambda key: {})


def test_the_core_k_star_and_peak_pick_the_gaps_per_stratum_and_the_strata_are_unioned():
    text = tiny_spec_text(widths="[4, 8, 16, 32, 64, 128]")
    spec = load_spec_text(text.replace("  widths: [4, 8, 16, 32, 64, 128]\n",
                                       "  widths: [4, 8, 16, 32, 64, 128]\n  refine: {points: 2}\n"), check=False)
    step = refinement(spec, _table({0.0: 16, 0.2: 32}, {0.0: 16, 0.2: 64}), spec.model.refine)
    assert step.source == "model.refine" and step.spacing == "geometric" and step.base == [4, 8, 16, 32, 64, 128]
    clean, noisy = step.strata
    assert (clean.stratum["noise_rate"], clean.k_star, clean.peak) == (0.0, 16, 16)
    assert clean.gaps == [(8, 16), (16, 32)] and clean.added == [11, 23]
    assert (noisy.k_star, noisy.peak) == (32, 64)
    assert noisy.gaps == [(16, 32), (32, 64)] and noisy.added == [23, 45]  # 2 widths over the gaps of both targets
    assert step.added == [11, 23, 45]  # the union: 23 once
    only_k = refinement(spec, _table({0.0: 16}, {0.0: 16}), RefineSpec(around=["k_star"], points=1))
    assert only_k.added == [11] and only_k.strata[0].peak is None
    # no k*: nothing added in that stratum, and the reason recorded
    none = refinement(spec, _table({0.0: 1000}, {0.0: 16}), RefineSpec())
    assert none.added == [] and "no k*: the grid never reaches" in none.strata[0].note
    assert "no test-error peak" in none.strata[0].note


# --------------------------------------------------------------------------- the leaderboard and compare


def _step(source="model.refine", base=(2, 8, 32), added=(4, 16), k_star=8, peak=16) -> Refinement:
    return Refinement(source=source, around=["k_star", "peak"], points=2, spacing="geometric", base=list(base),
                      added=list(added), strata=[{"stratum": {"family": "mlp", "noise_rate": 0.2}, "k_star": k_star,
                                                  "peak": peak, "gaps": [[2, 8], [8, 32]], "added": list(added)}])


def test_a_board_records_its_refinements_and_old_boards_keep_their_hash(tmp_path):
    plain = make_board({})
    assert "refinements" not in board_data(plain) and plain.schema_version == SCHEMA_VERSION == "1.1"
    old = board_data(plain) | {"schema_version": "1.0"}  # a board written before refinements
    old["content_hash"] = content_hash(old)
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    again = load_leaderboard(path)  # reads, and both hashes hold
    assert again.refinements == [] and board_data(again) == old

    refined = make_board({}, refinements=[_step()])
    write_leaderboard(refined, tmp_path / "refined.json")
    data = json.loads((tmp_path / "refined.json").read_text())
    check_integrity(data)
    assert data["refinements"][0]["added"] == [4, 16] and data["refinements"][0]["strata"][0]["k_star"] == 8
    data["refinements"][0]["added"] = [4]  # an edited refinement is an edited board
    with pytest.raises(ValueError, match="content_hash does not match"):
        check_integrity(data)
    assert read_leaderboard(tmp_path / "refined.json").refinements == [_step()]
    md = render_markdown(refined).replace("\\", "")  # markdown escapes the brackets
    assert ("- grid refined: model.refine around k_star, peak (2 per stratum, geometric) of widths [2, 8, 32]: "
            "added [4, 16] (p=0.2: k* 8, peak 16)") in md


def test_compare_names_a_refinement_and_the_widths_only_one_side_has():
    a = make_board({})
    b = make_board({}, refinements=[_step(added=(4, 16))])
    b.rows += [r.model_copy(update={"key": f"{r.key}-r", "width": w}) for r in a.rows if r.width == 8 for w in (4, 16)]
    cmp = compare(a, b)
    assert cmp.same_spec  # the same spec: only the refinement tells the grids apart
    assert "different width grids: only in B [4, 16]" in cmp.notes
    assert any(n.startswith("B's grid was refined: model.refine around k_star, peak") and "added [4, 16]" in n
               for n in cmp.notes)
    assert {"widths: [2, 8, 32] vs [2, 4, 8, 16, 32]", "refinement: — vs model.refine added [4, 16] around k_star, peak"} \
        <= set(cmp.provenance_differences)
    assert "B's grid was refined" in render_comparison_markdown(cmp)
    same = compare(b, b)
    assert not [n for n in same.notes if "grid" in n] and "widths" not in str(same.provenance_differences)


def test_only_the_refinements_that_made_a_grid_are_kept():
    first, second = _step(added=(4, 16)), _step("ddbench refine", base=(2, 4, 8, 16, 32), added=(12,))
    recorded = [first.model_dump(mode="json"), second.model_dump(mode="json")]
    assert kept_refinements(recorded, [2, 4, 8, 12, 16, 32]) == [first, second]  # the refined grid: both
    assert kept_refinements(recorded, [2, 4, 8, 16, 32]) == [first]
    assert kept_refinements(recorded, [2, 8, 32]) == []  # the base grid run again: none
    assert kept_refinements([_step(added=()).model_dump()], [2, 8, 32]) == []  # added nothing: nothing to keep


# --------------------------------------------------------------------------- end to end


RF = dict(family="random_features", rates="[0.0]", widths="[50, 100, 200, 400, 800]")


def _rf_text(tmp_path, block: str) -> str:
    """The tiny spec with random features (solved in closed form: seconds), refined with ``block``."""
    text = tiny_spec_text(epochs=1, **RF).replace("probes: [weight_norm]", "probes: []").replace(
        "  widths: [50, 100, 200, 400, 800]\n",
        f"  config: {{ridge: 0.0001}}\n  widths: [50, 100, 200, 400, 800]\n  refine: {block}\n")
    return text.replace("training:\n", "training:\n  loss: mse\n") + f"output_dir: {tmp_path / 'run'}\n"


@pytest.mark.slow
def test_a_run_refines_its_grid_and_ddbench_refine_adds_cells_in_place(tmp_path):
    from ddbench.run.analyse import reanalyse
    from ddbench.run.pipeline import run
    from ddbench.store.run_store import RunStore

    path = tmp_path / "spec.yaml"
    path.write_text(_rf_text(tmp_path, "{around: [k_star], points: 2}"))
    spec = load_spec_text(path.read_text())
    out = tmp_path / "run"
    first = run(spec, run_dir=out)
    board = first.leaderboard
    (step,) = board.refinements
    (stratum,) = step.strata
    k = stratum.k_star
    assert k is not None and step.base == [50, 100, 200, 400, 800] and len(step.added) == 2
    i = step.base.index(k)
    lo, hi = step.base[max(i - 1, 0)] if i else 1, step.base[min(i + 1, 4)]
    assert all(lo < w < hi for w in step.added) and not set(step.added) & set(step.base)
    assert sorted({r.width for r in board.rows}) == sorted(step.base + step.added) and first.trained == 7
    assert board.spec_hash == spec.spec_hash() and board.spec["model"]["widths"] == step.base  # the spec as written
    saved = {r.key: (r.attempts, r.metrics["test_error"]) for r in RunStore(out).records()}

    # ddbench refine: new widths around the refined grid's k*, only their cells trained, the rest untouched
    res = cli.invoke(app, ["refine", str(out), "--around", "k_star", "--points", "1", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "(1 trained this run)" in res.output
    after = load_leaderboard(out / "leaderboard.json")
    old, new = after.refinements
    assert old == step and new.source == "ddbench refine" and new.base == sorted(step.base + step.added)
    assert len(new.added) == 1 and new.strata[0].k_star in new.base
    records = {r.key: (r.attempts, r.metrics["test_error"]) for r in RunStore(out).records()}
    assert {key: records[key] for key in saved} == saved and len(records) == len(saved) + 1
    assert after.spec["model"]["widths"] == sorted(new.base + new.added) and "refine" not in after.spec["model"]

    # compare names the refinement; analyse of the spec as written gives its own refinement back
    cmp = compare(board, after)
    assert f"different width grids: only in B {new.added}" in cmp.notes
    assert any(n.startswith("B's grid was refined: ddbench refine around k_star") for n in cmp.notes)
    again = reanalyse(out, spec)
    assert again.refinements == [step] and [v.model_dump() for v in again.verdicts] == [
        v.model_dump() for v in board.verdicts]
    res = cli.invoke(app, ["refine", str(tmp_path / "nowhere")])
    assert res.exit_code == 1 and "not a ddbench run directory" in res.output
    res = cli.invoke(app, ["refine", str(out), "--points", "0"])
    assert res.exit_code == 2 and "--points 0" in res.output
    assert np.isfinite([r.test_error for r in after.rows]).all()
