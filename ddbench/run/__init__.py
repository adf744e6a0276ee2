"""The run stage: ``pipeline.run`` strings the stages together (open a session, train the pending
cells through an executor, backfill probes, analyse, write the outputs); ``events`` is the one
progress protocol every user interface listens to."""

from .pipeline import Progress, RunResult, run

__all__ = ["Progress", "RunResult", "run"]
