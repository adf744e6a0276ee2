"""Tidy tables of a run (export csv/parquet, ddbench.store.results.load) and the leaderboard's JSON Schema."""

from __future__ import annotations

import csv
import json
import re
import time
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from typer.testing import CliRunner

from ddbench.cli.app import app
from ddbench.leaderboard.schema import Leaderboard
from ddbench.store.results import cell_rows, curve_rows, export, load, normalise
from ddbench.store.run_store import RunStore

cli = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


def _cell(store: RunStore, key: str, width: int, seed: int) -> None:
    desc = {"family": "mlp", "config": {"depth": 2}, "grid": {"lr_scale": 0.5}, "width": width,
            "noise_rate": 0.1, "noise_seed": 0, "seed": seed}
    store.db.execute("INSERT INTO cells (key, label, descriptor, status, updated) VALUES (?, ?, ?, 'pending', ?)",
                     (key, f"w={width} s={seed}", json.dumps(desc), time.time()))


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A store by hand: a done cell with two probes (one failed), and a failed cell; every value known."""
    store = RunStore(tmp_path / "run")
    store.set_meta(spec={"name": "hand"}, training_hash="th123")
    _cell(store, "a", 4, 0)
    _cell(store, "b", 8, 1)
    store.record("a", status="done", params=50, metrics={"test_error": 0.25, "train_error": 0.0},
                 curves={"epoch": [1, 2, 5], "test_error": [0.5, 0.4, 0.25], "test_loss": [2.0, 1.5, float("nan")]},
                 timings={"train_seconds": 1.5}, provenance={"backend": "jax", "versions": {"keras": "3.9"}})
    store.record_probe("a", "weight_norm", "1", "ok", {"total_sq_norm": 12.5, "layers": [1, 2]}, seconds=0.25)
    store.record_probe("a", "smoothness", "2", "failed", {}, error="Traceback ...\nRuntimeError: boom\n")
    store.record("b", status="failed", error="Traceback (most recent call last):\n  ...\nValueError: bad width\n",
                 timings={"train_seconds": 0.5})
    store.close()
    return tmp_path / "run"


def test_cell_table_has_every_value_with_its_status(run_dir: Path):
    store = RunStore.open_existing(run_dir)
    rows = {r["key"]: r for r in cell_rows(store)}
    curves = curve_rows(store)
    store.close()
    a, b = rows["a"], rows["b"]
    assert (a["status"], a["width"], a["seed"], a["config.depth"], a["config.lr_scale"]) == ("done", 4, 0, 2, 0.5)
    assert (a["test_error"], a["params"], a["attempts"]) == (0.25, 50, 0)
    assert a["weight_norm.total_sq_norm"] == 12.5 and a["weight_norm.status"] == "ok"
    assert a["weight_norm.seconds"] == 0.25 and a["weight_norm.version"] == "1" and a["weight_norm.error"] is None
    assert a["smoothness.status"] == "failed" and a["smoothness.error"] == "RuntimeError: boom"
    assert a["timing.train_seconds"] == 1.5 and a["prov.backend"] == "jax" and a["prov.versions.keras"] == "3.9"
    assert a["run.spec_name"] == "hand" and a["run.training_hash"] == "th123"
    assert b["status"] == "failed" and b["error"] == "ValueError: bad width" and "test_error" not in b
    # curves: one row per recorded epoch of each cell with curves
    assert [(c["key"], c["epoch"], c["test_error"]) for c in curves] == [("a", 1, 0.5), ("a", 2, 0.4), ("a", 5, 0.25)]
    assert curves[0]["config.lr_scale"] == 0.5 and curves[2]["test_loss"] != curves[2]["test_loss"]  # NaN kept


def test_normalise_gives_one_type_per_column():
    cols, table = normalise([{"x": 1, "y": [1, 2], "z": "s"}, {"x": 2.5, "y": None, "z": 3}])
    assert cols == ["x", "y", "z"]
    assert table == [[1, "[1, 2]", "s"], [2.5, None, "3"]]


def test_load_and_export_agree_in_csv_and_parquet(run_dir: Path, tmp_path: Path):
    cells, curves = load(run_dir)
    assert isinstance(cells, pd.DataFrame) and isinstance(curves, pd.DataFrame)
    assert list(cells["key"]) == ["a", "b"] and len(curves) == 3
    assert cells.loc[0, "weight_norm.layers"] == "[1, 2]"  # a list becomes JSON text
    assert pd.isna(cells.loc[1, "test_error"]) and cells["test_error"].dtype.kind == "f"
    for fmt in ("csv", "parquet"):
        res = cli.invoke(app, ["export", str(run_dir), "--format", fmt, "-o", str(tmp_path / fmt)])
        assert res.exit_code == 0, res.output
        read = pd.read_csv if fmt == "csv" else pd.read_parquet
        back, back_curves = read(tmp_path / fmt / f"cells.{fmt}"), read(tmp_path / fmt / f"curves.{fmt}")
        assert list(back.columns) == list(cells.columns) and back.shape == cells.shape
        assert back.loc[0, "weight_norm.total_sq_norm"] == 12.5 and back.loc[1, "error"] == "ValueError: bad width"
        assert list(back_curves["epoch"]) == [1, 2, 5] and back_curves.shape == curves.shape
    with (tmp_path / "csv" / "cells.csv").open() as fh:
        assert sum(1 for _ in csv.reader(fh)) == 3  # header + one line per cell


def test_export_default_writes_into_the_run_and_refuses_unknown_formats(run_dir: Path, tmp_path: Path):
    paths = export(run_dir)
    assert paths == {"cells": run_dir / "cells.csv", "curves": run_dir / "curves.csv"}
    res = cli.invoke(app, ["export", str(run_dir), "--format", "xlsx"])
    assert res.exit_code == 1 and "unknown format 'xlsx'" in res.output
    res = cli.invoke(app, ["export", str(tmp_path / "nowhere")])
    assert res.exit_code == 1 and "not a ddbench run directory" in res.output


# --------------------------------------------------------------------------- the leaderboard's JSON Schema


def _schema() -> dict:
    res = cli.invoke(app, ["schema", "--leaderboard"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_leaderboard_schema_validates_a_published_leaderboard_and_refuses_a_broken_one():
    schema = _schema()
    assert schema == json.loads(json.dumps(Leaderboard.model_json_schema()))
    board = json.loads((ROOT / "leaderboards" / "quickstart.json").read_text())
    jsonschema.validate(board, schema)
    broken = json.loads(json.dumps(board))
    broken["rows"][0]["width"] = "wide"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    del broken["rows"][0]["width"], board["spec_hash"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(board, schema)


def test_leaderboard_format_doc_names_every_field():
    schema = _schema()
    doc = (ROOT / "docs" / "leaderboard-format.md").read_text()
    documented = set(re.findall(r"^\| `([A-Za-z_]+)` \|", doc, flags=re.MULTILINE))
    fields = set(schema["properties"]) | {p for d in schema["$defs"].values() for p in d.get("properties", {})}
    assert fields - documented == set()
