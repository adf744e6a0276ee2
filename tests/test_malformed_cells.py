"""Malformed-input corpus, part 3: the saved files of finished cells (missing, damaged, a lost store)."""

from __future__ import annotations

import zipfile

import pytest
from malformed_util import assert_refused, invoke, snapshot
from test_malformed_files import make_store

from ddbench.errors import UserError
from ddbench.store.cellfiles import check_model_file, refuse_lost_store, verify_done_cells
from ddbench.store.run_store import DB_NAME, RunStore


def _done(store):
    (rec,) = [r for r in store.records() if r.status == "done"]
    return rec


def _damage_model(path, how):
    if how == "deleted":
        path.unlink()
    elif how == "truncated":
        path.write_bytes(path.read_bytes()[:5])
    elif how == "same-size-other-bytes":
        data = bytearray(path.read_bytes())
        data[0] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "emptied":
        path.write_bytes(b"")
    elif how == "replaced-by-directory":
        path.unlink()
        path.mkdir()


MODEL_DAMAGE = [("deleted", "is missing"), ("truncated", "is damaged (5 bytes"), ("same-size-other-bytes", "content differs"),
                ("emptied", "is damaged (0 bytes"), ("replaced-by-directory", "is damaged (not a file)")]


@pytest.mark.parametrize("how,expected", MODEL_DAMAGE, ids=[c[0] for c in MODEL_DAMAGE])
def test_done_cell_with_bad_model_is_reported_and_reset(tmp_path, how, expected):
    store = make_store(tmp_path / "run")
    rec = _done(store)
    assert rec.weights_size == len(b"PK model bytes") and len(rec.weights_sha256) == 64  # recorded at commit
    assert check_model_file(store.dir, rec) is None
    _damage_model(store.dir / rec.weights, how)
    (note,) = verify_done_cells(store)
    assert expected in note and "retrained" in note and rec.label in note
    if how != "deleted":
        assert "missing" not in note  # a damaged model is never reported as missing
    (after,) = [r for r in store.records() if r.key == rec.key]
    assert after.status == "pending" and expected in after.error
    assert verify_done_cells(store) == []  # reported once
    store.close()


def test_format_1_cell_without_hash_is_checked_as_an_archive(tmp_path):
    store = make_store(tmp_path / "run")
    rec = _done(store)
    store.db.execute("UPDATE cells SET weights_size = NULL, weights_sha256 = NULL")
    path = store.dir / rec.weights
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("config.json", "{}")
    assert verify_done_cells(store) == []  # a sound archive
    path.write_bytes(path.read_bytes()[:30])
    (note,) = verify_done_cells(store)
    assert "not a readable .keras archive" in note
    store.close()


def test_models_without_a_store_are_refused_before_anything_is_written(tmp_path):
    store = make_store(tmp_path / "run")
    store.close()
    for side in ("", "-wal", "-shm"):
        (tmp_path / "run" / (DB_NAME + side)).unlink(missing_ok=True)
    with pytest.raises(UserError, match="1 saved cell model.*no store.*Restore ddbench.sqlite"):
        refuse_lost_store(tmp_path / "run")


def test_emptied_store_beside_models_is_refused(tmp_path):
    store = make_store(tmp_path / "run")
    store.db.execute("DELETE FROM cells")
    with pytest.raises(UserError, match="new or empty store"):
        refuse_lost_store(store.dir, store)
    store.close()


def test_interrupted_first_cell_is_not_a_lost_store(tmp_path):
    store = make_store(tmp_path / "run")
    key = _done(store).key
    # killed after the model was saved, before the commit: the cell went back to pending, attempts 1
    store.db.execute("UPDATE cells SET status = 'pending', attempts = 1 WHERE key = ?", (key,))
    refuse_lost_store(store.dir, store)
    store.close()


TINY = """\
name: cells
dataset: {name: mnist1d, n_train: 100, n_test: 100}
model: {family: mlp, widths: [2, 3]}
training: {optimizer: {name: sgd, lr: 0.05}, batch_size: 50, epochs: 1, record: {schedule: final}}
probes: [weight_norm]
analysis: {bootstrap: 100}
"""


def test_resumed_run_retrains_missing_and_damaged_models(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "spec.yaml"
    spec.write_text(TINY + "output_dir: run\n")
    res = invoke("run", spec, "-q")
    assert res.exit_code == 0, res.output
    store = RunStore.open_existing(tmp_path / "run")
    recs = sorted((r for r in store.records()), key=lambda r: r.descriptor["width"])
    store.close()
    assert [r.status for r in recs] == ["done", "done"] and all(r.weights_sha256 for r in recs)
    (tmp_path / "run" / recs[0].weights).unlink()
    damaged = tmp_path / "run" / recs[1].weights
    damaged.write_bytes(damaged.read_bytes()[:100])

    res = invoke("run", spec, "-q")
    assert res.exit_code == 0, res.output
    assert f"{recs[0].label}: its saved model" in res.output and "is missing" in res.output
    assert f"{recs[1].label}: its saved model" in res.output and "is damaged" in res.output
    store = RunStore.open_existing(tmp_path / "run")
    after = {r.key: r for r in store.records()}
    probes = store.probe_values()
    store.close()
    assert all(after[r.key].status == "done" and after[r.key].attempts == 2 for r in recs)  # retrained
    assert all(probes[r.key]["weight_norm"]["status"] == "ok" for r in recs)

    # the store is lost: nothing is retrained, nothing is written
    for side in ("", "-wal", "-shm"):
        (tmp_path / "run" / (DB_NAME + side)).unlink(missing_ok=True)
    before = snapshot(tmp_path)
    assert_refused(invoke("run", spec, "-q"), 2, "2 saved cell model(s)", "Restore ddbench.sqlite")
    assert snapshot(tmp_path) == before
