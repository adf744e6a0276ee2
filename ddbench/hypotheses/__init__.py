"""Hypotheses: plugins that turn the table of trained cells into verdicts."""

from .base import Evidence, HypothesisPlugin, ResultTable, decide

__all__ = ["Evidence", "HypothesisPlugin", "ResultTable", "decide"]
