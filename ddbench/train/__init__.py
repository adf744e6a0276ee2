"""Trainers: a bundle of cells in, one outcome per cell out.

Trainers are plugins (``registry.trainers``, entry-point group ``ddbench.trainers``): the built-ins
``fit``, ``packed``, ``stateless`` and ``closed_form`` register like any installed package's, and
:func:`get_trainer` keeps only the rules that choose among them.
"""

from __future__ import annotations

from typing import Any

from .. import registry
from .base import CellOutcome, NullEvents, Trainer, TrainEvents

#: picks a trainer by the rules of :func:`get_trainer`
AUTO = "auto"
#: the trainer of closed-form families (``closed_form = True``): chosen by that rule, never by name
CLOSED_FORM = "closed_form"


def trainer_names() -> list[str]:
    """The trainers a spec or ``--trainer`` may name besides ``auto``: every registered one chosen by
    name (not :data:`CLOSED_FORM`, whose ``by_name`` is False)."""
    return [n for n, t in registry.trainers.items() if getattr(t, "by_name", True)]


def __getattr__(name: str) -> Any:
    if name == "TRAINERS":  # read from the registry when asked: importing ddbench.train loads no trainer
        return tuple(trainer_names())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_trainer(name: str, family: object = None, distribution: Any = None, engine: Any = None) -> Trainer:
    """The registered trainer ``name`` (``fit``: reference, one model at a time; ``packed``: a bundle as
    one model; ``stateless``: a bundle as one compiled program, a whole epoch per call; or an installed
    one), made with :meth:`Trainer.create`; ``auto`` picks stateless.

    A family that declares ``closed_form = True`` (e.g. random-features ridge) is
    solved, not trained, whatever the name (:data:`CLOSED_FORM`).

    ``distribution`` is the spec's ``distribution:`` (or a resolved
    :class:`~.distribute.Distribution`). With ``mirrored`` (TensorFlow) ``auto`` picks
    ``packed``: the compiled stateless TensorFlow engine cannot run under
    tf.distribute. With ``data_parallel`` (JAX) the stateless engine splits every
    batch over the devices (see :mod:`.distribute`). ``engine`` is the spec's
    ``engine:`` section (the stateless trainer's layout options).
    """
    from .distribute import Distribution

    names = trainer_names()
    if name != AUTO and name not in names:
        raise ValueError(f"unknown trainer {name!r}; allowed: {AUTO}, {', '.join(names)}")
    if getattr(family, "closed_form", False):
        return registry.trainers.get(CLOSED_FORM).create(None, engine)
    dist = distribution if isinstance(distribution, Distribution) else Distribution.from_spec(distribution)
    if name == AUTO:
        name = "packed" if dist.strategy == "mirrored" else "stateless"
    elif name == "stateless" and dist.strategy == "mirrored":
        raise ValueError("trainer stateless cannot run under distribution.strategy mirrored (its compiled TensorFlow "
                         "epoch does not support tf.distribute); allowed: auto (= packed there), packed, fit")
    return registry.trainers.get(name).create(dist if dist.enabled else None, engine)


__all__ = ["AUTO", "CLOSED_FORM", "CellOutcome", "NullEvents", "Trainer", "TrainEvents", "get_trainer",
           "trainer_names", "TRAINERS"]
