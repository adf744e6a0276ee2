"""The run's progress display: honest ETAs on a fake clock, nothing carried between bundles,
readable at 80 columns, plain periodic lines without a terminal, nothing with -q."""

import io

from rich.console import Console

from ddbench.cli.progress import ProgressState, RichProgress, _Live, fmt_clock, render_lines
from ddbench.plan import Bundle, Cell


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def cells(rate, widths, seed=0):
    return [Cell("mlp", {}, w, rate, 0, seed, key=f"k{rate}-{w}-{seed}") for w in widths]


def test_fmt_clock():
    assert [fmt_clock(s) for s in (None, -1, 0, 7.4, 61, 3723)] == ["?", "?", "0:00", "0:07", "1:01", "1:02:03"]


def test_etas_are_from_this_bundle_and_this_run():
    clock = Clock()
    s = ProgressState(clock=clock)
    b1, b2 = Bundle(cells(0.0, [2, 8])), Bundle(cells(0.2, [2, 8]))
    s.start(total_cells=4, todo=4)
    s.bundle_started(b1)
    assert s.eta() is None and s.bundle_eta() is None  # nothing measured yet: '?', never a made-up number
    clock.t = 10.0  # 10 s of building and compiling, then one epoch per second
    s.epochs_done(b1, 1, 10)
    assert s.bundle_eta() is None  # one report gives no rate
    clock.t = 14.0
    s.epochs_done(b1, 5, 10)
    assert s.bundle_eta() == 5.0  # (14 - 10) s / (5 - 1) epochs x 5 epochs left: compilation excluded
    # the run: 2 cells x 5 epochs of 4 x 10 cell-epochs took 14 s -> 30 left at 1.4 s each
    assert abs(s.eta() - 42.0) < 1e-9
    clock.t = 19.0
    s.epochs_done(b1, 10, 10)
    for c in b1.cells:
        s.cell_finished(c, "done")
    clock.t = 20.0
    assert abs(s.eta() - 20.0) < 1e-9  # half the work in 20 s
    s.set_phase("probing", "weight_norm on 2 finished cells")  # a run-level phase: the finished bundle is gone
    assert not any(line.startswith("bundle") for line in render_lines(s, 80))
    s.bundle_started(b2)
    assert s.bundle_elapsed() == 0.0 and s.bundle_eta() is None and s.bundle_total == 0
    lines = render_lines(s, 80)
    assert not any("epoch 10/10" in line for line in lines)  # nothing stale from the previous bundle
    assert any(line.strip().startswith("building") for line in lines)


def test_eta_with_30_s_left_is_not_1_s():
    """Cells finish in bursts (a bundle hands out all its cells at once); the ETA follows the work."""
    clock = Clock()
    s = ProgressState(clock=clock)
    bundles = [Bundle(cells(r, [2, 4, 8])) for r in (0.0, 0.1, 0.2)]
    s.start(9, 9)
    for i, b in enumerate(bundles[:2]):
        s.bundle_started(b)
        for e in range(1, 11):
            clock.t += 1.5
            s.epochs_done(b, e, 10)
        for c in b.cells:
            s.cell_finished(c, "done")
    assert clock.t == 30.0
    assert abs(s.eta() - 15.0) < 1e-9  # 6 of 9 cells in 30 s


def _render(state, width):
    con = Console(width=width, record=True, file=io.StringIO(), force_terminal=True, color_system=None)
    con.print(_Live(state, con))
    return con.export_text().rstrip("\n").splitlines()


def _busy_state():
    clock = Clock()
    s = ProgressState(clock=clock)
    b = Bundle(cells(0.15, [2, 3, 4, 6, 9, 14, 20, 30, 44, 64, 94, 139, 204, 300]))
    s.start(28, 28)
    s.bundle_started(b)
    clock.t = 8.0
    s.epochs_done(b, 1, 200)
    clock.t = 48.0
    s.epochs_done(b, 101, 200)
    s.cell_finished(b.cells[0], "failed")
    s.set_phase("training")
    return s


def test_readable_at_80_columns():
    lines = _render(_busy_state(), 80)
    assert all(len(line) <= 80 for line in lines), lines
    text = "\n".join(lines)
    assert "eta -" not in text and "…" not in lines[0]
    assert lines[0].startswith("cells 1/28 ") and "eta 2:" in lines[0]  # full label, counts and both times
    epoch = next(line for line in lines if line.strip().startswith("epoch"))
    assert "101/200" in epoch and "eta 0:40" in epoch  # 100 epochs in 40 s -> 99 left ~ 40 s
    assert "bundle 1: 14 cells, p=0.15 seeds 0 w 2..300" in text
    assert "1 failed" in text and "training" in text


def test_narrow_console_drops_the_bar_not_the_numbers():
    lines = _render(_busy_state(), 40)
    assert all(len(line) <= 40 for line in lines), lines
    assert "1/28" in lines[0] and "eta" in lines[0]


def _events(progress, clock):
    b = Bundle(cells(0.0, [2, 8]))
    progress.start(2, 2)
    progress.bundle_started(b)
    progress.phase("compiling", b, "2 models")
    for e in range(1, 41):
        clock.t += 1.0
        progress.epochs_done(b, e, 40)
    for c in b.cells:
        progress.phase("writing", None, f"model of {c.label}")
        progress.phase("probing", None, f"weight_norm on {c.label}")
        progress.cell_finished(c, "done", {})
    progress.phase("analysing", None, "double_descent (1/1)")
    progress.phase("writing", None, "leaderboard.json")
    progress.stop()


def test_plain_log_lines_without_a_terminal():
    out = io.StringIO()
    con = Console(file=out, width=80, force_terminal=False)
    clock = Clock()
    p = RichProgress(con, interval=10.0, clock=clock)
    assert p.mode == "log"
    _events(p, clock)
    lines = out.getvalue().splitlines()
    status = [line for line in lines if " cells " in line and "eta" in line]
    # 40 s of epochs: a status line at the first report, then at most one per 10 s, plus the last epoch
    assert 4 <= len(status) <= 6, lines
    assert lines[0] == "2 cells: 0 already finished, 2 to train"
    assert lines[1] == "bundle 1: 2 cells, p=0 seeds 0 w 2..8"
    for phase in ("compiling", "probing", "analysing", "writing"):
        assert any(line.split("] ", 1)[-1].startswith(phase) for line in lines), phase
    assert sum("probing" in line and "cells" not in line for line in lines) == 1  # once per bundle, not per cell
    assert lines[-1].startswith("trained 2/2 cells in 0:40")


def test_quiet_prints_nothing():
    out = io.StringIO()
    clock = Clock()
    p = RichProgress(Console(file=out, width=80), enabled=False, clock=clock)
    assert p.mode == "quiet"
    _events(p, clock)
    p.message("out of memory with 2 cells together; retrying as 1 and 1")
    assert out.getvalue() == ""


def test_live_mode_on_a_terminal():
    out = io.StringIO()
    con = Console(file=out, width=80, force_terminal=True)
    clock = Clock()
    p = RichProgress(con, clock=clock)
    assert p.mode == "live"
    _events(p, clock)
    assert "trained 2/2 cells in 0:40" in out.getvalue()


def test_a_refined_run_trains_twice_and_says_what_each_grid_trained():
    """A grid refined after its base grid: the base grid's line comes before the refined grid's start, counts
    start again, and the end says what the refined grid trained (once)."""
    out = io.StringIO()
    p = RichProgress(Console(file=out, width=80, force_terminal=False), interval=10.0, clock=Clock())
    base, refined = Bundle(cells(0.0, [2, 8])), Bundle(cells(0.0, [4]))
    p.start(2, 2)
    for c in base.cells:
        p.cell_finished(c, "done", {})
    p.message("refined: ...")
    p.start(3, 1)
    p.cell_finished(refined.cells[0], "failed", {})
    p.stop()
    p.stop()
    lines = [line for line in out.getvalue().splitlines() if "eta" not in line]
    assert lines[:3] == ["2 cells: 0 already finished, 2 to train", "refined: ...", "trained 2/2 cells in 0:00"]
    assert lines[3:] == ["3 cells: 2 already finished, 1 to train", "failed: mlp w=4 p=0 seed=0",
                         "trained 1/1 cells in 0:00 (1 failed)"]
