"""The error-vs-width figure of a leaderboard: the picture double descent is about.

Built on a bare :class:`matplotlib.figure.Figure` (no pyplot), so it neither needs
nor changes the global backend and leaks no open figures in long-running processes.
It reads the same per-width aggregation as the markdown (:func:`.curves.curve_groups`).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from .curves import CurveGroup, curve_groups
from .formatting import fmt_counts, fmt_p
from .schema import Leaderboard

_SERIES = (("train_error", "tab:blue", "train error"), ("test_error", "tab:red", "test error"))


def plot_error_vs_width(board: Leaderboard, path: str | Path, *, columns: int = 3, dpi: int = 120) -> Path:
    """Write a PNG with one panel per noise rate (and family / config axis); return its path."""
    from matplotlib.figure import Figure

    groups = curve_groups(board)
    n = max(len(groups), 1)
    ncols = min(columns, n)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(5.4 * ncols, 4.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, group in zip(axes, groups):
        _panel(ax, group)
    if not groups:
        _empty(axes[0], "no cells in this leaderboard")
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(f"{board.spec_name} ({board.spec_hash[:12]}): error vs width\nmean over seeds, band = min..max",
                 fontsize=11)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", dpi=dpi)
    return path


def _title(group: CurveGroup) -> str:
    dd = [f"{claim.split('.', 1)[-1]}: {v}" for claim, v in group.verdicts.items() if claim.startswith("double_descent.")]
    label = group.label.replace(fmt_p(group.noise_rate), f"p = {group.noise_rate:g}")
    return label + ("\n" + ", ".join(dd) if dd else "")


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=11, color="0.35")
    ax.set_xticks([])
    ax.set_yticks([])


def _panel(ax: Any, group: CurveGroup) -> None:
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    ax.set_title(_title(group), fontsize=10)
    done = [ws for ws in group.widths if ws.done]
    if not done:
        statuses = sum((ws.statuses for ws in group.widths), Counter())
        _empty(ax, f"no finished cells\n({fmt_counts(statuses)})")
        return
    top = 0.0
    for metric, color, name in _SERIES:
        pts = [(ws.width, ws.mean(metric), *ws.spread(metric)) for ws in done if ws.mean(metric) is not None]
        if not pts:
            continue
        x, mean, lo, hi = zip(*pts)
        top = max(top, *hi)
        seeds = sorted({ws.done for ws in done})
        n = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
        ax.plot(x, mean, marker="o", ms=3.5, lw=1.6, color=color, label=f"{name} (n={n})")
        ax.fill_between(x, lo, hi, color=color, alpha=0.18, linewidth=0)
    if group.k_star is not None:
        ax.axvline(group.k_star, color="0.2", ls="--", lw=1, label=f"k* = {group.k_star}")
    peak = group.peaks.get("peak")
    at_peak = next((ws for ws in done if ws.width == peak), None)
    if at_peak is not None and at_peak.mean("test_error") is not None:
        ax.plot([peak], [at_peak.mean("test_error")], ls="none", marker="*", ms=15, color="tab:red", mec="black",
                mew=0.8, zorder=5, label=f"test-error peak (width {peak})")
    unfinished = [ws.width for ws in group.widths if ws.done < sum(ws.statuses.values())]
    if unfinished:
        ax.plot(unfinished, [0.0] * len(unfinished), ls="none", marker="x", color="0.4", clip_on=False,
                label="unfinished cells")
    ax.set_xscale("log")
    widths = [ws.width for ws in group.widths]
    ax.set_xlim(min(widths) / 1.3, max(widths) * 1.3)  # also gives a lone width some room
    if len(widths) <= 8:  # few widths: label each one; many: 1-2-5 per decade, or labels collide
        ax.set_xticks(widths)
    else:
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(0, max(top * 1.08, 0.05))
    ax.set_xlabel("width")
    ax.set_ylabel("error")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
