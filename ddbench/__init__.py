"""ddbench: a declarative Keras 3 benchmark for double descent and its explanations.

The data flow is spec -> plan (grid cells) -> train -> probe -> store -> hypotheses
-> leaderboard; each arrow is one module (``spec``, ``plan``, ``train``, ``probes``,
``store``, ``hypotheses``, ``leaderboard``) and ``runner`` strings them together.
Importing ``ddbench`` does not import Keras, so the backend can still be chosen.
"""

__version__ = "0.1.0"
