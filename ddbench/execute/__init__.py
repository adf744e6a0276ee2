"""Executors: where bundles train. ``local`` (this process) or ``ray`` (a Ray cluster).

Both take the planned bundles and yield :class:`~ddbench.execute.work.CellResult`
objects; the runner commits each to the store as it arrives, so an interrupted
run keeps every finished cell whatever the executor.
"""

from __future__ import annotations

from typing import Any

from .base import ExecContext, Executor, StratumData
from .work import CellResult, is_out_of_memory, train_bundle

EXECUTORS = ("local", "ray")


def get_executor(name: str, **options: Any) -> Executor:
    if name == "local":
        from .local import LocalExecutor

        return LocalExecutor(**options)
    if name == "ray":
        from .ray_executor import RayExecutor

        return RayExecutor(**options)
    raise ValueError(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")


__all__ = ["CellResult", "ExecContext", "Executor", "StratumData", "EXECUTORS", "get_executor",
           "is_out_of_memory", "train_bundle"]
