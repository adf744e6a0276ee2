"""The learning-rate curve: the rate of 0-based epoch ``e``, as a plain number or a tensor.

Every optimizer applies it per step (:class:`~ddbench.engine.lr_schedule.EpochSchedule`, built by
:func:`~ddbench.engine.optimizer.make_schedule`), and tests compare against it directly. It is a
function of the epoch index only, written against a small ``ops`` interface (``keras.ops`` inside
compiled steps, :mod:`math` outside), and imports neither Keras nor the modules that use it.
"""

from __future__ import annotations

import math
from typing import Any

from ..spec.model import ScheduleSpec


def lr_at_epoch(schedule: ScheduleSpec, lr: float, epoch: Any, total_epochs: int, ops: Any = None) -> Any:
    """Learning rate during 0-based ``epoch`` (a number, or a tensor when ``ops`` is keras.ops)."""
    m = ops if ops is not None else _MathOps
    if schedule.name == "constant":
        return lr + 0.0 * epoch
    if schedule.name == "inverse_sqrt":
        return lr / m.sqrt(1.0 + m.floor(epoch / schedule.every))
    if schedule.name == "step":
        return lr * m.power(schedule.factor, m.floor(epoch / schedule.every))
    if schedule.name == "cosine":
        return schedule.min_lr + 0.5 * (lr - schedule.min_lr) * (1.0 + m.cos(math.pi * epoch / total_epochs))
    raise ValueError(f"unknown schedule {schedule.name!r}")


class _MathOps:
    sqrt = staticmethod(math.sqrt)
    floor = staticmethod(math.floor)
    power = staticmethod(math.pow)
    cos = staticmethod(math.cos)
