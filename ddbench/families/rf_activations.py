"""The erf activation of random features, registered so saved models load again.

``keras.activations`` has no erf, and an ``Activation(keras.ops.erf)`` layer saves
but cannot be deserialised. Registering a named function fixes that. This module
imports Keras, so the family imports it inside ``build`` and the closed-form
trainer at import time (then ``keras.saving.load_model`` finds ``ddbench>erf``
when probes are backfilled from saved models).
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="ddbench", name="erf")
def erf(x: Any) -> Any:
    """The Gauss error function, elementwise."""
    return keras.ops.erf(x)
