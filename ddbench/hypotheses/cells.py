"""A finished cell as hypotheses see it.

:class:`CellView` is the row type of :class:`~ddbench.hypotheses.table.ResultTable` and of
every :class:`~ddbench.hypotheses.core.StratumCore`. It lives apart from both (and imports
nothing of ddbench) so the table, the statistical core and the plugins all read one type and
the imports between them point one way: cells <- core <- table <- base.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class CellView:
    """A finished cell as hypotheses see it."""

    key: str
    family: str
    config: dict[str, Any]
    grid: dict[str, Any]
    width: int
    noise_rate: float
    noise_seed: int
    seed: int
    status: str
    params: int | None
    metrics: dict[str, Any]
    curves: dict[str, list[Any]]
    probes: dict[str, dict[str, Any]]

    @property
    def stratum(self) -> dict[str, Any]:
        """Cells of one stratum differ only by width and seeds."""
        return {"family": self.family, **self.grid, "noise_rate": self.noise_rate}
