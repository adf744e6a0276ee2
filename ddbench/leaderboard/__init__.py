"""Leaderboards: the standard results file of a run, its renderings and comparisons."""

#: 1.1: ``refinements`` (widths added around k* and the peak), written only when the grid was refined
SCHEMA_VERSION = "1.1"
