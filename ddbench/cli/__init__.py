"""The command line, ddbench's only user interface (``ddbench = ddbench.cli:app``)."""

from .app import app

__all__ = ["app"]
