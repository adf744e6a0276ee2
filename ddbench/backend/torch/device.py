"""PyTorch: devices, memory and versions."""

from __future__ import annotations


def prepare() -> None:
    """Run once when the backend is selected, before Keras is imported."""


def describe() -> str | None:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()}x {torch.cuda.get_device_name(0)}"
    return None


def platform() -> str:
    import torch

    return "gpu" if torch.cuda.is_available() else "cpu"


def versions() -> dict[str, str]:
    import torch

    return {"torch": torch.__version__}


def memory_bytes() -> int | None:
    import torch

    return int(torch.cuda.get_device_properties(0).total_memory) if torch.cuda.is_available() else None
