"""Backend-neutral helpers of the backend layer: quieting native stderr, host and nvidia-smi queries."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
from typing import Iterator


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
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


def parse_bytes(text: str) -> int:
    """``40G``, ``512M``, ``1.5T``, ``123`` -> bytes."""
    units = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    text = text.strip().upper().rstrip("B")
    scale = units.get(text[-1:], 1)
    return int(float(text.rstrip("KMGT")) * scale)


def host_memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def host_description() -> str:
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


def nvidia_smi_total_bytes(index: int = 0) -> int | None:
    """Total memory of GPU ``index`` as nvidia-smi reports it, or None without nvidia-smi."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits", "-i", str(index)],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return int(float(out.strip().splitlines()[0]) * 2**20)
    except Exception:
        return None
