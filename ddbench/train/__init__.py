"""Trainers: a bundle of cells in, one outcome per cell out."""

from __future__ import annotations

from .base import CellOutcome, NullEvents, Trainer, TrainEvents

TRAINERS = ("fit", "packed")


def get_trainer(name: str) -> Trainer:
    """``fit`` (reference, one model at a time), ``packed`` (a bundle as one model); ``auto`` picks packed."""
    from .keras_fit import FitTrainer, PackedFitTrainer

    if name == "fit":
        return FitTrainer()
    if name in ("packed", "auto"):
        return PackedFitTrainer()
    raise ValueError(f"unknown trainer {name!r}; allowed: auto, {', '.join(TRAINERS)}")


__all__ = ["CellOutcome", "NullEvents", "Trainer", "TrainEvents", "get_trainer", "TRAINERS"]
