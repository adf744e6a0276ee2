"""``ddbench plan SPEC`` / ``ddbench run --dry-run``: what a run would do, without training.

Lists the cells (parameter count, estimated training memory, state in the run directory), the
bundles they train in (cut by the same planner ``run`` uses, for this process's device or the one
``--device`` names) and an estimated time on every device of the throughput table
(:mod:`ddbench.engine.throughput`: CPU, H100, H200), each saying where its rates come from:

* ``measured on N finished cells``: the run directory already has finished cells; their training
  seconds per parameter x training point x epoch, applied to the cells still to train (this
  machine only);
* else the throughput model: each cell's training and evaluation FLOPs (counted from its model's
  layer shapes; ``2 x params`` per example's forward pass where no model is built) divided by
  the device's sustained GFLOP/s for dense and for conv layers, plus seconds per bundle; every
  figure is marked measured or "assumed, unmeasured", with its source.

No data is loaded where the dataset plugin declares its shapes and sizes (TFDS datasets do: a
plan never downloads); otherwise the first stratum is loaded to learn them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine import throughput
from ..engine.throughput import Device, Work
from ..plan import Bundle, Cell, make_bundles, plan_cells
from ..spec.model import Spec

#: distinct architectures whose memory is estimated (one symbolic Keras build each, about half a second;
#: many widths of one architecture take 5 builds, see ddbench.memory); a larger grid is planned without
#: estimates, so a huge grid answers as fast as it is counted
MAX_SIZED = 200
#: cells listed in the table (the totals and the bundles count them all)
MAX_LISTED = 200
#: the devices ``--device`` accepts besides the throughput table's
THIS = "this"


@dataclass
class CellPlan:
    cell: Cell
    params: int | None
    est_bytes: float | None
    state: str  # pending (no run directory yet) or the store's status
    bundle: int | None = None  # index in PlanView.bundles (cells to train only)
    work: Work | None = None  # training and evaluation FLOPs


@dataclass
class DevicePlan:
    """The plan's cells to train on one device of the throughput table."""

    device: Device
    memory_bytes: int | None
    bundles: list[Bundle]
    seconds: float | None
    source: str
    this_machine: bool
    largest_cell: float | None = None  # bytes of the largest cell, when it does not fit the device alone

    @property
    def largest_bundle(self) -> float | None:
        return max((b.est_bytes or 0.0 for b in self.bundles), default=0.0) or None


@dataclass
class PlanView:
    spec: Spec
    run_dir: Path
    cells: list[CellPlan]
    bundles: list[Bundle]
    n_train: int | None
    device_bytes: int | None
    est_seconds: float | None
    rate_source: str  # "measured (N cells)" / the device's figures / "unknown"
    notes: list[str] = field(default_factory=list)
    devices: list[DevicePlan] = field(default_factory=list)
    device: str = THIS  # whose bundles and time are the headline
    flops_source: str = ""

    @property
    def todo(self) -> list[CellPlan]:
        return [c for c in self.cells if c.bundle is not None]

    @property
    def work(self) -> Work | None:
        works = [c.work for c in self.todo]
        return sum(works, Work()) if all(w is not None for w in works) else None  # type: ignore[arg-type]


def _states(run_dir: Path) -> tuple[dict[str, str], list[Any]]:
    from ..store.run_store import DB_NAME, RunStore

    if not (run_dir / DB_NAME).exists():
        return {}, []
    store = RunStore(run_dir)
    try:
        return store.statuses(), [r for r in store.records() if r.status == "done"]
    finally:
        store.close()


def _measured_rate(done: list[Any], n_train: int | None) -> tuple[float | None, int]:
    """Training seconds per parameter x point x epoch, from finished cells."""
    total_s = work = 0.0
    count = 0
    for r in done:
        secs = (r.timings or {}).get("train_seconds")
        epochs = (r.metrics or {}).get("epochs")
        if secs and epochs and r.params and n_train:
            total_s += secs + (r.timings.get("setup_seconds") or 0.0) + (r.timings.get("eval_seconds") or 0.0)
            work += r.params * n_train * epochs
            count += 1
    return (total_s / work if work else None), count


def cell_work(spec: Spec, shape: Any, dense: float, conv: float = 0.0) -> Work:
    """A cell's FLOPs from its forward FLOPs per example (``shape``: the dataset's ``DataShape``)."""
    from .. import registry

    closed = bool(getattr(registry.families.get(spec.model.family), "closed_form", False))
    t = spec.training
    return throughput.cell_work(dense, conv, n_train=shape.n_train, n_test=shape.n_test, epochs=t.epochs,
                                batch_size=t.batch_size, recorded=len(t.recorded_epochs()), closed_form=closed)


def _data_shape(spec: Spec, data: Any, cells: list[Cell], notes: list[str]) -> tuple[Any, Any]:
    """(shape, declared): the dataset's ``DataShape`` from its declaration (nothing loaded), else from
    loading the first stratum; (None, None) when neither works."""
    from ..data import DataShape, declared_shape

    try:
        declared = declared_shape(spec.dataset)
    except KeyError:
        declared = None
    if declared is not None:
        notes.append(f"data not loaded: {spec.dataset.name} as its plugin declares it (input {declared.input_shape}, "
                     f"{declared.num_classes} classes, {declared.n_train} training / {declared.n_test} test points)")
        return declared, declared
    try:
        d = data.get(cells[0].data_key)
        return DataShape(d.input_shape, d.num_classes, len(d.x_train), len(d.x_test)), None
    except Exception as exc:  # a dataset that cannot load: the plan still lists the cells
        notes.append(f"cannot load the data ({type(exc).__name__}: {exc}); parameter counts and memory unknown")
        return None, None


def _this_machine() -> tuple[str | None, str]:
    from .. import backend

    try:
        described = backend.device()
    except Exception:
        described = ""
    return throughput.device_key(described), described


def plan_view(spec: Spec, run_dir: str | Path | None = None, retry_failed: bool = True,
              device: str | None = None) -> PlanView:
    """Plan ``spec`` as ``ddbench run`` would, without training or writing anything; ``device``: a key of
    the throughput table whose bundles and time are the headline (default: this machine's)."""
    from .. import backend, memory
    from ..backend.native import host_memory_bytes
    from ..execute import StratumData
    from ..memory import plan_bundles

    table = throughput.devices()
    if device not in (None, THIS, *table):
        raise ValueError(f"unknown device {device!r}; allowed: {THIS}, {', '.join(table)}")
    out = spec.run_dir(run_dir)
    cells = plan_cells(spec)
    states, done = _states(out)
    retry = ("pending", "running", "failed") if retry_failed else ("pending", "running")
    todo = [c for c in cells if states.get(c.key, "pending") in retry]
    notes: list[str] = []
    if spec.model.refine is not None:
        r = spec.model.refine
        strata = len(spec.dataset.noise.rates) * math.prod(len(v) for v in spec.model.grid.values())
        notes.append(f"model.refine: after this grid, up to {r.points} widths per stratum ({strata} strata) around "
                     f"{', '.join(r.around)}, chosen from the trained grid; not counted here")
    data = StratumData(spec)
    shape, declared = _data_shape(spec, data, cells, notes)
    cost = None if shape is None else memory.CellCost(spec.model.family, shape.input_shape, shape.num_classes,
                                                      spec.training)
    sized = cost is not None and len({cost.arch(c) for c in cells}) <= MAX_SIZED
    if cost is not None and not sized:
        notes.append(f"more than {MAX_SIZED} distinct architectures: memory is not estimated, bundles are cut per "
                     "stratum (the run sizes them as it goes); parameter counts only where the family has a formula")
    if sized:
        try:
            cost.prepare(cells)  # type: ignore[union-attr]
        except Exception:
            pass  # the family cannot be built: memory and FLOPs stay unknown below
    plans, counted = [], sized
    for c in cells:
        params = est = work = None
        if cost is not None and (sized or cost.counts_without_building()):
            try:
                params = cost.params(c)
            except Exception:
                params = None
        if sized:
            est = cost(c) or None  # type: ignore[misc]
            try:
                f = cost.flops(c)  # type: ignore[union-attr]
                work = cell_work(spec, shape, f.dense, f.conv)
            except Exception:
                counted = False
        if work is None and params and shape is not None:
            work = cell_work(spec, shape, 2.0 * params)
        plans.append(CellPlan(c, params, est, states.get(c.key, "pending"), work=work))
    flops_source = ("counted from each model's layer shapes" if counted else "2 x params per example's forward pass "
                    "(no model built; a lower bound for convolutions)")
    rate, measured = _measured_rate(done, shape.n_train if shape else None)
    this_key, described = _this_machine()
    chosen = this_key if device in (None, THIS) else device
    pending = [p for p in plans if states.get(p.cell.key, "pending") in retry]
    per_device = []
    for key, dev in table.items():
        here = key == this_key
        mem = backend.device_memory_bytes() if here else (dev.memory_bytes or host_memory_bytes())
        bundles = (list(plan_bundles(spec, todo, data, declared=declared, device_bytes=mem, cost=cost)) if sized
                   else make_bundles(todo))
        est_s, source = estimate_seconds([p.params for p in pending], shape.n_train if shape else None,
                                         spec.training.epochs, len(bundles), rate if here else None,
                                         measured if here else 0, work=[p.work for p in pending], device=dev)
        plan = DevicePlan(dev, mem, bundles, est_s, source, here)
        budget = memory.budget_bytes(shape.nbytes, mem) if shape is not None and mem else None
        biggest = max((p.est_bytes or 0.0 for p in pending), default=0.0)
        if budget is not None and biggest > budget:
            plan.largest_cell = biggest
        per_device.append(plan)
    head = next((d for d in per_device if d.device.key == chosen), None)
    if head is None:  # this machine is an accelerator the table does not know
        bundles = list(plan_bundles(spec, todo, data, declared=declared, cost=cost)) if sized else make_bundles(todo)
        est_s, source = None, f"no throughput figures for this device ({described}); see the table's devices"
        device_bytes = backend.device_memory_bytes()
    else:
        bundles, est_s, source, device_bytes = head.bundles, head.seconds, head.source, head.memory_bytes
    index = {c.key: i for i, b in enumerate(bundles) for c in b.cells}
    for p in plans:
        p.bundle = index.get(p.cell.key)
    return PlanView(spec, out, plans, bundles, shape.n_train if shape else None, device_bytes, est_s, source, notes,
                    per_device, chosen or THIS, flops_source)


def describe(device: Device) -> str:
    """A device's figures in one line: ``H100 SXM, 80 GB: dense 3,760 GFLOP/s (assumed, unmeasured), ...``."""
    d, c, b = device.dense_gflops, device.conv_gflops, device.bundle_seconds
    return (f"{device.label}: dense {d.value:,g} GFLOP/s ({d.status}), conv {c.value:,g} GFLOP/s ({c.status}), "
            f"{b.value:g} s per bundle ({b.status})")


def estimate_seconds(params: list[int | None], n_train: int | None, epochs: int, n_bundles: int,
                     rate: float | None = None, measured: int = 0, work: list[Work | None] | None = None,
                     device: Device | None = None) -> tuple[float | None, str]:
    """Estimated seconds to train cells of these parameter counts in ``n_bundles`` bundles, and where
    the rate comes from: ``rate`` (seconds per parameter x point x epoch, measured on ``measured``
    finished cells of this run, on this machine) when given; else the throughput model of
    ``device`` (default: the table's CPU) applied to each cell's ``work`` (FLOPs), or, without it,
    to ``6 x params x n_train x epochs``."""
    device = device or throughput.devices()["cpu"]
    est_s, source = None, "unknown (no parameter counts)"
    if rate is not None:
        est_s = sum(rate * (p or 0) * (n_train or 0) * epochs for p in params)
        source = f"measured on {measured} finished cell(s) of this run"
    elif work is not None and work and all(w is not None for w in work):
        est_s = throughput.seconds(sum(work, Work()), n_bundles, device)  # type: ignore[arg-type]
        source = describe(device)
    elif n_train and all(params):
        est_s = throughput.seconds(Work(dense=sum(6.0 * p * n_train * epochs for p in params)),  # type: ignore[operator]
                                   n_bundles, device)
        source = describe(device)
    if not params:
        est_s = 0.0
    return est_s, source


def estimate_without_data(spec: Spec, run_dir: str | Path | None = None) -> tuple[int, float | None, str]:
    """Cells to train and their estimated time on the table's CPU, as :func:`plan_view` would say there,
    without loading data, building a model or importing Keras: parameters counted in closed form from
    the shape the dataset plugin declares (forward FLOPs ``2 x params``), one bundle per stratum. The
    time is None when the family has no closed-form count or the dataset no declared shape."""
    from .. import registry
    from ..data import declared_shape
    from ..families.base import FamilyPlugin

    out = spec.run_dir(run_dir)
    states, done = _states(out)
    todo = [c for c in plan_cells(spec) if states.get(c.key, "pending") in ("pending", "running", "failed")]
    shape = declared_shape(spec.dataset)
    family = registry.families.get(spec.model.family)()
    closed_form = type(family).param_count is not FamilyPlugin.param_count
    params: list[int | None] = [None] * len(todo)
    work: list[Work | None] = [None] * len(todo)
    if closed_form and shape is not None:
        counts: dict[tuple[int, str], int] = {}
        for i, c in enumerate(todo):
            arch = (c.width, repr(sorted(c.family_config.items())))
            if arch not in counts:
                config = family.Config.model_validate(c.family_config)
                counts[arch] = int(family.param_count(config, c.width, shape.input_shape, shape.num_classes))
            params[i] = counts[arch]
            work[i] = cell_work(spec, shape, 2.0 * counts[arch])
    n_train = shape.n_train if shape else None
    rate, measured = _measured_rate(done, n_train)
    est_s, source = estimate_seconds(params, n_train, spec.training.epochs, len(make_bundles(todo)), rate, measured,
                                     work=work)
    return len(todo), est_s, source
