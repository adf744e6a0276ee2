"""An example ddbench plugin: "the widest model generalises better than the narrowest".

Install this package (``pip install ./examples/ddbench-example-plugin``) and
``ddbench list hypotheses`` shows ``wider_is_better``; a spec can then say
``hypotheses: [wider_is_better]``. The claim reads each stratum's error-vs-width
curve and its replicates from ddbench's statistical core (``table.cores(analysis)``:
the stratum's k*, resampling unit and paired replicate indices, shared with every
built-in hypothesis), so its verdict comes with a CI like the built-in ones, under
its own Holm family.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ddbench.hypotheses import Evidence, HypothesisPlugin, ResultTable
from ddbench.hypotheses.curves import width_curve
from ddbench.registry import hypotheses


@hypotheses.register("wider_is_better", version="0.1")
class WiderIsBetter(HypothesisPlugin):
    description = "test error of the widest model is below that of the narrowest, by at least margin"
    claims = {"widest_beats_narrowest": "test_error(narrowest) - test_error(widest) > margin"}

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        margin: float = Field(default=0.0, ge=0, description="required improvement, in error")

    def evidence(self, table: ResultTable, config: Any, analysis: Any) -> list[Evidence]:
        out = []
        for core in table.cores(analysis):
            stratum, curve = core.stratum, width_curve(core)
            claim = "wider_is_better.widest_beats_narrowest"
            if len(curve.widths) < 2 or "test_error" not in curve.point:
                out.append(Evidence(claim, stratum, None, threshold=config.margin, applicable=False,
                                    reason="needs at least two finished widths"))
                continue
            err, reps = curve.point["test_error"], curve.replicates["test_error"]
            out.append(Evidence(claim, stratum, float(err[0] - err[-1]), reps[:, 0] - reps[:, -1], config.margin,
                                detail={"narrowest": int(curve.widths[0]), "widest": int(curve.widths[-1])},
                                unit=curve.scheme, n_units=curve.n_units))
        return out
