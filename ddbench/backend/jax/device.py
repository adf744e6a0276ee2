"""JAX: devices, memory and versions."""

from __future__ import annotations

#: programs that took less than this to compile are not written to the persistent cache (JAX's
#: default is 1 s; the bundle programs take several seconds, the eager per-op programs milliseconds)
MIN_CACHED_COMPILE_S = 0.5


def prepare() -> None:
    """Run once when the backend is selected, before Keras is imported: turn on JAX's persistent
    compilation cache (:func:`compilation_cache`)."""
    compilation_cache()


def compilation_cache() -> None:
    """Compiled programs are kept on disk, under ``<cache>/xla/jax`` (``DDBENCH_CACHE`` or
    ``~/.cache/ddbench``), keyed by JAX on the program, the backend and their versions: a bundle of
    the same shape (the other noise rates of a run, or the same recipe run again) loads its program
    instead of compiling it. A cache directory the user chose (``JAX_COMPILATION_CACHE_DIR``) is kept."""
    import jax

    from ...data.base import cache_dir

    if jax.config.jax_compilation_cache_dir:
        return
    path = cache_dir() / "xla" / "jax"
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_CACHED_COMPILE_S)


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
