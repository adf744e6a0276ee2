"""Scaffolding for contributors: ``ddbench plugin new KIND NAME [--dir DIR]`` writes a complete plugin package.

Every kind (dataset, family, probe, hypothesis, trainer, executor) gets a pyproject with the
entry point, the plugin (a simple, real one, with its ``Config``), a README and a test: for the
kinds a spec names, ``ddbench plugin test NAME``; for a trainer or an executor, a tiny run with
``--trainer`` / ``--executor``. As written it installs and passes that test. The templates are in
:mod:`.templates`, one module per kind; :mod:`.package` fills them in and writes the package.
"""

from .kinds import KINDS, Kind
from .package import Scaffold, check_name, new_plugin, prepare, refuse_taken, resolve_kind, write

__all__ = ["KINDS", "Kind", "Scaffold", "check_name", "new_plugin", "prepare", "refuse_taken", "resolve_kind",
           "write"]
