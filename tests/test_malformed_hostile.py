"""Malformed-input corpus, part 4: hostile files. A leaderboard, a spec, a run directory or a dataset someone
else wrote is untrusted: its strings reach markdown, HTML and the terminal as text only, a link planted in a
run directory is never written through, and a dataset of pickled objects is refused."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from malformed_util import BASE, assert_refused, invoke, snapshot, sub
from test_malformed_files import PUBLISHED, _checkpoint, make_store

from ddbench.leaderboard.io import read_leaderboard, write_leaderboard
from ddbench.store.run_store import DB_NAME, RunStore

#: markup and escape sequences of every kind a view could pass on
HOSTILE = ("<script>alert(1)</script><img src=x onerror=alert(2)> [click](javascript:alert(3)) <javascript:alert(4)> "
           "![i](javascript:alert(5)) \\[esc](javascript:alert(6)) [ref]: javascript:alert(7) "
           "\x1b]8;;http://evil.example/\x1b\\hyperlink\x1b]8;;\x1b\\ \x1b[2J\x1b[H\x1b[31mred\x9b31m \u202eevil\x07 "
           "[bold]markup[/bold] [link=http://evil.example]x[/link] [/] line\nbreak | pipe")
#: what no terminal output may hold: an escape, CSI, BEL, a bidirectional override
RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def hostile_board(path: Path) -> Path:
    """The published quickstart leaderboard with hostile strings everywhere a view shows one, hashes restamped."""
    board = read_leaderboard(PUBLISHED)
    board.device = board.backend = board.created = HOSTILE
    board.spec_name = "quickstart " + HOSTILE
    for v in board.verdicts:
        v.reason, v.description = HOSTILE, HOSTILE
        for s in v.strata:
            s.reason = HOSTILE
    board.rows[0].status, board.rows[0].error = "failed", HOSTILE
    board.rows[0].probes = {"weight_norm.status": "failed"}
    write_leaderboard(board, path)
    return path


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html_text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html_text)
    return parser.tags


def assert_inert_html(html_text: str, allowed_links: str = r"https?://") -> None:
    """No script, no event handler, no image but the page's own PNGs, every link http(s) (or ``allowed_links``)."""
    for tag, attrs in tags_of(html_text):
        assert tag not in ("script", "iframe", "object", "embed", "form", "meta", "link", "base") or (
            tag == "meta" and set(attrs) <= {"charset", "name", "content"}), (tag, attrs)
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/png;base64,"), (tag, attrs)
        elif attrs.get("href") is not None:
            assert re.match(allowed_links, attrs["href"]), (tag, attrs)


def assert_inert_markdown(md: str) -> None:
    from markdown_it import MarkdownIt

    assert not RAW_CONTROLS.search(md), repr(RAW_CONTROLS.search(md))
    assert_inert_html(MarkdownIt("commonmark").enable("table").render(md))


# ------------------------------------------------------------------ strings of a leaderboard


@pytest.fixture
def board_path(tmp_path):
    return hostile_board(tmp_path / "hostile.json")


def test_markdown_of_a_hostile_leaderboard_is_text(board_path):
    res = invoke("leaderboard", "show", board_path, "--format", "md")
    assert res.exit_code == 0, res.output
    assert_inert_markdown(res.output)
    assert "&lt;script>" in res.output and "[click\\](javascript:" in res.output  # shown, escaped
    assert "\\x1b[2J" in res.output and "\\u202eevil" in res.output  # control characters shown as escapes
    from ddbench.leaderboard.render import render_markdown

    assert_inert_markdown(render_markdown(read_leaderboard(board_path)))  # leaderboard.md of `analyse`


def test_compare_markdown_of_a_hostile_leaderboard_is_text(board_path):
    res = invoke("leaderboard", "compare", PUBLISHED, board_path, "--format", "md")
    assert res.exit_code in (0, 1), res.output
    assert_inert_markdown(res.output)


@pytest.mark.parametrize("command", ["show", "compare"])
def test_terminal_view_of_a_hostile_leaderboard_is_text(board_path, command):
    args = ("leaderboard", "show", board_path) if command == "show" else ("leaderboard", "compare", PUBLISHED, board_path)
    res = invoke(*args)
    assert res.exit_code in (0, 1), res.output
    assert not RAW_CONTROLS.search(res.output), repr(res.output[:2000])
    assert "\\x1b[2J" in res.output and "[bold]markup[/bold]" in res.output  # text, never markup


def test_a_colour_terminal_gets_only_the_views_own_colours(board_path):
    """On a terminal, the only escape sequences are the view's own colours: no hyperlink, no screen clearing."""
    from ddbench.cli.common import make_console
    from ddbench.leaderboard.integrity import load_leaderboard
    from ddbench.leaderboard.render import print_board

    console = make_console(file=io.StringIO(), force_terminal=True, color_system="truecolor", width=120)
    print_board(load_leaderboard(board_path), console)
    out = console.file.getvalue()
    assert re.search(r"\x1b\[[0-9;]*m", out)  # colours of the verdicts
    rest = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert not RAW_CONTROLS.search(rest), repr(RAW_CONTROLS.search(rest))
    assert "\\x1b]8;;http://evil.example/" in rest and "[link=http://evil.example]x[/link]" in rest


def test_html_report_of_a_hostile_leaderboard_is_text(board_path):
    from ddbench.leaderboard.html import render_html

    page = render_html(read_leaderboard(board_path))
    assert_inert_html(page, allowed_links=r"#")
    assert "&lt;script&gt;alert(1)" in page


def test_status_of_a_hostile_run_directory_is_text(tmp_path):
    store = make_store(tmp_path / "run")
    (rec,) = [r for r in store.records() if r.status == "pending"][:1]
    store.record(rec.key, status="failed", error="Traceback\n" + HOSTILE)
    store.record_probe(rec.key, "weight_norm", "1", "failed", {}, error=HOSTILE)
    store.close()
    for args in (("status", tmp_path / "run"), ("status", tmp_path / "run", "--failures")):
        res = invoke(*args)
        assert res.exit_code == 0, res.output
        assert not RAW_CONTROLS.search(res.output), repr(res.output)
        assert "break | pipe" in res.output  # the last line of the error
    assert "[bold]markup[/bold]" in res.output and "\\x1b[2J" in res.output  # --failures: all of it, as text


def test_spec_strings_in_messages_are_text(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(sub("  name: mnist1d\n", '  name: "mnist\\e[2J\\e]8;;http://evil\\a[red]x[/red]"\n'))
    res = invoke("validate", spec)
    assert_refused(res, 2, "dataset.name", "\\x1b[2J", "[red]x[/red]")
    assert not RAW_CONTROLS.search(res.output), repr(res.output)


@pytest.fixture
def hostile_plugin():
    """A probe whose name, description and version carry Rich markup and escape sequences."""
    from ddbench import registry
    from ddbench.probes.base import ProbePlugin

    cls = type("Hostile", (ProbePlugin,), {"description": "[/] [bold]unclosed [link=http://evil]x " + HOSTILE})
    registry.probes.register("hostile_markup_probe", version="[red]1\x1b[2J")(cls)
    yield cls
    registry.probes._items.pop("hostile_markup_probe")
    registry.probes._origin.pop("hostile_markup_probe")


def test_list_shows_a_plugins_markup_as_text(hostile_plugin, monkeypatch):
    from ddbench.cli.common import make_console

    monkeypatch.setattr("ddbench.cli.common.console", make_console(width=1000))  # one line per row
    res = invoke("list", "probes")
    assert res.exit_code == 0, res.output
    assert "hostile_markup_probe" in res.output and "[/] [bold]unclosed [link=http://evil]x" in res.output
    assert "[red]1\\x1b[2J" in res.output
    assert not RAW_CONTROLS.search(res.output), repr(res.output)


def test_a_plugin_that_fails_to_load_warns_in_text(monkeypatch):
    """A broken third-party plugin is a warning (the others still list); its exception's text is shown inert."""
    from ddbench import registry

    class BrokenEntryPoint:
        name, value = "evil_probe", "evil_pkg:Probe"

        def load(self):
            raise ImportError("no module \x1b]8;;http://evil.example/\x1b\\here\x1b]8;;\x1b\\ \x1b[2J")

    monkeypatch.setattr(registry.probes, "_loaded", False)
    monkeypatch.setattr(registry, "entry_points", lambda group: [BrokenEntryPoint()] if group == "ddbench.probes" else [])
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown whatever filters the test session runs under
        res = invoke("list", "probes")
    assert res.exit_code == 0, res.output
    assert "could not load probe plugin 'evil_probe'" in res.output and "weight_norm" in res.output
    assert "\\x1b[2J" in res.output and not RAW_CONTROLS.search(res.output), repr(res.output)


# ------------------------------------------------------------------ links planted in a run directory


@pytest.fixture
def victim(tmp_path):
    path = tmp_path / "victim.txt"
    path.write_text("keep me")
    return path


def _run_spec(tmp_path: Path, run_dir: Path) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE + f"output_dir: {run_dir}\n")
    return spec


@pytest.mark.parametrize("name", [DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", DB_NAME + "-journal", "cells", "resume"])
def test_run_refuses_a_planted_link(tmp_path, victim, name):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (run_dir / name).symlink_to(elsewhere if name in ("cells", "resume") else victim)
    spec = _run_spec(tmp_path, run_dir)
    before = snapshot(tmp_path)
    assert_refused(invoke("run", spec, "-q"), 2, str(run_dir / name), "symbolic link")
    assert victim.read_text() == "keep me" and snapshot(tmp_path) == before and not any(elsewhere.iterdir())


def test_a_dangling_link_in_place_of_a_new_store_creates_nothing(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    elsewhere = tmp_path / "elsewhere" / "made.sqlite"
    elsewhere.parent.mkdir()
    (run_dir / DB_NAME).symlink_to(elsewhere)
    assert_refused(invoke("run", _run_spec(tmp_path, run_dir), "-q"), 2, DB_NAME, "symbolic link")
    with pytest.raises(Exception, match="symbolic link"):
        RunStore(run_dir)
    assert not elsewhere.exists()


@pytest.mark.parametrize("side", ["", "-wal", "-shm"])
def test_readers_refuse_a_store_side_file_that_is_a_link(tmp_path, victim, side):
    make_store(tmp_path / "run").close()
    _checkpoint(tmp_path / "run")
    path = tmp_path / "run" / (DB_NAME + side)
    if side == "":
        real = tmp_path / "real.sqlite"
        path.rename(real)
        path.symlink_to(real)
    else:
        path.symlink_to(victim)
    for args in (("status", tmp_path / "run"), ("export", tmp_path / "run")):
        assert_refused(invoke(*args), 2, str(path), "symbolic link")
    assert victim.read_text() == "keep me"


def test_a_store_written_through_a_link_is_never_opened(tmp_path):
    """SQLite would write the linked file and put its side files beside it."""
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).close()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / DB_NAME).symlink_to(other)
    with pytest.raises(Exception, match=f"{DB_NAME} is a symbolic link"):
        RunStore(run_dir)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.sqlite", "run"]


def test_atomic_writes_never_follow_a_planted_link(tmp_path, victim, monkeypatch):
    """The old fixed temporary names, and the file's own name, planted as links: the link is replaced, the
    file it points at is untouched, and no temporary file is left behind."""
    import os

    from ddbench import atomic
    from ddbench.leaderboard.html import write_html

    board = read_leaderboard(PUBLISHED)
    planted = [f".leaderboard.{os.getpid()}.tmp.json", "leaderboard.html.tmp", "leaderboard.json", "leaderboard.html",
               "leaderboard.md"]
    for name in planted:
        (tmp_path / name).symlink_to(victim)
    write_leaderboard(board, tmp_path / "leaderboard.json")
    write_html(board, tmp_path / "leaderboard.html")
    atomic.write_text(tmp_path / "leaderboard.md", "# text\n")
    assert victim.read_text() == "keep me"
    for name in ("leaderboard.json", "leaderboard.html", "leaderboard.md"):
        assert (tmp_path / name).is_file() and not (tmp_path / name).is_symlink()
    assert json.loads((tmp_path / "leaderboard.json").read_text())["spec_hash"] == board.spec_hash
    left = {p.name for p in tmp_path.iterdir()} - {"victim.txt", "leaderboard.json", "leaderboard.html", "leaderboard.md"}
    assert left == set(planted[:2])  # the planted links themselves, nothing of ours


def test_resume_file_never_follows_a_planted_link(tmp_path, victim):
    import os

    from ddbench.plan import Bundle, plan_cells
    from ddbench.spec.validate import load_spec_text
    from ddbench.train.resume import BundleCheckpoint, bundle_id

    cells = plan_cells(load_spec_text(BASE))
    bundle = Bundle(cells[:2])
    (tmp_path / "resume").mkdir()
    name = f"{bundle_id(bundle)}.npz"
    (tmp_path / "resume" / f"{name}.{os.getpid()}.tmp").symlink_to(victim)
    (tmp_path / "resume" / name).symlink_to(victim)
    BundleCheckpoint(tmp_path, bundle).save(1, [np.zeros(3, np.float32)], [])
    assert victim.read_text() == "keep me" and not (tmp_path / "resume" / name).is_symlink()
    (tmp_path / "resume" / name).unlink()
    (tmp_path / "resume").rename(tmp_path / "real-resume")
    (tmp_path / "resume").symlink_to(tmp_path / "real-resume")
    with pytest.raises(Exception, match="resume.*symbolic link"):
        BundleCheckpoint(tmp_path, bundle).save(1, [np.zeros(3, np.float32)], [])
    assert not (tmp_path / "real-resume" / name).exists()


# ------------------------------------------------------------------ datasets


def _npz(path: Path, **over: np.ndarray) -> Path:
    arrays = {"x_train": np.zeros((30, 4), np.float32), "y_train": np.arange(30) % 3,
              "x_test": np.zeros((10, 4), np.float32), "y_test": np.arange(10) % 3, **over}
    np.savez(path, **arrays)
    return path


OBJECT_ARRAYS = {
    "x_train": np.array([[1.0, "a"]] * 30, dtype=object),
    "y_train": np.array([0, 1, 2] * 10, dtype=object),
    "x_test": np.array([{"k": 1}] * 10, dtype=object),
    "y_test": np.array([(0, [1])] * 10, dtype=[("a", "i4"), ("b", "O")]),
}


@pytest.mark.parametrize("key", list(OBJECT_ARRAYS))
def test_object_arrays_in_npz_are_refused(tmp_path, key):
    from ddbench.data.npz import NPZ

    path = _npz(tmp_path / "data.npz", **{key: OBJECT_ARRAYS[key]})
    spec = tmp_path / "spec.yaml"
    spec.write_text(sub("  name: mnist1d\n  n_train: 300\n  n_test: 500\n",
                        f"  name: npz\n  n_train: 30\n  n_test: 10\n  options: {{path: {path}}}\n"))
    before = snapshot(tmp_path)
    assert_refused(invoke("validate", spec), 2, "data.npz", repr(key), "Python objects", "never loads")
    assert snapshot(tmp_path) == before
    with pytest.raises(ValueError, match=f"{key!r} holds Python objects"):
        NPZ().load(NPZ.Config(path=str(path)))
