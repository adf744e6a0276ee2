"""How ``ddbench plan`` prints a plan (:mod:`.planview` computes it): the cells grouped by bundle,
the bundles, the memory they need, and the estimated time on every device of the throughput table
with the figures behind it, each marked measured or assumed."""

from __future__ import annotations

from typing import Any

from ..safetext import terminal
from .planview import MAX_LISTED, PlanView, describe


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
    return f"{s // 3600:,} h {s % 3600 // 60:02d} min"


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
    biggest = max(view.todo, key=lambda p: p.est_bytes or 0.0, default=None)
    cell = (f"largest cell est. {fmt_bytes(biggest.est_bytes)} (width {biggest.cell.width}), "
            if biggest is not None and biggest.est_bytes else "")
    console.print(f"cells: {state}; {cell}largest bundle est. {fmt_bytes(peak or None)} of device "
                  f"{fmt_bytes(view.device_bytes)}", highlight=False, markup=False)
    console.print(f"estimated time: {fmt_seconds(view.est_seconds)} ({view.rate_source}; "
                  f"{spec.training.epochs} epochs, n_train {view.n_train or '?'})", highlight=False, markup=False)
    render_devices(view, console)


def fmt_hours(s: float | None) -> str:
    """Hours, to 0.1 h, or to 2 significant digits below 0.1 h (a 12 s grid is 0.0033 h, not 0.0)."""
    if s is None:
        return "?"
    h = s / 3600
    return f"{h:,.1f}" if h >= 0.1 or h == 0 else f"{h:.2g}"


def fmt_flops(n: float) -> str:
    return f"{n:.3g}" if n else "0"


def render_devices(view: PlanView, console: Any) -> None:
    """The cells to train on each device of the throughput table: memory, bundles, time, and the figures
    (sustained GFLOP/s, seconds per bundle) with their status and source."""
    from rich.table import Table

    if not view.devices:
        return
    work = view.work
    counted = (f"training FLOPs: dense {fmt_flops(work.dense)}, conv {fmt_flops(work.conv)} ({view.flops_source})"
               if work is not None else "training FLOPs unknown (no parameter counts)")
    console.print(f"estimated time per device: FLOPs / sustained rate + seconds per bundle, probes not included; "
                  f"{counted}", highlight=False, markup=False)
    table = Table()
    for col in ("device", "memory", "bundles", "largest bundle", "hours", "figures"):
        table.add_column(col, justify="left" if col in ("device", "figures") else "right", no_wrap=col != "largest bundle")
    for d in view.devices:
        largest = fmt_bytes(d.largest_bundle)
        if d.largest_cell is not None:
            largest += f"; a cell of {fmt_bytes(d.largest_cell)} does not fit"
        hours = fmt_hours(d.seconds)
        status = "this run" if d.source.startswith("measured on") else d.device.status.split(",")[0]
        table.add_row(d.device.key + (" (here)" if d.this_machine else ""), fmt_bytes(d.memory_bytes), str(len(d.bundles)),
                      largest, hours, status)
    console.print(table)
    console.print("figures (ddbench.engine.throughput; a benchmark records measured ones: "
                  "benchmarks/sweep_throughput.py --record-device KEY):", highlight=False, markup=False)
    for d in view.devices:
        dev = d.device
        console.print(f"  {dev.key}: {describe(dev)}", highlight=False, markup=False)
        for what, fig in (("dense", dev.dense_gflops), ("conv", dev.conv_gflops), ("bundle", dev.bundle_seconds)):
            console.print(f"    {what}: {fig.source}", highlight=False, markup=False)
