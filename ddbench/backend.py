"""The one place that knows which Keras backend runs.

Keras reads ``KERAS_BACKEND`` once, at import time, so the backend must be chosen
before anything imports ``keras``. Everything backend-specific in ddbench goes
through this module (or the engine modules it names), never ``if backend == ...``
scattered through the code.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from typing import Iterator

SUPPORTED = ("tensorflow", "jax", "torch")
DEFAULT = "tensorflow"


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
    if name == "tensorflow":
        _import_tensorflow_quietly()
    return name


def selected() -> str:
    """The backend this process runs (or will run once Keras is imported), without importing Keras."""
    if "keras" in sys.modules:
        import keras

        return keras.backend.backend()
    return os.environ.get("KERAS_BACKEND", DEFAULT)


@contextlib.contextmanager
def _quiet_native_stderr() -> Iterator[None]:
    """Hide what native code writes to file descriptor 2 (absl/oneDNN/CUDA-stub chatter).

    Those lines ignore TF_CPP_MIN_LOG_LEVEL; Python errors still propagate as
    exceptions. ``DDBENCH_VERBOSE=1`` shows everything.
    """
    if os.environ.get("DDBENCH_VERBOSE"):
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _import_tensorflow_quietly() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _quiet_native_stderr():
        try:
            import tensorflow as tf
        except ImportError:
            return  # reported by Keras when it needs the backend
    # probes compile one small function per trained model, by design: TF's "retracing" advice is noise here
    tf.get_logger().setLevel("ERROR")


def name() -> str:
    """The active backend (imports Keras with the selected backend)."""
    import keras

    return keras.backend.backend()


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the backend's global generators."""
    import keras

    keras.utils.set_random_seed(int(seed))


def clear_session() -> None:
    """Free graph/compilation state between bundles."""
    import keras

    keras.backend.clear_session()


def device() -> str:
    """A human description of the accelerator (or CPU) the backend computes on."""
    backend = name()
    try:
        if backend == "jax":
            import jax

            devs = jax.devices()
            return f"{len(devs)}x {devs[0].device_kind}" if devs else "cpu"
        if backend == "tensorflow":
            import tensorflow as tf

            with _quiet_native_stderr():
                gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                return f"{len(gpus)}x {details.get('device_name', 'GPU')}"
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return f"{torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}"
    except Exception:  # a description must never break a run
        pass
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def versions() -> dict[str, str]:
    """Versions of the numerical stack, for provenance."""
    import keras
    import numpy

    out = {"python": platform.python_version(), "keras": keras.__version__, "numpy": numpy.__version__}
    backend = name()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            out["tensorflow"] = tf.__version__
        elif backend == "jax":
            import jax

            out["jax"] = jax.__version__
        elif backend == "torch":
            import torch

            out["torch"] = torch.__version__
    except Exception:
        pass
    return out


def device_memory_bytes() -> int | None:
    """Memory of the device the backend trains on, in bytes (``DDBENCH_DEVICE_MEMORY`` overrides,
    e.g. ``40G``); host memory on CPU; None when it cannot be told."""
    override = os.environ.get("DDBENCH_DEVICE_MEMORY")
    if override:
        units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
        text = override.strip().upper().rstrip("B")
        scale = units.get(text[-1:], 1)
        return int(float(text.rstrip("KMGT")) * scale)
    backend = name()
    try:
        if backend == "jax":
            import jax

            dev = jax.devices()[0]
            stats = dev.memory_stats() if dev.platform != "cpu" else None
            if stats and stats.get("bytes_limit"):
                return int(stats["bytes_limit"])
        elif backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return _nvidia_smi_total()
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return int(torch.cuda.get_device_properties(0).total_memory)
    except Exception:
        return None
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def _nvidia_smi_total() -> int | None:
    import subprocess

    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", "0"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return int(float(out.strip().splitlines()[0]) * 2**20)
    except Exception:
        return None
