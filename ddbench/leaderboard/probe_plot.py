"""Probe-vs-width curves: every scalar probe value over the width grid.

One panel per probe value, one line per curve group (noise rate, family, grid
axis), mean over seeds; k* (dashed) and the test-error peak (star) of each group
are marked, so a probe's shape can be read against the double-descent curve.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .curves import curve_groups
from .measures import _is_scalar
from .schema import Leaderboard


def scalar_probe_keys(board: Leaderboard) -> list[str]:
    return sorted({k for r in board.rows if r.status == "done" for k, v in r.probes.items() if _is_scalar(v)})


def plot_probes_vs_width(board: Leaderboard, path: str | Path, *, columns: int = 3, dpi: int = 110) -> Path | None:
    """Write the PNG (None when the leaderboard has no scalar probe values)."""
    from matplotlib.figure import Figure

    keys = scalar_probe_keys(board)
    if not keys:
        return None
    groups = [g for g in curve_groups(board) if g.finished]
    ncols = min(columns, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig = Figure(figsize=(5.0 * ncols, 3.8 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    colors = [f"C{i % 10}" for i in range(len(groups))]
    for ax, key in zip(axes, keys):
        for group, color in zip(groups, colors):
            pts = []
            for w in sorted({r.width for r in group.rows}):
                vals = [r.probes[key] for r in group.rows if r.width == w and r.status == "done" and _is_scalar(r.probes.get(key))]
                if vals:
                    pts.append((w, float(np.mean(vals))))
            if not pts:
                continue
            x, y = zip(*pts)
            ax.plot(x, y, marker="o", ms=3, lw=1.4, color=color, label=group.label)
            if group.k_star is not None:
                ax.axvline(group.k_star, color=color, ls="--", lw=0.9, alpha=0.8)
            peak = group.peaks.get("peak")
            if peak in x:
                ax.plot([peak], [y[x.index(peak)]], marker="*", ms=12, color=color, mec="black", mew=0.6, ls="none")
        ax.set_xscale("log")
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("width")
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=7, loc="best", title="dashed: k*, star: test-error peak", title_fontsize=7)
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    fig.suptitle(f"{board.spec_name}: probes vs width (mean over seeds)", fontsize=11)
    path = Path(path)
    fig.savefig(path, format="png", dpi=dpi)
    return path
