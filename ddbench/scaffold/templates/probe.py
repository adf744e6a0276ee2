"""The ``probe`` scaffold: the mean norm of the penultimate features on a seeded subset of test points."""

SUMMARY = "the mean norm of the penultimate features on test points"

SOURCE = '''\
"""__NAME__: a ddbench probe (written by ``ddbench plugin new probe __NAME__``).

The mean Euclidean norm of the penultimate features h(x) (the output of the layer every family
names ``penultimate``) over ``points`` test points, with its standard error. The points are a
draw seeded by ``ctx.points_seed``: the same points at every width of a curve (a paired design),
whatever the probe's place in the spec's ``probes:`` list.

Make it your own: change ``Config`` and ``measure``; return a dict of named JSON values. Seed
every random draw from ``ctx.seed`` (draws that belong to one model; add an index:
``np.random.default_rng([ctx.seed, i])``) or ``ctx.points_seed`` (draws of points), never from
global state. An exception or a NaN is recorded as the probe's status, not raised through the
run. ``measures`` names the values that the leaderboard ranks against test error (``*_se`` and
``n_*`` values are bookkeeping). ``ddbench plugin test __NAME__`` runs it on a tiny zoo.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ddbench.probes.base import ProbeContext, ProbePlugin
from ddbench.probes.features import features
from ddbench.registry import probes
from pydantic import BaseModel, ConfigDict, Field


@probes.register("__NAME__", version="0.1")
class __CLASS__(ProbePlugin):
    description = "mean Euclidean norm of the penultimate features h(x) on a seeded subset of test points"
    measures = ("feature_norm",)

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        points: int = Field(default=500, ge=2, description="test points measured (the same ones at every width)")

    def measure(self, ctx: ProbeContext, config: Any) -> dict[str, Any]:
        x = ctx.data.x_test
        rng = np.random.default_rng(ctx.points_seed)
        idx = np.sort(rng.choice(len(x), size=min(config.points, len(x)), replace=False))
        h, _ = features(ctx.model, x[idx])  # penultimate features (flattened) and logits
        norms = np.linalg.norm(np.asarray(h, dtype=np.float64), axis=1)
        se = float(norms.std(ddof=1) / math.sqrt(len(norms))) if len(norms) > 1 else float("nan")
        return {"feature_norm": float(norms.mean()), "feature_norm_se": se, "n_points": int(len(norms))}
'''

USAGE = '''\
```yaml
probes:
  - __NAME__: {points: 500}       # or just: probes: [__NAME__]
```
'''
