"""A run's hold on its run directory: the one writer of the store while ``ddbench run`` trains.

:class:`RunSession` owns everything a run does to the store: opening and locking it, binding it to
the spec (grid changes allowed, anything else refused), syncing the planned cells and checking the
saved models of finished ones, putting failed cells back, marking bundles running, committing each
finished cell with its files and probes in one step, the run-time provenance and data fingerprints,
wall time, and the view of the spec's cells that analysis reads. :meth:`RunSession.read` opens a run
directory for analysis only (read-only, bound check without writing, no lock).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from .. import atomic
from ..plan import Cell, plan_cells
from ..spec.identity import RunBinding, binding_for, describe
from ..spec.model import Spec
from .binding import SpecChanged, bind, check_binding
from .cellfiles import refuse_lost_store, verify_done_cells
from .db import refuse_links
from .run_store import DB_NAME, RunStore, StoreView


def refuse_planted_links(run_dir: Path) -> None:
    """Refuse a run directory whose store or model directories are symbolic links, naming the first: a
    shared run directory must not make a run write elsewhere (:func:`ddbench.atomic.refuse_link`; files
    are replaced by a rename, which never follows a link; the run lock refuses a link itself)."""
    refuse_links(run_dir / DB_NAME)
    for name in ("cells", "resume"):
        atomic.refuse_link(run_dir / name, f"the {name} directory")
    if (run_dir / "cells").is_dir():
        for entry in (run_dir / "cells").iterdir():
            atomic.refuse_link(entry, "a cell's directory")


class RunSession:
    """The store of one run directory, bound to one spec's cells (``cells``, keyed under ``binding``)."""

    def __init__(self, store: RunStore, binding: RunBinding, cells: list[Cell]):
        self.store, self.binding, self.cells = store, binding, cells
        self.keys = [c.key for c in cells]
        self.provenance: dict[str, Any] = {}
        self._fingerprints: dict[str, str] = {}

    @property
    def dir(self) -> Path:
        return self.store.dir

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, spec: Spec, run_dir: str | Path | None = None) -> "RunSession":
        """Open (creating it) and lock the spec's run directory, its cells keyed under this process's runtime."""
        out = spec.run_dir(run_dir)
        refuse_planted_links(out)
        if not (out / DB_NAME).exists():
            refuse_lost_store(out)  # saved models but no store: refuse before creating one
        store = RunStore(out)
        try:
            store.lock()
            binding = binding_for(spec)  # this process's backend and Keras version
            return cls(store, binding, plan_cells(spec, binding.identity))
        except BaseException:
            store.close()
            raise

    @classmethod
    def read(cls, spec: Spec, run_dir: str | Path) -> "RunSession":
        """Open an existing run directory to analyse ``spec`` on it, writing nothing (``ddbench analyse``).

        The cells are keyed with the runtime they were trained under (analysis trains nothing, so this
        process's backend does not matter); a spec whose recipe or identity differs, or whose grid has
        cells never trained here, is refused with the changes (:class:`SpecChanged`).
        """
        store = RunStore.open_existing(run_dir)
        try:
            binding = binding_for(spec, store.meta("identity"))
            session = cls(store, binding, plan_cells(spec, binding.identity))
            check_binding(store, binding, session.keys)
            session.provenance = session._recorded_provenance()
            return session
        except BaseException:
            store.close()
            raise

    def regrid(self, spec: Spec, *, read: bool = False) -> "RunSession":
        """The same store (and lock) bound to another grid of the same recipe, keyed under the same runtime: a
        refined grid after its base grid. ``prepare`` binds it as any grid change (its new cells pending);
        ``read``: refuse it now, as :meth:`read` does, unless every one of its cells was trained here."""
        binding = binding_for(spec, self.binding.identity)
        session = RunSession(self.store, binding, plan_cells(spec, binding.identity))
        if read:
            check_binding(self.store, binding, session.keys)
        session.provenance = dict(self.provenance)
        return session

    def refinements(self) -> list[Any]:
        """The refinements of the grid last trained here (``leaderboard.schema.Refinement`` data)."""
        return list(self.store.meta("refinements", []))

    def record_refinements(self, steps: list[dict[str, Any]]) -> None:
        self.store.set_meta(refinements=steps)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "RunSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------ before training

    def prepare(self, retry_failed: bool = True) -> tuple[list[str], list[str]]:
        """Bind the store to the spec, add its new cells, check finished cells' saved models (missing or
        damaged ones go back to pending) and, with ``retry_failed``, put failed cells back.

        Returns the grid changes since the last run and one note per cell put back for its model.
        """
        grown = bind(self.store, self.binding, self.keys)
        self.store.sync_cells(self.cells)
        if not self.store.counts()["done"]:
            refuse_lost_store(self.store.dir, self.store)
        repairs = verify_done_cells(self.store)
        if retry_failed:
            self.store.reset(("failed",), self.keys)
        self._fingerprints = dict(self.store.meta("data_fingerprints", {}))
        return grown, repairs

    def pending(self) -> list[Cell]:
        status = self.store.statuses()
        return [c for c in self.cells if status.get(c.key) == "pending"]

    def record_provenance(self, provenance: dict[str, Any]) -> None:
        """The run-time provenance (backend, device, trainer, ...): every cell records it, and
        ``ddbench analyse`` reports it later instead of the analysing process's."""
        self.provenance = dict(provenance)
        self.store.set_meta(provenance=self.provenance)

    # ------------------------------------------------------------ while training

    def bundle_started(self, keys: Iterable[str]) -> None:
        self.store.mark_running(list(keys))

    def commit(self, result: Any) -> None:
        """Commit a finished cell (an ``execute.work.CellResult``): its data fingerprint, its files (remote
        executors carry them as bytes), its probes, then the cell itself in one transaction."""
        if result.data_fingerprint:
            name, digest = result.data_fingerprint
            if self._fingerprints.get(name) != digest:
                self._fingerprints[name] = digest
                self.store.set_meta(data_fingerprints=self._fingerprints)
        for rel, blob in result.files.items():
            path = self.store.dir / rel
            atomic.refuse_link(path.parent).mkdir(parents=True, exist_ok=True)
            atomic.write_bytes(path, blob)
        self.record_probes(result.cell.key, result.probes)
        self.store.record(
            result.cell.key, status=result.status, params=result.params, metrics=result.metrics, curves=result.curves,
            timings=result.timings, provenance={**self.provenance, **result.provenance}, error=result.error,
            weights=result.weights, arrays=result.arrays,
        )

    def record_probes(self, key: str, probes: Iterable[Any]) -> None:
        """Record probe results (``execute.work.ProbeRecord``) of one cell."""
        for p in probes:
            self.store.record_probe(key, p.name, p.version, p.status, p.values, p.error, p.seconds)

    def interrupted(self) -> None:
        """Ctrl-C or an error through the run: cells in flight go back to pending; finished ones are kept."""
        self.store.release_running()

    def add_wall_seconds(self, seconds: float) -> None:
        self.store.set_meta(wall_seconds=(self.store.meta("wall_seconds") or 0.0) + seconds)

    def record_output_seconds(self, analyse: float, outputs: float) -> None:
        """How long the last run's analysis (every hypothesis, the leaderboard) and its outputs (files,
        figures, the page) took, after ``wall_seconds``: ``benchmarks/recipe_wall.py`` reports them."""
        self.store.set_meta(analyse_seconds=analyse, outputs_seconds=outputs)

    # ------------------------------------------------------------ after training

    def view(self) -> StoreView:
        """The store as the spec sees it: only its cells (a grown or shrunk grid's directory holds others)."""
        return self.store.view(self.keys)

    def _recorded_provenance(self) -> dict[str, Any]:
        """The provenance the last ``ddbench run`` recorded; for a store without it, the first finished
        cell's own (each cell records the provenance it was trained with)."""
        prov = self.store.meta("provenance")
        if prov:
            return dict(prov)
        wanted = set(self.keys)
        for rec in self.store.records():
            if rec.key in wanted and rec.status == "done" and rec.provenance:
                return {k: v for k, v in rec.provenance.items() if k not in ("node",)}
        identity = self.store.meta("identity") or {}
        raise SpecChanged(f"{self.store.dir} records no provenance and no finished cell of this spec "
                          f"(trained under {describe(identity)}); nothing to analyse")
