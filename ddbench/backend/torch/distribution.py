"""PyTorch: ddbench runs no data-parallel strategy on torch (training there is Keras ``fit`` on one device)."""

from __future__ import annotations

from typing import Any

#: no data-parallel strategy on this backend
STRATEGY = None


def visible_devices() -> list[str]:
    return []


def make_strategy(devices: list[str], all_gpus: bool) -> Any:
    raise RuntimeError("no data-parallel strategy on the torch backend")


def replicas(strategy: Any) -> int:
    return 1


def mesh(devices: list[str]) -> Any:
    return None


def sharding(mesh: Any, split_batch: bool) -> Any:
    return None
