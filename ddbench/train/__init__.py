"""Trainers: a bundle of cells in, one outcome per cell out."""

from __future__ import annotations

from .base import CellOutcome, NullEvents, Trainer, TrainEvents

TRAINERS = ("fit", "packed", "stateless")


def get_trainer(name: str, family: object = None, engine: object = None) -> Trainer:
    """``fit`` (reference, one model at a time), ``packed`` (a bundle as one model), ``stateless``
    (a bundle as one compiled program, a whole epoch per call); ``auto`` picks stateless.

    A family that declares ``closed_form = True`` (e.g. random-features ridge) is
    solved, not trained, whatever the name. ``engine`` is the spec's ``engine`` section (the stateless
    trainer's layout options).
    """
    from .keras_fit import FitTrainer, PackedFitTrainer

    if getattr(family, "closed_form", False):
        from .closed_form import ClosedFormTrainer

        return ClosedFormTrainer()

    if name == "fit":
        return FitTrainer()
    if name in ("stateless", "auto"):
        from .stateless import StatelessTrainer

        opts = {"pad": engine.pad_widths, "epochs_per_call": engine.epochs_per_call} if engine is not None else {}
        return StatelessTrainer(**opts)  # falls back to packed on backends other than JAX/TF
    if name == "packed":
        return PackedFitTrainer()
    raise ValueError(f"unknown trainer {name!r}; allowed: auto, {', '.join(TRAINERS)}")


__all__ = ["CellOutcome", "NullEvents", "Trainer", "TrainEvents", "get_trainer", "TRAINERS"]
