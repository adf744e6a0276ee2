"""``ddbench plan SPEC`` / ``ddbench run --dry-run``: what a run would do, without training.

Lists the cells (parameter count, estimated training memory, state in the run directory), the
bundles they train in (cut by the same planner ``run`` uses, for this process's device) and an
estimated time. The time is rough and says where its rate comes from:

* ``measured``: the run directory already has finished cells; their training seconds per
  parameter x training point x epoch, applied to the cells still to train;
* ``assumed``: no measurement yet; :data:`ASSUMED_FLOPS` floating-point operations per second
  with ``6 x params`` operations per point and epoch (forward and backward), plus
  :data:`BUNDLE_OVERHEAD_S` per bundle for building and compiling. Convolutions do far more work
  per parameter than dense layers, so for them this is a lower bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..plan import Bundle, Cell, make_bundles, plan_cells
from ..safetext import terminal
from ..spec.model import Spec

#: effective training throughput assumed before anything was measured (2 CPU cores, small dense models)
ASSUMED_FLOPS = 5e10
#: seconds per bundle for building the models and compiling the step, before anything was measured
BUNDLE_OVERHEAD_S = 3.0
#: distinct architectures whose memory is estimated (one symbolic Keras build each, about half a second);
#: a larger grid is planned without estimates, so a huge grid answers as fast as it is counted
MAX_SIZED = 200
#: cells listed in the table (the totals and the bundles count them all)
MAX_LISTED = 200


@dataclass
class CellPlan:
    cell: Cell
    params: int | None
    est_bytes: float | None
    state: str  # pending (no run directory yet) or the store's status
    bundle: int | None = None  # index in PlanView.bundles (cells to train only)


@dataclass
class PlanView:
    spec: Spec
    run_dir: Path
    cells: list[CellPlan]
    bundles: list[Bundle]
    n_train: int | None
    device_bytes: int | None
    est_seconds: float | None
    rate_source: str  # "measured (N cells)" / "assumed ..." / "unknown"
    notes: list[str] = field(default_factory=list)

    @property
    def todo(self) -> list[CellPlan]:
        return [c for c in self.cells if c.bundle is not None]


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


def plan_view(spec: Spec, run_dir: str | Path | None = None, retry_failed: bool = True) -> PlanView:
    """Plan ``spec`` as ``ddbench run`` would, without training or writing anything."""
    from .. import backend, memory
    from ..execute import StratumData
    from ..memory import plan_bundles

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
    cost = None
    n_train = None
    try:
        d = data.get(cells[0].data_key)
        n_train = len(d.x_train)
        cost = memory.CellCost(spec.model.family, d.input_shape, d.num_classes, spec.training)
    except Exception as exc:  # a dataset that cannot load: the plan still lists the cells
        notes.append(f"cannot load the data ({type(exc).__name__}: {exc}); parameter counts and memory unknown")
    sized = cost is not None and len({cost.arch(c) for c in cells}) <= MAX_SIZED
    if cost is not None and not sized:
        notes.append(f"more than {MAX_SIZED} distinct architectures: memory is not estimated, bundles are cut per "
                     "stratum (the run sizes them as it goes); parameter counts only where the family has a formula")
    plans = []
    for c in cells:
        params = est = None
        if cost is not None and (sized or cost.counts_without_building()):
            try:
                params = cost.params(c)
            except Exception:
                params = None
        if sized:
            est = cost(c) or None  # type: ignore[misc]
        plans.append(CellPlan(c, params, est, states.get(c.key, "pending")))
    # without data (it cannot load) the planner cannot size bundles: one per stratum, as run would cut them
    bundles = list(plan_bundles(spec, todo, data)) if sized else make_bundles(todo)
    index = {c.key: i for i, b in enumerate(bundles) for c in b.cells}
    for p in plans:
        p.bundle = index.get(p.cell.key)
    rate, measured = _measured_rate(done, n_train)
    pending = [p.params for p in plans if p.bundle is not None]
    est_s, source = estimate_seconds(pending, n_train, spec.training.epochs, len(bundles), rate, measured)
    try:
        device = backend.device_memory_bytes()
    except Exception:
        device = None
    return PlanView(spec, out, plans, bundles, n_train, device, est_s, source, notes)


def estimate_seconds(params: list[int | None], n_train: int | None, epochs: int, n_bundles: int,
                     rate: float | None = None, measured: int = 0) -> tuple[float | None, str]:
    """Estimated seconds to train cells of these parameter counts in ``n_bundles`` bundles, and where
    the rate comes from: ``rate`` (seconds per parameter x point x epoch, measured on ``measured``
    finished cells) when given, else :data:`ASSUMED_FLOPS` and :data:`BUNDLE_OVERHEAD_S`."""
    est_s, source = None, "unknown (no parameter counts)"
    if rate is not None:
        est_s = sum(rate * (p or 0) * (n_train or 0) * epochs for p in params)
        source = f"measured on {measured} finished cell(s) of this run"
    elif n_train and all(params):
        flops = sum(6.0 * p * n_train * epochs for p in params)  # type: ignore[operator]
        est_s = flops / ASSUMED_FLOPS + BUNDLE_OVERHEAD_S * n_bundles
        source = (f"assumed {ASSUMED_FLOPS / 1e9:g} GFLOP/s and {BUNDLE_OVERHEAD_S:g} s per bundle "
                  "(no cell of this run finished yet; a lower bound for convolutions)")
    if not params:
        est_s = 0.0
    return est_s, source


def estimate_without_data(spec: Spec, run_dir: str | Path | None = None) -> tuple[int, float | None, str]:
    """Cells to train and their estimated time, as :func:`plan_view` would say, without loading data or
    building a model: parameters counted in closed form from the shape the dataset plugin declares,
    one bundle per stratum. The time is None when the family has no closed-form count or the dataset
    no declared shape."""
    from .. import registry
    from ..families.base import FamilyPlugin

    out = spec.run_dir(run_dir)
    states, done = _states(out)
    todo = [c for c in plan_cells(spec) if states.get(c.key, "pending") in ("pending", "running", "failed")]
    plugin = registry.datasets.get(spec.dataset.name)()
    n_train = spec.dataset.n_train or plugin.default_n_train
    if n_train is None:
        try:
            n_train = (plugin.available_sizes(plugin.Config.model_validate(spec.dataset.options)) or (None,))[0]
        except (ValueError, OSError):
            n_train = None
    family = registry.families.get(spec.model.family)()
    closed_form = type(family).param_count is not FamilyPlugin.param_count
    params: list[int | None] = [None] * len(todo)
    if closed_form and plugin.input_shape is not None and plugin.num_classes is not None:
        counts: dict[tuple[int, str], int] = {}
        for i, c in enumerate(todo):
            arch = (c.width, repr(sorted(c.family_config.items())))
            if arch not in counts:
                config = family.Config.model_validate(c.family_config)
                counts[arch] = int(family.param_count(config, c.width, plugin.input_shape, plugin.num_classes))
            params[i] = counts[arch]
    rate, measured = _measured_rate(done, n_train)
    est_s, source = estimate_seconds(params, n_train, spec.training.epochs, len(make_bundles(todo)), rate, measured)
    return len(todo), est_s, source


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return "?"  # pragma: no cover


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


def render_plan(view: PlanView, console: Any) -> None:
    """Print the plan: one table of cells grouped by bundle (fits 80 columns), then the totals. Strings
    of the spec and the store are text, never markup (:mod:`ddbench.safetext`)."""
    from rich.table import Table
    from rich.text import Text

    spec = view.spec
    counts: dict[str, int] = {}
    for p in view.cells:
        counts[p.state] = counts.get(p.state, 0) + 1
    console.print(terminal(f"plan of {spec.name} -> {view.run_dir} (spec hash {spec.spec_hash()})"), highlight=False,
                  markup=False)
    for note in view.notes:
        console.print(terminal(f"note: {note}"), highlight=False, markup=False)
    table = Table(title=f"{len(view.cells)} cells, {len(view.todo)} to train in {len(view.bundles)} bundle(s)",
                  title_justify="left")
    has_grid = bool(spec.model.grid)
    for col, just in (("bundle", "right"), ("width", "right"), ("grid", "left"), ("p", "right"), ("seed", "right"),
                      ("params", "right"), ("memory", "right"), ("state", "left")):
        if col != "grid" or has_grid:
            table.add_column(col, justify=just, no_wrap=col != "grid")
    ordered = sorted(view.cells, key=lambda p: (p.bundle is None, p.bundle or 0, p.cell.noise_rate, p.cell.width,
                                                p.cell.seed))
    if len(ordered) > MAX_LISTED:
        table.caption = f"the first {MAX_LISTED} of {len(ordered)} cells"
        table.caption_justify = "left"
    for p in ordered[:MAX_LISTED]:
        c = p.cell
        grid = " ".join(f"{k}={v}" for k, v in sorted(c.config.get("_grid", {}).items())) or "-"
        table.add_row("-" if p.bundle is None else str(p.bundle + 1), str(c.width), *([Text(terminal(grid))] if has_grid else []),
                      f"{c.noise_rate:g}", str(c.seed), "?" if p.params is None else f"{p.params:,}",
                      fmt_bytes(p.est_bytes), Text(terminal(p.state)))
    console.print(table)
    for i, b in enumerate(view.bundles[:MAX_LISTED]):
        widths = sorted({c.width for c in b.cells})
        span = f"width {widths[0]}" if len(widths) == 1 else f"widths {widths[0]}..{widths[-1]} ({len(widths)})"
        console.print(f"bundle {i + 1}: {len(b.cells)} cells, p={b.noise_rate:g} seeds {b.seeds}, {span}, "
                      f"est. {fmt_bytes(b.est_bytes)}", highlight=False, markup=False)
    if len(view.bundles) > MAX_LISTED:
        console.print(f"... {len(view.bundles) - MAX_LISTED} more bundles", highlight=False, markup=False)
    peak = max((b.est_bytes or 0.0 for b in view.bundles), default=0.0)
    state = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    console.print(f"cells: {state}; largest bundle est. {fmt_bytes(peak or None)} of device "
                  f"{fmt_bytes(view.device_bytes)}", highlight=False, markup=False)
    console.print(f"estimated time: {fmt_seconds(view.est_seconds)} ({view.rate_source}; "
                  f"{spec.training.epochs} epochs, n_train {view.n_train or '?'})", highlight=False, markup=False)
