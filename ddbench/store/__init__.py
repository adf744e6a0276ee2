"""The store stage: a run directory. One SQLite database (``db``, ``run_store``) holds every cell,
its curves, probes and provenance; ``session`` is what a run does to it, ``binding`` what ties it to
a recipe, ``cellfiles`` the saved models, ``results`` / ``status`` / ``tensorboard`` its readers.
"""

from .binding import SpecChanged
from .lock import RunLocked
from .run_store import DB_NAME, CellRecord, RunStore, StoreView

__all__ = ["DB_NAME", "CellRecord", "RunLocked", "RunStore", "SpecChanged", "StoreView"]
