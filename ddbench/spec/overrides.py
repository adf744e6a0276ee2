"""Command-line changes to a spec: ``-s key.path=value`` overrides and ``--smoke`` caps.

``-s training.epochs=50`` sets one field of the YAML before it is validated; the value is
parsed as YAML (``-s model.widths=[2,4,8]``, ``-s 'model.widths={geomspace: [2, 64, 6]}'``,
``-s training.optimizer.name=adam``). A path walks mappings by key and lists by index
(``hypotheses.0.params.delta`` or ``hypotheses[0].params.delta``); missing mappings are
created. The overridden spec goes through the same validation as the file, so problems
carry the same field paths and messages; a problem at an overridden path says so instead of
pointing at a line of the file. The run records the resolved spec, so the overridden values are
in the run directory's spec, its hash and the leaderboard.

``--smoke`` turns a spec into a quick end-to-end check of the same pipeline (see :data:`SMOKE_CAPS`):
at most 3 of the grid's widths up to 16 (the smallest, a middle one, the largest of them; a grid
with none up to 16 gets its smallest capped at 16);
2 epochs; 512 training and 512 test points; the first seed and noise seed; the first 2 values
of every extra grid axis; 100 bootstrap resamples. The probes and hypotheses are the spec's own.
It writes to ``<run dir>-smoke``, so it never binds the real run directory.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from .model import Spec

#: what ``--smoke`` caps (documented in the module docstring and README)
SMOKE_CAPS = {"widths": 3, "max_width": 16, "epochs": 2, "n_train": 512, "n_test": 512, "grid_values": 2,
              "bootstrap": 100}
SMOKE_SUFFIX = "-smoke"

_INDEX = re.compile(r"\[(\d+)\]")


class OverrideError(ValueError):
    """An override that cannot be applied (no ``=``, or a path through a non-mapping)."""


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """``"a.b[0].c=1"`` -> ``(["a", "b", 0, "c"], 1)``; the value is parsed as YAML."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise OverrideError(f"-s {text!r}: expected key.path=value, e.g. -s training.epochs=50")
    parts: list[str | int] = []
    for piece in _INDEX.sub(r".\1", key).split("."):
        if not piece:
            raise OverrideError(f"-s {text!r}: empty part in the key path {key!r}")
        parts.append(int(piece) if piece.isdigit() else piece)
    from .yaml_io import YamlProblem, load_yaml

    try:
        value = load_yaml(raw)[0] if raw.strip() else ""  # the spec's own strict YAML rules
    except YamlProblem as exc:
        raise OverrideError(f"-s {text!r}: the value is not valid YAML ({exc.message})") from None
    return parts, value


def path_label(parts: list[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + p
    return out


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of the YAML data with every ``key.path=value`` set, in order."""
    data = copy.deepcopy(data)
    for text in overrides:
        parts, value = parse_override(text)
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            here = path_label(parts[: i + 1])
            if isinstance(node, dict):
                if isinstance(part, int):
                    part = str(part)
                if node.get(part) is None:
                    node[part] = {}
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int):
                if part >= len(node):
                    raise OverrideError(f"-s {text!r}: {here} is out of range (the list has {len(node)} items)")
                if isinstance(node[part], str):  # a probe/hypothesis given by name: open its full form
                    node[part] = {"name": node[part], "params": {}}
                elif isinstance(node[part], dict) and len(node[part]) == 1 and "name" not in node[part]:
                    (name, params), = node[part].items()  # {name: params} shorthand -> full form
                    node[part] = {"name": name, "params": params or {}}
                node = node[part]
            else:
                raise OverrideError(f"-s {text!r}: {path_label(parts[:i]) or '<spec>'} is not a mapping "
                                    f"(got {type(node).__name__}), so it has no {part!r}")
        last = parts[-1]
        if isinstance(node, dict):
            node[str(last)] = value
        elif isinstance(node, list) and isinstance(last, int) and last < len(node):
            node[last] = value
        elif isinstance(node, list) and isinstance(last, int) and last == len(node):
            node.append(value)  # one past the end appends (-s probes.3=redundancy)
        elif isinstance(node, list):
            raise OverrideError(f"-s {text!r}: {path_label(parts)} is out of range (the list has {len(node)} items)")
        else:
            raise OverrideError(f"-s {text!r}: {path_label(parts[:-1]) or '<spec>'} is not a mapping "
                                f"(got {type(node).__name__}), so it has no {last!r}")
    return data


def load_spec_with(path: str | Path, overrides: list[str] | None = None, *, check: bool = True,
                   allow_large: bool = False) -> Spec:
    """Load a spec file with ``-s`` overrides applied, validated exactly like the file itself (the
    same strict YAML reading, the same checks; ``allow_large`` as for :func:`~ddbench.spec.validate.load_spec`).

    Raises :class:`~ddbench.spec.validate.SpecError` (the same paths and messages as for the YAML;
    problems at an overridden path name the override instead of a line) or :class:`OverrideError`.
    """
    from .validate import SpecError, load_spec, load_spec_text, nearest_line
    from .yaml_io import YamlProblem, line_map, load_yaml, read_text

    if not overrides:
        return load_spec(path, check=check, allow_large=allow_large)
    path = Path(path)
    try:
        text = read_text(path)
        data, root = load_yaml(text)
    except YamlProblem:
        return load_spec(path, check=check)  # the loader's own one-line message
    if not isinstance(data, dict):
        return load_spec(path, check=check)
    changed = apply_overrides(data, overrides)
    keys = {path_label(parse_override(o)[0]): o for o in overrides}
    try:
        spec = load_spec_text(yaml.safe_dump(changed, sort_keys=False), str(path), check=check,
                              allow_large=allow_large)
    except SpecError as exc:
        lines = line_map(root)
        for p in exc.problems:
            set_by = next((o for k, o in keys.items() if p.path == k or p.path.startswith((k + ".", k + "["))), None)
            if set_by is not None:
                p.line = None
                p.message += f" (set by -s {set_by})"
            else:
                loc = tuple(int(x) if x.isdigit() else x for x in p.path.replace("[", ".").replace("]", "").split(".") if x)
                p.line = nearest_line(lines, loc)
        raise SpecError(str(path), exc.problems) from None
    return spec


def _spread(values: list[Any], n: int) -> list[Any]:
    """At most ``n`` of ``values``: the first, the last and evenly spaced ones between."""
    if len(values) <= n:
        return list(values)
    if n == 1:
        return [values[0]]
    idx = sorted({round(i * (len(values) - 1) / (n - 1)) for i in range(n)})
    return [values[i] for i in idx]


def smoke_spec(spec: Spec, run_dir: str | Path | None = None) -> Spec:
    """``spec`` cut down by :data:`SMOKE_CAPS`, writing to ``<run dir>-smoke`` (``run_dir``: a ``-o``
    given on the command line, which then gets the suffix too)."""
    caps = SMOKE_CAPS
    data = spec.resolved()
    model, training, ds = data["model"], data["training"], data["dataset"]
    small = [w for w in model["widths"] if w <= caps["max_width"]] or [min(model["widths"][0], caps["max_width"])]
    model["widths"] = _spread(small, caps["widths"])
    model["grid"] = {k: v[: caps["grid_values"]] for k, v in model["grid"].items()}
    training["epochs"] = min(training["epochs"], caps["epochs"])
    rec = training["record"]
    if rec.get("epochs") is not None:
        rec["epochs"] = [e for e in rec["epochs"] if e <= training["epochs"]] or None
    from .. import registry

    try:
        plugin = registry.datasets.get(ds["name"])
    except KeyError:
        plugin = None
    for key, cap in (("n_train", caps["n_train"]), ("n_test", caps["n_test"])):
        default = getattr(plugin, f"default_{key}", None)
        current = ds[key] if ds[key] is not None else default
        ds[key] = cap if current is None else min(current, cap)
    training["batch_size"] = min(training["batch_size"], ds["n_train"])
    ds["noise"]["seeds"] = ds["noise"]["seeds"][:1]
    data["seeds"] = data["seeds"][:1]
    data["analysis"]["bootstrap"] = min(data["analysis"]["bootstrap"], caps["bootstrap"])
    data["output_dir"] = str(spec.run_dir(run_dir)) + SMOKE_SUFFIX
    return Spec.model_validate(data)
