"""Model families: a config plus a width -> a plain Keras 3 model."""

from .base import PENULTIMATE, FamilyPlugin

__all__ = ["FamilyPlugin", "PENULTIMATE"]
