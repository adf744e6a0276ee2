"""The report's figures: error and loss vs width, probe measures vs width, epoch-wise curves.

Built on bare :class:`matplotlib.figure.Figure` objects (no pyplot: no global backend,
no figures left open). Every figure reads k* and the curve groups from
:func:`.curves.curve_groups` (the same numbers as leaderboard.md) and the peaks from
the double-descent verdicts' recorded details; a peak is marked only where the
recorded curve has one (a maximum above both sides), and k* only where it was reached.
Bands are the pointwise intervals of :mod:`.intervals`, never min..max.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..stats.plan import ResamplingPlan
from .curves import CurveGroup, curve_groups
from .formatting import canon, fmt_p, fmt_signed
from .intervals import (
    Arrays,
    Band,
    describe,
    is_number,
    level_of,
    metric_band,
    probe_band,
)
from .schema import Leaderboard
from .strata import DD

#: bookkeeping values never drawn for a probe that declares no ``measures``
_BOOKKEEPING_SUFFIXES = ("_se", "_chunks", "_epoch", "_points", "_dim")


@dataclass
class Peak:
    claim: str  # "peak" or "loss_peak"
    width: int
    height: float | None
    value: float | None
    verdict: str


def _matches(stratum: dict[str, Any], coords: dict[str, Any]) -> bool:
    if stratum.get("pooled") or stratum.get("overall"):
        return False
    return all(k in coords and canon(coords[k]) == canon(x) for k, x in stratum.items())


def _mean_at(group: CurveGroup, width: int, metric: str) -> float | None:
    ws = next((ws for ws in group.widths if ws.width == width), None)
    return None if ws is None else ws.mean(metric)


def dd_peaks(board: Leaderboard, group: CurveGroup) -> dict[str, Peak]:
    """The peaks recorded for this group, only where a peak exists.

    Read from the statistical core's per-stratum record (``analysis.strata``:
    ``test_error_peak`` / ``test_loss_peak`` = {width, excess}) when the leaderboard has
    one, else from the double-descent verdicts' details (``peak_width``, ``peak_height``).
    A ``peak_found`` decides when present; otherwise a peak exists when its excess over
    both sides is positive (p = 0 curves that only fall are never starred).
    """
    coords = {**group.rows[0].config, "family": group.family, "noise_rate": group.noise_rate} if group.rows else {}
    out: dict[str, Peak] = {}
    for rec in board.analysis.get("strata") or []:
        if not isinstance(rec, dict) or not _matches(rec.get("stratum") or {}, coords):
            continue
        for metric, claim in (("test_error", "peak"), ("test_loss", "loss_peak")):
            pk = rec.get(f"{metric}_peak")
            if not isinstance(pk, dict) or pk.get("width") is None:
                continue
            excess, found = pk.get("excess"), pk.get("found")
            if bool(found) if isinstance(found, bool) else (is_number(excess) and excess > 0):
                width = int(pk["width"])
                out[claim] = Peak(claim, width, float(excess) if is_number(excess) else None,
                                  _mean_at(group, width, metric), group.verdicts.get(f"{DD}.{claim}", ""))
        return out
    for v in board.verdicts:
        if v.hypothesis != DD:
            continue
        for s in v.strata:
            if not _matches(s.stratum, coords):
                continue
            d = s.detail
            width, height = d.get("peak_width"), d.get("peak_height")
            found = d.get("peak_found")
            exists = bool(found) if isinstance(found, bool) else (is_number(height) and height > 0)
            if width is not None and exists:
                short = v.claim.split(".", 1)[-1]
                value = _mean_at(group, int(width), "test_loss" if short == "loss_peak" else "test_error")
                if value is None and is_number(d.get("peak_value")):
                    value = float(d["peak_value"])
                out[short] = Peak(short, int(width), float(height) if is_number(height) else None, value, s.verdict)
    return out


def group_verdicts(group: CurveGroup) -> str:
    dd = [f"{c.split('.', 1)[-1]}: {v}" for c, v in group.verdicts.items() if c.startswith(DD + ".")]
    return ", ".join(dd)


def declared_measures(board: Leaderboard) -> dict[str, tuple[str, ...] | None]:
    from .. import registry

    names = [p.get("name") if isinstance(p, dict) else str(p) for p in (board.spec or {}).get("probes") or []]
    names += sorted({k.split(".", 1)[0] for r in board.rows for k in r.probes})
    out: dict[str, tuple[str, ...] | None] = {}
    for name in dict.fromkeys(n for n in names if n):
        try:
            out[name] = registry.probes.get(name).measures
        except KeyError:  # a probe not installed here: the bookkeeping rule decides
            out[name] = None
    return out


def measure_keys(board: Leaderboard) -> list[str]:
    """The scalar probe values worth a panel: the probes' declared measures (bookkeeping left out
    for a probe that declares none), in declaration order."""
    declared = declared_measures(board)
    present = {k for r in board.rows if r.status == "done" for k, v in r.probes.items() if is_number(v)}
    keys = []
    for probe, listed in declared.items():
        if listed is not None:
            keys += [f"{probe}.{v}" for v in listed if f"{probe}.{v}" in present]
        else:
            keys += sorted(k for k in present if k.split(".", 1)[0] == probe and not _bookkeeping(k.split(".", 1)[1]))
    return keys


def _bookkeeping(value: str) -> bool:
    return value.startswith("n_") or value.endswith(_BOOKKEEPING_SUFFIXES) or value in ("status", "version")


def failed_probe_widths(group: CurveGroup, probe: str) -> list[int]:
    """Widths of finished cells of this group whose probe failed or gave NaN."""
    return sorted({r.width for r in group.rows if r.status == "done" and r.probes.get(f"{probe}.status") not in (None, "ok")})


# --------------------------------------------------------------------------- drawing helpers


def _log_width_axis(ax: Any, widths: list[int]) -> None:
    from matplotlib.ticker import LogLocator, NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    if widths:
        ax.set_xlim(min(widths) / 1.3, max(widths) * 1.3)
    if 0 < len(widths) <= 8:
        ax.set_xticks(sorted(set(widths)))
    else:
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("width")
    ax.grid(True, which="major", alpha=0.3)


def _band(ax: Any, band: Band, color: str, label: str, *, ls: str = "-") -> None:
    ax.plot(band.widths, band.mean, marker="o", ms=3.5, lw=1.6, ls=ls, color=color, label=label)
    if band.has_interval:
        x = [w for w, lo in zip(band.widths, band.lo) if lo is not None]
        lo = [v for v in band.lo if v is not None]
        hi = [v for v in band.hi if v is not None]
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)


def _k_star(ax: Any, group: CurveGroup, color: str = "0.25", label: bool = True) -> None:
    if group.k_star is not None:
        ax.axvline(group.k_star, color=color, ls="--", lw=1, label=f"k* = {group.k_star}" if label else None)
    elif label and group.finished:
        ax.text(0.99, 0.99, "k* not reached", ha="right", va="top", transform=ax.transAxes, fontsize=8, color="0.35")


def _empty(ax: Any, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="0.35")
    ax.set_xticks([])
    ax.set_yticks([])


def fixed_layout(fig: Any, nrows: int, ncols: int, *, left: float = 0.75, right: float = 0.2, top: float = 0.8,
                 bottom: float = 0.5, wspace: float = 0.75, hspace: float = 1.0) -> None:
    """Margins and gaps in inches (room for tick labels, axis labels and two-line titles), set once.

    Instead of a layout engine: constrained layout measures every tick label of every panel in an
    extra drawing pass before the real one, which doubled the time of saving a figure (the 21-panel
    probe figure of the quickstart: about 4 s of 8)."""
    W, H = fig.get_size_inches()
    aw = max((W - left - right - (ncols - 1) * wspace) / ncols, 0.5)
    ah = max((H - top - bottom - (nrows - 1) * hspace) / nrows, 0.5)
    fig.subplots_adjust(left=left / W, right=1 - right / W, top=1 - top / H, bottom=bottom / H,
                        wspace=wspace / aw, hspace=hspace / ah)


def to_png(fig: Any, dpi: int = 110) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# --------------------------------------------------------------------------- error and loss vs width


_PANELS = (
    ("error", (("train_error", "tab:blue", "train error"), ("test_error", "tab:red", "test error")), "peak"),
    ("loss", (("train_loss", "tab:blue", "train loss"), ("test_loss", "tab:red", "test loss")), "loss_peak"),
)


def curves_figure(board: Leaderboard, arrays: Arrays | None = None) -> Any:
    """One row per curve group (noise rate, family, grid axis): error vs width and loss vs width."""
    from matplotlib.figure import Figure

    groups = curve_groups(board)
    level = level_of(board)
    boot = ResamplingPlan(int(board.analysis.get("bootstrap") or 1000), int(board.analysis.get("seed") or 0))
    nrows = max(len(groups), 1)
    fig = Figure(figsize=(11.0, 3.9 * nrows + 0.4))
    axes = fig.subplots(nrows, 2, squeeze=False)
    fixed_layout(fig, nrows, 2)
    if not groups:
        _empty(axes[0][0], "no cells in this leaderboard")
        axes[0][1].set_visible(False)
    methods = []
    for row, group in zip(axes, groups):
        peaks = dd_peaks(board, group)
        for ax, (name, series, peak_claim) in zip(row, _PANELS):
            title = f"{group.label.replace(fmt_p(group.noise_rate), f'p = {group.noise_rate:g}')}: {name} vs width"
            verdict = group.verdicts.get(f"{DD}.{peak_claim}")
            ax.set_title(title + (f"\n{peak_claim}: {verdict}" if verdict else ""), fontsize=10)
            if not group.finished:
                _empty(ax, "no finished cells")
                continue
            for metric, color, label in series:
                band = metric_band(board, group, metric, arrays, boot, level)
                if band is None:
                    continue
                if metric.startswith("test"):
                    methods.append(band.method)
                _band(ax, band, color, label)
            _k_star(ax, group)
            peak = peaks.get(peak_claim)
            if peak is not None and peak.value is not None:
                ax.plot([peak.width], [peak.value], ls="none", marker="*", ms=15, color="tab:red", mec="black",
                        mew=0.8, zorder=5, label=f"{name} peak at {peak.width} ({fmt_signed(peak.height)})")
            _log_width_axis(ax, [ws.width for ws in group.widths])
            ax.set_ylabel(name)
            if name == "error":
                ax.set_ylim(bottom=0)
            ax.legend(fontsize=8, loc="best")
    used = "/".join(dict.fromkeys(m for ms in methods for m in ms.split("/"))) or "none"
    fig.suptitle(f"{board.spec_name}: error and loss vs width (mean over seeds; {describe(used, level)})", fontsize=10,
                 y=1 - 0.08 / fig.get_size_inches()[1], va="top")
    return fig


# --------------------------------------------------------------------------- probe measures vs width


def probes_figure(board: Leaderboard, keys: list[str] | None = None, *, columns: int = 3,
                  title: str | None = None) -> Any | None:
    """One panel per probe measure, one line (with band) per curve group, k* of each group on every panel."""
    from matplotlib.figure import Figure

    keys = measure_keys(board) if keys is None else keys
    if not keys:
        return None
    groups = [g for g in curve_groups(board) if g.finished]
    level = level_of(board)
    ncols = min(columns, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    handles = _probe_legend(board, groups, keys)
    legend_rows = math.ceil(len(handles) / 4)
    fig = Figure(figsize=(max(4.6 * ncols, 7.5), 3.5 * nrows + 0.6 + 0.25 * legend_rows))  # room for the legend
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    fixed_layout(fig, nrows, ncols, top=0.6, hspace=0.75, bottom=0.6 + 0.25 * legend_rows)
    colors = [f"C{i % 10}" for i in range(len(groups))]
    methods: list[str] = []
    for ax, key in zip(axes, keys):
        probe, _, value = key.partition(".")
        drawn = False
        for group, color in zip(groups, colors):
            band = probe_band(group, key, level)
            if band is not None:
                _band(ax, band, color, group.label)
                methods.append(band.method)
                drawn = True
            _k_star(ax, group, color=color, label=False)
            bad = failed_probe_widths(group, probe)
            if bad:
                ax.plot(bad, [0.02] * len(bad), ls="none", marker="x", ms=7, color=color, mew=1.6,
                        transform=ax.get_xaxis_transform(), clip_on=False)
        if not drawn:
            _empty(ax, "no finite values")
        ax.set_title(key, fontsize=10)
        ax.set_ylabel(value.replace("_", " "))
        _log_width_axis(ax, sorted({r.width for g in groups for r in g.rows}))
    for ax in axes[len(keys):]:
        ax.set_visible(False)
    fig.legend(handles=handles, loc="lower center", ncols=min(len(handles), 4), fontsize=9)
    used = "/".join(dict.fromkeys(m for ms in methods for m in ms.split("/"))) or "none"
    fig.suptitle(title or f"{board.spec_name}: probe measures vs width (mean over seeds; {describe(used, level)})",
                 fontsize=10, y=1 - 0.08 / fig.get_size_inches()[1], va="top")
    return fig


def _probe_legend(board: Leaderboard, groups: list[CurveGroup], keys: list[str]) -> list[Any]:
    """The probe figure's legend: a line per curve group (in its colour), k*, and failed probes if any."""
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=f"C{i % 10}", marker="o", ms=4, label=g.label) for i, g in enumerate(groups)]
    handles.append(Line2D([], [], color="0.3", ls="--", label="k* (in the group's colour)"))
    if any(failed_probe_widths(g, k.partition(".")[0]) for g in groups for k in keys):
        handles.append(Line2D([], [], color="0.3", ls="none", marker="x", label="probe failed / NaN"))
    return handles


# --------------------------------------------------------------------------- epoch-wise curves


def has_epoch_curves(board: Leaderboard) -> bool:
    return any(len(r.curves.get("epoch") or []) >= 2 for r in board.rows if r.status == "done")


def epochs_figure(board: Leaderboard) -> Any | None:
    """Test error and test loss over the recorded epochs, one line per width (mean over seeds)."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    if not has_epoch_curves(board):
        return None
    groups = [g for g in curve_groups(board) if g.finished]
    widths = sorted({r.width for g in groups for r in g.rows})
    norm = LogNorm(vmin=min(widths), vmax=max(max(widths), min(widths) + 1))
    cmap = colormaps["viridis"]
    fig = Figure(figsize=(11.0, 3.6 * len(groups) + 0.3))
    axes = fig.subplots(len(groups), 2, squeeze=False)
    fixed_layout(fig, len(groups), 2, top=0.7, hspace=0.9, right=0.1)
    for row, group in zip(axes, groups):
        for ax, metric in zip(row, ("test_error", "test_loss")):
            for w in sorted({r.width for r in group.rows}):
                epochs, mean = _epoch_mean(group, w, metric)
                if epochs:
                    ax.plot(epochs, mean, lw=1.3, color=cmap(norm(w)))
            ax.set_xscale("log")
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric.replace("_", " "))
            ax.set_title(f"{group.label.replace(fmt_p(group.noise_rate), f'p = {group.noise_rate:g}')}: "
                         f"{metric.replace('_', ' ')} vs epoch", fontsize=10)
            ax.grid(True, alpha=0.3)
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=row[1], label="width")
    fig.suptitle(f"{board.spec_name}: epoch-wise curves at the recorded epochs (mean over seeds)", fontsize=10,
                 y=1 - 0.08 / fig.get_size_inches()[1], va="top")
    return fig


def _epoch_mean(group: CurveGroup, width: int, metric: str) -> tuple[list[float], list[float]]:
    series = []
    for r in group.rows:
        if r.width != width or r.status != "done":
            continue
        ep, vals = r.curves.get("epoch") or [], r.curves.get(metric) or []
        if len(ep) == len(vals) and len(ep) >= 2:
            series.append((tuple(ep), vals))
    if not series or len({s[0] for s in series}) != 1:
        return ([], []) if not series else (list(series[0][0]), [v if v is not None else np.nan for v in series[0][1]])
    stack = np.array([[np.nan if v is None else v for v in vals] for _, vals in series], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column of NaN (a diverged epoch) stays NaN
        mean = np.nanmean(stack, axis=0)
    return list(series[0][0]), mean.tolist()
