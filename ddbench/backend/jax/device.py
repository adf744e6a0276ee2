"""JAX: devices, memory and versions."""

from __future__ import annotations


def prepare() -> None:
    """Run once when the backend is selected, before Keras is imported."""


def describe() -> str | None:
    import jax

    devs = jax.devices()
    return f"{len(devs)}x {devs[0].device_kind}" if devs else None


def platform() -> str:
    """``cpu``, ``gpu`` or ``tpu``."""
    import jax

    return jax.default_backend()


def versions() -> dict[str, str]:
    import jax

    return {"jax": jax.__version__}


def memory_bytes() -> int | None:
    import jax

    dev = jax.devices()[0]
    stats = dev.memory_stats() if dev.platform != "cpu" else None
    return int(stats["bytes_limit"]) if stats and stats.get("bytes_limit") else None
