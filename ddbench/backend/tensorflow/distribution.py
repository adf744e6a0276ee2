"""TensorFlow: the devices a distribution can use and ``tf.distribute.MirroredStrategy``."""

from __future__ import annotations

from typing import Any

from ..native import quiet_native_stderr

#: the data-parallel strategy of this backend (see :mod:`ddbench.train.distribute`)
STRATEGY = "mirrored"


def visible_devices() -> list[str]:
    """The logical GPUs, else CPUs (starts TensorFlow's runtime: its logical devices are fixed from then on)."""
    import tensorflow as tf

    with quiet_native_stderr():
        return [d.name for d in (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU"))]


def make_strategy(devices: list[str], all_gpus: bool) -> Any:
    """``tf.distribute.MirroredStrategy(devices)``: NCCL all-reduce on GPUs, a reduction on one device otherwise."""
    import tensorflow as tf

    with quiet_native_stderr():
        ops = tf.distribute.NcclAllReduce() if all_gpus else tf.distribute.ReductionToOneDevice()
        return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=ops)


def replicas(strategy: Any) -> int:
    return int(strategy.num_replicas_in_sync)


def mesh(devices: list[str]) -> Any:
    """No JAX mesh on TensorFlow."""
    return None


def sharding(mesh: Any, split_batch: bool) -> Any:
    return None
