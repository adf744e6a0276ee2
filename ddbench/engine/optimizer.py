"""Optimizers and per-epoch learning-rate schedules, identical for every trainer and engine.

The schedule is a function of the epoch index only (``step // steps_per_epoch``, the curve of
:mod:`.lr_curve`), applied per step by the registered
:class:`~ddbench.engine.lr_schedule.EpochSchedule`, so it runs inside compiled steps on any
backend and a saved model's optimizer reloads.
"""

from __future__ import annotations

from typing import Any

from ..spec.model import OptimizerSpec, ScheduleSpec


def make_schedule(schedule: ScheduleSpec, lr: float, steps_per_epoch: int, total_epochs: int) -> Any:
    """A Keras LearningRateSchedule that applies ``lr_at_epoch`` per optimizer step (the float ``lr``
    when constant); :class:`~ddbench.engine.lr_schedule.EpochSchedule`, registered, so it reloads."""
    if schedule.name == "constant":
        return lr
    from .lr_schedule import EpochSchedule

    return EpochSchedule(schedule, lr, steps_per_epoch, total_epochs)


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
