"""Leaderboards: the standard results file of a run, its renderings and comparisons."""

SCHEMA_VERSION = "1.0"
