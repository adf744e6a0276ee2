"""Data parallelism over several devices: strategies, device checks, provenance.

Why: on a machine with several GPUs, one bundle can use all of them. Every batch is
split over the devices, each computes the gradient of its share, and the shares are
summed, so the trained models are those of one device up to the float32
reassociation of that sum. It is an execution choice (``distribution:`` in the spec,
in no hash), recorded in provenance.

The backend-specific parts (device lists, ``tf.distribute`` strategies, JAX meshes and
shardings) are in each backend's ``distribution`` module (:mod:`ddbench.backend`).

* TensorFlow: ``tf.distribute.MirroredStrategy(devices)``; models are built, compiled
  and fitted inside ``strategy.scope()`` (Keras ``fit`` supports it). The compiled
  stateless TensorFlow engine does not, so ``auto`` picks ``packed`` there.
* JAX: ``keras.distribution.DataParallel(devices=...)`` is made the Keras distribution
  for the duration of :meth:`Distribution.scope` (variables are created replicated,
  ``fit`` shards every batch), and the previous one is restored afterwards.

For an engine that compiles its own JAX program (the stateless engine): the trainer
receives the :class:`Distribution` as its ``distribution`` attribute (``None`` when
not distributed). The engine builds its models inside :meth:`Distribution.scope`, so
the Keras variables, hence its state pytree, are replicated over the mesh (or puts
the state there with ``jax.device_put(state, dist.replicated())``); inside the
compiled step it constrains every gathered batch with
``jax.lax.with_sharding_constraint(xb, dist.batch_sharding())`` (and ``yb``), which
splits axis 0 over the devices; XLA then inserts the all-reduce of the gradients.
A trainer that does this sets the class attribute ``uses_distribution = True``;
until then provenance records the distribution as not applied.
"""

from __future__ import annotations

import contextlib
from typing import Any, ContextManager

from .. import backend
from ..backend.strategies import STRATEGIES, check, device_key, visible_devices


class DistributionError(ValueError):
    """A distribution the active backend or its devices cannot run."""


class Distribution:
    """A resolved distribution: the strategy and the device names it runs on."""

    def __init__(self, strategy: str = "none", devices: list[str] | None = None, backend_name: str | None = None):
        if strategy not in STRATEGIES:
            raise DistributionError(f"unknown distribution strategy {strategy!r}; allowed: {', '.join(STRATEGIES)}")
        self.strategy = strategy
        self.backend = backend_name
        self.devices = list(devices or [])
        self._tf_strategy: Any = None
        self._keras_distribution: Any = None

    @classmethod
    def from_spec(cls, spec: Any) -> "Distribution":
        """From a spec's ``distribution:`` (a DistributionSpec or None), on the active backend;
        raises :class:`DistributionError` with the same messages as ``ddbench validate``."""
        if spec is None or spec.strategy == "none":
            return cls()
        name = backend.name()
        problems = check(spec.strategy, spec.devices, name)
        if problems:
            raise DistributionError("; ".join(f"distribution.{f}: {m} [got: {v!r}]" for f, m, v in problems))
        seen = visible_devices(name)
        if spec.devices is None:
            devices = seen
        elif isinstance(spec.devices, int):
            devices = seen[: spec.devices]
        else:  # the backend's own spelling of each requested name, in the requested order
            by_key = {device_key(d): d for d in seen}
            devices = [by_key[device_key(d)] for d in spec.devices]
        return cls(spec.strategy, devices, name)

    @property
    def enabled(self) -> bool:
        return self.strategy != "none"

    @property
    def replicas(self) -> int:
        if self.strategy == "mirrored" and self._tf_strategy is not None:
            return self._layer().replicas(self._tf_strategy)
        return len(self.devices) if self.enabled else 1

    @property
    def even_split(self) -> int:
        """Every batch must be a multiple of this: data_parallel shards axis 0 in equal parts (mirrored needs not)."""
        return len(self.devices) if self.strategy == "data_parallel" else 1

    @property
    def jit_compile(self) -> Any:
        """``jit_compile`` for ``model.compile``: False under MirroredStrategy (see :meth:`tf_strategy`)."""
        return False if self.strategy == "mirrored" else "auto"

    # ------------------------------------------------------------ Keras side

    def _layer(self) -> Any:
        """This distribution's backend module (:mod:`ddbench.backend.<name>.distribution`)."""
        return backend.impl(self.backend or STRATEGIES[self.strategy]).distribution

    def tf_strategy(self) -> Any:
        """The ``tf.distribute.MirroredStrategy`` (made once; TensorFlow only).

        Its gradient sum is NCCL on GPUs, a reduction on one device otherwise, and the
        models are compiled without XLA: under XLA (and with TF's default collective
        ops) every model compiled after the first in a process reuses the first's
        collective instance keys, and the all-reduce aborts with a shape mismatch
        (seen with TF 2.21: a 2-cell bundle trained by ``fit`` fails at its second cell).
        """
        if self.strategy != "mirrored":
            raise DistributionError(f"no tf.distribute strategy for distribution {self.strategy!r}")
        if self._tf_strategy is None:
            gpus = all("gpu" in device_key(d) for d in self.devices)
            self._tf_strategy = self._layer().make_strategy(self.devices, gpus)
        return self._tf_strategy

    def keras_distribution(self) -> Any:
        """The ``keras.distribution.DataParallel`` over the devices (made once; JAX only)."""
        if self.strategy != "data_parallel":
            raise DistributionError(f"no keras.distribution for distribution {self.strategy!r}")
        if self._keras_distribution is None:
            self._keras_distribution = self._layer().make_strategy(self.devices, False)
        return self._keras_distribution

    def scope(self) -> ContextManager[Any]:
        """Enter around building, compiling and training models: they then run on every device."""
        if self.strategy == "mirrored":
            return self.tf_strategy().scope()
        if self.strategy == "data_parallel":
            return self.keras_distribution().scope()  # sets it, restores the previous distribution on exit
        return contextlib.nullcontext()

    # ------------------------------------------------------------ engines that compile their own program

    def mesh(self) -> Any:
        """The device mesh of the data-parallel devices (JAX: a ``jax.sharding.Mesh``, axis ``batch``), or None."""
        if self.strategy != "data_parallel":
            return None
        return self._layer().mesh([device_key(n) for n in self.devices])

    def batch_sharding(self) -> Any:
        """A sharding splitting axis 0 (the batch) over the devices, or None when not data-parallel.

        In a compiled JAX step: ``xb = jax.lax.with_sharding_constraint(xb, dist.batch_sharding())``.
        """
        mesh = self.mesh()
        return None if mesh is None else self._layer().sharding(mesh, split_batch=True)

    def replicated(self) -> Any:
        """A sharding with a full copy on every device (weights, optimizer state), or None."""
        mesh = self.mesh()
        return None if mesh is None else self._layer().sharding(mesh, split_batch=False)

    # ------------------------------------------------------------ provenance

    def describe(self) -> dict[str, Any]:
        """For provenance: strategy, device names, replica count."""
        if not self.enabled:
            return {"strategy": "none", "devices": [], "replicas": 1}
        return {"strategy": self.strategy, "devices": list(self.devices), "replicas": self.replicas}


def provenance(trainer: Any) -> dict[str, Any]:
    """What a trainer's run was distributed over; ``applied`` is False when the trainer ignores it."""
    dist = getattr(trainer, "distribution", None)
    if dist is None:
        return Distribution().describe()
    return {**dist.describe(), "applied": bool(getattr(trainer, "uses_distribution", False))}
