"""``ddbench leaderboard summary``: one row per claim across leaderboards, its consensus, the settings
that differ; leaderboards/README.md's claim table is exactly what it writes."""

import json
import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ddbench import catalog
from ddbench.cli.app import app
from ddbench.leaderboard.integrity import load_leaderboard
from ddbench.leaderboard.summary import BoardRef, consensus, summarise
from ddbench.leaderboard.summary_render import render_html, render_markdown, rich_items

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- BEGIN: ddbench leaderboard summary --format md -->\n", "<!-- END: ddbench leaderboard summary --format md -->"
cli = CliRunner()


def test_leaderboards_readme_holds_what_summary_writes():
    res = cli.invoke(app, ["leaderboard", "summary", "--format", "md"])
    assert res.exit_code == 0, res.output
    text = (ROOT / "leaderboards" / "README.md").read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    block = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    assert block == res.output, ("leaderboards/README.md's claim table is not what `ddbench leaderboard summary "
                                 "--format md` writes: paste its output between the two comments")


@pytest.mark.parametrize("verdicts, word", [
    (["holds", "holds", "not_applicable"], "holds everywhere"),
    (["fails"], "fails everywhere"),
    (["holds", "fails"], "mixed"),
    (["holds", "inconclusive"], "mixed"),
    (["inconclusive", "not_applicable"], "undecided"),
    (["not_applicable"], "undecided"),
    ([], "undecided"),
])
def test_consensus(verdicts, word):
    assert consensus(verdicts) == word


def _ref(name):
    return BoardRef(name, load_leaderboard(ROOT / "leaderboards" / f"{name}.json"), f"{name}.html")


def test_one_row_per_claim_with_every_recipe_and_the_settings_that_differ():
    rows = {r.claim: r for r in summarise([_ref("quickstart"), _ref("quickstart-3seeds"), _ref("gu-digits-fcnn")])}
    peak = rows["double_descent.peak"]
    assert [e.board for e in peak.entries] == ["quickstart", "quickstart-3seeds", "gu-digits-fcnn"]
    assert [e.verdict for e in peak.entries] == ["holds"] * 3 and peak.consensus == "holds everywhere"
    assert peak.differs["seeds"] == ["1", "3"] and peak.differs["dataset"] == ["digits", "mnist1d"]
    assert peak.differs["resampled over"] == ["seeds", "test_points"]
    assert "family" not in peak.differs  # all three are MLPs
    only = rows["low_rank.depth_lowers_rank"]
    assert [e.board for e in only.entries] == ["quickstart", "quickstart-3seeds"] and only.consensus == "undecided"


def test_summary_by_name_and_path_as_json_and_html(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = ROOT / "leaderboards" / "quickstart-3seeds.json"
    res = cli.invoke(app, ["leaderboard", "summary", "quickstart", str(path), "--format", "json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert [b["name"] for b in data["boards"]] == ["quickstart", str(path)]
    assert [b["report"] for b in data["boards"]] == ["quickstart.html", str(path.with_suffix(".html"))]
    claim = next(c for c in data["claims"] if c["claim"] == "double_descent.peak")
    assert claim["consensus"] == "holds everywhere" and claim["differs"]["seeds"] == ["1", "3"]
    assert claim["verdicts"][0]["settings"]["epochs"] == "200"
    res = cli.invoke(app, ["leaderboard", "summary", "quickstart", "--format", "html"])
    assert res.exit_code == 0 and res.output.startswith("<!DOCTYPE html>")
    assert '<a href="quickstart.html">quickstart</a>' in res.output and "<script" not in res.output


def test_summary_without_arguments_covers_every_published_leaderboard():
    res = cli.invoke(app, ["leaderboard", "summary", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert [b["name"] for b in json.loads(res.output)["boards"]] == catalog.names(catalog.BOARDS)
    res = cli.invoke(app, ["leaderboard", "summary"], env={"COLUMNS": "80"})
    assert res.exit_code == 0 and "double_descent.peak" in res.output and "holds everywhere" in res.output


def test_summary_refuses_an_unknown_name_or_a_bad_file(tmp_path):
    res = cli.invoke(app, ["leaderboard", "summary", "quickstar"])
    assert res.exit_code == 2 and "did you mean 'quickstart'" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    res = cli.invoke(app, ["leaderboard", "summary", str(bad)])
    assert res.exit_code == 2 and "Traceback" not in res.output


HOSTILE = "<script>alert(1)</script> | `x` **b** [l](javascript:y) _i_\n# h"


def test_untrusted_strings_are_escaped_in_every_view():
    board = load_leaderboard(ROOT / "leaderboards" / "quickstart.json")
    verdicts = [v.model_copy(update={"description": HOSTILE}) for v in board.verdicts]
    board = board.model_copy(update={"verdicts": verdicts})
    refs = [BoardRef("q|`<b>`[red]r[/red]", board, "javascript:alert(1)")]
    rows = summarise(refs)
    md = render_markdown(rows)
    table = [line for line in md.splitlines() if line.startswith("| `")]
    assert len(table) == len(rows)  # no newline or pipe broke a row
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 6 for line in table)  # 5 columns: 6 unescaped pipes
    assert "<script>" not in md and "\\<script\\>" in md and "[l](" not in md and "\\*\\*b\\*\\*" in md
    assert "`q\\|'<b>'[red]r[/red]`" in md  # a name in a code span: its pipe escaped, its backticks cannot close the span
    page = render_html(rows, [r.label for r in refs])
    assert "<script>" not in page and "&lt;script&gt;" in page and 'href="./javascript:alert(1)"' in page
    console = Console(record=True, width=100)
    for item in rich_items(rows, [r.label for r in refs]):
        console.print(item)
    assert "q|`<b>`[red]r[/red]: holds" in console.export_text()  # shown as text, never read as markup
