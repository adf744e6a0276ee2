"""The run stage: ``pipeline.run`` strings the stages together (open a session, train the pending
cells through an executor, backfill probes, analyse, write the outputs); ``events`` is the one
progress protocol every user interface listens to."""

from .analyse import reanalyse
from .events import PHASES, Progress
from .pipeline import RunResult, run

__all__ = ["PHASES", "Progress", "RunResult", "reanalyse", "run"]
