"""Power before and after a run (docs/science.md, Statistics, "Power"): planted pilots whose answer is known,
``ddbench plan --power`` on a tiny pilot run, and the estimate in a board's inconclusive reasons."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner
from util import tiny_spec_text
from zoo import WIDTHS, zoo

from ddbench.cli.app import app
from ddbench.hypotheses.cells import CellView
from ddbench.hypotheses.core import stratum_label
from ddbench.hypotheses.pilot import Pilot
from ddbench.hypotheses.power import NOT_ESTIMABLE, study
from ddbench.hypotheses.power_study import Design, PowerStudy, refinement
from ddbench.hypotheses.table import ResultTable
from ddbench.spec.grid import refine_widths
from ddbench.spec.validate import load_spec_text

STRATUM = stratum_label({"family": "mlp", "noise_rate": 0.2})


def spec_of(hypotheses: str = "[double_descent]", seeds: str = "[0, 1, 2]", widths=WIDTHS, **extra: str):
    text = tiny_spec_text(rates="[0.2]", widths=str(list(widths)), seeds=seeds, **extra)
    text = text.replace("hypotheses: [double_descent]", f"hypotheses: {hypotheses}")
    return load_spec_text(text.replace("probes: [weight_norm]", "probes: [weight_norm, class_activation]"))


def ratio_pilot(slope: float, sd: float, pairs: int = 3, seed: int = 0) -> ResultTable:
    """activation_ratio = 0.5 - slope * grid index, plus seed residuals in +/- pairs: the pilot's mean curve is
    exactly the planted one, so its effect (or its absence) is what the simulated runs inherit."""
    rng = np.random.default_rng(seed)
    resid = rng.normal(0, sd, size=(pairs, len(WIDTHS)))
    cells = []
    for s in range(2 * pairs):
        r = resid[s // 2] * (1 if s % 2 == 0 else -1)
        for i, w in enumerate(WIDTHS):
            cells.append(CellView(f"{s}-{w}", "mlp", {}, {}, w, 0.2, 0, s, "done", 10 * w,
                                  {"train_error": [0.6, 0.4, 0.2, 0.0, 0.0, 0.0, 0.0][i], "test_error": 0.2,
                                   "test_loss": 1.0},
                                  {}, {"class_activation": {"activation_ratio": 0.5 - slope * i + float(r[i])}}))
    return ResultTable(cells, lambda key: {})


def power_of(results, claim: str, label: str = STRATUM):
    (r,) = [r for r in results if r.claim == claim and r.label == label]
    return r


def test_a_strong_peak_with_tiny_spread_is_decided_at_three_seeds():
    table = zoo(lambda rate, seed, i: 0.4 if i == 3 else 0.1, seeds=(0, 1, 2), n_test=4000)
    spec = spec_of()
    results, _ = study(spec, Pilot(table, spec.analysis, "zoo", True), simulations=20, ladder=(3, 5))
    r = power_of(results, "double_descent.peak")
    assert r.planned.runs == 20 and r.planned.power >= 0.95 and r.planned.holds == r.planned.decided
    assert r.summary().startswith("power ") and "needs" not in r.summary()


def test_a_null_effect_is_not_decided_even_with_many_seeds():
    spec = spec_of("[class_activation]")
    pilot = Pilot(ratio_pilot(slope=0.0, sd=0.05), spec.analysis, "null", True)
    results, _ = study(spec, pilot, simulations=20, ladder=(3, 32))
    r = power_of(results, "class_activation.activation_ratio_decreases")
    assert r.planned.power <= 0.2 and r.seeds_needed is None and r.at_seeds.power < 0.5
    assert "needs more than 32 seeds" in r.summary()


def test_more_seeds_raise_the_power_of_a_noisy_real_effect():
    spec = spec_of("[class_activation]")
    ps = PowerStudy(spec, Pilot(ratio_pilot(slope=0.01, sd=0.05), spec.analysis, "trend", True),
                    simulations=40, seed=0)
    key = ("class_activation.activation_ratio_decreases", STRATUM)
    powers = [ps.run(Design(n, tuple(WIDTHS)), {"class_activation"}, {key})[key].power for n in (3, 8, 20)]
    assert powers[0] < powers[1] < powers[2] and powers[0] < 0.6 and powers[2] >= 0.8, powers
    results, _ = study(spec, ps.pilot, simulations=40, ladder=(3, 8, 20))
    r = power_of(results, key[0])
    assert r.seeds_needed in (8, 20) and f"needs ~{r.seeds_needed} seeds" in r.summary()


def test_error_curve_claims_need_per_point_arrays_below_three_seeds():
    table = zoo(lambda rate, seed, i: 0.3 if i == 3 else 0.1, seeds=(0, 1, 2), n_test=1000)
    spec = spec_of(seeds="[0]")
    from_board, _ = study(spec, Pilot(table, spec.analysis, "a board", has_arrays=False), simulations=20, ladder=(3,))
    r = power_of(from_board, "double_descent.peak")
    assert not r.estimable and r.summary().startswith(NOT_ESTIMABLE)
    assert r.at_seeds is not None and r.at_seeds.tested  # from 3 seeds on the rows suffice
    from_run, _ = study(spec, Pilot(table, spec.analysis, "a run", has_arrays=True), simulations=20, ladder=(3,))
    assert power_of(from_run, "double_descent.peak").estimable


def test_refinement_adds_what_ddbench_refine_would_around_k_star_and_the_peak():
    # targets 8, 16, 32 (window and k*): 4 widths (refine's default) in the gaps beside them, one per gap,
    # each a rounded geometric midpoint; the same rule as ``ddbench refine`` (spec.grid.refine_widths)
    assert refinement(WIDTHS, [8, 16, 32], 16) == ([6, 11, 23, 45], (4, 64))
    assert refinement(WIDTHS, [8, 16, 32], 16)[0] == refine_widths(WIDTHS, [8, 16, 32], 4, "geometric")
    assert refinement(WIDTHS, [15], None) == refinement(WIDTHS, [16], None)  # a target off the grid: its nearest
    assert refinement(WIDTHS, [], None) == ([], None)


def synthetic_run(spec, run_dir, test_error, seed: int = 0) -> None:
    """A run directory with a store of finished cells (no training): k* = 8, the given test errors."""
    from ddbench.plan import plan_cells
    from ddbench.store.run_store import RunStore

    rng = np.random.default_rng(seed)
    train = {2: 0.5, 4: 0.3, 8: 0.0, 16: 0.0, 32: 0.0}
    store = RunStore(run_dir)
    cells = plan_cells(spec)
    store.sync_cells(cells)
    for c in cells:
        e = float(test_error(c.width, c.seed))
        store.record(c.key, status="done", params=10 * c.width,
                     metrics={"train_error": train[c.width], "test_error": e, "test_loss": 2 * e, "epochs": 3},
                     arrays={"test_correct": rng.random(200) > e, "test_loss": np.full(200, 2 * e, np.float32)})
        store.record_probe(c.key, "weight_norm", "1", "ok", {"head_sq_norm": float(c.width)})
    store.close()


def test_plan_power_on_a_tiny_pilot_run(write_spec, tmp_path):
    path = write_spec(widths="[2, 4, 8, 16, 32]", seeds="[0, 1, 2]")
    spec = load_spec_text(path.read_text())
    synthetic_run(spec, tmp_path / "run", lambda w, s: (0.35 if w == 8 else 0.2) + 0.01 * s)
    res = CliRunner().invoke(app, ["plan", str(path), "--power", "--pilot", str(tmp_path / "run"),
                                   "--simulations", "20"])
    assert res.exit_code == 0, res.output
    assert "pilot: the run in" in res.output and "double_descent.peak" in res.output
    assert "noise_rate=0.2: power " in res.output and "simulated runs" in res.output
    res = CliRunner().invoke(app, ["plan", str(path), "--pilot", str(tmp_path / "run")])
    assert res.exit_code == 2 and "--pilot needs --power" in res.output


def test_an_inconclusive_verdict_says_what_it_needs_in_json_markdown_and_html(write_spec, tmp_path):
    from ddbench.leaderboard.html import glance_html, verdict_card
    from ddbench.leaderboard.rederive import rederive
    from ddbench.leaderboard.render import render_markdown
    from ddbench.leaderboard.schema import board_data
    from ddbench.run.analyse import analyse
    from ddbench.store.run_store import RunStore

    path = write_spec(widths="[2, 4, 8, 16, 32]", seeds="[0, 1, 2]")
    spec = load_spec_text(path.read_text())
    noise = np.random.default_rng(3).normal(0, 0.03, size=(3, 33))
    synthetic_run(spec, tmp_path / "run", lambda w, s: (0.24 if w == 8 else 0.2) + noise[s, w])
    store = RunStore.open_existing(tmp_path / "run")
    try:
        board, _ = analyse(spec, store, {})
        off, _ = analyse(spec.model_copy(update={"analysis": spec.analysis.model_copy(
            update={"power_simulations": 0})}), store, {})
    finally:
        store.close()
    (peak,) = [v for v in board.verdicts if v.claim == "double_descent.peak"]
    assert peak.verdict == "inconclusive" and "needs" in peak.reason, peak.reason
    (noisy,) = [s for s in peak.strata if s.stratum.get("noise_rate") == 0.2]
    assert "needs" in noisy.reason and noisy.detail["power"]["planned"]["runs"] >= 20
    assert board.analysis["power"]["pilot"] == "this run"
    assert "needs" in json.dumps(board_data(board)) and "needs" in render_markdown(board)
    assert "needs" in verdict_card(peak, board) and "needs" in glance_html(board)
    assert [v.model_dump(mode="json") for v in rederive(board)] == [v.model_dump(mode="json") for v in board.verdicts]
    assert "power" not in off.analysis and not any("needs" in v.reason for v in off.verdicts)
