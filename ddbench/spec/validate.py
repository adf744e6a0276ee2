"""Loading a spec from YAML and reporting every problem a user can act on.

A problem names the YAML path (``model.widths[3]``), the line in the file, the bad
value and what is allowed. Pydantic's structural errors and the registry's plugin
errors (unknown family, bad family option, ...) come out in one list, so one
``ddbench validate`` shows everything wrong at once. Never a traceback.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from .model import DEFAULT_PRECISION, Spec
from .problems import MISSING, Problem, SpecError, format_loc
from .yaml_io import YamlProblem, line_map, load_yaml, read_text

# ----------------------------------------------------------------- YAML line map


def _line_map(text: str) -> dict[tuple[Any, ...], int]:
    """Map every YAML path to its 1-based line, for error messages."""
    try:
        return line_map(load_yaml(text)[1])
    except YamlProblem:
        return {}


def nearest_line(lines: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


# ----------------------------------------------------------------- pydantic errors


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at ``loc`` (the parent of an unknown key)."""
    cur: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(cur, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        cur = _model_in(ann)
        if cur is None:
            return []
    return list(getattr(cur, "model_fields", {}))


def _model_in(ann: Any) -> Any:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in getattr(ann, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def problems_from_validation(err: ValidationError, model: type[BaseModel], prefix: tuple[Any, ...] = ()) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = prefix + tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = e["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        value = e.get("input", MISSING)
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, tuple(e["loc"][:-1]))
            key = str(e["loc"][-1])
            msg = f"unknown key {key!r}"
            if allowed:
                msg += f"; allowed: {', '.join(allowed)}"
                hint = difflib.get_close_matches(key, allowed, n=1)
                if hint:
                    msg += f" (did you mean {hint[0]!r}?)"
        elif e["type"] == "finite_number":
            msg = "not a finite number; allowed: finite numbers only (no .inf or .nan)"
        elif e["type"] == "missing":
            msg = "required field is missing"
            value = MISSING
        out.append(Problem(format_loc(loc), msg, value))
    return out


# ----------------------------------------------------------------- plugins


def check_plugins(spec: Spec) -> list[Problem]:
    """Check names and options of every plugin the spec uses against the registry."""
    from .. import registry
    from ..registry import UnknownPluginError

    problems: list[Problem] = []

    def lookup(reg: Any, name: str, path: str) -> Any:
        try:
            return reg.get(name)
        except UnknownPluginError as exc:
            problems.append(Problem(path, str(exc), MISSING))
            return None

    ds = lookup(registry.datasets, spec.dataset.name, "dataset.name")
    if ds is not None:
        problems += _check_options(ds, spec.dataset.options, ("dataset", "options"))
    fam = lookup(registry.families, spec.model.family, "model.family")
    if fam is not None and getattr(fam, "closed_form", False):
        solved = f"{spec.model.family} is solved in closed form, not trained"
        if spec.training.precision != DEFAULT_PRECISION:
            problems.append(Problem("training.precision", f"{solved}: precision does not apply; allowed: {DEFAULT_PRECISION}",
                                    spec.training.precision))
        if spec.distribution.strategy != "none":
            problems.append(Problem("distribution.strategy", f"{solved}: distribution does not apply; allowed: none",
                                    spec.distribution.strategy))
    if fam is not None:
        problems += _check_options(fam, spec.model.config, ("model", "config"))
        low = [w for w in spec.model.widths if w < fam.min_width]
        if low:
            problems.append(Problem("model.widths", f"{spec.model.family} builds widths from {fam.min_width}; "
                                    f"allowed: integers >= {fam.min_width}", low))
        allowed = set(fam.Config.model_fields) - {"width"}
        for key, vals in spec.model.grid.items():
            if key not in allowed:
                problems.append(
                    Problem(f"model.grid.{key}", f"{spec.model.family} has no option {key!r}; allowed: {', '.join(sorted(allowed))}", MISSING)
                )
                continue
            for i, v in enumerate(vals):
                problems += _check_options(fam, {**spec.model.config, key: v}, ("model", "grid", key, i), only=key)
    for i, h in enumerate(spec.hypotheses):
        plugin = lookup(registry.hypotheses, h.name, f"hypotheses[{i}].name")
        if plugin is not None:
            problems += _check_options(plugin, h.params, ("hypotheses", i, "params"))
            listed = {p.name for p in spec.probes}
            for need in getattr(plugin, "requires_probes", ()):
                if need not in registry.probes:
                    problems.append(Problem(f"hypotheses[{i}]", f"needs probe {need!r}, which is not installed", MISSING))
                elif need not in listed:  # else every claim would silently lack its values
                    problems.append(Problem(f"hypotheses[{i}]", f"{h.name} reads probe {need!r}; add it to probes", MISSING))
    for i, p in enumerate(spec.probes):
        plugin = lookup(registry.probes, p.name, f"probes[{i}].name")
        if plugin is not None:
            problems += _check_options(plugin, p.params, ("probes", i, "params"))
    if spec.trainer != "auto":  # a registered trainer chosen by name (``ddbench list trainers``)
        trainer = lookup(registry.trainers, spec.trainer, "trainer")
        if trainer is not None and not getattr(trainer, "by_name", True):
            problems.append(Problem("trainer", f"{spec.trainer} is chosen by the family (closed-form families), never "
                                    f"by name; allowed: auto or a trainer of `ddbench list trainers`", spec.trainer))
    return problems


def check_distribution(spec: Spec, backend_name: str | None = None) -> list[Problem]:
    """``distribution:`` against the Keras backend (``backend_name``, default the active one:
    KERAS_BACKEND or tensorflow) and the devices it sees; a data-parallel batch must split evenly.

    Selects the backend (as ``ddbench run`` does) and starts its runtime, but only for a
    spec that asks for a distribution.
    """
    from .. import backend
    from ..backend.strategies import check, visible_devices

    dist = spec.distribution
    if dist.strategy == "none":
        return []
    if backend_name is None:
        try:
            backend_name = backend.select(None)
        except backend.BackendError as exc:
            return [Problem("distribution.strategy", str(exc), dist.strategy)]
        count = True
    else:  # another backend than the active one: its devices cannot be listed in this process
        count = backend_name == backend.selected()
    problems = [Problem(f"distribution.{f}", msg, v) for f, msg, v in check(dist.strategy, dist.devices, backend_name,
                                                                              count_devices=count)]
    if not problems and count and dist.strategy == "data_parallel":
        n = dist.devices if isinstance(dist.devices, int) else len(dist.devices or visible_devices(backend_name))
        if spec.training.batch_size % n:
            problems.append(Problem("training.batch_size", f"distribution data_parallel splits every batch evenly over "
                                    f"{n} devices; allowed: a multiple of {n}", spec.training.batch_size))
    return problems


def _check_options(plugin: Any, options: dict[str, Any], prefix: tuple[Any, ...], only: str | None = None) -> list[Problem]:
    """Validate ``options`` against the plugin's Pydantic options model, if it has one."""
    model = getattr(plugin, "Config", None) or getattr(plugin, "Params", None)
    if model is None:
        if options:
            return [Problem(format_loc(prefix), f"{plugin.plugin_name} takes no options", options)]
        return []
    strict = _strict_numbers(model, options, prefix, only)
    if strict:
        return strict
    try:
        model.model_validate(options)
    except ValidationError as err:
        probs = problems_from_validation(err, model)
        if only is not None:
            probs = [p for p in probs if p.path.split(".")[0].split("[")[0] == only]
            for p in probs:
                p.path = format_loc(prefix)
        else:
            for p in probs:
                p.path = format_loc(prefix) + ("." + p.path if p.path else "")
        return probs
    return []


def _non_finite(value: Any, path: tuple[Any, ...]) -> tuple[Any, ...] | None:
    stack = [(value, path)]
    while stack:
        v, at = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return at
        if isinstance(v, dict):
            stack += [(x, at + (k,)) for k, x in v.items()]
        elif isinstance(v, list):
            stack += [(x, at + (i,)) for i, x in enumerate(v)]
    return None


def _strict_numbers(model: type[BaseModel], options: dict[str, Any], prefix: tuple[Any, ...],
                    only: str | None) -> list[Problem]:
    """Plugin options too: true/false is not a number, and numbers are finite."""
    from .limits import has_bool as _has_bool
    from .limits import takes_bool as _takes_bool

    out = []
    for key, value in options.items():
        if only is not None and key != only:
            continue
        where = prefix if only is not None else prefix + (key,)
        field = model.model_fields.get(key)
        if field is not None and _has_bool(value) and not _takes_bool(field.annotation):
            out.append(Problem(format_loc(where), "true/false is not allowed here; give a number", value))
        bad = _non_finite(value, where)
        if bad is not None:
            out.append(Problem(format_loc(bad), "not a finite number; allowed: finite numbers only (no .inf or .nan)",
                               value))
    return out


# ----------------------------------------------------------------- entry points


def load_spec_text(text: str, source: str = "<spec>", *, check: bool = True, allow_large: bool = False) -> Spec:
    """Parse and validate a spec; raise :class:`SpecError` listing every problem.

    ``allow_large``: accept a grid of more than :data:`MAX_CELLS` cells (``--yes``).
    """
    try:
        data, root = load_yaml(text)
    except YamlProblem as exc:
        raise SpecError(source, [Problem(exc.path, exc.message, MISSING, exc.line)]) from None
    if not isinstance(data, dict):
        raise SpecError(source, [Problem("", "a spec must be a YAML mapping with keys name, dataset, model, ...", data)])
    lines = line_map(root)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as err:
        problems = problems_from_validation(err, Spec)
        for p, e in zip(problems, err.errors()):
            p.line = nearest_line(lines, tuple(e["loc"]))
        raise SpecError(source, problems) from None
    from .preflight import check_data_sizes, check_output_dir, check_size

    problems = check_size(spec, allow_large) + check_output_dir(spec)
    if check:
        problems += check_plugins(spec) + check_data_sizes(spec) + check_distribution(spec)
    if problems:
        for p in problems:
            loc = tuple(int(x) if x.isdigit() else x for x in p.path.replace("[", ".").replace("]", "").split(".") if x)
            p.line = nearest_line(lines, loc)
        raise SpecError(source, problems)
    return spec


def load_spec(path: str | Path, *, check: bool = True, allow_large: bool = False) -> Spec:
    path = Path(path)
    try:
        text = read_text(path)
    except YamlProblem as exc:
        raise SpecError(str(path), [Problem("", exc.message, MISSING, exc.line)]) from None
    return load_spec_text(text, str(path), check=check, allow_large=allow_large)


def check_grid(spec: Spec) -> list[Problem]:
    """Warnings about a width grid that probably cannot show double descent.

    Before training, k* is unknown; the rule of thumb is that a classifier reaches
    zero training error on noisy labels once its parameter count is of the order
    of n_train. A grid whose largest model has fewer parameters than n_train will
    likely never interpolate; one whose smallest model has more than 10 * n_train *
    classes likely starts above k*. ``ddbench run`` checks again with the measured k*.
    """
    from .. import registry

    try:
        ds = registry.datasets.get(spec.dataset.name)
        fam_cls = registry.families.get(spec.model.family)
    except KeyError:
        return []
    shape, classes = getattr(ds, "input_shape", None), getattr(ds, "num_classes", None)
    n = spec.dataset.n_train or getattr(ds, "default_n_train", None)
    if shape is None or classes is None or n is None or not any(h.name == "double_descent" for h in spec.hypotheses):
        return []
    fam = fam_cls()
    try:
        config = fam.Config.model_validate(spec.model.config)
        lo = fam.param_count(config, spec.model.widths[0], tuple(shape), classes)
        hi = fam.param_count(config, spec.model.widths[-1], tuple(shape), classes)
    except Exception:
        return []
    out = []
    if hi < n:
        out.append(Problem("model.widths", f"the widest model has {hi} parameters, fewer than n_train={n}: the grid will "
                           f"likely never reach the interpolation threshold; add larger widths", spec.model.widths[-1],
                           severity="warning"))
    if lo > 10 * n * classes:
        out.append(Problem("model.widths", f"the narrowest model has {lo} parameters (> 10 x n_train x classes): the grid "
                           f"likely starts above the interpolation threshold; add smaller widths", spec.model.widths[0],
                           severity="warning"))
    return out
