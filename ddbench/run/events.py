"""The one event protocol of a run: what a user interface hears while ``ddbench run`` works.

Executors pass phases through ``ExecContext.on_phase``, ``execute.work`` reports building, writing
and probing, trainers report compiling (``train.base.report_phase``); ``cli/progress.py`` is the
command line's view of it. Nothing else prints progress.
"""

from __future__ import annotations

from typing import Any

from ..plan import Bundle, Cell

#: what a run is doing, in order (``Progress.phase``); building..writing also happen per bundle
PHASES = ("building", "compiling", "training", "probing", "analysing", "writing")


class Progress:
    """The events of a run, each a no-op here; a user interface overrides the ones it shows.

    ``phase(name, bundle, detail)``: a new phase (one of :data:`PHASES`), of ``bundle`` or of the
    whole run (``bundle`` None: backfilling probes, analysing, writing the outputs).
    """

    def start(self, total_cells: int, todo: int) -> None: ...
    def bundle_started(self, bundle: Bundle) -> None: ...
    def phase(self, name: str, bundle: Bundle | None = None, detail: str = "") -> None: ...
    def epochs_done(self, bundle: Bundle, epoch: int, total: int) -> None: ...
    def cell_finished(self, cell: Cell, status: str, metrics: dict[str, Any]) -> None: ...
    def message(self, text: str) -> None: ...
    def stop(self) -> None: ...
