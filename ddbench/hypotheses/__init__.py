"""Hypotheses: plugins that turn the table of trained cells into verdicts."""

from .base import HypothesisPlugin, decide
from .evidence import Evidence
from .table import ResultTable

__all__ = ["Evidence", "HypothesisPlugin", "ResultTable", "decide"]
