"""The six kinds of plugin a scaffold can be, each with the text of its package.

The four kinds a spec names (dataset, family, probe, hypothesis) are tested by ``ddbench plugin
test``; a trainer and an executor by a tiny run with ``--trainer`` / ``--executor``.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from .templates import common, dataset, executor, family, hypothesis, probe, trainer


@dataclass(frozen=True)
class Kind:
    name: str  # singular: "dataset"
    plural: str  # the registry's and ``ddbench list``'s name: "datasets"; the entry-point group is ddbench.<plural>
    suffix: str  # of the generated class: blobs -> BlobsDataset
    example: str  # a name for the docs and the help
    summary: str  # what the plugin is, in a few words (the package's description, the README's first line)
    source: str  # the plugin module
    test: str  # the package's test module
    plugin_note: str  # what the README says of the plugin's class
    test_summary: str  # what the test does, for the README
    check_lines: str  # shell lines of the README's "Install and check", after the install
    usage: str  # how a spec or a run uses it, for the README

    @property
    def group(self) -> str:
        return f"ddbench.{self.plural}"


def _spec_kind(name: str, plural: str, example: str, module: ModuleType) -> Kind:
    """A kind that a spec names: its test is ``ddbench plugin test``."""
    test = common.CONFORMANCE_TEST.replace("__CHECK_WHAT__", common.CHECK_WHAT[name])
    return Kind(name, plural, name.capitalize(), example, module.SUMMARY, module.SOURCE, test,
                common.SPEC_PLUGIN_NOTE, common.CONFORMANCE_SUMMARY, common.CONFORMANCE_CHECK_LINES,
                module.USAGE + common.VERSION_NOTE)


def _run_kind(name: str, plural: str, example: str, module: ModuleType) -> Kind:
    """How or where bundles train: its test is a tiny run."""
    return Kind(name, plural, name.capitalize(), example, module.SUMMARY, module.SOURCE, module.TEST,
                module.PLUGIN_NOTE, module.TEST_SUMMARY, module.CHECK_LINES, module.USAGE)


KINDS: dict[str, Kind] = {k.name: k for k in (
    _spec_kind("dataset", "datasets", "blobs", dataset),
    _spec_kind("family", "families", "tiny_mlp", family),
    _spec_kind("probe", "probes", "feature_norm", probe),
    _spec_kind("hypothesis", "hypotheses", "second_descent", hypothesis),
    _run_kind("trainer", "trainers", "timed_fit", trainer),
    _run_kind("executor", "executors", "journal", executor),
)}

#: names that a kind keeps for itself beyond its registered plugins (``--trainer auto`` picks a trainer)
RESERVED: dict[str, tuple[str, ...]] = {"trainer": ("auto",)}
