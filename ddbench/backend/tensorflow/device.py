"""TensorFlow: devices, memory and versions."""

from __future__ import annotations

import os

from ..native import nvidia_smi_total_bytes, quiet_native_stderr

#: the TensorFlow flag naming the directory of XLA's persistent compilation cache
XLA_CACHE_FLAG = "--tf_xla_persistent_cache_directory"


def prepare() -> None:
    """Import TensorFlow once, quietly (its native logging ignores TF_CPP_MIN_LOG_LEVEL in part), with
    XLA's persistent compilation cache on (:func:`compilation_cache`)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    compilation_cache()
    with quiet_native_stderr():
        try:
            import tensorflow as tf
        except ImportError:
            return  # reported by Keras when it needs the backend
    # probes compile one small function per trained model, by design: TF's "retracing" advice is noise here
    tf.get_logger().setLevel("ERROR")


def compilation_cache() -> None:
    """XLA-compiled programs (the bundle epochs) are kept on disk, under
    ``<cache>/xla/tensorflow-<version>`` (``DDBENCH_CACHE`` or ``~/.cache/ddbench``), keyed by
    TensorFlow on the program and the device: the same recipe run again loads its programs instead of
    compiling them. (TensorFlow names every traced function uniquely, so two bundles of one run do
    not share an entry.) Set in ``TF_XLA_FLAGS`` before TensorFlow reads it; a cache directory the
    user set there is kept."""
    from importlib.metadata import PackageNotFoundError, version

    from ...data.base import cache_dir

    flags = os.environ.get("TF_XLA_FLAGS", "")
    if XLA_CACHE_FLAG in flags:
        return
    try:
        tf_version = version("tensorflow")
    except PackageNotFoundError:
        tf_version = "unknown"
    path = cache_dir() / "xla" / f"tensorflow-{tf_version}"
    path.mkdir(parents=True, exist_ok=True)
    os.environ["TF_XLA_FLAGS"] = f"{flags} {XLA_CACHE_FLAG}={path}".strip()


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
