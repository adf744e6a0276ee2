"""The statistical core of ddbench: defined once, used by every hypothesis, report and plot.

- :mod:`.threshold`: the interpolation threshold k* and the peak window around it;
- :mod:`.plan`: the resampling plan (seeded from the analysis seed and the resampling
  design, never from the order of hypotheses or claims);
- :mod:`.rowstats`: vectorised statistics over replicate rows (ranks, correlations);
- :mod:`.inference`: intervals, p-values, the non-finite rule, the rule for degenerate
  replicates and Holm's step-down within one hypothesis;
- :mod:`.permutation`: the permutation test of "values unrelated to the axis" (exact
  where it can be enumerated), which decides where no interval is valid.

The exact definitions are in ``docs/science.md, "Statistics"``.
"""

from .inference import NONFINITE_LIMIT, Test, holm, interval, p_value
from .plan import ResamplingPlan
from .threshold import interpolation_index, peak_excess, peak_window, straddle_problem

__all__ = [
    "NONFINITE_LIMIT", "ResamplingPlan", "Test", "holm", "interpolation_index", "interval", "p_value", "peak_excess",
    "peak_window", "straddle_problem",
]
