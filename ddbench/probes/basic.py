"""Cheap probes every spec can afford.

``weight_norm``: the ddbench extension of the norm-based capacity view (shared/science
section 4, "Extension for trained nets"): squared Frobenius norms of the last layer's
kernel and of all kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..families.base import HEAD
from ..registry import probes
from .base import ProbeContext, ProbePlugin


@probes.register("weight_norm", version="1")
class WeightNorm(ProbePlugin):
    description = "squared Frobenius norm of the head kernel and of all kernels (norm-capacity extension)"

    def measure(self, ctx: ProbeContext, config: Any) -> dict[str, Any]:
        kernels = [np.asarray(w) for w in ctx.model.trainable_weights if len(w.shape) >= 2]
        head = ctx.model.get_layer(HEAD).kernel
        return {
            "head_sq_norm": float(np.sum(np.square(np.asarray(head)))),
            "total_sq_norm": float(sum(np.sum(np.square(k)) for k in kernels)),
        }
