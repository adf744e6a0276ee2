"""`leaderboard compare` classification, provenance, per-width differences, integrity and 80-column output.

Every leaderboard here is synthetic: known verdicts, intervals and test errors, so each
expected status is known in advance.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from util import tiny_spec_text

from ddbench.leaderboard.compare import (
    AGREE,
    FLIP,
    NOT_COMPARABLE,
    RESOLUTION,
    Side,
    classify,
    compare,
)
from ddbench.leaderboard.compare_render import (
    comparison_json,
    render_comparison_markdown,
)
from ddbench.leaderboard.integrity import (
    IntegrityError,
    check_board,
    check_integrity,
    load_leaderboard,
)
from ddbench.leaderboard.io import write_leaderboard
from ddbench.leaderboard.schema import (
    Leaderboard,
    Row,
    StratumVerdict,
    Verdict,
    content_hash,
)
from ddbench.spec.validate import load_spec_text

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = [2, 8, 32]
LONG = "class_activation.cam_similarity_decreases"
# claim -> noise rate -> (verdict, statistic, CI)
Claims = dict[str, dict[float, tuple[str, float, tuple[float, float] | None]]]


def make_board(claims: Claims, *, seeds: list[int] = (0,), rates: list[float] = (0.0, 0.2), dataset: str = "mnist1d",
               backend: str = "tensorflow", unit: str | None = None, errors: dict[float, list[float]] | None = None,
               epochs: int = 6, **extra: Any) -> Leaderboard:
    """A leaderboard over a valid tiny spec (so its spec hash is real) with the given verdicts.

    ``errors``: per noise rate, the test error of seed s at every width is ``errors[p][s]``."""
    seeds = list(seeds)
    text = tiny_spec_text(rates=str(list(rates)), widths=str(WIDTHS), epochs=epochs, seeds=str(seeds))
    spec = load_spec_text(text.replace("name: mnist1d", f"name: {dataset}"), check=False)
    rows = []
    for p in rates:
        for w in WIDTHS:
            for s in seeds:
                te = (errors or {}).get(p, [0.3 + 0.01 * s] * (s + 1))[s]
                rows.append(Row(key=f"w{w}-p{p}-s{s}", status="done", family="mlp", width=w, config={"depth": 1},
                                params=10 * w, noise_rate=p, noise_seed=0, seed=s, train_error=0.0, test_error=te,
                                test_loss=2 * te))
    verdicts = []
    for claim, strata in claims.items():
        sv = [StratumVerdict(stratum={"family": "mlp", "noise_rate": p}, verdict=v, statistic=st, ci=ci, threshold=0.01,
                             detail={"seeds": len(seeds)}, **({"unit": unit} if unit else {}))
              for p, (v, st, ci) in strata.items()]
        head = sv[0]
        verdicts.append(Verdict(hypothesis=claim.split(".")[0], hypothesis_version="1", claim=claim,
                                verdict=head.verdict, statistic=head.statistic, ci=head.ci, threshold=0.01, strata=sv))
    return Leaderboard(ddbench_version="0.1.0", created="2026-01-01T00:00:00Z", backend=backend, device="cpu",
                       versions={"keras": "3.15.1"}, spec_name=spec.name, spec_hash=spec.spec_hash(),
                       spec=spec.resolved(), plugins={"hypotheses": {"double_descent": "1"}},
                       analysis={"bootstrap": 200, "correction": "holm"}, rows=rows, verdicts=verdicts, **extra)


def status_of(cmp: Any, claim: str, stratum: str) -> tuple[str, str]:
    (c,) = [c for c in cmp.claims if c.claim == claim and c.stratum == stratum]
    return c.status, c.why


# --------------------------------------------------------------------------- classification


QUICK_1 = {"double_descent.peak": {0.2: ("holds", 0.05, (0.04, 0.06))},
           "double_descent.loss_peak": {0.2: ("holds", 1.1, (1.0, 1.2))},
           LONG: {0.2: ("inconclusive", -0.9, (-1.0, 1.0))},
           "smoothness.noisy_sharper": {0.2: ("holds", 2.0, (1.9, 2.1))}}
QUICK_3 = {"double_descent.peak": {0.2: ("holds", 0.04, (0.02, 0.06))},
           "double_descent.loss_peak": {0.2: ("inconclusive", 0.6, (-0.1, 1.3))},
           LONG: {0.2: ("holds", -0.5, (-0.8, -0.2))},
           # a 1-seed interval (resampling points) says nothing about seed spread: not a contradiction
           "smoothness.noisy_sharper": {0.2: ("fails", 0.5, (0.2, 0.8))}}


@pytest.mark.parametrize("units", [(None, None), ("test_points", "test_points"), ("test_points", "seeds")],
                         ids=["units not recorded", "points both", "points vs seeds"])
def test_one_seed_vs_three_seeds_is_resolution_change_not_flip(units: tuple[str | None, str | None]) -> None:
    a = make_board(QUICK_1, seeds=[0], unit=units[0])
    b = make_board(QUICK_3, seeds=[0, 1, 2], unit=units[1])
    cmp = compare(a, b)
    assert status_of(cmp, "double_descent.peak", "p=0.2")[0] == AGREE
    for claim in ("double_descent.loss_peak", LONG, "smoothness.noisy_sharper"):
        status, why = status_of(cmp, claim, "p=0.2")
        assert status == RESOLUTION and "seeds 1 vs 3" in why, (claim, status, why)
    assert not any(c.status == FLIP for c in cmp.claims)
    assert cmp.exit_code() == 0 and cmp.exit_code(strict=True) == 1
    assert any(d.startswith("seeds: [0] vs [0, 1, 2]") for d in cmp.provenance_differences)


def test_flip_needs_disjoint_intervals_on_the_same_footing() -> None:
    base = {"double_descent.peak": {0.2: ("holds", 0.05, (0.03, 0.07))}}
    disjoint = {"double_descent.peak": {0.2: ("fails", -0.02, (-0.04, 0.0))}}
    overlapping = {"double_descent.peak": {0.2: ("fails", 0.0, (-0.02, 0.04))}}
    cmp = compare(make_board(base, seeds=[0, 1, 2]), make_board(disjoint, seeds=[0, 1, 2]))
    assert status_of(cmp, "double_descent.peak", "p=0.2")[0] == FLIP and cmp.exit_code() == 1
    cmp = compare(make_board(base, seeds=[0, 1, 2]), make_board(overlapping, seeds=[0, 1, 2]))
    assert status_of(cmp, "double_descent.peak", "p=0.2") == (RESOLUTION, "holds vs fails, intervals overlap")
    assert cmp.exit_code() == 0
    # 3 vs 5 seeds, both resampling seeds: disjoint intervals are a flip
    cmp = compare(make_board(base, seeds=[0, 1, 2], unit="seeds"), make_board(disjoint, seeds=[0, 1, 2, 3, 4], unit="seeds"))
    assert status_of(cmp, "double_descent.peak", "p=0.2")[0] == FLIP
    # one seed on both sides (e.g. the same spec under two backends): disjoint intervals are a flip too
    cmp = compare(make_board(base, unit="test_points"), make_board(disjoint, unit="test_points", backend="jax"))
    assert status_of(cmp, "double_descent.peak", "p=0.2")[0] == FLIP


def test_not_comparable_and_why() -> None:
    a = make_board({"double_descent.peak": {0.0: ("not_applicable", 0.0, None), 0.2: ("holds", 0.05, (0.03, 0.07))},
                    "smoothness.noisy_sharper": {0.2: ("holds", 2.0, (1.9, 2.1))}}, seeds=[0, 1, 2], unit="seeds")
    b = make_board({"double_descent.peak": {0.0: ("holds", 0.02, (0.015, 0.03)), 0.2: ("holds", 0.05, (0.03, 0.07))}},
                   seeds=[0, 1, 2], unit="test_points", rates=[0.0, 0.2])
    cmp = compare(a, b)
    status, why = status_of(cmp, "double_descent.peak", "p=0")
    assert status == NOT_COMPARABLE and why.startswith("resampling units differ")
    assert status_of(cmp, "smoothness.noisy_sharper", "p=0.2") == (NOT_COMPARABLE, "hypothesis smoothness not tested in B")
    # not applicable on one side
    assert classify(Side("not_applicable", reason="k* not reached"), Side("holds", 0.1, (0.05, 0.2)))[0] == NOT_COMPARABLE
    # another threshold is another claim
    assert classify(Side("holds", 0.1, (0.05, 0.2), threshold=0.01), Side("holds", 0.1, (0.05, 0.2), threshold=0.02))[0] \
        == NOT_COMPARABLE


def test_missing_noise_rate_and_other_dataset() -> None:
    claims = {"double_descent.peak": {0.1: ("holds", 0.05, (0.03, 0.07)), 0.2: ("holds", 0.05, (0.03, 0.07))}}
    a = make_board(claims, rates=[0.1, 0.2])
    b = make_board({"double_descent.peak": {0.2: ("holds", 0.05, (0.03, 0.07))}}, rates=[0.2])
    cmp = compare(a, b)
    assert status_of(cmp, "double_descent.peak", "p=0.1") == (NOT_COMPARABLE, "noise rate 0.1 not in B")
    assert status_of(cmp, "double_descent.peak", "p=0.2")[0] == AGREE
    other = compare(a, make_board(claims, rates=[0.1, 0.2], dataset="cifar10"))
    assert {c.status for c in other.claims} == {NOT_COMPARABLE}
    assert all("different datasets: mnist1d vs cifar10" in c.why for c in other.claims)
    assert other.exit_code(strict=True) == 0 and not other.widths


def test_provenance_differences_are_flagged() -> None:
    claims = {"double_descent.peak": {0.2: ("holds", 0.05, (0.03, 0.07))}}
    a = make_board(claims, backend="tensorflow")
    # the cell identity as `ddbench run` records it in summary.identity (backend, Keras major.minor, precision)
    b = make_board(claims, backend="jax", summary={"identity": {"backend": "jax", "keras": "3.16", "precision": "bfloat16"}})
    b.plugins = {"hypotheses": {"double_descent": "2"}}
    cmp = compare(a, b)
    diffs = {d.split(":")[0]: d for d in cmp.provenance_differences}
    assert diffs["backend"] == "backend: tensorflow vs jax"
    assert diffs["precision"] == "precision: float32 vs bfloat16"
    assert diffs["keras"] == "keras: 3.15 vs 3.16"
    assert diffs["hypotheses.double_descent"] == "hypotheses.double_descent: 1 vs 2"
    assert "seeds" not in diffs
    md = render_comparison_markdown(cmp)
    assert "provenance differs: backend, precision, keras, hypotheses.double_descent" in md


def test_per_width_differences_beside_seed_spread() -> None:
    claims = {"double_descent.peak": {0.2: ("holds", 0.05, (0.03, 0.07))}}
    a = make_board(claims, seeds=[0, 1], rates=[0.2], errors={0.2: [0.30, 0.32]})
    b = make_board(claims, seeds=[0, 1], rates=[0.2], errors={0.2: [0.35, 0.37]})
    cmp = compare(a, b)
    err = [d for d in cmp.widths if d.metric == "test_error"]
    assert [d.width for d in err] == WIDTHS
    d = err[0]
    assert d.delta == pytest.approx(0.05) and d.sd_a == pytest.approx(0.0141421, rel=1e-4) and d.n_b == 2
    loss = next(d for d in cmp.widths if d.metric == "test_loss")
    assert loss.delta == pytest.approx(0.10)
    md = render_comparison_markdown(cmp)
    assert "largest |Δ test error| 0.0500 at width 2, 3.5 x the larger seed sd" in md
    assert "largest per-width |Δ mean test error|: 0.0500 (p=0.2, width 2; 3.5 x the larger seed sd)" in md
    data = json.loads(json.dumps(comparison_json(cmp)))
    assert data["widths"][0]["delta"] == pytest.approx(0.05) and data["exit_code"] == 0


# --------------------------------------------------------------------------- integrity


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.name)
def test_resolved_spec_round_trips_to_its_hash(path: Path) -> None:
    """The integrity check re-hashes the resolved spec: it must give back the run's own hash for every recipe."""
    from ddbench.leaderboard.integrity import recomputed_spec_hash
    from ddbench.spec.validate import load_spec

    spec = load_spec(path)
    assert recomputed_spec_hash(json.loads(json.dumps(spec.resolved()))) == spec.spec_hash()


def _written(tmp_path: Path, name: str = "board.json", **kw: Any) -> Path:
    path = tmp_path / name
    write_leaderboard(make_board(QUICK_1, **kw), path)
    return path


def _edit(path: Path, change: Any) -> Path:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1))
    return path


def test_untampered_leaderboard_loads_and_its_hash_is_stable(tmp_path: Path) -> None:
    path = _written(tmp_path)
    board = load_leaderboard(path)
    assert board.content_hash.startswith("sha256:") and len(board.content_hash) == 7 + 64
    write_leaderboard(board, tmp_path / "again.json")  # read and written again: the same hash
    assert json.loads((tmp_path / "again.json").read_text())["content_hash"] == board.content_hash
    data = json.loads(path.read_text())
    assert content_hash(data) == data["content_hash"]
    check_integrity(data, path)
    # any reader that validates the file's data can have it checked (the hash is taken while validating)
    other = Leaderboard.model_validate(data)
    assert other.read_hash == data["content_hash"]
    check_board(other, path)
    other.rows[0].test_error = 0.5  # an edit after reading is not what was read: the read hash still rules
    check_board(other, path)
    with pytest.raises(IntegrityError, match="content_hash does not match"):
        check_board(Leaderboard.model_validate({**data, "verdicts": data["verdicts"][:1]}), path)


@pytest.mark.parametrize("case", ["epochs 6 -> 60", "hash replaced", "row number", "verdict", "no content hash",
                                  "not a spec"])
def test_tampered_leaderboard_refused(tmp_path: Path, case: str) -> None:
    def epochs(d: dict) -> None:
        assert d["spec"]["training"]["epochs"] == 6
        d["spec"]["training"]["epochs"] = 60

    other_hash = load_spec_text(tiny_spec_text(epochs=60), check=False).spec_hash()
    change, message = {
        "epochs 6 -> 60": (epochs, "does not match its resolved spec"),
        "hash replaced": (lambda d: d.update(spec_hash=other_hash), f"spec_hash {other_hash} does not match"),
        "row number": (lambda d: d["rows"][3].update(test_error=0.1), "content_hash does not match"),
        "verdict": (lambda d: d["verdicts"][2].update(verdict="holds"), "content_hash does not match"),
        "no content hash": (lambda d: d.pop("content_hash"), "no content_hash"),
        "not a spec": (lambda d: d["spec"]["training"].update(bogus=1), "training.bogus: Extra inputs are not permitted"),
    }[case]
    path = _edit(_written(tmp_path), change)
    with pytest.raises(IntegrityError, match="refused") as err:
        load_leaderboard(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def _cli(*args: str) -> subprocess.CompletedProcess:
    """The real command line in a fresh process at COLUMNS=80, as in a pipe or a CI log."""
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "ddbench.cli", "leaderboard", *args], env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def _invoke(monkeypatch: Any, *args: str) -> Any:
    """The command line in this process (faster), its console 80 columns wide."""
    from rich.console import Console
    from typer.testing import CliRunner

    from ddbench.cli import common
    from ddbench.cli.app import app

    monkeypatch.setattr(common, "console", Console(width=80, soft_wrap=True))
    monkeypatch.setattr(common, "err", Console(stderr=True, width=80, soft_wrap=True))
    return CliRunner().invoke(app, ["leaderboard", *args])


def test_cli_refuses_edited_leaderboard_with_one_line(tmp_path: Path, monkeypatch: Any) -> None:
    good = _written(tmp_path, "good.json")
    bad = _edit(_written(tmp_path, "bad.json"), lambda d: d["rows"][0].update(test_error=0.99))
    for args in (["show", str(bad)], ["compare", str(good), str(bad)]):
        res = _invoke(monkeypatch, *args)
        assert res.exit_code == 2, res.output
        assert "content_hash does not match" in res.stderr and res.stdout == ""


# --------------------------------------------------------------------------- formats and 80 columns


def test_show_and_compare_at_80_columns_keep_claim_names_whole(tmp_path: Path) -> None:
    a = _written(tmp_path, "a.json", seeds=[0])
    b = tmp_path / "b.json"
    write_leaderboard(make_board(QUICK_3, seeds=[0, 1, 2]), b)
    for args in (["show", str(a)], ["compare", str(a), str(b)]):
        res = _cli(*args)
        assert res.returncode == 0, res.stdout + res.stderr
        lines = res.stdout.splitlines()
        for claim in QUICK_1:
            assert any(claim in line for line in lines), f"{claim} broken in\n{res.stdout}"
        assert max(len(line) for line in lines) <= 80, res.stdout  # a terminal would cut longer lines anywhere
    assert "resolution change" in res.stdout and "flip" not in res.stdout.replace("no flip", "")


def test_formats_md_and_json_and_exit_codes(tmp_path: Path, monkeypatch: Any) -> None:
    a = _written(tmp_path, "a.json")
    res = _invoke(monkeypatch, "compare", str(a), str(a), "--format", "json")
    data = json.loads(res.stdout)
    assert res.exit_code == 0 and data["counts"] == {"agree": 4} and data["a"]["backend"] == "tensorflow"
    res = _invoke(monkeypatch, "compare", str(a), str(a), "--format", "md")
    assert res.stdout.startswith("# ddbench leaderboard comparison") and f"| {LONG} | p=0.2 | agree |" in res.stdout
    res = _invoke(monkeypatch, "show", str(a), "--format", "json")
    assert json.loads(res.stdout)["content_hash"] == json.loads(a.read_text())["content_hash"]
    res = _invoke(monkeypatch, "show", str(a), "--format", "md")
    assert res.stdout.startswith("# ddbench leaderboard: tiny") and f"| {LONG} |" in res.stdout
    # a flip exits 1; resolution changes exit 1 only with --strict
    flip = tmp_path / "flip.json"
    write_leaderboard(make_board({**QUICK_1, "double_descent.peak": {0.2: ("fails", -0.05, (-0.06, -0.04))}}), flip)
    assert _invoke(monkeypatch, "compare", str(a), str(flip)).exit_code == 1
    more = tmp_path / "more.json"
    write_leaderboard(make_board(QUICK_3, seeds=[0, 1, 2]), more)
    assert _invoke(monkeypatch, "compare", str(a), str(more), "-f", "md").exit_code == 0
    assert _invoke(monkeypatch, "compare", str(a), str(more), "--strict").exit_code == 1


@pytest.mark.parametrize("width", [60, 80, 120, 200])
def test_tables_never_cut_names_at_any_width(width: int) -> None:
    from rich.console import Console

    from ddbench.leaderboard.render import print_board

    board = make_board({**QUICK_1, LONG: {0.2: ("inconclusive", -0.9, (-1.0, 1.0))}})
    board.verdicts[2].strata[0].reason = "a long reason " * 12
    console = Console(file=io.StringIO(), width=width, record=True)
    print_board(board, console)
    text = console.export_text()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= width
    for claim in QUICK_1:
        assert sum(claim in line for line in lines) >= 2, f"{claim} cut at {width} columns:\n{text}"  # table + matrix
    horizontal = any(line.startswith("claim ") and "verdict" in line and "reason" in line for line in lines)
    if width != 120:  # (at 120 it depends on the numbers' widths)
        assert horizontal == (width == 200)
