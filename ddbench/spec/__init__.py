"""The spec stage: what to run. A YAML file read strictly, checked field by field (Pydantic) and
against the installed plugins, hashed into the identities that bind a run directory.

``model`` is the Pydantic spec, ``validate`` / ``preflight`` the checks with their ``problems``,
``identity`` the cell identity and hashes, ``overrides`` the ``-s`` and ``--smoke`` edits.
"""

from .model import DatasetSpec, ModelSpec, Spec, TrainingSpec
from .validate import SpecError, load_spec, load_spec_text

__all__ = ["DatasetSpec", "ModelSpec", "Spec", "SpecError", "TrainingSpec", "load_spec", "load_spec_text"]
