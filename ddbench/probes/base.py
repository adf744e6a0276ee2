"""The probe contract: one trained cell in, named values with a status out.

A probe never raises into the run: :func:`run_probe` records an exception as
status ``failed`` with its traceback, and a NaN value as status ``nan``, so one bad
measurement costs one entry, not the grid.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ..data import TrainData
from ..plan import Cell


@dataclass
class ProbeContext:
    cell: Cell
    model: Any  # the trained keras.Model
    data: TrainData
    seed: int  # the probe Monte Carlo seed axis
    #: epoch -> weights file (``.weights.h5``) saved at recorded epochs, when the spec asks
    #: for checkpoints; load into ``model`` (then restore) for epoch-wise probes
    checkpoints: dict[int, Path] = field(default_factory=dict)


@dataclass
class ProbeResult:
    values: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"  # ok | failed | nan | skipped
    error: str | None = None
    seconds: float = 0.0


class ProbePlugin:
    """Base class of probes. Subclass, set ``Config``, implement ``measure``."""

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    description: ClassVar[str] = ""
    #: values that are generalization measures (ranked against test error on the leaderboard);
    #: None: every scalar except bookkeeping (``n_*`` counts and ``*_se`` standard errors)
    measures: ClassVar[tuple[str, ...] | None] = None

    def measure(self, ctx: ProbeContext, config: Any) -> dict[str, Any]:  # pragma: no cover - interface
        raise NotImplementedError


def run_probe(plugin_cls: type[ProbePlugin], params: dict[str, Any], ctx: ProbeContext) -> ProbeResult:
    t0 = time.perf_counter()
    try:
        values = plugin_cls().measure(ctx, plugin_cls.Config.model_validate(params))
    except Exception:
        return ProbeResult(status="failed", error=traceback.format_exc(), seconds=time.perf_counter() - t0)
    status = "ok"
    if any(isinstance(v, float) and math.isnan(v) for v in values.values()):
        status = "nan"
    return ProbeResult(values=values, status=status, seconds=time.perf_counter() - t0)
