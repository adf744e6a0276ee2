"""TensorFlow: devices, memory and versions."""

from __future__ import annotations

import os

from ..native import nvidia_smi_total_bytes, quiet_native_stderr


def prepare() -> None:
    """Import TensorFlow once, quietly (its native logging ignores TF_CPP_MIN_LOG_LEVEL in part)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_stderr():
        try:
            import tensorflow as tf
        except ImportError:
            return  # reported by Keras when it needs the backend
    # probes compile one small function per trained model, by design: TF's "retracing" advice is noise here
    tf.get_logger().setLevel("ERROR")


def _gpus() -> list:
    import tensorflow as tf

    with quiet_native_stderr():
        return tf.config.list_physical_devices("GPU")


def describe() -> str | None:
    import tensorflow as tf

    gpus = _gpus()
    if not gpus:
        return None
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"{len(gpus)}x {details.get('device_name', 'GPU')}"


def platform() -> str:
    return "gpu" if _gpus() else "cpu"


def versions() -> dict[str, str]:
    import tensorflow as tf

    return {"tensorflow": tf.__version__}


def memory_bytes() -> int | None:
    return nvidia_smi_total_bytes(0) if _gpus() else None
