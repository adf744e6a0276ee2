"""What happens to one bundle wherever it runs: train, save, probe, package the results.

Executors (:mod:`ddbench.execute.local`, :mod:`ddbench.execute.ray_executor`) decide
*where* bundles run; this module is the work itself, so every executor produces
the same records. A bundle's cells are trained by the trainer; each finished
cell's model is saved under ``<work_dir>/cells/<key>/`` and probed there, and the
cell becomes a :class:`CellResult`, which the driver commits to the store.

Out of memory: a bundle whose cells all fail with an out-of-memory error is split
in two (narrow and wide halves) and each half retried, down to single cells; a
single cell that does not fit is recorded as failed with the error.
"""

from __future__ import annotations

import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .. import backend, registry
from ..atomic import atomic_path, refuse_link
from ..data import TrainData
from ..plan import Bundle, Cell
from ..probes.base import ProbeContext, run_probe
from ..spec.model import Spec
from ..train.base import CellOutcome, Trainer
from ..train.resume import BundleCheckpoint
from .stuck import stop_stuck_run, stuck_error, stuck_probes

#: what an out-of-memory error looks like on the supported backends (XLA, TF, PyTorch)
OOM_PATTERN = re.compile(r"RESOURCE_EXHAUSTED|ResourceExhaustedError|out of memory|OutOfMemoryError|"
                         r"Failed to allocate|Allocator .* ran out of memory", re.IGNORECASE)


def is_out_of_memory(error: str | None) -> bool:
    return bool(error) and OOM_PATTERN.search(error) is not None


@dataclass
class ProbeRecord:
    name: str
    version: str
    status: str
    values: dict[str, Any]
    error: str | None
    seconds: float


@dataclass
class CellResult:
    """A finished cell as the store records it (files saved under the work directory, or carried as bytes)."""

    cell: Cell
    status: str
    params: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    curves: dict[str, list[float]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    weights: str | None = None  # path of model.keras, relative to the run directory
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    probes: list[ProbeRecord] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> content, for remote executors
    data_fingerprint: tuple[str, str] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)  # where a remote executor trained it (device, node)


#: ``(name, bundle, detail)``, as ``runner.Progress.phase``
PhaseCallback = Callable[[str, "Bundle | None", str], None]


class BundleEvents:
    """Trainer events -> progress callbacks, checkpoint files and the resume file in the work directory."""

    def __init__(self, work_dir: Path, checkpoints: bool, on_epochs: Callable[[Bundle, int, int], None] | None = None,
                 on_phase: PhaseCallback | None = None, resume_minutes: float = 10.0, resume_dir: Path | None = None):
        self.work_dir, self.checkpoints, self.on_epochs, self.on_phase = work_dir, checkpoints, on_epochs, on_phase
        self.resume_minutes = resume_minutes
        self.resume_dir = resume_dir or work_dir  # a remote task's work directory is temporary; see ray_executor

    def phase(self, bundle: Bundle, name: str, detail: str = "") -> None:
        if self.on_phase is not None:
            self.on_phase(name, bundle, detail)

    def resume(self, bundle: Bundle) -> BundleCheckpoint:
        """The bundle's resume file (whole engine state, see :mod:`ddbench.train.resume`)."""
        return BundleCheckpoint(self.resume_dir, bundle, self.resume_minutes)

    def epochs_done(self, bundle: Bundle, epoch: int, total: int) -> None:
        if self.on_epochs is not None:
            self.on_epochs(bundle, epoch, total)

    def checkpoint(self, cell: Cell, epoch: int, model: Any) -> None:
        if self.checkpoints:
            with atomic_path(cell_dir(self.work_dir, cell) / f"epoch_{epoch:05d}.weights.h5") as tmp:
                model.save_weights(tmp)


def cell_dir(run_dir: Path, cell: Cell) -> Path:
    """``RUN/cells/<key>/``, created; neither it nor ``cells/`` may be a link (:func:`ddbench.atomic.refuse_link`)."""
    cells = refuse_link(Path(run_dir) / "cells", "the directory of the saved models")
    path = refuse_link(cells / cell.key, f"the directory of cell {cell.label}")
    path.mkdir(parents=True, exist_ok=True)
    return path


def checkpoints(run_dir: Path, cell: Cell) -> dict[int, Path]:
    """Weights saved at recorded epochs (``training.record.checkpoints: true``)."""
    found = sorted((Path(run_dir) / "cells" / cell.key).glob("epoch_*.weights.h5"))
    return {int(p.name[6:11]): p for p in found}


def probe_cell(spec: Spec, run_dir: Path, cell: Cell, model: Any, data: TrainData,
               only: set[str] | None = None, on_phase: PhaseCallback | None = None) -> list[ProbeRecord]:
    """Run the spec's probes (or those named in ``only``) on one trained cell.

    Each probe's seeds come from the cell and the probe's name (:meth:`ProbeContext.for_cell`),
    never from its position in ``probes:``: reordering or adding probes changes no value."""
    out = []
    for p in spec.probes:
        if only is not None and p.name not in only:
            continue
        if on_phase is not None:
            on_phase("probing", None, f"{p.name} on {cell.label}")
        plugin = registry.probes.get(p.name)
        stuck = stuck_probes(run_dir, cell).get(p.name)
        if stuck is not None and stuck >= p.time_limit:  # it hung a run before: recorded, never run again
            out.append(ProbeRecord(p.name, plugin.plugin_version, "failed", {}, stuck_error(p.name, stuck), stuck))
            continue
        ctx = ProbeContext.for_cell(cell, model, data, p.name, checkpoints(run_dir, cell))
        res = run_probe(plugin, p.params, ctx, p.time_limit,
                        on_stuck=lambda name=p.name, limit=p.time_limit: stop_stuck_run(run_dir, cell, name, limit))
        out.append(ProbeRecord(p.name, plugin.plugin_version, res.status, res.values, res.error, res.seconds))
    return out


def finish(spec: Spec, work_dir: Path, outcome: CellOutcome, data: TrainData,
           on_phase: PhaseCallback | None = None) -> CellResult:
    """Save a trained cell's model and probe it."""
    import warnings

    cell = outcome.cell
    result = CellResult(cell, outcome.status, params=outcome.params, metrics=outcome.metrics, curves=outcome.curves,
                        timings=outcome.timings, error=outcome.error, arrays=outcome.arrays,
                        data_fingerprint=(stratum_label(cell), data.fingerprint()))
    if outcome.model is not None:
        if on_phase is not None:
            on_phase("writing", None, f"model of {cell.label}")
        path = cell_dir(work_dir, cell) / "model.keras"
        try:
            with atomic_path(path) as tmp:  # a full disk leaves no truncated model.keras behind
                outcome.model.save(tmp)
            result.weights = str(path.relative_to(work_dir))
        except Exception:
            warnings.warn(f"could not save the model of {cell.label}: {traceback.format_exc(limit=1)}")
        if outcome.status == "done":
            result.probes = probe_cell(spec, work_dir, cell, outcome.model, data, on_phase=on_phase)
    return result


def stratum_label(cell: Cell) -> str:
    return f"p={cell.noise_rate:g},noise_seed={cell.noise_seed}"


def failed_results(bundle: Bundle, error: str) -> list[CellResult]:
    return [CellResult(c, "failed", error=error) for c in bundle.cells]


def train_bundle(spec: Spec, bundle: Bundle, data: TrainData, trainer: Trainer, work_dir: Path,
                 on_epochs: Callable[[Bundle, int, int], None] | None = None,
                 on_split: Callable[[Bundle, list[Bundle]], None] | None = None,
                 on_phase: PhaseCallback | None = None, resume_dir: Path | None = None) -> Iterator[CellResult]:
    """Train ``bundle``, yield each cell's result; split and retry the bundle if it runs out of memory.
    ``resume_dir``: where the resume files go if not ``work_dir`` (a remote task's temporary one)."""
    events = BundleEvents(Path(work_dir), spec.training.record.checkpoints, on_epochs, on_phase,
                          spec.engine.checkpoint_minutes, resume_dir)
    events.phase(bundle, "building")
    outcomes: list[CellOutcome] = []
    final: set[str] = set()  # cells already handed out: never failed or retrained afterwards
    try:
        for outcome in trainer.train(bundle, data, spec.training, events):
            if outcome.status == "failed" and is_out_of_memory(outcome.error) and len(bundle.cells) > 1:
                outcomes.append(outcome)  # held back: the bundle may be retried in halves
                continue
            final.add(outcome.cell.key)
            yield finish(spec, Path(work_dir), outcome, data, on_phase)
        events.resume(bundle).remove()  # every cell handed to the store: the resume file has served
    except Exception as exc:
        events.resume(bundle).remove()
        error = "".join(traceback.format_exception(exc))
        seen = final | {o.cell.key for o in outcomes}
        outcomes += [CellOutcome(c, "failed", error=error) for c in bundle.cells if c.key not in seen]
        if not (is_out_of_memory(error) and len(bundle.cells) > 1):
            for o in outcomes:
                yield CellResult(o.cell, "failed", error=o.error)
            return
    if not outcomes:
        return
    retry = Bundle([o.cell for o in outcomes])
    if len(retry.cells) == 1:
        yield CellResult(outcomes[0].cell, "failed", error=outcomes[0].error)
        return
    halves = retry.split()
    if on_split is not None:
        on_split(retry, halves)
    backend.clear_session()
    for half in halves:
        yield from train_bundle(spec, half, data, trainer, work_dir, on_epochs, on_split, on_phase, resume_dir)
