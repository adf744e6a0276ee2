"""Malformed-input corpus, part 2: leaderboard files, run stores, OS errors and CLI arguments.

Every refusal: the documented exit code, no traceback, one message naming the file; nothing written."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from pathlib import Path

import pytest
from malformed_util import BASE, assert_refused, invoke, snapshot

from ddbench.store.binding import bind
from ddbench.store.run_store import DB_NAME, RunStore

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "leaderboards" / "quickstart.json"

# ------------------------------------------------------------------ leaderboards

LEADERBOARD_CASES = [
    ("png", (REPO / "leaderboards" / "quickstart-error_vs_width.png").read_bytes()[:4096], ["PNG image"]),
    ("jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF", ["JPEG image"]),
    ("sqlite", b"SQLite format 3\x00" + b"\x00" * 100, ["SQLite database"]),
    ("nul-bytes", b'{"schema_version": "1.0"\x00}', ["binary"]),
    ("not-utf8", b'{"spec_name": "caf\xe9"}', ["not UTF-8", "byte 18"]),
    ("utf16", '{"a": 1}'.encode("utf-16"), ["not UTF-8"]),
    ("empty", b"", ["not JSON"]),
    ("truncated", PUBLISHED.read_bytes()[:5000], ["not JSON", "line"]),
    ("list", b"[1, 2, 3]", ["top level is a list"]),
    ("null", b"null", ["top level is null"]),
    ("string", b'"a leaderboard"', ["top level is a string"]),
    ("number", b"42", ["top level is a number"]),
    ("empty-object", b"{}", ["no schema_version"]),
    ("future-major", b'{"schema_version": "9.0"}', ["schema_version '9.0'", "reads 1.x"]),
    ("version-not-string", b'{"schema_version": 1}', ["schema_version 1"]),
    ("deep-arrays", b"[" * 100_000 + b"]" * 100_000, ["nested too deeply"]),
    ("deep-in-field", b'{"schema_version": "1.0", "spec": ' + b"[" * 200 + b"]" * 200 + b"}", ["nested"]),
    ("missing-fields", b'{"schema_version": "1.0"}', ["not a ddbench leaderboard", "ddbench_version"]),
    ("rows-wrong-type", json.dumps({**json.loads(PUBLISHED.read_text()), "rows": "many"}).encode(), ["rows"]),
    ("row-width-string", None, ["rows[0].width"]),
    ("nan-literal-text", b'{"schema_version": "1.0", "spec_name": NaN', ["not JSON"]),
]


def _row_width_string() -> bytes:
    data = json.loads(PUBLISHED.read_text())
    data["rows"][0]["width"] = "wide"
    return json.dumps(data).encode()


def _board(tmp_path: Path, data: bytes | None, case: str) -> Path:
    path = tmp_path / "board.json"
    path.write_bytes(_row_width_string() if case == "row-width-string" else data)
    return path


@pytest.mark.parametrize("case,data,names", LEADERBOARD_CASES, ids=[c[0] for c in LEADERBOARD_CASES])
def test_leaderboard_show_refuses(tmp_path, case, data, names):
    path = _board(tmp_path, data, case)
    before = snapshot(tmp_path)
    assert_refused(invoke("leaderboard", "show", path), 2, "board.json", *names)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("case", ["png", "list", "deep-arrays", "not-utf8"])
def test_leaderboard_compare_refuses_either_side(tmp_path, case):
    (data, names), = [c[1:] for c in LEADERBOARD_CASES if c[0] == case]
    path = _board(tmp_path, data, case)
    assert_refused(invoke("leaderboard", "compare", PUBLISHED, path), 2, "board.json", *names)
    assert_refused(invoke("leaderboard", "compare", path, PUBLISHED), 2, "board.json", *names)


def test_leaderboard_paths_and_size_limit(tmp_path, monkeypatch):
    assert_refused(invoke("leaderboard", "show", tmp_path / "none.json"), 2, "none.json", "no such file")
    assert_refused(invoke("leaderboard", "show", tmp_path), 2, "is a directory")
    monkeypatch.setenv("DDBENCH_MAX_LEADERBOARD_MB", "0.01")
    assert_refused(invoke("leaderboard", "show", PUBLISHED), 2, "quickstart.json", "too large", "DDBENCH_MAX_LEADERBOARD_MB")


def test_published_leaderboard_still_reads():
    from ddbench.leaderboard.io import read_leaderboard, read_leaderboard_file

    assert read_leaderboard_file(PUBLISHED) == read_leaderboard(PUBLISHED)


# ------------------------------------------------------------------ run stores


def make_store(run_dir: Path) -> RunStore:
    """A store with one done cell (no training: the records are written directly)."""
    from ddbench.plan import plan_cells
    from ddbench.spec.identity import binding_for
    from ddbench.spec.validate import load_spec_text

    spec = load_spec_text(BASE)
    store = RunStore(run_dir)
    binding = binding_for(spec)
    cells = plan_cells(spec, binding.identity)
    bind(store, binding, [c.key for c in cells])
    store.sync_cells(cells)
    model = run_dir / "cells" / cells[0].key / "model.keras"
    model.parent.mkdir(parents=True)
    model.write_bytes(b"PK model bytes")
    store.record(cells[0].key, status="done", metrics={"test_error": 0.5}, weights=str(model.relative_to(run_dir)))
    return store


@pytest.fixture
def run_dir(tmp_path):
    make_store(tmp_path / "run").close()
    return tmp_path / "run"


def _garble_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(4096, len(data), 7):
        data[i] = 0x5A
    path.write_bytes(bytes(data))


def _checkpoint(run_dir: Path) -> None:
    db = sqlite3.connect(run_dir / DB_NAME)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for side in ("-wal", "-shm"):
        (run_dir / (DB_NAME + side)).unlink(missing_ok=True)


def _damage(run_dir: Path, how: str) -> None:
    db_path = run_dir / DB_NAME
    _checkpoint(run_dir)
    if how == "garbage":
        db_path.write_bytes(b"this is not a database " * 200)
    elif how == "pages":
        _garble_pages(db_path)
    elif how == "empty-file":
        db_path.write_bytes(b"")
    elif how == "truncated":
        db_path.write_bytes(db_path.read_bytes()[:100])
    elif how == "directory":
        db_path.unlink()
        db_path.mkdir()
    elif how == "bad-status":
        db = sqlite3.connect(db_path)
        db.execute("UPDATE cells SET status = 'bogus'")
        db.commit()
        db.close()
    elif how == "bad-meta-json":
        db = sqlite3.connect(db_path)
        db.execute("UPDATE meta SET value = '{not json' WHERE key = 'spec'")
        db.commit()
        db.close()
    elif how == "foreign-db":
        db_path.unlink()
        db = sqlite3.connect(db_path)
        db.execute("CREATE TABLE photos (id INTEGER)")
        db.commit()
        db.close()


STORE_DAMAGE = ["garbage", "pages", "empty-file", "truncated", "directory", "bad-status", "bad-meta-json", "foreign-db"]


@pytest.mark.parametrize("how", STORE_DAMAGE)
def test_status_on_damaged_store(run_dir, how):
    _damage(run_dir, how)
    before = snapshot(run_dir)
    res = invoke("status", run_dir)
    assert_refused(res, 4, "ddbench.sqlite")
    if how not in ("bad-status", "bad-meta-json"):
        assert "restore it from a backup, or move it away to start over" in res.output or "damaged" in res.output
    assert snapshot(run_dir) == before


@pytest.mark.parametrize("how", ["garbage", "pages", "foreign-db"])
def test_export_on_damaged_store(run_dir, how):
    _damage(run_dir, how)
    assert_refused(invoke("export", run_dir), 4, "ddbench.sqlite", "move it away to start over")
    assert not (run_dir / "cells.csv").exists()


@pytest.mark.parametrize("command", ["run", "analyse"])
def test_run_and_analyse_on_damaged_store(run_dir, command):
    _damage(run_dir, "garbage")
    spec = run_dir.parent / "spec.yaml"
    spec.write_text(BASE + f"output_dir: {run_dir}\n")
    before = snapshot(run_dir)
    args = ("run", spec, "-q") if command == "run" else ("analyse", spec)
    assert_refused(invoke(*args), 4, "ddbench.sqlite", "move it away to start over")
    assert snapshot(run_dir) == before


def test_status_not_a_run_directory(tmp_path):
    assert_refused(invoke("status", tmp_path), 1, "not a ddbench run directory")
    assert list(tmp_path.iterdir()) == []


def test_status_read_only_writes_nothing(run_dir, monkeypatch):
    _checkpoint(run_dir)
    before = snapshot(run_dir)
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if mode == os.W_OK else real(p, mode))
    res = invoke("status", run_dir)
    assert res.exit_code == 0, res.output
    assert "done" in res.output and "Traceback" not in res.output
    assert snapshot(run_dir) == before  # no -wal/-shm, no migration, no schema


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_status_in_a_read_only_directory(run_dir):
    _checkpoint(run_dir)
    for p in [run_dir, *run_dir.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        res = invoke("status", run_dir)
        assert res.exit_code == 0, res.output
    finally:
        for p in [run_dir, *run_dir.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)


def test_writing_a_read_only_store_names_it(run_dir):
    from ddbench.errors import StoreError

    _checkpoint(run_dir)
    store = RunStore.open_existing(run_dir, read_only=True)
    with pytest.raises(StoreError, match=r"ddbench.sqlite: the run store is read-only .*make the run directory writable"):
        store.set_meta(x=1)
    store.close()


def test_store_full_disk_is_one_line(run_dir):
    from ddbench.cli.failure import explain
    from ddbench.errors import EXIT_ENVIRONMENT, StoreError

    store = RunStore.open_existing(run_dir, read_only=False)
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    store.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError) as info:
        store.set_meta(big="x" * 100_000)
    message, code = explain(info.value)
    assert code == EXIT_ENVIRONMENT and "ddbench.sqlite: the disk is full" in message and "\n" not in message
    store.close()


def test_format_1_store_stays_readable_and_migrates(run_dir):
    _checkpoint(run_dir)
    db = sqlite3.connect(run_dir / DB_NAME)
    db.execute("ALTER TABLE cells DROP COLUMN weights_size")
    db.execute("ALTER TABLE cells DROP COLUMN weights_sha256")
    db.commit()
    db.close()
    old = RunStore.open_existing(run_dir, read_only=True)
    (rec,) = [r for r in old.records() if r.status == "done"]
    assert rec.weights_sha256 is None
    old.close()
    new = RunStore.open_existing(run_dir, read_only=False)
    assert {"weights_size", "weights_sha256"} <= {r[1] for r in new.db.execute("PRAGMA table_info(cells)")}
    assert new.meta("store_format") == 2
    new.close()


# ------------------------------------------------------------------ operating-system errors


def _fail_with(err_no: int, filename: str):
    def boom(*a, **k):
        raise OSError(err_no, os.strerror(err_no), filename)

    return boom


OS_CASES = [
    ("disk-full", errno.ENOSPC, ["No space left on device", "free some space"]),
    ("read-only-fs", errno.EROFS, ["read-only", "writable location"]),
    ("permission", errno.EACCES, ["permission denied", "fix the permissions"]),
    ("quota", errno.EDQUOT, ["quota"]),
]


@pytest.mark.parametrize("err_no,names", [c[1:] for c in OS_CASES], ids=[c[0] for c in OS_CASES])
def test_os_errors_are_one_line(run_dir, monkeypatch, err_no, names):
    target = str(run_dir / "cells.csv")
    monkeypatch.setattr("csv.writer", _fail_with(err_no, target))
    res = invoke("export", run_dir)
    assert_refused(res, 4, "cells.csv", *names)
    assert len(res.output.strip().splitlines()) == 1
    assert sorted(p.name for p in run_dir.iterdir() if "cells" in p.name and p.is_file()) == []  # no partial file


def test_full_disk_leaves_no_partial_leaderboard(tmp_path, monkeypatch):
    from ddbench.leaderboard.io import read_leaderboard, write_leaderboard

    board = read_leaderboard(PUBLISHED)
    monkeypatch.setattr("ddbench.atomic.os.fsync", _fail_with(errno.ENOSPC, str(tmp_path / "leaderboard.json")))
    with pytest.raises(OSError):
        write_leaderboard(board, tmp_path / "leaderboard.json")
    assert list(tmp_path.iterdir()) == []


def test_output_under_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE)
    before = snapshot(tmp_path)
    assert_refused(invoke("run", spec, "-q", "-o", tmp_path / "afile" / "run"), 4, "afile", "not a directory")
    assert snapshot(tmp_path) == before


# ------------------------------------------------------------------ CLI arguments


def _spec(tmp_path: Path) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(BASE + f"output_dir: {tmp_path / 'out'}\n")
    return spec


ARG_CASES = [
    ("run-unknown-trainer", lambda t: ("run", _spec(t), "--trainer", "turbo"), 2, ["--trainer", "allowed: auto"]),
    ("run-unknown-executor", lambda t: ("run", _spec(t), "--executor", "cloud"), 1, ["cloud", "allowed: local, ray"]),
    ("run-unknown-backend", lambda t: ("run", _spec(t), "--backend", "numpy"), 1, ["numpy"]),
    ("run-missing-spec", lambda t: ("run", t / "nope.yaml"), 2, ["nope.yaml", "cannot read"]),
    ("run-unknown-option", lambda t: ("run", _spec(t), "--fast"), 2, ["--fast"]),
    ("run-address-without-ray", lambda t: ("run", _spec(t), "--address", "x:1"), 1, ["--executor ray"]),
    ("list-unknown-kind", lambda t: ("list", "models"), 2, ["models"]),
    ("status-missing-dir", lambda t: ("status", t / "nowhere"), 1, ["nowhere"]),
    ("export-missing-dir", lambda t: ("export", t / "nowhere"), 1, ["nowhere"]),
    ("show-no-argument", lambda t: ("leaderboard", "show"), 2, ["Missing argument"]),
    ("plugin-test-unknown", lambda t: ("plugin", "test", "no_such_plugin"), 1, ["no_such_plugin"]),
    ("plugin-new-bad-name", lambda t: ("plugin", "new", "probe", "My-Probe", "--dir", t / "p"), 2, ["'My-Probe'"]),
    ("plugin-new-unknown-kind", lambda t: ("plugin", "new", "model", "x", "--dir", t / "p"), 2, ["'model'"]),
    ("plugin-new-existing-dir", lambda t: ("plugin", "new", "probe", "x", "--dir", t), 2, ["already exists"]),
    ("validate-no-argument", lambda t: ("validate",), 2, ["Missing argument"]),
    ("run-unknown-recipe", lambda t: ("run", "quickstrat"), 2, ["'quickstrat' is neither a file nor a recipe",
                                                                 "did you mean 'quickstart'", "ddbench list recipes"]),
    ("show-unknown-board", lambda t: ("leaderboard", "show", "nakkiran"), 2, ["nakkiran-mnist1d-cnn5-cpu"]),
    ("show-renamed-board", lambda t: ("leaderboard", "show", "nakkiran-resnet18-cpu"), 2,
     ["renamed: use 'nakkiran-mnist1d-cnn5-cpu'"]),
    ("run-renamed-recipe", lambda t: ("run", "gamba-cifar10-cnn-cpu"), 2, ["renamed: use 'gamba-mnist1d-mlp-cpu'"]),
    ("summary-unknown-board", lambda t: ("leaderboard", "summary", "quickstart", "gu"), 2, ["'gu'", "gu-digits-fcnn"]),
    ("report-unknown-board", lambda t: ("report", "nope"), 2, ["'nope' is neither a file nor a published leaderboard"]),
    ("plugin-test-a-recipe", lambda t: ("plugin", "test", "quickstart", "--kind", "recipes"), 2, ["ddbench validate NAME"]),
]


@pytest.mark.parametrize("make,code,names", [c[1:] for c in ARG_CASES], ids=[c[0] for c in ARG_CASES])
def test_bad_arguments(tmp_path, make, code, names):
    args = make(tmp_path)
    before = snapshot(tmp_path)
    assert_refused(invoke(*args), code, *names)
    assert snapshot(tmp_path) == before


def test_internal_error_is_one_line_and_debug_shows_it(run_dir, monkeypatch):
    def broken(self):
        raise RuntimeError("a bug")

    monkeypatch.setattr(RunStore, "probe_values", broken)  # something `status` reads
    res = invoke("status", run_dir)
    assert_refused(res, 70, "internal error", "a bug", "--debug")
    monkeypatch.setenv("DDBENCH_DEBUG", "")  # restored after the test: --debug sets it
    res = invoke("--debug", "status", run_dir)
    assert isinstance(res.exception, RuntimeError)  # re-raised: Python prints the traceback


def test_debug_env_prints_traceback(run_dir):
    import subprocess
    import sys

    _damage(run_dir, "garbage")
    env = {**os.environ, "DDBENCH_DEBUG": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "ddbench.cli", "status", str(run_dir)], capture_output=True,
                          text=True, env=env, timeout=300, check=False)
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "StoreError" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "ddbench.cli", "status", str(run_dir)], capture_output=True,
                          text=True, env={**env, "DDBENCH_DEBUG": ""}, timeout=300, check=False)
    assert proc.returncode == 4 and "Traceback" not in proc.stderr and "ddbench.sqlite" in proc.stderr

