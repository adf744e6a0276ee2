"""Malformed-input corpus, part 5: faulty plugins. A probe or a hypothesis that raises, returns garbage,
returns too much or hangs fails alone, with its reason; every other probe value and verdict is unchanged,
and the run goes on."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from malformed_util import BASE, invoke, sub

from ddbench import registry
from ddbench.hypotheses.base import Evidence, HypothesisPlugin
from ddbench.probes.base import ProbePlugin, run_probe

REPO = Path(__file__).resolve().parents[1]


def _probe(measure):
    return type("P", (ProbePlugin,), {"measure": lambda self, ctx, config: measure()})


# ------------------------------------------------------------------ a probe's output, at the boundary

BAD_OUTPUTS = [
    ("list", lambda: [1.0, 2.0], "returned a list, not a mapping"),
    ("none", lambda: None, "returned None, not a mapping"),
    ("string", lambda: "0.5", "returned a str, not a mapping"),
    ("mapping-object-key", lambda: {"a": {(1, 2): 1.0}}, "'a' has key (1, 2)"),
    ("object-in-mapping", lambda: {"a": {1: object()}}, "'a' is a object"),
    ("object", lambda: {"a": object()}, "'a' is a object"),
    ("object-array", lambda: {"a": np.array([1, "x"], dtype=object)}, "dtype object"),
    ("complex", lambda: {"a": 1 + 2j}, "'a' is a complex"),
    ("strings-in-array", lambda: {"a": [1.0, "x"]}, "list holding strings"),
    ("too-many-numbers", lambda: {"w": np.zeros(250_000)}, "more than 1,000 numbers"),
    ("too-many-in-lists", lambda: {f"v{i}": [0.0] * 100 for i in range(11)}, "more than 1,000 numbers"),
    ("self-holding-list", lambda: {"a": (lambda x: (x.append(x), x)[1])([])}, "nested more than"),
    ("long-string", lambda: {"a": "x" * 5000}, "5,000 characters"),
    ("bad-name", lambda: {3: 1.0}, "value name 3"),
    ("empty-name", lambda: {"": 1.0}, "value name ''"),
]


@pytest.mark.parametrize("make,reason", [c[1:] for c in BAD_OUTPUTS], ids=[c[0] for c in BAD_OUTPUTS])
def test_a_malformed_probe_output_fails_that_probe_with_the_reason(make, reason):
    res = run_probe(_probe(make), {}, None)
    assert res.status == "failed" and res.values == {}, res
    assert res.error.startswith("ProbeOutputError: ") and reason in res.error, res.error


NONFINITE = [
    ("inf", lambda: {"a": float("inf"), "b": 1.0}),
    ("minus-inf-numpy", lambda: {"a": np.float32("-inf")}),
    ("nan", lambda: {"a": float("nan")}),
    ("nan-in-array", lambda: {"a": np.array([1.0, np.nan])}),
    ("inf-in-list", lambda: {"a": [[1.0], [float("inf")]]}),
    ("nan-in-mapping", lambda: {"epochwise": {1: 0.5, 2: float("nan")}}),
]


@pytest.mark.parametrize("make", [c[1] for c in NONFINITE], ids=[c[0] for c in NONFINITE])
def test_non_finite_values_are_recorded_nan_never_ok(make):
    assert run_probe(_probe(make), {}, None).status == "nan"


def test_well_formed_values_pass_as_plain_json():
    values = {"a": np.float32(0.5), "n": np.int64(3), "flag": np.bool_(True), "none": None, "split": "test",
              "curve": np.arange(3.0), "nested": [[1, 2], [3, None]], "i": 7, "epochwise": {1: 0.25, 2: np.float64(1)}}
    res = run_probe(_probe(lambda: values), {}, None)
    assert res.status == "ok", res.error
    assert res.values == {"a": 0.5, "n": 3, "flag": True, "none": None, "split": "test", "curve": [0.0, 1.0, 2.0],
                          "nested": [[1, 2], [3, None]], "i": 7, "epochwise": {1: 0.25, 2: 1.0}}
    json.dumps(res.values, allow_nan=False)


# ------------------------------------------------------------------ a probe's time limit


def test_a_hung_probe_is_stopped_by_its_time_limit():
    def hang():
        try:
            time.sleep(60)
        except Exception:  # a probe that swallows errors does not swallow the time limit
            return {"a": 1.0}
        return {"a": 1.0}

    def spin():
        while True:
            pass

    for measure in (hang, spin):
        res = run_probe(_probe(measure), {}, None, time_limit=0.3)
        assert res.status == "failed" and "time limit of 0.3 s" in res.error and "time_limit" in res.error, res
        assert res.seconds < 30
    assert run_probe(_probe(lambda: {"a": 1.0}), {}, None, time_limit=0.3).status == "ok"  # the limit is gone after


def test_the_time_limit_changes_no_hash_when_default():
    from ddbench.spec.validate import load_spec_text

    spec = load_spec_text(BASE)
    assert spec.probes[0].time_limit == 3600.0 and "time_limit" not in spec.resolved()["probes"][0]
    same = load_spec_text(sub("probes: [weight_norm]", "probes: [{name: weight_norm, time_limit: 3600}]"))
    assert same.spec_hash() == spec.spec_hash()
    other = load_spec_text(sub("probes: [weight_norm]", "probes: [{name: weight_norm, time_limit: 5}]"))
    assert other.probes[0].time_limit == 5.0 and other.resolved()["probes"][0]["time_limit"] == 5.0
    assert type(other).model_validate(other.model_dump(mode="json")).probes[0].time_limit == 5.0


@pytest.mark.parametrize("value", ["0", "-1", ".inf", "true", "1.0e+9"])
def test_a_bad_time_limit_is_refused(tmp_path, value):
    from malformed_util import assert_refused

    spec = tmp_path / "spec.yaml"
    spec.write_text(sub("probes: [weight_norm]", f"probes: [{{name: weight_norm, time_limit: {value}}}]"))
    assert_refused(invoke("validate", spec), 2, "probes[0].time_limit")


STUCK = """
import signal, sys, time
from pathlib import Path
from ddbench.probes import limit
limit.GRACE_MIN_S = 0.3
from ddbench.execute.stuck import stop_stuck_run
from ddbench.plan import plan_cells
from ddbench.probes.base import ProbePlugin, run_probe
from ddbench.spec.validate import load_spec_text

class Stuck(ProbePlugin):
    def measure(self, ctx, config):
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])  # it cannot be interrupted
        time.sleep(60)

run_dir = Path(sys.argv[1])
cell = plan_cells(load_spec_text(Path(sys.argv[2]).read_text()))[0]
(run_dir / "cells" / cell.key).mkdir(parents=True)
run_probe(Stuck, {}, None, 0.3, on_stuck=lambda: stop_stuck_run(run_dir, cell, "stuck_probe", 0.3))
print("not reached")
"""


@pytest.fixture
def stuck_probe():
    calls = []

    def measure():
        calls.append(1)
        return {"a": 1.0}

    registry.probes.register("stuck_probe", version="0")(_probe(measure))
    yield calls
    registry.probes._items.pop("stuck_probe")
    registry.probes._origin.pop("stuck_probe")


def test_a_probe_that_cannot_be_interrupted_stops_the_run_and_is_recorded_on_resume(tmp_path, stuck_probe):
    from ddbench.execute.work import probe_cell
    from ddbench.plan import plan_cells
    from ddbench.spec.validate import load_spec_text

    text = sub("probes: [weight_norm]", "probes: [weight_norm, {name: stuck_probe, time_limit: 0.3}]")
    (tmp_path / "spec.yaml").write_text(BASE)  # the same cells: probes are not in a cell's key
    run_dir = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", STUCK, str(run_dir), str(tmp_path / "spec.yaml")], capture_output=True,
                          text=True, timeout=120, cwd=REPO, check=False)
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert "not reached" not in proc.stdout
    assert "stuck_probe" in proc.stderr and "could not be interrupted" in proc.stderr and "resume" in proc.stderr

    spec = load_spec_text(text)
    cell = plan_cells(spec)[0]
    (rec,) = probe_cell(spec, run_dir, cell, None, None, only={"stuck_probe"})
    assert rec.status == "failed" and "time limit of 0.3 s" in rec.error and "could not be interrupted" in rec.error
    assert stuck_probe == []  # recorded, never run again
    raised = load_spec_text(sub("time_limit: 0.3", "time_limit: 5", text))
    (rec,) = probe_cell(raised, run_dir, cell, None, None, only={"stuck_probe"})
    assert rec.status == "ok" and stuck_probe == [1]  # a larger limit runs it again


# ------------------------------------------------------------------ a run with faulty plugins


def _hypothesis(name, emit, claims=None):
    cls = type(name, (HypothesisPlugin,), {"claims": claims or {"c": "a claim"}, "description": "test plugin",
                                           "evidence": lambda self, table, config, analysis: emit(table)})
    return registry.hypotheses.register(name, version="0")(cls)


def _raise(table):
    raise RuntimeError("hypothesis exploded")


FAULTY_HYPOTHESES = {
    "hyp_returns_string": (lambda t: "holds", "returned a str, not a list of Evidence"),
    "hyp_returns_none": (lambda t: None, "returned None, not a list of Evidence"),
    "hyp_raises": (_raise, "RuntimeError: hypothesis exploded"),
    "hyp_returns_dicts": (lambda t: [{"claim": "hyp_returns_dicts.c"}], "a dict at position 0, not an Evidence"),
    "hyp_string_statistic": (lambda t: [Evidence("hyp_string_statistic.c", {"pooled": True}, "high")],
                             "statistic is a str, not a number"),
    "hyp_detail_object": (lambda t: [Evidence("hyp_detail_object.c", {"pooled": True}, 0.5, np.zeros(200),
                                              detail={"x": object()})], "detail is not JSON data"),
    "hyp_bad_samples": (lambda t: [Evidence("hyp_bad_samples.c", {"pooled": True}, 0.5, samples=np.zeros(0))],
                        "samples is a ndarray, not a non-empty one-dimensional array"),
    "hyp_nan_statistic": (lambda t: [Evidence("hyp_nan_statistic.c", {"pooled": True}, float("nan"), np.zeros(200))],
                          "the statistic is nan (not a finite number)"),
}

FAULTY_PROBES = {
    "probe_returns_list": (lambda: [1.0, 2.0], "failed", "returned a list, not a mapping"),
    "probe_returns_inf": (lambda: {"a": float("inf")}, "nan", None),
    "probe_returns_250k": (lambda: {"w": np.zeros(250_000)}, "failed", "more than 1,000 numbers"),
    "probe_hangs": (lambda: time.sleep(60), "failed", "time limit of 0.5 s"),
}


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    """One tiny run with every faulty plugin above beside the built-in ones; then `analyse` of the same run
    with only the built-in hypothesis, to compare its verdicts."""
    added = []
    for name, (emit, _) in FAULTY_HYPOTHESES.items():
        _hypothesis(name, emit)
        added.append((registry.hypotheses, name))
    for name, (measure, _, _) in FAULTY_PROBES.items():
        registry.probes.register(name, version="0")(_probe(measure))
        added.append((registry.probes, name))
    tmp = tmp_path_factory.mktemp("faulty")
    probes = ", ".join(f"{{name: {n}, time_limit: 0.5}}" if n == "probe_hangs" else n for n in FAULTY_PROBES)
    text = sub("probes: [weight_norm]", f"probes: [weight_norm, {probes}]")
    text = sub("hypotheses: [double_descent]", f"hypotheses: [double_descent, {', '.join(FAULTY_HYPOTHESES)}]", text)
    spec = tmp / "spec.yaml"
    spec.write_text(text + f"output_dir: {tmp / 'run'}\n")
    res = invoke("run", spec, "-q")
    board = json.loads((tmp / "run" / "leaderboard.json").read_text())
    size = (tmp / "run" / "leaderboard.json").stat().st_size
    alone = tmp / "alone.yaml"
    alone.write_text(BASE + f"output_dir: {tmp / 'run'}\n")
    res_alone = invoke("analyse", alone)
    board_alone = json.loads((tmp / "run" / "leaderboard.json").read_text())
    from ddbench.store.run_store import RunStore

    store = RunStore.open_existing(tmp / "run")
    probe_values = store.probe_values()
    store.close()
    yield {"res": res, "board": board, "size": size, "res_alone": res_alone, "board_alone": board_alone,
           "probes": probe_values}
    for reg, name in added:
        reg._items.pop(name)
        reg._origin.pop(name)


def test_the_run_with_faulty_plugins_finishes(faulty_run):
    assert faulty_run["res"].exit_code == 0, faulty_run["res"].output
    assert "internal error" not in faulty_run["res"].output


@pytest.mark.parametrize("name", list(FAULTY_PROBES))
def test_each_faulty_probe_fails_alone_with_its_reason(faulty_run, name):
    _, status, reason = FAULTY_PROBES[name]
    for cell in faulty_run["probes"].values():
        assert cell[name]["status"] == status, cell[name]
        if reason:
            assert reason in cell[name]["error"], cell[name]["error"]
        assert cell["weight_norm"]["status"] == "ok" and math.isfinite(cell["weight_norm"]["values"]["total_sq_norm"])
    assert faulty_run["size"] < 1_000_000  # nothing of the 250,000 values reached leaderboard.json


@pytest.mark.parametrize("name", list(FAULTY_HYPOTHESES))
def test_each_faulty_hypothesis_is_inconclusive_with_its_reason(faulty_run, name):
    (v,) = [v for v in faulty_run["board"]["verdicts"] if v["hypothesis"] == name]
    assert v["verdict"] == "inconclusive" and v["claim"] == f"{name}.c", v
    assert FAULTY_HYPOTHESES[name][1] in v["reason"], v["reason"]


def test_the_other_verdicts_are_unchanged(faulty_run):
    assert faulty_run["res_alone"].exit_code == 0, faulty_run["res_alone"].output

    def dd(board):
        return [(v["claim"], v["verdict"], v["statistic"], v["ci"], [(s["verdict"], s["ci"]) for s in v["strata"]])
                for v in board["verdicts"] if v["hypothesis"] == "double_descent"]

    assert dd(faulty_run["board"]) == dd(faulty_run["board_alone"]) and dd(faulty_run["board"])


def test_evidence_that_cannot_be_decided_fails_only_its_hypothesis(monkeypatch):
    from ddbench.hypotheses import evaluate as ev

    ok = _hypothesis("hyp_decidable", lambda t: None)
    bad = _hypothesis("hyp_undecidable", lambda t: None, claims={"a": "one", "b": "two"})
    try:
        evs = [Evidence("hyp_decidable.c", {"pooled": True}, 0.5, np.full(200, 0.5) + np.linspace(0, 0.01, 200))]
        expected, _ = ev.decide([(ok, evs)], 0.05)
        real = ev.decide

        def decide(results, alpha):
            if results and results[0][0] is bad and results[0][1] and results[0][1][0].reason != "":
                return real(results, alpha)
            if results and results[0][0] is bad:
                raise ZeroDivisionError("a bug in the evidence")
            return real(results, alpha)

        monkeypatch.setattr(ev, "decide", decide)
        notes: list[str] = []
        verdicts, analysis = ev.decide_each([(ok, evs), (bad, [Evidence("hyp_undecidable.a", {}, 1.0)])], 0.05, notes)
    finally:
        for name in ("hyp_decidable", "hyp_undecidable"):
            registry.hypotheses._items.pop(name)
            registry.hypotheses._origin.pop(name)
    assert verdicts[0] == expected[0]
    assert [(v.claim, v.verdict) for v in verdicts[1:]] == [("hyp_undecidable.a", "inconclusive"),
                                                             ("hyp_undecidable.b", "inconclusive")]
    assert all("cannot be decided (ZeroDivisionError: a bug in the evidence)" in v.reason for v in verdicts[1:])
    assert set(analysis["families"]) == {"hyp_decidable", "hyp_undecidable"} and "hyp_undecidable" in notes[0]


# ------------------------------------------------------------------ run --dry-run on a huge grid


def test_dry_run_of_a_huge_grid_builds_no_model(tmp_path, monkeypatch):
    """50,000 cells: planned as fast as they are counted (no Keras model is built to size them), listed in part."""
    from ddbench.cli import planview
    from ddbench.memory import CellCost

    built = []
    monkeypatch.setattr(CellCost, "activations", lambda self, cell: built.append(cell) or 0)
    spec = tmp_path / "big.yaml"
    spec.write_text(sub("widths: [2, 8]", "widths: {range: [1, 5001]}")
                    + "seeds: [0, 1, 2, 3, 4]\n" + f"output_dir: {tmp_path / 'run'}\n")
    res = invoke("run", spec, "--dry-run", "--yes")
    assert res.exit_code == 0, res.output
    assert built == [] and "50000 cells" in res.output and f"the first {planview.MAX_LISTED} of 50000 cells" in res.output
    assert "memory is not estimated" in res.output
    assert not (tmp_path / "run").exists()
