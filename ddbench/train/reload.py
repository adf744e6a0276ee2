"""Saved cell models, reloaded for probing: ddbench's Keras objects registered first.

A cell's ``model.keras`` may hold ddbench's layers, the ``ddbench>erf`` activation and, with its
compiled optimizer, the ``ddbench>EpochSchedule``; Keras finds them only once the modules that
register them are imported. This is the one loader that does so, used by the runner and
``ddbench plugin test`` (tests/test_reload.py checks every trainer's models reload).
"""

from __future__ import annotations

from typing import Any


def load_trained_model(path: Any, compile: bool = False) -> Any:
    """A saved cell model, for probing: ``keras.saving.load_model(path, compile=False)`` by default
    (probes need the weights, not the optimizer); ddbench's Keras objects registered first."""
    import keras

    from ..engine import lr_schedule  # noqa: F401  registers ddbench>EpochSchedule
    from ..families import layers, rf_activations  # noqa: F401  register ddbench's layers and ddbench>erf

    return keras.saving.load_model(path, compile=compile)
