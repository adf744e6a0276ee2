"""Every committed spec validates, and the published leaderboards match their specs."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ddbench.cli import app
from ddbench.leaderboard.compare import compare
from ddbench.leaderboard.schema import read_leaderboard
from ddbench.validate import load_spec

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
BOARDS = sorted((ROOT / "leaderboards").glob("*.json"))


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_committed_spec_validates(path):
    spec = load_spec(path)
    assert spec.hypotheses, "every committed spec tests at least one hypothesis"


def test_validate_all_specs_cli():
    res = CliRunner().invoke(app, ["validate", *map(str, SPECS)])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("path", BOARDS, ids=[p.name for p in BOARDS])
def test_published_leaderboard_matches_its_spec(path):
    board = read_leaderboard(path)
    spec = load_spec(ROOT / "specs" / f"{board.spec_name}.yaml")
    assert board.spec_hash == spec.spec_hash(), f"{path.name} was produced by another version of its spec; re-run it"
    assert compare(board, board).agree
