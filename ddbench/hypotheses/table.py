"""The table of a run's finished cells, as every hypothesis reads it.

:class:`ResultTable` holds the :class:`~ddbench.hypotheses.cells.CellView` rows, reads their
per-point arrays lazily and builds (and caches) one
:class:`~ddbench.hypotheses.core.StratumCore` per stratum, so every hypothesis sees the same
k*, unit and resampling plan. It sits above the core: the core never needs the table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..stats.plan import ResamplingPlan
from .cells import CellView
from .core import StratumCore, stratum_label


class ResultTable:
    """The cells of a run, with lazy access to their per-point arrays."""

    def __init__(self, cells: list[CellView], arrays: Callable[[str], dict[str, np.ndarray]]):
        self.cells = cells
        self._arrays = arrays
        self._cache: dict[str, dict[str, np.ndarray]] = {}
        self._cores: dict[tuple, list[StratumCore]] = {}

    def done(self) -> list[CellView]:
        return [c for c in self.cells if c.status == "done"]

    def arrays(self, key: str) -> dict[str, np.ndarray]:
        if key not in self._cache:
            self._cache[key] = self._arrays(key)
        return self._cache[key]

    def strata(self) -> list[tuple[dict[str, Any], list[CellView]]]:
        """Done cells grouped by stratum, in first-seen order."""
        groups: dict[str, tuple[dict[str, Any], list[CellView]]] = {}
        for c in self.done():
            label = repr(sorted(c.stratum.items()))
            groups.setdefault(label, (c.stratum, []))[1].append(c)
        return list(groups.values())

    def cores(self, analysis: Any) -> list[StratumCore]:
        """One :class:`~ddbench.hypotheses.core.StratumCore` per stratum (k*, unit, plan), shared by every hypothesis."""
        key = (float(analysis.interpolation_threshold), int(analysis.bootstrap), int(analysis.seed))
        if key not in self._cores:
            plan = ResamplingPlan(analysis.bootstrap, analysis.seed)
            widths_of: dict[str, set[int]] = {}
            for c in self.cells:
                widths_of.setdefault(stratum_label(c.stratum), set()).add(c.width)
            cores = []
            for stratum, cells in self.strata():
                done = {c.width for c in cells}
                core = StratumCore(stratum, cells, plan, key[0],
                                   failed_widths=sorted(widths_of.get(stratum_label(stratum), set()) - done))
                core.attach_arrays(self.arrays)
                cores.append(core)
            self._cores[key] = cores
        return self._cores[key]
