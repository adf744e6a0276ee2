"""A pilot run's seed spread, and whole runs simulated from it (docs/science.md, Statistics, "Power").

A pilot is a finished run: a store, or a leaderboard's rows (:func:`ddbench.leaderboard.rederive.table_from_rows`).
Per stratum it keeps, for every number a cell carries (metrics, probe values, curve points, list
entries), the mean over the pilot's paired seeds at each width, and for each pilot seed its centred
residual vector over the whole grid (every width and every number at once). A simulated seed is

    mean + sign * c * residual of one pilot seed

with the pilot seed drawn with replacement, the sign +1 or -1 with equal chance (so a simulated seed
is not a copy of a pilot seed) and ``c = sqrt(S0 / (S0 - 1))`` (S0 pilot seeds), so that a simulated
seed's variance is the pilot's unbiased one. One residual vector carries a seed's whole grid, so the
correlation of a seed's values across widths and across quantities is kept.

Widths the pilot did not train are interpolated linearly in log width between the neighbouring pilot
widths (the means and each seed's residuals alike); widths outside the pilot's range take the nearest
pilot width's values. A simulated value stays in [0, 1] (or at or above 0) when every pilot value of it
does, and integer values stay integers. Strings and missing values are those of the pilot cell the
simulated cell is drawn from. Per-point arrays (the ``test_points`` unit, fewer than 3 seeds) exist
only at pilot widths of a pilot with a store: a simulated cell reads its pilot cell's arrays.
"""

from __future__ import annotations

import math
import numbers
import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .cells import CellView
from .core import Seed, StratumCore, stratum_label
from .table import ResultTable


class PilotError(ValueError):
    """A run that cannot serve as a pilot (no stratum with two complete seeds)."""


def _leaves(value: Any, path: tuple = ()) -> Any:
    """``(path, number, is_integer)`` for every numeric leaf of nested dicts and lists (booleans are no numbers)."""
    if _number(value):
        yield path, float(value), isinstance(value, numbers.Integral)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))


def _compile(value: Any, path: tuple, index: dict[tuple, int]) -> tuple:
    """A pilot cell's content as a skeleton: numeric leaves become slots (their index in ``index``), the rest
    constants; :func:`_fill` builds a new content from it and one row of simulated numbers."""
    if isinstance(value, (dict, list, tuple)):
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        kids = [_compile(v, (*path, k), index) for k, v in items]
        if isinstance(value, dict) and all(k[0] in "sc" for k in kids):  # flat: constants, then the slots at once
            slots = [(k, kid[1]) for (k, _), kid in zip(items, kids) if kid[0] == "s"]
            const = {k: kid[1] for (k, _), kid in zip(items, kids) if kid[0] == "c"}
            return ("f", const, [k for k, _ in slots], _getter([p for _, p in slots]))
        if not isinstance(value, dict) and kids and all(k[0] == "s" for k in kids):
            return ("fl", _getter([k[1] for k in kids]))
        return ("d" if isinstance(value, dict) else "l", [k for k, _ in items], kids)
    if _number(value):
        return ("s", index[path])
    return ("c", value)


def _getter(ps: list[int]) -> Any:
    """A function of a row: the tuple of its entries ``ps`` (a tuple even for one or none)."""
    if len(ps) >= 2:
        return operator.itemgetter(*ps)
    if len(ps) == 1:
        p = ps[0]
        return lambda row: (row[p],)
    return lambda row: ()


def _fill(node: tuple, row: list[Any]) -> Any:
    kind = node[0]
    if kind == "f":
        out = dict(node[1])
        out.update(zip(node[2], node[3](row)))
        return out
    if kind == "fl":
        return list(node[1](row))
    if kind == "d":
        return {k: _fill(c, row) for k, c in zip(node[1], node[2])}
    if kind == "l":
        return [_fill(c, row) for c in node[2]]
    return row[node[1]] if kind == "s" else node[1]


def _number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _content(c: CellView) -> dict[str, Any]:
    return {"metrics": c.metrics, "probes": c.probes, "curves": c.curves}


@dataclass
class PilotStratum:
    """One stratum of a pilot: means and seed residuals of every number, over its paired widths."""

    stratum: dict[str, Any]
    template: CellView
    widths: np.ndarray  # (W0,) the pilot's paired widths
    seeds: list[Seed]  # the pilot's paired seeds (S0 >= 2)
    cells: dict[tuple[int, int], CellView]  # (width index, seed index) -> pilot cell
    skeletons: dict[tuple[int, int], tuple]  # (width index, seed index) -> the pilot cell's content skeleton
    probe_paths: np.ndarray  # (P,) bool: the number is a probe value (missing: None, not NaN)
    mean: np.ndarray  # (W0, P)
    resid: np.ndarray  # (S0, W0, P), scaled by c
    low: np.ndarray  # (P,)
    high: np.ndarray  # (P,)
    integer: np.ndarray  # (P,) bool
    params: list[int | None]
    k_star: int | None
    window: list[int]  # the pilot's peak window (widths)
    label: str = field(init=False)

    def __post_init__(self) -> None:
        self.label = stratum_label(self.stratum)

    @classmethod
    def of(cls, core: StratumCore) -> PilotStratum | None:
        """The pilot model of one stratum, or None with fewer than 2 complete seeds (no seed spread)."""
        widths, seeds = [int(w) for w in core.widths], list(core.seeds)
        if len(seeds) < 2 or not widths:
            return None
        cells = {(i, j): core.by[(w, s)] for i, w in enumerate(widths) for j, s in enumerate(seeds)}
        index: dict[tuple, int] = {}
        integer: list[bool] = []
        entries = []
        for (i, j), c in cells.items():
            for path, v, is_int in _leaves(_content(c)):
                p = index.setdefault(path, len(index))
                if p == len(integer):
                    integer.append(True)
                integer[p] = integer[p] and is_int
                entries.append((j, i, p, v))
        V = np.full((len(seeds), len(widths), len(index)), np.nan)
        if entries:
            j, i, p, v = (np.asarray(x) for x in zip(*entries))
            V[j, i, p] = v.astype(float)
        finite = np.where(np.isfinite(V), V, np.nan)
        with np.errstate(invalid="ignore"), _quiet():
            mean = np.nanmean(finite, axis=0)
            lo, hi = np.nanmin(finite, axis=(0, 1)), np.nanmax(finite, axis=(0, 1))
        c = math.sqrt(len(seeds) / (len(seeds) - 1))
        low = np.where(lo >= 0, 0.0, -np.inf)
        high = np.where((lo >= 0) & (hi <= 1), 1.0, np.inf)
        params = [next((cells[(i, j)].params for j in range(len(seeds)) if cells[(i, j)].params), None)
                  for i in range(len(widths))]
        skeletons = {k: _compile(_content(c), (), index) for k, c in cells.items()}
        probe_paths = np.asarray([path[0] == "probes" for path in index], bool).reshape(-1)
        return cls(dict(core.stratum), cells[(0, 0)], np.asarray(widths), seeds, cells, skeletons, probe_paths,
                   mean, c * (finite - mean[None]), low, high, np.asarray(integer, bool), params, core.k_star,
                   [widths[i] for i in core.window()])

    def _weights(self, widths: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per target width: left and right pilot width index and the weight of the right one."""
        lw = np.log(self.widths.astype(float))
        left, right, t = [], [], []
        for w in widths:
            x = math.log(w)
            r = int(np.searchsorted(lw, x))  # the first pilot width >= w
            if r < len(lw) and lw[r] == x:
                k, rk, wt = r, r, 0.0
            elif r == 0 or r >= len(lw):  # outside the pilot's range: the nearest end
                k = rk = 0 if r == 0 else len(lw) - 1
                wt = 0.0
            else:
                k, rk, wt = r - 1, r, (x - lw[r - 1]) / (lw[r] - lw[r - 1])
            left.append(k)
            right.append(rk)
            t.append(wt)
        return np.asarray(left), np.asarray(right), np.asarray(t)

    def simulate(self, widths: list[int], pairs: list[Seed], rng: np.random.Generator, tag: str,
                 as_stratum: dict[str, Any] | None = None) -> tuple[list[CellView], dict[str, str]]:
        """Simulated cells of this stratum at ``widths`` for the seed pairs ``pairs`` (labelled as the stratum
        ``as_stratum`` when given: a planned stratum simulated from this one), and for each simulated cell at a
        pilot width the key of the pilot cell whose per-point arrays it reads."""
        target = dict(as_stratum or self.stratum)
        grid = {k: v for k, v in target.items() if k not in ("family", "noise_rate")}
        label = stratum_label(target)
        S0 = len(self.seeds)
        draw = rng.integers(0, S0, size=len(pairs))
        sign = rng.choice(np.array([-1.0, 1.0]), size=len(pairs))
        left, right, t = self._weights(widths)
        M = (1 - t)[:, None] * self.mean[left] + t[:, None] * self.mean[right]  # (W, P)
        R = (1 - t)[None, :, None] * self.resid[:, left] + t[None, :, None] * self.resid[:, right]  # (S0, W, P)
        with np.errstate(invalid="ignore"):
            V = np.clip(M[None] + sign[:, None, None] * R[draw], self.low, self.high)  # (S, W, P)
        rows = _python_values(V, self.integer, self.probe_paths)
        near = np.where(t <= 0.5, left, right)
        cells, source = [], {}
        for i, w in enumerate(widths):
            params = self._params(left[i], right[i], t[i])
            for j, pair in enumerate(pairs):
                at = (int(near[i]), int(draw[j]))
                src = self.cells[at]
                content = _fill(self.skeletons[at], rows[j][i])
                key = f"{tag}/{label}/{w}/{pair[0]}/{pair[1]}"
                if t[i] == 0.0 and int(self.widths[left[i]]) == w:
                    source[key] = src.key
                cells.append(CellView(key, self.template.family, {**self.template.config, **grid}, grid,
                                      int(w), float(target["noise_rate"]), int(pair[1]), int(pair[0]), "done", params,
                                      content["metrics"], content["curves"], content["probes"]))
        return cells, source

    def _params(self, left: int, right: int, t: float) -> int | None:
        a, b = self.params[left], self.params[right]
        if a is None or b is None:
            return a if t <= 0.5 else b
        return int(round(math.exp((1 - t) * math.log(max(a, 1)) + t * math.log(max(b, 1)))))


def _python_values(V: np.ndarray, integer: np.ndarray, probe: np.ndarray) -> list:
    """Simulated numbers as nested lists of Python values: integers where the pilot's are, and a non-finite
    value NaN (None for a probe value, as probes record a missing one)."""
    out = V.astype(object)
    ok = np.isfinite(V)
    if integer.any():
        vi = V[..., integer]
        ints = np.round(np.where(np.isfinite(vi), vi, 0.0)).astype(np.int64).astype(object)
        out[..., integer] = np.where(np.isfinite(vi), ints, np.nan)
    if not ok.all():
        out[~ok] = np.nan
        out[~ok & probe] = None
    return out.tolist()


class _quiet:
    """Silence numpy's "mean of empty slice" for numbers no pilot seed has at a width."""

    def __enter__(self) -> None:
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc: Any) -> None:
        self._w.__exit__(*exc)


class Pilot:
    """The pilot model of every stratum of a finished run (a :class:`ResultTable`)."""

    def __init__(self, table: ResultTable, analysis: Any, source: str, has_arrays: bool):
        self.table, self.source, self.has_arrays = table, source, has_arrays
        self.strata: dict[str, PilotStratum] = {}
        self.without_spread: list[str] = []  # labels of strata with fewer than 2 complete seeds
        for core in table.cores(analysis):
            ps = PilotStratum.of(core)
            if ps is None:
                self.without_spread.append(core.label)
            else:
                self.strata[ps.label] = ps
        if not self.strata:
            raise PilotError(f"{source} has no stratum with 2 or more seeds finished at every width: there is no "
                             "seed spread to simulate from; give a pilot run with at least 2 (better 3) seeds")

    @property
    def seeds(self) -> int:
        return min(len(s.seeds) for s in self.strata.values())

    def table_of(self, cells: list[CellView], source: dict[str, str], missing: list[bool]) -> ResultTable:
        """A table of simulated cells whose per-point arrays are their pilot cells' (``source``: simulated key ->
        pilot key) where the pilot has them; ``missing[0]`` is set when a hypothesis asks for arrays it has not."""

        def arrays(key: str) -> dict[str, np.ndarray]:
            if key in source and self.has_arrays:
                try:
                    return self.table.arrays(source[key])
                except Exception:  # noqa: BLE001 - an unreadable array is a missing one
                    pass
            missing[0] = True
            raise KeyError(key)

        return ResultTable(cells, arrays)
