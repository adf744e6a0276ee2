"""Probes added to a spec after its cells trained (or probes that failed, or changed version) are
measured from the saved models, without retraining."""

from __future__ import annotations

import warnings

from .. import registry
from ..data import TrainData, load_train_data
from ..execute.work import ProbeRecord, probe_cell
from ..plan import Cell
from ..spec.model import Spec
from ..store.cellfiles import check_model_file
from ..store.session import RunSession
from .events import Progress


def missing_probes(spec: Spec, session: RunSession) -> list[tuple[Cell, set[str]]]:
    """The spec's finished cells with a saved model that lack a probe of the spec: never measured,
    failed, or measured by another version of the probe."""
    have = session.store.probe_values()
    done = {r.key for r in session.store.records() if r.status == "done" and r.weights}
    todo = []
    for cell in session.cells:
        if cell.key not in done:
            continue
        probed = have.get(cell.key, {})
        missing = {p.name for p in spec.probes
                   if probed.get(p.name, {}).get("status") not in ("ok", "nan")
                   or probed[p.name]["version"] != registry.probes.get(p.name).plugin_version}
        if missing:
            todo.append((cell, missing))
    return todo


def backfill_probes(spec: Spec, session: RunSession, progress: Progress) -> int:
    """Probe the finished cells that lack a probe of the spec, from their saved models; return how many."""
    if not spec.probes:
        return 0
    from ..train.reload import load_trained_model  # imports Keras: only when there is something to probe

    todo = missing_probes(spec, session)
    if todo:
        progress.message(f"probing {len(todo)} finished cell(s) from their saved models")
    records = {r.key: r for r in session.store.records()}
    data: dict[tuple[float, int], TrainData] = {}
    for i, (cell, missing) in enumerate(todo):
        progress.phase("probing", None, f"{', '.join(sorted(missing))} on {cell.label} ({i + 1}/{len(todo)})")
        if cell.data_key not in data:
            data.clear()
            data[cell.data_key] = load_train_data(spec.dataset, *cell.data_key)
        record = records[cell.key]
        problem = check_model_file(session.dir, record)
        try:
            if problem is not None:
                raise ValueError(problem)
            model = load_trained_model(session.dir / record.weights)
        except Exception as exc:  # never "file not found" for a file that is there but damaged
            reason = problem or f"its saved model {session.dir / record.weights} cannot be loaded: {exc}"
            warnings.warn(f"cannot probe {cell.label}: {reason}")
            session.record_probes(cell.key, [ProbeRecord(n, registry.probes.get(n).plugin_version, "failed", {},
                                                         reason, 0.0) for n in sorted(missing)])
            continue
        session.record_probes(cell.key, probe_cell(spec, session.dir, cell, model, data[cell.data_key], only=missing))
    return len(todo)
