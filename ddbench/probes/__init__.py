"""Probes: measurements of one trained cell (model + data + masks)."""

from .base import ProbeContext, ProbePlugin, ProbeResult, run_probe

__all__ = ["ProbeContext", "ProbePlugin", "ProbeResult", "run_probe"]
