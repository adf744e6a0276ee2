"""Old module paths keep importing after the move into stage packages.

``import ddbench.results`` (the documented tidy-table API), ``from ddbench.runner import run`` and the
other flat modules of ddbench 0.1 resolve to the module that now holds them: the *same* module object,
so attributes, monkeypatches and ``isinstance`` checks agree whichever path a caller used.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys

#: old flat module -> its home in a stage package
MOVED = {
    "ddbench.spec_schema": "ddbench.spec.schema",
    "ddbench.spec_limits": "ddbench.spec.limits",
    "ddbench.yaml_io": "ddbench.spec.yaml_io",
    "ddbench.validate": "ddbench.spec.validate",
    "ddbench.preflight": "ddbench.spec.preflight",
    "ddbench.overrides": "ddbench.spec.overrides",
    "ddbench.identity": "ddbench.spec.identity",
    "ddbench.store_db": "ddbench.store.db",
    "ddbench.cellfiles": "ddbench.store.cellfiles",
    "ddbench.results": "ddbench.store.results",
    "ddbench.status": "ddbench.store.status",
    "ddbench.tensorboard": "ddbench.store.tensorboard",
    "ddbench.runner": "ddbench.run.pipeline",
    "ddbench.progress": "ddbench.cli.progress",
    "ddbench.planview": "ddbench.cli.planview",
    "ddbench.plugin_check": "ddbench.cli.plugin_check",
    "ddbench.train.lanes": "ddbench.engine.lanes",
    "ddbench.train.bundle_engine": "ddbench.engine.bundle_engine",
    "ddbench.train.evaluate": "ddbench.engine.evaluate",
    "ddbench.train.lr_schedule": "ddbench.engine.lr_schedule",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):  # the default: a placeholder module, replaced in exec_module
        return None

    def exec_module(self, module) -> None:
        # the import system reads the module back from sys.modules after exec: hand it the real one
        sys.modules[module.__name__] = importlib.import_module(self.target)


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        home = MOVED.get(fullname)
        return importlib.machinery.ModuleSpec(fullname, _Alias(home)) if home else None


def install() -> None:
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())


install()
