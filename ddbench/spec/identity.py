"""What a cell is beyond its spec, and what a run directory is bound to.

The same spec trained under TensorFlow and under JAX (or under Keras 3.8 and 3.15, or
in float32 and mixed bfloat16) does not give the same models: test errors moved by up
to 0.04 at small widths. So a cell's *identity* is its spec part plus the runtime that
trains it: the Keras backend, the Keras version (major.minor) and the training
precision. They are hashed into every cell key (:func:`ddbench.plan.cell_key`) and
into :func:`training_hash`.

A run directory is bound to its *recipe* (everything that determines a cell except
the grid values: dataset, family and its version, family options, training) and to
its identity. Grid values (widths, extra grid axes' values, noise rates, noise draws,
seeds) may be added or removed: cells are keyed by content, so new values train new
cells in the same directory and old cells are reused as they are.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .hashing import content_hash

if TYPE_CHECKING:  # pragma: no cover
    from .model import Spec

#: 2: the cell identity (backend, Keras major.minor, precision) is hashed with the training part
TRAINING_HASH_FORMAT = 2

#: the parts of a cell's identity that are not written in its spec
RUNTIME_FIELDS = ("backend", "keras")
#: the grid: values that pick cells out of one recipe (adding or removing them never alters a cell)
GRID_FIELDS = ("dataset.noise.rates", "dataset.noise.seeds", "model.widths", "seeds")


def keras_minor() -> str:
    """The installed Keras version as ``major.minor``, without importing Keras when it is not imported."""
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "__version__"):
        version = sys.modules["keras"].__version__
    else:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as dist_version

        try:
            version = dist_version("keras")
        except PackageNotFoundError:
            version = "unknown"
    return ".".join(version.split(".")[:2])


def current_runtime() -> dict[str, str]:
    """This process's backend (as selected; Keras need not be imported yet) and Keras major.minor."""
    from .. import backend

    return {"backend": backend.selected(), "keras": keras_minor()}


def cell_identity(spec: Spec, runtime: Mapping[str, str] | None = None) -> dict[str, str]:
    """backend, keras (major.minor) and precision of the cells of ``spec`` trained under ``runtime``
    (default: this process)."""
    rt = dict(runtime) if runtime is not None else current_runtime()
    missing = [f for f in RUNTIME_FIELDS if not rt.get(f)]
    if missing:
        raise ValueError(f"a runtime needs {', '.join(RUNTIME_FIELDS)}; missing: {', '.join(missing)}")
    return {"backend": str(rt["backend"]), "keras": str(rt["keras"]), "precision": spec.training.precision}


def training_hash(spec: Spec, runtime: Mapping[str, str] | None = None) -> str:
    """Hash of what determines the trained cells of ``spec``: its training part and the cell identity
    (Keras backend and major.minor of ``runtime``, default this process's, and the precision)."""
    return content_hash({"format": TRAINING_HASH_FORMAT, "training": spec.training_part(),
                         "identity": cell_identity(spec, runtime)})


def describe(identity: Mapping[str, Any]) -> str:
    """``tensorflow, Keras 3.15, float32``."""
    return f"{identity.get('backend', '?')}, Keras {identity.get('keras', '?')}, {identity.get('precision', '?')}"


def grid_of(spec: Spec) -> dict[str, list[Any]]:
    """The spec's grid values by field path (``model.grid.<axis>`` for extra axes)."""
    out: dict[str, list[Any]] = {
        "dataset.noise.rates": list(spec.dataset.noise.rates),
        "dataset.noise.seeds": list(spec.dataset.noise.seeds),
        "model.widths": list(spec.model.widths),
        "seeds": list(spec.seeds),
    }
    for axis, values in sorted(spec.model.grid.items()):
        out[f"model.grid.{axis}"] = list(values)
    return out


def recipe_of(spec: Spec) -> dict[str, Any]:
    """The training part of ``spec`` without its grid values (extra grid axes keep their names):
    what every cell of a run directory shares. The family options are resolved (defaults filled in)
    and the family's plugin version is included, as in the cell keys."""
    from .. import registry

    part = copy.deepcopy(spec.training_part())
    for path in GRID_FIELDS:
        *parents, leaf = path.split(".")
        node = part
        for p in parents:
            node = node[p]
        del node[leaf]
    part["model"]["grid"] = sorted(part["model"]["grid"])
    part["model"].pop("refine", None)  # which widths to add: grid values, chosen after training
    try:
        family = registry.families.get(spec.model.family)
    except KeyError:
        part["model"]["family_version"] = None
        return part
    part["model"]["family_version"] = family.plugin_version
    try:  # options as the cells see them: writing out a default is no change
        part["model"]["config"] = family.Config.model_validate(spec.model.config).model_dump(mode="json")
    except ValueError:
        pass
    return part


@dataclass(frozen=True)
class RunBinding:
    """What a run directory is tied to, computed from a spec and a runtime."""

    recipe: dict[str, Any]
    identity: dict[str, str]
    grid: dict[str, list[Any]]
    spec_hash: str
    training_hash: str
    training: dict[str, Any]
    spec: dict[str, Any]


def binding_for(spec: Spec, runtime: Mapping[str, str] | None = None) -> RunBinding:
    identity = cell_identity(spec, runtime)
    return RunBinding(recipe=recipe_of(spec), identity=identity, grid=grid_of(spec), spec_hash=spec.spec_hash(),
                      training_hash=training_hash(spec, identity), training=spec.training_part(), spec=spec.resolved())


def grid_changes(old: Mapping[str, list[Any]], new: Mapping[str, list[Any]]) -> list[str]:
    """Human lines for grid values added or removed: ``model.widths: added [64]``."""
    out = []
    for path in sorted(set(old) | set(new)):
        before, after = list(old.get(path, [])), list(new.get(path, []))
        added = [v for v in after if v not in before]
        removed = [v for v in before if v not in after]
        parts = ([f"added {added}"] if added else []) + ([f"removed {removed}"] if removed else [])
        if parts:
            out.append(f"{path}: {', '.join(parts)}")
    return out


def merge_grids(old: Mapping[str, list[Any]], new: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """Every grid value ever planned in a run directory (old values first, then the new ones)."""
    out = {k: list(v) for k, v in old.items()}
    for path, values in new.items():
        have = out.setdefault(path, [])
        have += [v for v in values if v not in have]
        try:
            have.sort()
        except TypeError:  # mixed kinds on an extra grid axis: keep the order they came in
            pass
    return out
