"""The probe contract: one trained cell in, named values with a status out.

A probe never raises into the run: :func:`run_probe` records an exception, an output that is
not a mapping of finite numbers, short strings or arrays within the size limit
(:mod:`.checks`), or a run past its time limit (:mod:`.limit`) as status ``failed`` with the
reason, and a NaN or infinite value as status ``nan``, so one bad measurement costs one entry,
not the grid.

Probe randomness (docs/science.md, "Probe randomness"): every Monte Carlo draw of a
probe is seeded from the cell and the probe's *name*, never from the probe's
position in the spec's ``probes:`` list, so reordering or adding probes changes no
value. :meth:`ProbeContext.for_cell` derives two seeds:

- ``seed``: from the cell's key and the probe name, for draws that belong to one
  model (sign vectors, chunks of neurons, augmented copies;
  add the draw index: ``np.random.default_rng([ctx.seed, tag, index])``);
- ``points_seed``: from the probe name and the cell's data and seed axes (noise
  rate, noise seed, seed), not its width or family options, for draws of *points*
  (evaluation subsets), so every width of a curve is measured on the same points
  (a paired design, like the label-noise draw).

Draws of *untrained* models (fresh initialisations) depend on neither the labels nor the
training recipe, so :func:`architecture_seed` seeds them from the probe name, the family,
its options, the width and the cell's seed only: cells that differ only in noise rate or
noise seed share them (and a run computes them once).
"""

from __future__ import annotations

import hashlib
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from ..data import TrainData
from ..plan import Cell
from .checks import ProbeOutputError, check_values
from .limit import ProbeTimeout
from .limit import time_limit as limited


def derive_seed(*parts: Any) -> int:
    """A 31-bit seed from the text of ``parts`` (SHA-256): stable across processes and platforms."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def probe_seed(cell: Cell, probe: str) -> int:
    """Seed of the draws of probe ``probe`` that belong to one cell's model: cell key + probe name."""
    return derive_seed("probe", probe, cell.key)


def points_seed(cell: Cell, probe: str) -> int:
    """Seed of the probe's draws of points, shared by every width and family option of a
    (noise rate, noise seed, seed): probe name + those axes."""
    return derive_seed("probe-points", probe, f"{float(cell.noise_rate)!r}", int(cell.noise_seed), int(cell.seed))


def architecture_seed(cell: Cell, probe: str) -> int:
    """Seed of the probe's draws of untrained models of the cell's architecture, shared by every noise
    rate, noise seed and recipe: probe name + family, family options, width and the cell's seed."""
    return derive_seed("probe-architecture", probe, cell.family, sorted(cell.family_config.items()), int(cell.width),
                       int(cell.seed))


@dataclass
class ProbeContext:
    cell: Cell
    model: Any  # the trained keras.Model
    data: TrainData
    seed: int  # per-model Monte Carlo draws (see the module docstring)
    #: epoch -> weights file (``.weights.h5``) saved at recorded epochs, when the spec asks
    #: for checkpoints; load into ``model`` (then restore) for epoch-wise probes
    checkpoints: dict[int, Path] = field(default_factory=dict)
    points_seed: int = 0  # draws of evaluation points, paired across widths (see the module docstring)

    @classmethod
    def for_cell(cls, cell: Cell, model: Any, data: TrainData, probe: str,
                 checkpoints: dict[int, Path] | None = None) -> ProbeContext:
        """The context of probe ``probe`` on ``cell``, its seeds derived from the cell and the probe name."""
        return cls(cell, model, data, seed=probe_seed(cell, probe), checkpoints=dict(checkpoints or {}),
                   points_seed=points_seed(cell, probe))


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


def run_probe(plugin_cls: type[ProbePlugin], params: dict[str, Any], ctx: ProbeContext,
              time_limit: float | None = None, on_stuck: Callable[[], None] | None = None) -> ProbeResult:
    """Run one probe on one cell; whatever it does, one :class:`ProbeResult` comes back.

    The probe's output is checked here (:mod:`.checks`): a wrong type or too many numbers fails the
    probe with the reason, a non-finite number makes it ``nan``. ``time_limit`` (seconds) stops it
    (:mod:`.limit`): status ``failed`` with the reason; ``on_stuck`` is called if it cannot be interrupted.
    """
    t0 = time.perf_counter()
    try:
        with limited(time_limit, on_stuck or _stuck_without_handler), one_blas_thread():
            values = plugin_cls().measure(ctx, plugin_cls.Config.model_validate(params))
    except ProbeTimeout as exc:
        return ProbeResult(status="failed", error=f"ProbeTimeout: {exc} (raise probes[].time_limit in the spec "
                           "if it needs longer)", seconds=time.perf_counter() - t0)
    except Exception:
        return ProbeResult(status="failed", error=traceback.format_exc(), seconds=time.perf_counter() - t0)
    seconds = time.perf_counter() - t0
    try:
        values, finite = check_values(values)
    except ProbeOutputError as exc:
        return ProbeResult(status="failed", error=f"ProbeOutputError: {exc}", seconds=seconds)
    return ProbeResult(values=values, status="ok" if finite else "nan", seconds=seconds)


def one_blas_thread() -> Any:
    """NumPy's BLAS and LAPACK on one thread while a probe runs.

    A probe's linear algebra is many small products and decompositions (a 300 x 300 eigenvalue
    problem, per-class products of a few thousand rows), run beside the backend's own threads. With
    its default two threads OpenBLAS waits for its second thread at every step, and on two shared
    cores that second thread is often not running: measured on the quickstart's cells at load 2.5-3,
    ``low_rank`` took 15.3 s on two threads and 6.6 s on one (one 300 x 300 Gram matrix and its
    eigenvalues: 0.91 s against 0.008 s), ``class_activation`` 10.4 s and 3.1 s. On an idle machine
    the second thread helps a little (``class_activation`` 1.25 s against 1.86 s on 14 cells at load 1).
    The libraries are looked up once per process (a lookup costs 6 ms with TensorFlow loaded)."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


_BLAS: Any = None  # threadpoolctl's view of the loaded BLAS libraries, made on first use


def _stuck_without_handler() -> None:
    """A probe that cannot be interrupted, run where no caller records it: end the process, saying so."""
    import os
    import sys

    print("ddbench: a probe ran past its time limit and could not be interrupted; stopping", file=sys.stderr,
          flush=True)
    os._exit(130)
