"""Simulated runs of a spec's hypotheses from a pilot, for any design (docs/science.md, Statistics, "Power").

For a design (seeds per noise draw, widths) a simulated run (:mod:`.pilot`) is decided by the same pipeline
as a real one (:func:`.evaluate.evaluate`, hence ``base.decide`` and Holm within each hypothesis); a
:class:`Tally` counts, per claim and stratum, the simulated runs in which it was decided. Simulated runs come
in batches of :data:`BATCH`, up to ``simulations``; a hypothesis stops early once the 95% Clopper-Pearson
interval of every claim of interest excludes the target (80%). A hypothesis is decided with
:data:`MIN_REPLICATES` bootstrap replicates, or, where it has null tests, ``min(analysis.bootstrap,
max(200, 4 m / alpha))`` (m its family size on the pilot), so that its null tests keep the resolution to
be decided at Holm's first step.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from scipy import stats as sstats

from ..spec.grid import RefineSpec, refine_widths
from ..stats.plan import stream
from .core import stratum_label
from .evaluate import evaluate
from .pilot import Pilot

LADDER = (3, 5, 8, 12, 20, 32)
TARGET = 0.8
BATCH = 20
MIN_REPLICATES = 200
OVERALL = "overall"  # the stratum key of a claim-level verdict

Key = tuple[str, str]  # (claim, stratum label or OVERALL)


@dataclass
class Design:
    """A grid to simulate: ``seeds`` per noise draw, at ``widths``."""

    seeds: int
    widths: tuple[int, ...]


@dataclass
class Tally:
    """What the simulated runs of one design said about one claim in one stratum."""

    seeds: int
    runs: int = 0
    tested: int = 0
    holds: int = 0
    fails: int = 0
    no_arrays: int = 0  # not applicable because the simulation had no per-point arrays
    reason: str = ""  # the first not-applicable reason

    @property
    def decided(self) -> int:
        return self.holds + self.fails

    @property
    def power(self) -> float:
        return self.decided / self.runs if self.runs else 0.0

    @property
    def se(self) -> float:
        """Monte-Carlo SE of the power, from (decided + 1) / (runs + 2) so that 0% and 100% are not exact."""
        p = (self.decided + 1) / (self.runs + 2)
        return math.sqrt(p * (1 - p) / max(self.runs, 1))

    def settled(self, target: float) -> bool:
        """Enough runs: never tested after a batch, or the 95% Clopper-Pearson interval excludes ``target``."""
        if self.runs < BATCH:
            return False
        if not self.tested:
            return True
        k, n = self.decided, self.runs
        lo = sstats.beta.ppf(0.025, k, n - k + 1) if k else 0.0
        hi = sstats.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
        return bool(lo > target or hi < target)

    def text(self) -> str:
        """``P% ± SE``: the power and its Monte-Carlo SE."""
        return f"{100 * self.power:.0f}% ± {100 * self.se:.0f}%"


def planned_strata(spec: Any) -> list[dict[str, Any]]:
    """The strata a spec's grid has (family, grid axes, noise rate), as :attr:`CellView.stratum` writes them."""
    axes = sorted(spec.model.grid)
    combos = list(itertools.product(*(spec.model.grid[a] for a in axes))) or [()]
    return [{"family": spec.model.family, **dict(zip(axes, combo)), "noise_rate": float(rate)}
            for rate in spec.dataset.noise.rates for combo in combos]


def refinement(widths: list[int], window: list[int], k_star: int | None) -> tuple[list[int], tuple[int, int] | None]:
    """Extra widths around the pilot's k* and peak window: what ``ddbench refine`` would add with its default
    settings (the one rule, :func:`..spec.grid.refine_widths`), targets moved to the nearest value of
    ``widths`` (log scale); also the span ``(a, b)`` of grid values (or the family floor 1) that brackets them."""
    ws = sorted({int(w) for w in widths})
    around = [w for w in [*window, k_star] if w is not None and w > 0]
    if not around or len(ws) < 2:
        return [], None
    targets = sorted({min(ws, key=lambda w: abs(math.log(w / t))) for t in around})
    extra = refine_widths(ws, targets, RefineSpec().points, "auto")
    if not extra:
        return [], None
    a = max([w for w in ws if w < extra[0]], default=1)
    b = min([w for w in ws if w > extra[-1]], default=extra[-1])
    return extra, (a, b)


class PowerStudy:
    """Simulated runs of a spec's hypotheses from a pilot, for any design."""

    def __init__(self, spec: Any, pilot: Pilot, *, simulations: int, seed: int, target: float = TARGET):
        self.spec, self.pilot, self.simulations, self.seed, self.target = spec, pilot, simulations, seed, target
        self.noise_seeds = list(spec.dataset.noise.seeds)
        self.mapping: dict[str, tuple[Any, dict[str, Any]]] = {}  # planned label -> (pilot stratum, planned stratum)
        self.unmatched: list[dict[str, Any]] = []
        for s in planned_strata(spec):
            ps = _match(s, pilot)
            if ps is None:
                self.unmatched.append(s)
            else:
                self.mapping[stratum_label(s)] = (ps, s)
        verdicts, analysis, _ = evaluate(spec, pilot.table)
        alpha = spec.analysis.alpha
        #: replicates that keep a null test decidable at Holm's first step (2 / (B + 1) <= alpha / (2 m))
        self.null_replicates = {h.name: min(spec.analysis.bootstrap, max(MIN_REPLICATES, math.ceil(
            4 * analysis["families"].get(h.name, 1) / alpha))) for h in spec.hypotheses}
        self.null_tested = {v.hypothesis for v in verdicts if any(s.p_null is not None for s in v.strata)}
        # claims the pilot itself tests: one not applicable in a simulated run that lacked per-point arrays is
        # "not estimable", not "not tested"
        planned_of: dict[str, list[str]] = {}
        for label, (ps, _) in self.mapping.items():
            planned_of.setdefault(ps.label, []).append(label)
        self.pilot_tested: set[Key] = {(v.claim, OVERALL) for v in verdicts if v.verdict != "not_applicable"}
        for v in verdicts:
            for s in v.strata:
                if s.verdict != "not_applicable":
                    label = stratum_label(s.stratum)
                    self.pilot_tested |= {(v.claim, p) for p in planned_of.get(label, [label])}
        self.hypothesis = {h.name: h for h in spec.hypotheses}
        self.seen: dict[str, dict[str, Any]] = {}  # stratum label -> stratum, as the verdicts wrote them

    def replicates(self, name: str, design: Design) -> int:
        """Bootstrap replicates of a simulated run: :data:`MIN_REPLICATES`, or enough for the null tests'
        resolution where the hypothesis has null tests (on the pilot, or resampled over fewer than 3 seeds)."""
        few = design.seeds * len(self.noise_seeds) < 3
        return self.null_replicates[name] if few or name in self.null_tested else min(
            MIN_REPLICATES, self.spec.analysis.bootstrap)

    def _table(self, design: Design, i: int) -> tuple[Any, list[bool], int]:
        rng = stream("ddbench-power", self.seed, design.seeds, list(design.widths), i)
        pairs = [(s, ns) for ns in self.noise_seeds for s in range(design.seeds)]
        cells, sources, missing = [], {}, [False]
        for label in sorted(self.mapping):
            ps, planned = self.mapping[label]
            c, src = ps.simulate(list(design.widths), pairs, rng, f"sim{i}", as_stratum=planned)
            cells += c
            sources.update(src)
        table = self.pilot.table_of(cells, sources, missing)
        return table, missing, int(rng.integers(0, 2**31 - 1))

    def run(self, design: Design, hypotheses: set[str], interest: set[Key] | None = None) -> dict[Key, Tally]:
        """Tallies of every claim (x stratum) of ``hypotheses`` over simulated runs of ``design``; a hypothesis
        stops once every claim of ``interest`` (default: all of it) is settled."""
        tallies: dict[Key, Tally] = {}
        owner: dict[Key, str] = {}
        runs: dict[str, int] = {}
        open_h = sorted(hypotheses)
        for start in range(0, self.simulations, BATCH):
            tables = [self._table(design, i) for i in range(start, min(start + BATCH, self.simulations))]
            for name in open_h:
                h = self.hypothesis[name]
                for table, missing, boot_seed in tables:
                    missing[0] = False  # set when this hypothesis asks for per-point arrays the simulation lacks
                    analysis = self.spec.analysis.model_copy(update={"bootstrap": self.replicates(name, design),
                                                                     "seed": boot_seed})
                    verdicts, _, _ = evaluate(self.spec.model_copy(update={"hypotheses": [h], "analysis": analysis}),
                                              table)
                    for v in verdicts:
                        entries = [(stratum_label(s.stratum), s.verdict, s.reason) for s in v.strata]
                        self.seen.update((stratum_label(s.stratum), dict(s.stratum)) for s in v.strata)
                        for label, verdict, reason in [*entries, (OVERALL, v.verdict, v.reason)]:
                            t = tallies.setdefault((v.claim, label), Tally(design.seeds))
                            owner[(v.claim, label)] = name
                            _count(t, verdict, reason, missing[0] and ((v.claim, label) in self.pilot_tested
                                                                       or "per-point" in reason))
                runs[name] = runs.get(name, 0) + len(tables)
            for k, t in tallies.items():  # a stratum absent from a simulated run (a pooled one) was not tested there
                t.runs = runs[owner[k]]
            open_h = [n for n in open_h if any(not t.settled(self.target) for k, t in tallies.items()
                                               if owner[k] == n and (interest is None or k in interest))]
            if not open_h:
                break
        return tallies


def _count(t: Tally, verdict: str, reason: str, no_arrays: bool) -> None:
    if verdict == "not_applicable":
        if no_arrays:
            t.no_arrays += 1
        t.reason = t.reason or reason
        return
    t.tested += 1
    t.holds += verdict == "holds"
    t.fails += verdict == "fails"


def _match(planned: dict[str, Any], pilot: Pilot) -> Any:
    """The pilot stratum a planned stratum is simulated from: the same one, else the same family and grid
    values with the nearest noise rate (0 only from 0)."""
    label = stratum_label(planned)
    if label in pilot.strata:
        return pilot.strata[label]
    rest = {k: v for k, v in planned.items() if k != "noise_rate"}
    p = planned["noise_rate"]
    close = [ps for ps in pilot.strata.values() if {k: v for k, v in ps.stratum.items() if k != "noise_rate"} == rest
             and (ps.stratum["noise_rate"] > 0) == (p > 0)]
    return min(close, key=lambda ps: (abs(ps.stratum["noise_rate"] - p), ps.label), default=None)


