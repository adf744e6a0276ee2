"""Trainers: a bundle of cells in, one outcome per cell out."""

from __future__ import annotations

from typing import Any

from .base import CellOutcome, NullEvents, Trainer, TrainEvents

TRAINERS = ("fit", "packed", "stateless")


def get_trainer(name: str, family: object = None, distribution: Any = None, engine: Any = None) -> Trainer:
    """``fit`` (reference, one model at a time), ``packed`` (a bundle as one model), ``stateless``
    (a bundle as one compiled program, a whole epoch per call); ``auto`` picks stateless.

    A family that declares ``closed_form = True`` (e.g. random-features ridge) is
    solved, not trained, whatever the name.

    ``distribution`` is the spec's ``distribution:`` (or a resolved
    :class:`~.distribute.Distribution`). With ``mirrored`` (TensorFlow) ``auto`` picks
    ``packed``: the compiled stateless TensorFlow engine cannot run under
    tf.distribute. With ``data_parallel`` (JAX) the stateless engine splits every
    batch over the devices (see :mod:`.distribute`). ``engine`` is the spec's
    ``engine:`` section (the stateless trainer's layout options).
    """
    from .distribute import Distribution
    from .keras_fit import FitTrainer, PackedFitTrainer

    if name not in ("auto", *TRAINERS):
        raise ValueError(f"unknown trainer {name!r}; allowed: auto, {', '.join(TRAINERS)}")
    if getattr(family, "closed_form", False):
        from .closed_form import ClosedFormTrainer

        return ClosedFormTrainer()
    dist = distribution if isinstance(distribution, Distribution) else Distribution.from_spec(distribution)
    if name == "fit":
        return FitTrainer(dist)
    if name == "packed" or (name == "auto" and dist.strategy == "mirrored"):
        return PackedFitTrainer(dist)
    if dist.strategy == "mirrored":
        raise ValueError("trainer stateless cannot run under distribution.strategy mirrored (its compiled TensorFlow "
                         "epoch does not support tf.distribute); allowed: auto (= packed there), packed, fit")
    from .stateless import StatelessTrainer

    opts = {"pad": engine.pad_widths, "epochs_per_call": engine.epochs_per_call} if engine is not None else {}
    # falls back to packed on backends other than JAX/TF
    return StatelessTrainer(distribution=dist if dist.enabled else None, **opts)


__all__ = ["CellOutcome", "NullEvents", "Trainer", "TrainEvents", "get_trainer", "TRAINERS"]
