"""ddbench: a declarative Keras 3 benchmark for double descent and its explanations.

The data flow is spec -> plan (grid cells) -> train -> probe -> store -> hypotheses
-> leaderboard; each stage is a package (``spec``, ``plan``, ``train``, ``probes``, ``store``,
``hypotheses``, ``leaderboard``) and ``run.pipeline`` strings them together
(docs/architecture.md). Importing ``ddbench`` does not import Keras, so the backend can still be
chosen.
"""

__version__ = "0.1.0"

from . import moved as _moved  # noqa: E402,F401  (old flat module paths, e.g. ddbench.results, keep importing)
