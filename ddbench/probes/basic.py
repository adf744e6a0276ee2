"""Cheap probes every spec can afford.

``weight_norm``: the ddbench extension of the norm-based capacity view (docs/science.md,
"weight_norm"): squared Frobenius norms of the head and of all trainable weights.

- ``total_sq_norm``: every trainable weight, kernels **and** biases (and any other
  trainable variable, e.g. BatchNorm scales and offsets);
- ``kernels_sq_norm``: the kernels only (variables with two or more dimensions; the
  value ``total_sq_norm`` had before version 2);
- ``head_sq_norm``: the kernel of the final linear layer; ``head_total_sq_norm``: its
  kernel and bias.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..families.base import HEAD
from ..registry import probes
from .base import ProbeContext, ProbePlugin


def sq_norm(arrays: list[np.ndarray]) -> float:
    """Sum of squared entries of every array, accumulated in float64."""
    return float(sum(np.sum(np.square(np.asarray(a, np.float64))) for a in arrays))


@probes.register("weight_norm", version="2")
class WeightNorm(ProbePlugin):
    description = "squared Frobenius norm of the head and of all trainable weights incl. biases (norm-capacity extension)"

    def measure(self, ctx: ProbeContext, config: Any) -> dict[str, Any]:
        weights = [np.asarray(w) for w in ctx.model.trainable_weights]
        head = ctx.model.get_layer(HEAD)
        head_parts = [np.asarray(head.kernel)]
        if getattr(head, "bias", None) is not None:
            head_parts.append(np.asarray(head.bias))
        return {
            "head_sq_norm": sq_norm(head_parts[:1]),
            "head_total_sq_norm": sq_norm(head_parts),
            "total_sq_norm": sq_norm(weights),
            "kernels_sq_norm": sq_norm([w for w in weights if w.ndim >= 2]),
        }
