"""The saved files of finished cells, checked against the store before a run trusts them.

At commit the store records each done cell's ``model.keras`` size and SHA-256
(:meth:`RunStore.record`). When a run resumes, every done cell's model is checked:

* missing: the file is gone;
* damaged: it exists but its size or hash differs from the recorded one (for a store of
  format 1, without recorded hashes: it is not a readable zip archive, which a ``.keras`` file is).

Such cells are reported and put back to pending, so they are retrained (:func:`verify_done_cells`);
a damaged model is never reported as missing. A store that is new or empty while ``cells/``
holds saved models (the store was deleted, replaced or emptied) is refused before anything is
retrained (:func:`refuse_lost_store`).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:
    from .run_store import CellRecord, RunStore

MODEL_FILE = "model.keras"


def check_model_file(run_dir: Path, record: CellRecord) -> str | None:
    """Why a done cell's saved model cannot be trusted, or None when it is sound."""
    from .db import file_digest

    path = Path(run_dir) / record.weights
    if not path.exists():
        return f"its saved model {path} is missing"
    if not path.is_file():
        return f"its saved model {path} is damaged (not a file)"
    if record.weights_sha256 is None:  # recorded before hashes were kept: check the archive itself
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            return f"its saved model {path} is damaged (not a readable .keras archive: {exc})"
        return None if bad is None else f"its saved model {path} is damaged (member {bad} fails its checksum)"
    size, digest = file_digest(path)
    if size != record.weights_size:
        return f"its saved model {path} is damaged ({size} bytes, {record.weights_size} recorded when it was saved)"
    if digest != record.weights_sha256:
        return f"its saved model {path} is damaged (its content differs from the one recorded when it was saved)"
    return None


def verify_done_cells(store: RunStore) -> list[str]:
    """Check every done cell's model; put damaged or missing ones back to pending. Returns one note per cell."""
    reasons: dict[str, str] = {}
    notes = []
    for r in store.records():
        if r.status != "done" or not r.weights:
            continue
        problem = check_model_file(store.dir, r)
        if problem is not None:
            reasons[r.key] = f"retrained: {problem}"
            notes.append(f"cell {r.label}: {problem}; it is retrained")
    if reasons:
        store.reset_cells(reasons)
    return notes


def saved_models(run_dir: Path) -> list[Path]:
    cells = Path(run_dir) / "cells"
    if not cells.is_dir():
        return []
    return sorted(cells.glob(f"*/{MODEL_FILE}"))


def refuse_lost_store(run_dir: Path, store: RunStore | None = None) -> None:
    """Refuse to retrain beside saved models that the store does not know as trained or in progress.

    ``store=None``: the directory has no store yet. A cell whose model was saved but not committed
    when a run was killed is known to the store (it was handed to a trainer: attempts > 0), so an
    interrupted run still resumes.
    """
    models = saved_models(run_dir)
    if not models:
        return
    known: set[str] = set()
    if store is not None:
        known = {r.key for r in store.records() if r.status == "done" or r.attempts > 0}
    orphans = [m for m in models if m.parent.name not in known]
    if store is not None and len(orphans) < len(models):
        return  # the store knows this run's models; a few extra (another spec's) are harmless
    what = "no store" if store is None else f"a new or empty store {store.path}"
    raise UserError(
        f"{run_dir} has {len(orphans)} saved cell model(s) under {Path(run_dir) / 'cells'} but {what}: the store "
        "was deleted, replaced or emptied. Nothing was retrained. Restore ddbench.sqlite from a backup, or move "
        f"{Path(run_dir) / 'cells'} away to train from scratch"
    )
