"""What ``ddbench run`` shows while it works: cells, the current bundle, the phase, honest ETAs.

One event protocol (:class:`ddbench.run.pipeline.Progress`) feeds :class:`ProgressState`, a plain
model of the run (no rich, an injectable clock), which three views read:

* ``live`` (stdout is a terminal): a few lines redrawn in place, each fitted to the console
  width (at 80 columns nothing collapses: the bars shrink, the labels and times stay whole);
* ``log`` (a pipe, a CI log): plain lines, one per bundle and phase change and at most one
  status line every ``interval`` seconds in between;
* ``quiet`` (``-q``): nothing; the command prints the final summary line itself.

ETAs: the run's from the work left in cell-epochs at the rate measured so far in this run
(build, compile, probe and save time included, since they recur per bundle); the bundle's
from its epochs since the bundle's first report (so compilation does not inflate it, and
nothing is carried over from the previous bundle). Before there is a rate the ETA is ``?``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from rich.console import Console, Group
from rich.text import Text

from ..plan import Bundle, Cell
from ..run.events import PHASES
from ..run.events import Progress as ProgressEvents
from ..safetext import terminal

#: seconds between two status lines in log mode (``DDBENCH_PROGRESS_INTERVAL`` overrides)
LOG_INTERVAL = 15.0


def fmt_clock(seconds: float | None) -> str:
    """``0:07``, ``12:03``, ``1:02:03``; ``?`` when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "?"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class ProgressState:
    """The run as the views see it; every method takes the time from ``clock``."""

    clock: Callable[[], float] = time.monotonic
    total_cells: int = 0
    todo: int = 0
    finished: int = 0  # cells finished in this run (any status)
    bad: dict[str, int] = field(default_factory=dict)  # status -> count, for cells not done
    bundles: int = 0  # bundles started
    bundle: Bundle | None = None
    bundle_epoch: int = 0
    bundle_total: int = 0
    bundle_open: int = 0  # cells of the current bundle not finished yet
    phase: str = ""
    detail: str = ""
    t_start: float | None = None
    t_bundle: float | None = None
    _first: tuple[float, int] | None = None  # (time, epoch) of the bundle's first epoch report
    _last: tuple[float, int] | None = None
    _epochs_per_cell: int = 0

    def start(self, total_cells: int, todo: int) -> None:
        """A grid starts training (a run whose grid is refined trains twice: the base grid, then the new cells)."""
        self.total_cells, self.todo, self.t_start = total_cells, todo, self.clock()
        self.finished, self.bad = 0, {}

    def bundle_started(self, bundle: Bundle) -> None:
        self.bundles += 1
        self.bundle, self.bundle_epoch, self.bundle_total = bundle, 0, 0
        self.bundle_open = len(bundle.cells)
        self.t_bundle, self._first, self._last = self.clock(), None, None
        self.set_phase("building", "")

    def set_phase(self, name: str, detail: str = "") -> None:
        self.phase, self.detail = name, detail

    def epochs_done(self, bundle: Bundle, epoch: int, total: int) -> None:
        now = self.clock()
        if self.bundle is None or not {c.key for c in bundle.cells} <= {c.key for c in self.bundle.cells}:
            self.bundle_started(bundle)  # a retried half, or an executor that reports no bundle start
        self.bundle_epoch, self.bundle_total, self._epochs_per_cell = epoch, total, total
        if self._first is None:
            self._first = (now, epoch)
        self._last = (now, epoch)
        if self.phase in ("", "building", "compiling"):
            self.set_phase("training", "")

    def cell_finished(self, cell: Cell, status: str) -> None:
        self.finished += 1
        if status != "done":
            self.bad[status] = self.bad.get(status, 0) + 1
        if self.bundle is not None and any(c.key == cell.key for c in self.bundle.cells):
            self.bundle_open = max(self.bundle_open - 1, 0)

    # ------------------------------------------------------------ derived numbers

    def elapsed(self) -> float | None:
        return None if self.t_start is None else self.clock() - self.t_start

    def bundle_elapsed(self) -> float | None:
        return None if self.t_bundle is None else self.clock() - self.t_bundle

    def bundle_eta(self) -> float | None:
        """From the bundle's own epochs since its first report (compilation excluded)."""
        if self._first is None or self._last is None or self._last[1] <= self._first[1]:
            return None
        (t0, e0), (t1, e1) = self._first, self._last
        rate = (t1 - t0) / (e1 - e0)
        since = self.clock() - t1
        return max(rate * (self.bundle_total - e1) - since, 0.0)

    def done_units(self) -> float:
        """Cell-epochs finished: finished cells, plus the open cells of the bundle at their epoch."""
        per = self._epochs_per_cell or 1
        partial = self.bundle_open * min(self.bundle_epoch, per) if self.bundle is not None else 0
        return self.finished * per + partial

    def eta(self) -> float | None:
        """Seconds left for the cells still to train, at the rate of this run so far."""
        elapsed, done = self.elapsed(), self.done_units()
        if elapsed is None or done <= 0:
            return None
        per = self._epochs_per_cell or 1
        left = max(self.todo * per - done, 0.0)
        return elapsed / done * left

    def fraction(self) -> float:
        per = self._epochs_per_cell or 1
        return min(self.done_units() / (self.todo * per), 1.0) if self.todo else 1.0


# --------------------------------------------------------------------------- rendering


def bar(fraction: float, width: int) -> str:
    width = max(width, 0)
    full = int(round(max(0.0, min(fraction, 1.0)) * width))
    return "━" * full + "─" * (width - full)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _bar_line(label: str, count: str, fraction: float, times: str, width: int) -> str:
    """``label count [bar] pct times``: the bar takes what is left (at least 10 columns, else dropped)."""
    pct = f"{int(fraction * 100):3d}%"
    fixed = f"{label} {count} "
    tail = f" {pct} {times}"
    room = width - len(fixed) - len(tail)
    if room >= 10:
        return fixed + bar(fraction, min(room, 40)) + tail
    return _fit(f"{label} {count}{tail}", width)


def bundle_label(bundle: Bundle) -> str:
    widths = sorted({c.width for c in bundle.cells})
    span = f"w {widths[0]}" if len(widths) == 1 else f"w {widths[0]}..{widths[-1]}"
    seeds = ",".join(str(s) for s in bundle.seeds)
    return f"p={bundle.noise_rate:g} seeds {seeds} {span}"


def render_lines(state: ProgressState, width: int) -> list[str]:
    """The live display, each line at most ``width`` characters."""
    lines = [_bar_line("cells", f"{state.finished}/{state.todo}", state.fraction(),
                       f"{fmt_clock(state.elapsed())} eta {fmt_clock(state.eta())}", width)]
    if state.bad:
        lines[0] = _fit(lines[0], width)
        lines.append(_fit("  " + ", ".join(f"{n} {s}" for s, n in sorted(state.bad.items())), width))
    if state.bundle is not None and state.bundle_open > 0:  # a finished bundle is not shown under the run's phases
        head = f"bundle {state.bundles}: {len(state.bundle.cells)} cells, {bundle_label(state.bundle)}"
        lines.append(_fit(head, width))
        if state.bundle_total:
            frac = state.bundle_epoch / state.bundle_total
            lines.append(_bar_line("  epoch", f"{state.bundle_epoch}/{state.bundle_total}", frac,
                                   f"{fmt_clock(state.bundle_elapsed())} eta {fmt_clock(state.bundle_eta())}", width))
    if state.phase:
        lines.append(_fit(f"  {state.phase}" + (f": {state.detail}" if state.detail else ""), width))
    return lines


def status_line(state: ProgressState) -> str:
    """One plain log line: where the run is, with both ETAs."""
    parts = [f"[{fmt_clock(state.elapsed())}] cells {state.finished}/{state.todo} ({int(state.fraction() * 100)}%), "
             f"eta {fmt_clock(state.eta())}"]
    if state.bundle is not None and state.bundle_total:
        parts.append(f"bundle {state.bundles} epoch {state.bundle_epoch}/{state.bundle_total}, "
                     f"eta {fmt_clock(state.bundle_eta())}")
    if state.phase:
        parts.append(state.phase + (f" {state.detail}" if state.detail else ""))
    return "; ".join(parts)


class _Live:
    def __init__(self, state: ProgressState, console: Console):
        self.state, self.console = state, console

    def __rich__(self) -> Group:
        width = self.console.size.width
        return Group(*(Text(terminal(line, newlines=False), no_wrap=True, overflow="ellipsis")
                       for line in render_lines(self.state, width)))


class RichProgress(ProgressEvents):
    """The CLI's view of the run's events: ``mode`` live, log or quiet (default: live on a terminal,
    log otherwise; ``enabled=False`` is quiet)."""

    def __init__(self, console: Console, enabled: bool = True, mode: str | None = None,
                 interval: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.console = console
        if mode is None:
            mode = "quiet" if not enabled else ("live" if console.is_terminal else "log")
        self.mode = mode
        env = os.environ.get("DDBENCH_PROGRESS_INTERVAL")
        self.interval = interval if interval is not None else float(env) if env else LOG_INTERVAL
        self.state = ProgressState(clock=clock)
        self._live: Any = None
        self._last_log: float | None = None
        self._logged: set[str] = set()  # phases logged since the bundle started

    # ------------------------------------------------------------ output

    def _print(self, text: str) -> None:
        if self.mode != "quiet":
            self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def _log_status(self, force: bool = False) -> None:
        if self.mode != "log":
            return
        now = self.state.clock()
        if force or self._last_log is None or now - self._last_log >= self.interval:
            self._last_log = now
            self._print(status_line(self.state))

    # ------------------------------------------------------------ events

    def start(self, total_cells: int, todo: int) -> None:
        self._close()  # the grid trained before this one (a refined grid's base grid)
        self.state.start(total_cells, todo)
        self._print(f"{total_cells} cells: {total_cells - todo} already finished, {todo} to train")
        if self.mode == "live" and todo:
            from rich.live import Live

            self._live = Live(_Live(self.state, self.console), console=self.console, refresh_per_second=4,
                              transient=True, redirect_stdout=False, redirect_stderr=False)
            self._live.start()

    def bundle_started(self, bundle: Bundle) -> None:
        self.state.bundle_started(bundle)
        self._logged = {"building"}  # the bundle line says it
        if self.mode == "log":
            self._print(f"bundle {self.state.bundles}: {len(bundle.cells)} cells, {bundle_label(bundle)}")

    def phase(self, name: str, bundle: Bundle | None = None, detail: str = "") -> None:
        self.state.set_phase(name, detail)
        if name == "analysing" and "analysing" not in self._logged:
            self._logged = set()  # the run's own phases after the bundles' ones
        if self.mode == "log" and name in PHASES and name not in self._logged:
            # once per bundle (and once for the run's end): per-cell details go into the status lines
            self._logged.add(name)
            self._print(f"[{fmt_clock(self.state.elapsed())}] {name}" + (f" {detail}" if detail else ""))

    def epochs_done(self, bundle: Bundle, epoch: int, total: int) -> None:
        self.state.epochs_done(bundle, epoch, total)
        self._log_status(force=epoch == total)

    def cell_finished(self, cell: Cell, status: str, metrics: dict[str, Any]) -> None:
        self.state.cell_finished(cell, status)
        if status != "done":
            self._print(f"{status}: {cell.label}")
        self._log_status()

    def message(self, text: str) -> None:
        self._print(text)

    def stop(self) -> None:
        self._close()

    def _close(self) -> None:
        """Stop the live view and say what the grid trained (once)."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        s = self.state
        if s.todo and self.mode != "quiet":
            self._print(f"trained {s.finished}/{s.todo} cells in {fmt_clock(s.elapsed())}"
                        + (f" ({', '.join(f'{n} {k}' for k, n in sorted(s.bad.items()))})" if s.bad else ""))
        s.todo = 0


# --------------------------------------------------------------------------- the end of a run


def summary_line(result: Any) -> str:
    """The run's last line (``-q`` prints only this and the output paths): cells by status, failed and
    NaN probes, time."""
    from ..leaderboard.probe_status import fmt_probe_counts, probe_counts

    c = result.counts
    total = sum(c.values())
    probes = fmt_probe_counts(probe_counts(result.leaderboard.rows))
    return (f"{result.run_dir}: {c.get('done', 0)}/{total} cells done, {c.get('failed', 0)} failed, "
            f"{c.get('diverged', 0)} diverged ({getattr(result, 'trained', 0)} trained this run); "
            f"probes: {probes}; {result.wall_seconds:.0f} s")


def output_paths(run_dir: Any) -> list[Any]:
    """The files a run writes at its top level (leaderboard.*, figures), in a stable order."""
    from pathlib import Path

    run_dir = Path(run_dir)
    found = [p for p in run_dir.iterdir() if p.is_file() and (p.name.startswith("leaderboard.") or p.suffix == ".png")]
    return sorted(found, key=lambda p: (not p.name.startswith("leaderboard."), p.name))
