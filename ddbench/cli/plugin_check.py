"""``ddbench plugin test NAME``: run one plugin on a tiny zoo and check its contract.

Checks, for every kind: it loads from the registry with a name and a version,
produces output of the declared shape, is deterministic (two runs agree),
reports NaN / failure through its status instead of raising, and stays within a
time budget. Probes run on a 3-width x 2-noise-rate MLP grid on MNIST-1D, trained in
seconds.

A hypothesis runs on a zoo built so that its claims can be tested (:data:`HYPOTHESIS_ZOO`:
MNIST-1D, 100 points, 20% label noise and clean labels, MLP widths 2..64 trained with Adam
for 100 epochs, so that the wider half interpolates: k* is inside the grid), with the probes
the plugin requires. A plugin that needs another zoo says so with ``test_zoo``, a list of
``-s``-style overrides of that spec (built-ins: :data:`ZOO_OVERRIDES`), and ``ddbench plugin
test NAME -s key=value`` adds more. Every check of a hypothesis names its claim: each
declared claim must be exercised (evidence with a computed statistic in at least one
stratum), give reasons when not applicable, finite statistics, the same result twice and a
valid verdict; evidence for a claim the plugin does not declare fails.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import registry
from ..spec.identity import training_hash

ZOO_SPEC = """
name: plugin-zoo
dataset: {{name: mnist1d, n_train: 300, n_test: 600, noise: {{rates: [0.0, 0.2], kind: exact}}}}
model: {{family: mlp, widths: [2, 8, 32]}}
training: {{optimizer: {{name: sgd, lr: 0.05, momentum: 0.9}}, batch_size: 50, epochs: 4, record: {{schedule: log, num: 3}}}}
probes: {probes}
hypotheses: {hypotheses}
analysis: {{bootstrap: 200}}
"""


HYPOTHESIS_ZOO = {
    "name": "plugin-zoo-h",
    "dataset": {"name": "mnist1d", "n_train": 100, "n_test": 500, "noise": {"rates": [0.0, 0.2], "kind": "exact"}},
    "model": {"family": "mlp", "widths": [2, 4, 8, 16, 32, 64]},
    "training": {"optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 25, "epochs": 100,
                 "record": {"schedule": "log", "num": 4}},
    "analysis": {"bootstrap": 200},
}

#: zoos of built-in hypotheses whose claims need more than width x noise (from their committed CPU specs)
ZOO_OVERRIDES: dict[str, list[str]] = {
    "low_rank": ["model.widths=[16, 64]", "model.grid={depth: [1, 2, 4], linear_overparam: [1, 2]}", "seeds=[0, 1, 2]"],
    "norm_capacity": ["dataset.noise.rates=[0.0]", "dataset.n_train=200",
                      "model={family: random_features, config: {activation: erf, ridge: 0.0001}, "
                      "widths: {geomspace: [10, 2000, 14]}, grid: {ridge: [0.0001, 0.005]}}",
                      "training={loss: mse, epochs: 1, record: {schedule: final}}", "probes=[weight_norm]"],
    "smoothness": ["training.record.checkpoints=true", "probes=[{smoothness: {epochwise: true, points: 200}}]"],
}


@dataclass
class Check:
    name: str
    ok: bool
    message: str = ""


def _kind_of(name: str) -> str:
    kinds = [k for k, reg in registry.ALL.items() if name in reg]
    if not kinds:
        known = {k: reg.names() for k, reg in registry.ALL.items()}
        raise KeyError(f"no plugin named {name!r}; installed: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in known.items()))
    if len(kinds) > 1:
        raise KeyError(f"{name!r} names plugins of several kinds ({', '.join(kinds)}); pass --kind")
    return kinds[0]


def check_plugin(name: str, kind: str | None = None, *, budget_s: float = 60.0, workdir: str | Path | None = None,
                 input_shape: tuple[int, ...] = (40,), overrides: list[str] | None = None,
                 progress: Any = None) -> tuple[str, list[Check]]:
    """Run the checks of ``name``'s kind; ``overrides`` change a hypothesis's zoo (``-s``), ``progress``
    shows its training (a ``runner.Progress``). A ``workdir`` kept between calls reuses trained zoos."""
    kind = kind or _kind_of(name)
    plugin = registry.ALL[kind].get(name)
    checks = [Check("registered", bool(getattr(plugin, "plugin_name", None)) and bool(getattr(plugin, "plugin_version", None)),
                    f"{name} version {getattr(plugin, 'plugin_version', '?')} from {registry.ALL[kind].origin(name)}")]
    runner: Callable[..., list[Check]] = {"datasets": _check_dataset, "families": _check_family,
                                          "probes": _check_probe, "hypotheses": _check_hypothesis}[kind]
    options = {"overrides": overrides or [], "progress": progress} if kind == "hypotheses" else {}
    with tempfile.TemporaryDirectory() as tmp:
        try:
            checks += runner(plugin, Path(workdir or tmp), budget_s, input_shape, **options)
        except Exception:
            checks.append(Check("runs", False, traceback.format_exc(limit=6)))
    return kind, checks


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def _budget(seconds: float, budget: float, what: str) -> Check:
    return Check("time budget", seconds <= budget, f"{what} took {seconds:.2f} s (budget {budget:g} s)")


def _check_dataset(plugin: Any, work: Path, budget: float, _: Any) -> list[Check]:
    from ..data.base import Dataset

    config = plugin.Config()
    ds, secs = _timed(lambda: plugin().load(config))
    checks = [Check("returns a Dataset", isinstance(ds, Dataset), type(ds).__name__)]
    shapes_ok = ds.x_train.shape[1:] == ds.x_test.shape[1:] and len(ds.x_train) == len(ds.y_train) and len(ds.x_test) == len(ds.y_test)
    checks.append(Check("shapes", shapes_ok, f"train {ds.x_train.shape}, test {ds.x_test.shape}"))
    labels_ok = all(np.issubdtype(y.dtype, np.integer) and y.min() >= 0 and y.max() < ds.num_classes for y in (ds.y_train, ds.y_test))
    checks.append(Check("labels", labels_ok, f"integer labels in [0, {ds.num_classes})"))
    checks.append(Check("finite inputs", bool(np.isfinite(ds.x_train).all() and np.isfinite(ds.x_test).all()), "no NaN/inf"))
    declared = plugin().declared(config)
    if declared is not None:  # what `ddbench plan` sizes models from without loading
        loaded = (tuple(ds.x_train.shape[1:]), ds.num_classes)
        checks.append(Check("declared shape", tuple(declared[0]) == loaded[0] and declared[1] == loaded[1],
                            f"declared input {tuple(declared[0])}, {declared[1]} classes; loaded {loaded[0]}, {loaded[1]}"))
    again = plugin().load(config)
    same = all(np.array_equal(a, b) for a, b in ((ds.x_train, again.x_train), (ds.y_train, again.y_train), (ds.x_test, again.x_test)))
    checks.append(Check("deterministic", same, "two loads give identical arrays"))
    return checks + [_budget(secs, budget, "one load")]


def _check_family(plugin: Any, work: Path, budget: float, input_shape: tuple[int, ...]) -> list[Check]:
    from ..families.base import HEAD, PENULTIMATE

    fam, config = plugin(), plugin.Config()
    checks = []
    t0 = time.perf_counter()
    for width in (2, 8):
        import keras

        keras.utils.set_random_seed(0)
        model = fam.build(config, width, input_shape, 10, name=f"check_{width}")
        x = np.random.default_rng(0).standard_normal((4, *input_shape)).astype("float32")
        out = np.asarray(model(x))
        names = {layer.name for layer in model.layers}
        trainable = int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))
        checks += [
            Check(f"width {width}: logits shape", out.shape == (4, 10), str(out.shape)),
            Check(f"width {width}: names", {PENULTIMATE, HEAD} <= names, f"layers named {PENULTIMATE!r} and {HEAD!r}"),
            Check(f"width {width}: param_count", fam.param_count(config, width, input_shape, 10) == trainable,
                  f"param_count {fam.param_count(config, width, input_shape, 10)} vs trainable weights {trainable}"),
        ]
        keras.utils.set_random_seed(0)
        again = np.asarray(fam.build(config, width, input_shape, 10, name=f"check_{width}b")(x))
        checks.append(Check(f"width {width}: deterministic init", np.allclose(out, again), "same seed, same outputs"))
    return checks + [_budget(time.perf_counter() - t0, budget, "building and calling 2 widths")]


def _zoo(work: Path, probes: list[str], hypotheses: list[str]) -> tuple[Any, Any]:
    from ..run.pipeline import run
    from ..spec.validate import load_spec_text

    spec = load_spec_text(ZOO_SPEC.format(probes=json.dumps(probes), hypotheses=json.dumps(hypotheses)), "plugin-zoo")
    result = run(spec, run_dir=work / "zoo")
    return spec, result


def _values_equal(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, float) and isinstance(y, float):
            if not (math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-8) or (math.isnan(x) and math.isnan(y))):
                return False
        elif x != y:
            return False
    return True


def _check_probe(plugin: Any, work: Path, budget: float, _: Any) -> list[Check]:
    from ..data import load_train_data
    from ..plan import plan_cells
    from ..probes.base import ProbeContext, run_probe
    from ..store.run_store import RunStore
    from ..train.reload import load_trained_model

    spec, result = _zoo(work, [plugin.plugin_name], [])
    store = RunStore(result.run_dir)
    recs = [r for r in store.records() if r.status == "done"]
    stored = store.probe_values()
    checks = [Check("zoo trained", len(recs) == 6, f"{len(recs)}/6 cells done")]
    statuses = {stored.get(r.key, {}).get(plugin.plugin_name, {}).get("status") for r in recs}
    checks.append(Check("status", statuses <= {"ok", "nan", "skipped"}, f"statuses {sorted(map(str, statuses))}"))
    errors = [p["error"] for r in recs if (p := stored.get(r.key, {}).get(plugin.plugin_name)) and p["error"]]
    if errors:
        checks.append(Check("no exceptions", False, errors[0]))
    worst = 0.0
    deterministic = schema_ok = True
    for rec in recs[:3]:
        d = rec.descriptor
        data = load_train_data(spec.dataset, d["noise_rate"], d["noise_seed"])
        model = load_trained_model(result.run_dir / rec.weights)
        cell = next(c for c in plan_cells(spec) if c.key == rec.key)
        ctx = ProbeContext.for_cell(cell, model, data, plugin.plugin_name)
        first = run_probe(plugin, {}, ctx)
        second = run_probe(plugin, {}, ctx)
        worst = max(worst, first.seconds)
        deterministic &= _values_equal(first.values, second.values)
        try:
            json.dumps(first.values, allow_nan=True)
            schema_ok &= all(isinstance(k, str) for k in first.values) and bool(first.values)
        except TypeError:
            schema_ok = False
    store.close()
    return checks + [
        Check("output schema", schema_ok, "a non-empty dict of str -> JSON values"),
        Check("deterministic", deterministic, "two runs on the same cell agree (rel 1e-5)"),
        _budget(worst, budget, "the slowest cell"),
    ]


def hypothesis_zoo(plugin: Any, overrides: list[str] | None = None) -> Any:
    """The zoo spec of a hypothesis: :data:`HYPOTHESIS_ZOO`, its probes, its ``test_zoo`` overrides, then ``overrides``."""
    import yaml

    from ..spec.overrides import apply_overrides
    from ..spec.validate import load_spec_text

    data = {**HYPOTHESIS_ZOO, "probes": list(getattr(plugin, "requires_probes", ())), "hypotheses": [plugin.plugin_name]}
    own = getattr(plugin, "test_zoo", None)
    data = apply_overrides(data, list(own if own is not None else ZOO_OVERRIDES.get(plugin.plugin_name, [])))
    data = apply_overrides(data, list(overrides or []))
    return load_spec_text(yaml.safe_dump(data, sort_keys=False), f"the zoo of {plugin.plugin_name}")


def _k_star_check(table: Any, threshold: float) -> Check:
    """Every stratum of the zoo straddles k*: its narrowest width does not interpolate, a wider one does."""
    from collections import defaultdict

    problems, found = [], []
    for stratum, cells in table.strata():
        by_width: dict[int, list[float]] = defaultdict(list)
        for c in cells:
            by_width[c.width].append(float(c.metrics.get("train_error", float("nan"))))
        widths = sorted(by_width)
        means = [float(np.mean(by_width[w])) for w in widths]
        k = next((w for w, m in zip(widths, means) if m <= threshold), None)
        label = ", ".join(f"{a}={b}" for a, b in stratum.items())
        if k is None:
            problems.append(f"{label}: no width interpolates (lowest train error {min(means):.3f})")
        elif k == widths[0]:
            problems.append(f"{label}: the narrowest width {k} already interpolates")
        else:
            found.append(f"{label}: k*={k}")
    if not found and not problems:
        problems.append("no finished cells")
    return Check("zoo reaches k*", not problems, "; ".join(problems or found))


def _check_hypothesis(plugin: Any, work: Path, budget: float, _: Any, overrides: list[str] | None = None,
                      progress: Any = None) -> list[Check]:
    from ..hypotheses.base import decide
    from ..leaderboard.build import cell_views
    from ..plan import plan_cells
    from ..run.pipeline import run
    from ..store.run_store import RunStore

    spec = hypothesis_zoo(plugin, overrides)
    result = run(spec, run_dir=work / f"zoo-{training_hash(spec)}", progress=progress)
    store = RunStore(result.run_dir)
    try:
        table = cell_views(store)  # per-point arrays are read from the store lazily: keep it open
        n = len(plan_cells(spec))
        done = len(table.done())
        checks = [Check("zoo trained", done == n, f"{done}/{n} cells done"),
                  _k_star_check(table, spec.analysis.interpolation_threshold)]
        config = plugin.Config.model_validate(next(h.params for h in spec.hypotheses if h.name == plugin.plugin_name))
        evs, secs = _timed(lambda: plugin().evidence(table, config, spec.analysis))
        again = plugin().evidence(table, config, spec.analysis)
    finally:
        store.close()
    from ..hypotheses.evidence import Evidence

    if not (isinstance(evs, list) and all(isinstance(e, Evidence) for e in evs)):
        return checks + [Check("returns evidence", False, f"expected a list of Evidence, got {type(evs).__name__}")]
    declared = {f"{plugin.plugin_name}.{c}": c for c in plugin.claims}
    if not declared:
        checks.append(Check("declares claims", False, f"{plugin.plugin_name}.claims is empty: nothing to test"))
    try:
        verdicts, _ = decide([(plugin, evs)], spec.analysis.alpha)
    except Exception:
        verdicts = []
        checks.append(Check("verdicts", False, traceback.format_exc(limit=3)))
    verdict_of = {v.claim: v for v in verdicts}
    for claim in declared:
        mine = [e for e in evs if e.claim == claim]
        theirs = [e for e in again if e.claim == claim]
        computed = [e for e in mine if e.statistic is not None]
        tested = [e for e in computed if e.applicable and e.samples is not None]
        reasons = sorted({e.reason for e in mine if e.reason and e.statistic is None})
        if computed:
            msg = f"statistic computed in {len(computed)} of {len(mine)} strata, tested in {len(tested)}"
        elif mine:
            msg = "never computed on the zoo: " + "; ".join(reasons)[:400]
        else:
            msg = "no evidence returned for this claim"
        checks.append(Check(f"claim {claim}: exercised", bool(computed), msg))
        if not mine:
            continue
        checks.append(Check(f"claim {claim}: reasons", all(e.applicable or e.reason for e in mine),
                            "every not-applicable evidence says why"))
        finite = all(e.statistic is None or math.isfinite(e.statistic) for e in mine)
        checks.append(Check(f"claim {claim}: finite", finite, "statistics are finite numbers or None"))
        same = [(_key(e.stratum), e.statistic) for e in mine] == [(_key(e.stratum), e.statistic) for e in theirs]
        checks.append(Check(f"claim {claim}: deterministic", same, "two evaluations give the same statistics"))
        v = verdict_of.get(claim)
        ok = v is not None and all(s.verdict in ("holds", "fails", "inconclusive", "not_applicable") for s in v.strata)
        checks.append(Check(f"claim {claim}: verdict", ok, "no verdict" if v is None else
                            f"{v.verdict} ({', '.join(s.verdict for s in v.strata)})"))
    for claim in sorted({e.claim for e in evs} - set(declared)):
        checks.append(Check(f"claim {claim}: declared", False,
                            f"evidence for a claim {plugin.plugin_name} does not declare (declared: "
                            f"{', '.join(declared) or 'none'})"))
    return checks + [_budget(secs, budget, "evidence on the zoo")]


def _key(stratum: dict[str, Any]) -> str:
    return json.dumps(stratum, sort_keys=True, default=str)
