"""The Keras learning-rate schedule of every trainer: ``lr_at_epoch`` applied per optimizer step.

A module-level class registered with Keras (``ddbench>EpochSchedule``) whose ``get_config``
holds everything ``__init__`` takes, so a model saved with its compiled optimizer reloads
with ``keras.saving.load_model`` (importing this module registers it; ddbench's own loads use
``compile=False`` and need no optimizer at all, see :func:`ddbench.train.reload.load_trained_model`).

This module imports Keras: import it only after the backend is selected (lazily).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from ..spec.model import ScheduleSpec
from .lr_curve import lr_at_epoch


@keras.saving.register_keras_serializable(package="ddbench")
class EpochSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate of optimizer step ``step``: ``lr_at_epoch(schedule, lr, step // steps_per_epoch, total_epochs)``."""

    def __init__(self, schedule: dict[str, Any] | ScheduleSpec, lr: float, steps_per_epoch: int, total_epochs: int):
        self.schedule = schedule if isinstance(schedule, ScheduleSpec) else ScheduleSpec.model_validate(schedule)
        self.lr, self.steps_per_epoch, self.total_epochs = float(lr), int(steps_per_epoch), int(total_epochs)

    def __call__(self, step: Any) -> Any:
        epoch = ops.floor(ops.cast(step, "float32") / float(self.steps_per_epoch))
        return ops.cast(lr_at_epoch(self.schedule, self.lr, epoch, self.total_epochs, ops=ops), "float32")

    def get_config(self) -> dict[str, Any]:
        return {"schedule": self.schedule.model_dump(mode="json"), "lr": self.lr,
                "steps_per_epoch": self.steps_per_epoch, "total_epochs": self.total_epochs}
