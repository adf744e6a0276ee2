"""The ``hypothesis`` scaffold: the second descent, test error at k* minus test error at the widest width,
with the replicates of the statistical core's resampling plan."""

SUMMARY = "past the interpolation threshold k*, test error falls again"

SOURCE = '''\
"""__NAME__: a ddbench hypothesis (written by ``ddbench plugin new hypothesis __NAME__``).

Claim ``descends_past_k_star``: past the interpolation threshold k* (the narrowest width whose
training error reaches the analysis threshold), test error falls again: the test error at k*
minus the test error of the widest width exceeds ``margin``. The statistic is computed in every
stratum (noise rate, family, grid axis) from ddbench's statistical core: ``table.cores(analysis)``
gives each stratum's k*, its paired error-vs-width curve and the replicates of the stratum's one
resampling plan (over seeds when there are at least 3, else over test points, the same indices
for every width and every hypothesis). The replicates of the statistic are the same difference
taken in each replicate: never draw your own random replicates.

Make it your own: change ``claims``, ``Config`` and ``evidence``. Return ``Evidence`` per claim
and stratum (a statistic, its replicates, a threshold, a side), or ``applicable=False`` with a
reason; ddbench decides the verdicts (Holm's correction within this hypothesis). Set ``unit`` and
``n_units`` from the core so intervals get the right degrees of freedom. A hypothesis that reads
probe values lists them in ``requires_probes``. ``ddbench plugin test __NAME__`` runs it on a
zoo that reaches k*.
"""

from __future__ import annotations

from typing import Any

from ddbench.hypotheses import Evidence, HypothesisPlugin, ResultTable
from ddbench.hypotheses.curves import WidthCurve, width_curve
from ddbench.registry import hypotheses
from pydantic import BaseModel, ConfigDict, Field

CLAIM = "descends_past_k_star"


@hypotheses.register("__NAME__", version="0.1")
class __CLASS__(HypothesisPlugin):
    description = "past the interpolation threshold k*, the widest model's test error is below the error at k*"
    claims = {CLAIM: "test_error(k*) - test_error(widest) > margin"}

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        margin: float = Field(default=0.0, ge=0, description="required fall of test error from k* to the widest width")

    def evidence(self, table: ResultTable, config: Any, analysis: Any) -> list[Evidence]:
        claim = f"{self.plugin_name}.{CLAIM}"
        out = []
        for core in table.cores(analysis):  # one per stratum: its k*, resampling plan and paired curves
            curve = width_curve(core)
            why = core.problem() or not_testable(curve)
            if why:
                out.append(Evidence(claim, core.stratum, None, threshold=config.margin, applicable=False, reason=why))
                continue
            k, widest = curve.k_index, len(curve.widths) - 1
            err, reps = curve.point["test_error"], curve.replicates["test_error"]  # (W,) and (replicates, W)
            out.append(Evidence(
                claim, core.stratum, float(err[k] - err[widest]), reps[:, k] - reps[:, widest], config.margin,
                side="greater", unit=curve.scheme, n_units=curve.n_units,
                detail={"k_star": int(curve.widths[k]), "widest": int(curve.widths[widest]),
                        "test_error_k_star": float(err[k]), "test_error_widest": float(err[widest])}))
        return out


def not_testable(curve: WidthCurve) -> str:
    """Why the claim cannot be tested on this curve ('' if it can)."""
    if "test_error" not in curve.point:
        return "no test error curve (missing per-point test arrays)"
    if curve.k_index is None:
        return "k* is not on the paired grid"
    if curve.k_index == len(curve.widths) - 1:
        return f"k* = {int(curve.widths[-1])} is the widest width; add wider widths to see past it"
    return ""
'''

USAGE = '''\
```yaml
hypotheses:
  - __NAME__: {margin: 0.0}       # or just: hypotheses: [__NAME__]
```
'''
