"""The backend layer: the one place that knows which Keras backend runs.

Keras reads ``KERAS_BACKEND`` once, at import time, so the backend must be chosen
before anything imports ``keras`` (:func:`select`). Everything backend-specific lives
in one sub-package per backend, with the same module names (the layout of Keras' own
``keras/src/backend/{jax,tensorflow,torch}``)::

    ddbench/backend/<name>/device.py        device description, memory, versions
    ddbench/backend/<name>/functions.py     compiled forward and input-gradient functions (probes)
    ddbench/backend/<name>/engine.py        the compiled bundle epoch (``Engine`` or None)
    ddbench/backend/<name>/padding.py       whether padded lanes train exactly (vmapped lanes)
    ddbench/backend/<name>/distribution.py  devices, data-parallel strategies, meshes

:func:`impl` is the one dispatch point: it imports the active backend's sub-package.
No other module branches on the backend's name.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Any

from .native import quiet_native_stderr

SUPPORTED = ("tensorflow", "jax", "torch")
DEFAULT = "tensorflow"
#: the modules every backend sub-package provides
MODULES = ("device", "functions", "engine", "padding", "distribution")


class BackendError(RuntimeError):
    """The requested backend cannot be used in this process."""


def select(name: str | None) -> str:
    """Choose the Keras backend for this process; must run before ``import keras``.

    ``None`` keeps ``KERAS_BACKEND`` if set, else the ddbench default (TensorFlow).
    """
    if name is None:
        name = os.environ.get("KERAS_BACKEND", DEFAULT)
    if name not in SUPPORTED:
        raise BackendError(f"backend {name!r} is not supported; allowed: {', '.join(SUPPORTED)}")
    if "keras" in sys.modules:
        import keras

        active = keras.backend.backend()
        if active != name:
            raise BackendError(
                f"Keras is already imported with backend {active!r}; "
                f"set KERAS_BACKEND={name} before starting Python"
            )
        return name
    os.environ["KERAS_BACKEND"] = name
    # only the device module: the others reach into ddbench.engine, which must not load before this
    importlib.import_module(f"{__name__}.{name}.device").prepare()
    return name


def selected() -> str:
    """The backend this process runs (or will run once Keras is imported), without importing Keras."""
    if "keras" in sys.modules:
        import keras

        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND", DEFAULT)


def name() -> str:
    """The active backend (imports Keras with the selected backend)."""
    import keras

    return keras.backend.backend()


def impl(backend_name: str | None = None) -> Any:
    """THE dispatch point: the sub-package of ``backend_name`` (default: the active backend),
    with its modules (:data:`MODULES`) imported as attributes."""
    backend_name = backend_name or name()
    if backend_name not in SUPPORTED:
        raise BackendError(f"backend {backend_name!r} is not supported; allowed: {', '.join(SUPPORTED)}")
    package: ModuleType = importlib.import_module(f"{__name__}.{backend_name}")
    for module in MODULES:
        importlib.import_module(f"{package.__name__}.{module}")
    return package


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the backend's global generators."""
    import keras

    keras.utils.set_random_seed(int(seed))


def clear_session(free_memory: bool = True) -> None:
    """Free graph/compilation state between bundles; ``free_memory``: also run Python's garbage
    collector (a second or more once TensorFlow is loaded: skip it where nothing large was freed)."""
    import keras

    keras.backend.clear_session(free_memory=free_memory)


def device() -> str:
    """A human description of the accelerator (or CPU) the backend computes on."""
    try:
        described = impl().device.describe()
    except Exception:  # a description must never break a run
        described = None
    from .native import host_description

    return described or host_description()


def versions() -> dict[str, str]:
    """Versions of the numerical stack, for provenance."""
    import platform

    import keras
    import numpy

    out = {"python": platform.python_version(), "keras": keras.__version__, "numpy": numpy.__version__}
    try:
        out.update(impl().device.versions())
    except Exception:
        pass
    return out


def device_memory_bytes() -> int | None:
    """Memory of the device the backend trains on, in bytes (``DDBENCH_DEVICE_MEMORY`` overrides,
    e.g. ``40G``); host memory on CPU; None when it cannot be told."""
    from .native import host_memory_bytes, parse_bytes

    override = os.environ.get("DDBENCH_DEVICE_MEMORY")
    if override:
        return parse_bytes(override)
    try:
        found = impl().device.memory_bytes()
    except Exception:
        return None
    return found if found is not None else host_memory_bytes()


__all__ = ["SUPPORTED", "DEFAULT", "MODULES", "BackendError", "select", "selected", "name", "impl", "set_seed",
           "clear_session", "device", "versions", "device_memory_bytes", "quiet_native_stderr"]
