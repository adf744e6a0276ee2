"""JAX: the devices a distribution can use, ``keras.distribution.DataParallel``, meshes and shardings."""

from __future__ import annotations

from typing import Any

#: the data-parallel strategy of this backend (see :mod:`ddbench.train.distribute`)
STRATEGY = "data_parallel"
#: the mesh axis the batch is split over (the name keras.distribution.DataParallel uses)
BATCH_AXIS = "batch"


def visible_devices() -> list[str]:
    import jax

    return [f"{d.platform}:{d.id}" for d in jax.devices()]


def make_strategy(devices: list[str], all_gpus: bool) -> Any:
    """``keras.distribution.DataParallel`` over ``devices`` (its ``scope()`` sets it as Keras' distribution)."""
    import keras

    return keras.distribution.DataParallel(devices=devices)


def replicas(strategy: Any) -> int:
    return int(strategy.device_mesh.devices.size)


def mesh(devices: list[str]) -> Any:
    """The ``jax.sharding.Mesh`` of ``devices`` (keys ``cpu:0``, ``gpu:1``...) along :data:`BATCH_AXIS`."""
    import jax
    import numpy as np

    by_name = {f"{d.platform}:{d.id}": d for d in jax.devices()}
    return jax.sharding.Mesh(np.array([by_name[n] for n in devices]), (BATCH_AXIS,))


def sharding(mesh: Any, split_batch: bool) -> Any:
    """``NamedSharding`` that splits axis 0 over the mesh (``split_batch``) or replicates."""
    import jax

    spec = jax.sharding.PartitionSpec(BATCH_AXIS) if split_batch else jax.sharding.PartitionSpec()
    return jax.sharding.NamedSharding(mesh, spec)
