"""Which data-parallel strategies a backend runs, and whether the devices a spec names exist.

Shared by the spec's checks (``spec.validate.check_distribution``, before anything trains) and the
trainers' :class:`~ddbench.train.distribute.Distribution`; the device lists come from each backend's
``distribution`` module through :func:`ddbench.backend.impl`.
"""

from __future__ import annotations

from typing import Any

from . import impl

#: strategy -> the Keras backend it needs
STRATEGIES = {"none": None, "mirrored": "tensorflow", "data_parallel": "jax"}


def allowed_strategies(backend_name: str) -> list[str]:
    return [s for s, need in STRATEGIES.items() if need in (None, backend_name)]


def visible_devices(backend_name: str) -> list[str]:
    """Names of the devices a distribution can use: the backend's GPUs (or TPUs), else its CPUs.

    Starts the backend's runtime (TensorFlow: its logical devices are fixed from then on).
    """
    return impl(backend_name).distribution.visible_devices()


def device_key(name: str) -> str:
    """``/job:localhost/replica:0/task:0/device:GPU:1``, ``/gpu:1``, ``GPU:1`` -> ``gpu:1``."""
    last = name.strip().lower().rstrip("/").split("/")[-1]
    return last[len("device:"):] if last.startswith("device:") else last


def check(strategy: str, devices: int | list[str] | None, backend_name: str, *,
          count_devices: bool = True) -> list[tuple[str, str, Any]]:
    """Problems of a distribution on ``backend_name``: ``(field, message, value)`` with field ``strategy`` or ``devices``."""
    need = STRATEGIES[strategy]
    if need is None:
        return []
    if need != backend_name:
        api = "tf.distribute.MirroredStrategy" if strategy == "mirrored" else "keras.distribution.DataParallel"
        return [("strategy", f"{strategy} ({api}) needs the {need} backend, but the active backend is {backend_name} "
                 f"(KERAS_BACKEND or --backend); allowed with {backend_name}: {', '.join(allowed_strategies(backend_name))}",
                 strategy)]
    if not count_devices:
        return []
    seen = visible_devices(backend_name)
    if isinstance(devices, int) and devices > len(seen):
        return [("devices", f"asks for {devices} devices, but {backend_name} sees {len(seen)} ({', '.join(seen)}); "
                 f"allowed: 1 to {len(seen)}, null (all) or a list of those names", devices)]
    if isinstance(devices, list):
        known = {device_key(d) for d in seen}
        unknown = [d for d in devices if device_key(d) not in known]
        if unknown:
            return [("devices", f"{backend_name} does not see {unknown}; it sees {len(seen)} device(s): {', '.join(seen)}",
                     devices)]
    return []
