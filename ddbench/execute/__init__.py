"""Executors: where bundles train. ``local`` (this process), ``ray`` (a Ray cluster), or an installed one.

Every executor takes the planned bundles and yields :class:`~ddbench.execute.work.CellResult`
objects; the runner commits each to the store as it arrives, so an interrupted
run keeps every finished cell whatever the executor. Executors are plugins
(``registry.executors``, entry-point group ``ddbench.executors``): a Slurm or Dask executor
registers like the built-ins, with no change to ddbench.
"""

from __future__ import annotations

from typing import Any

from .. import registry
from ..registry import UnknownPluginError
from .base import ExecContext, Executor, StratumData
from .work import CellResult, is_out_of_memory, train_bundle


def executor_names() -> list[str]:
    """Every registered executor, built-in or installed."""
    return registry.executors.names()


def __getattr__(name: str) -> Any:
    if name == "EXECUTORS":  # read from the registry when asked: importing ddbench.execute loads no executor
        return tuple(executor_names())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_executor(name: str, **options: Any) -> Executor:
    """The registered executor ``name``, made with ``options`` (``ray``: ``address``, ``num_gpus_per_bundle``, ...)."""
    try:
        factory = registry.executors.get(name)
    except UnknownPluginError as exc:
        raise ValueError(str(exc)) from None
    return factory(**options)


__all__ = ["CellResult", "ExecContext", "Executor", "StratumData", "EXECUTORS", "executor_names", "get_executor",
           "is_out_of_memory", "train_bundle"]
