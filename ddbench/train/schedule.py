"""Optimizers and per-epoch learning-rate schedules, identical for every trainer.

The schedule is a function of the epoch index only (``step // steps_per_epoch``),
written with ``keras.ops`` so it runs inside compiled steps on any backend.
"""

from __future__ import annotations

import math
from typing import Any

from ..spec.model import OptimizerSpec, ScheduleSpec


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


def make_schedule(schedule: ScheduleSpec, lr: float, steps_per_epoch: int, total_epochs: int) -> Any:
    """A Keras LearningRateSchedule that applies ``lr_at_epoch`` per optimizer step (the float ``lr``
    when constant); :class:`~ddbench.train.lr_schedule.EpochSchedule`, registered, so it reloads."""
    if schedule.name == "constant":
        return lr
    from .lr_schedule import EpochSchedule

    return EpochSchedule(schedule, lr, steps_per_epoch, total_epochs)


def load_trained_model(path: Any, compile: bool = False) -> Any:
    """A saved cell model, for probing: ``keras.saving.load_model(path, compile=False)`` by default
    (probes need the weights, not the optimizer); ddbench's Keras objects registered first."""
    import keras

    from ..families import layers, rf_activations  # noqa: F401  register ddbench's layers and ddbench>erf
    from . import lr_schedule  # noqa: F401  registers ddbench>EpochSchedule

    return keras.saving.load_model(path, compile=compile)


def make_optimizer(opt: OptimizerSpec, schedule: ScheduleSpec, steps_per_epoch: int, total_epochs: int) -> Any:
    import keras

    lr = make_schedule(schedule, opt.lr, steps_per_epoch, total_epochs)
    wd = opt.weight_decay or None
    if opt.name == "sgd":
        return keras.optimizers.SGD(lr, momentum=opt.momentum, nesterov=opt.nesterov, weight_decay=wd)
    if opt.name == "adam":
        return keras.optimizers.Adam(lr, beta_1=opt.beta_1, beta_2=opt.beta_2, weight_decay=wd)
    if opt.name == "adamw":
        return keras.optimizers.AdamW(lr, beta_1=opt.beta_1, beta_2=opt.beta_2, weight_decay=opt.weight_decay)
    if opt.name == "rmsprop":
        return keras.optimizers.RMSprop(lr, momentum=opt.momentum, weight_decay=wd)
    raise ValueError(f"unknown optimizer {opt.name!r}")
