"""Power: the chance that a planned grid decides a claim, from runs simulated from a pilot (docs/science.md,
Statistics, "Power").

The power of a claim in a stratum is the share of simulated runs (:mod:`.power_study`) in which it is
decided (``holds`` or ``fails``). :func:`study` estimates it for the planned grid, then, for a claim below
the target (80%), the smallest seed count of :data:`LADDER` that reaches it (the top rung first: a claim
below the target there needs more), and for claims located on the width axis
(:attr:`HypothesisPlugin.located_claims`) the power with extra widths around the pilot's k*.
:func:`attach` writes the estimate into the reasons of a board's inconclusive verdicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import registry
from .core import stratum_label
from .pilot import Pilot
from .power_study import BATCH, LADDER, OVERALL, TARGET, Design, Key, PowerStudy, Tally, refinement

NOT_ESTIMABLE = "power not estimable from a leaderboard; give --pilot"


@dataclass
class ClaimPower:
    """The power estimate of one claim in one stratum (or claim-level, ``stratum`` None)."""

    claim: str
    hypothesis: str
    label: str  # the stratum's label, or OVERALL
    stratum: dict[str, Any] | None  # None: the claim-level verdict
    planned: Tally
    ladder_top: int
    seeds_needed: int | None = None  # the first rung reaching the target (None: not within the ladder)
    at_seeds: Tally | None = None  # the tally at seeds_needed (or at the top rung when none reached it)
    widths: list[int] = field(default_factory=list)  # extra widths tried (located claims)
    span: tuple[int, int] | None = None  # between these widths
    at_widths: Tally | None = None  # the planned seeds with the extra widths

    @property
    def estimable(self) -> bool:
        """Whether the planned grid's power is known (not: its claims need per-point arrays the pilot lacks)."""
        return not (self.planned.no_arrays and not self.planned.tested)

    @property
    def tested(self) -> bool:
        """Whether any simulated run tested the claim (else it is not applicable there: p = 0, a missing axis)."""
        return any(t is not None and t.tested for t in (self.planned, self.at_seeds, self.at_widths))

    @property
    def shown(self) -> bool:
        """Worth a line: tested somewhere, or not estimable with nothing else known."""
        return self.tested or (not self.estimable and self.at_seeds is None)

    @property
    def widths_suffice(self) -> bool:
        return self.at_widths is not None and self.at_widths.power >= TARGET

    def summary(self) -> str:
        """``power ...; needs ...``: what the reason of an inconclusive verdict says."""
        p = self.planned
        if not self.estimable:
            head = f"{NOT_ESTIMABLE} (with {_seeds(p.seeds)} error curves are resampled over test points)"
            if self.at_seeds is None or not self.at_seeds.tested:
                return head
        elif not self.tested:
            return f"power not estimable: not tested in the simulated runs ({p.reason or 'no reason given'})"
        else:
            head = f"power {p.text()} at {_seeds(p.seeds)} ({p.runs} simulated runs)"
        if self.estimable and p.power >= TARGET:
            return head
        needs = []
        if self.widths_suffice:
            more = "" if self.at_widths.seeds == p.seeds else f" and {_seeds(self.at_widths.seeds)}"
            needs.append(f"needs widths between {self.span[0]} and {self.span[1]}{more} (adding "
                         f"{', '.join(map(str, self.widths))}: {self.at_widths.text()})")
        if self.seeds_needed is not None and self.at_seeds is not None:
            needs.append(f"needs ~{self.seeds_needed} seeds ({self.at_seeds.text()})")
        elif self.at_seeds is not None:
            needs.append(f"needs more than {self.ladder_top} seeds ({self.at_seeds.text()} at {self.ladder_top})")
        if self.at_widths is not None and self.at_widths.tested and not self.widths_suffice:
            needs.append(f"widths between {self.span[0]} and {self.span[1]} at {_seeds(self.at_widths.seeds)} "
                         f"do not suffice ({self.at_widths.text()})")
        return "; ".join([head, *needs])

    def record(self) -> dict[str, Any]:
        """JSON data of the estimate (a stratum verdict's ``detail["power"]``)."""
        def tally(t: Tally | None) -> dict[str, Any] | None:
            return None if t is None else {"seeds": t.seeds, "power": t.power, "se": t.se, "runs": t.runs,
                                           "holds": t.holds, "fails": t.fails}
        return {"planned": tally(self.planned), "seeds_needed": self.seeds_needed, "at_seeds": tally(self.at_seeds),
                "ladder_top": self.ladder_top, "widths": self.widths, "span": list(self.span) if self.span else None,
                "at_widths": tally(self.at_widths), "estimable": self.estimable, "summary": self.summary()}


def study(spec: Any, pilot: Pilot, *, simulations: int, seed: int | None = None, want: set[Key] | None = None,
          ladder: tuple[int, ...] = LADDER, target: float = TARGET) -> tuple[list[ClaimPower], PowerStudy]:
    """Power of ``spec``'s planned grid for every claim x stratum (or those in ``want``), the seeds of the
    ladder that bring a claim below ``target`` to it, and extra widths around k* for located claims."""
    ps = PowerStudy(spec, pilot, simulations=simulations, seed=spec.analysis.seed if seed is None else seed,
                    target=target)
    names = [h.name for h in spec.hypotheses]
    if want is not None:
        names = [n for n in names if any(c.split(".", 1)[0] == n for c, _ in want)]
    widths = tuple(sorted(int(w) for w in spec.model.widths))
    planned = Design(len(spec.seeds), widths)
    base = ps.run(planned, set(names), want)
    keys = [k for k in base if want is None or k in want]
    out = {k: ClaimPower(k[0], k[0].split(".", 1)[0], k[1], None if k[1] == OVERALL else ps.seen.get(k[1], {}),
                         base[k], max(ladder)) for k in keys}
    below = [k for k in keys if (base[k].tested and base[k].power < target) or (not base[k].tested and base[k].no_arrays)]
    rungs = [r for r in ladder if r > planned.seeds]
    if below and rungs:
        top = ps.run(Design(rungs[-1], widths), _owners(below), set(below))
        reached = []
        for k in below:
            out[k].at_seeds = top.get(k)
            if k in top and top[k].tested and top[k].power >= target:
                out[k].seeds_needed = rungs[-1]
                reached.append(k)
        for r in rungs[:-1]:
            if not reached:
                break
            t = ps.run(Design(r, widths), _owners(reached), set(reached))
            for k in list(reached):
                if k in t and t[k].tested and t[k].power >= target:
                    out[k].seeds_needed, out[k].at_seeds = r, t[k]
                    reached.remove(k)
    located = [k for k in below if k[0].split(".", 1)[-1] in _located(k[0])]
    extra, span = _refine(ps, widths, located)
    if extra:  # at the planned seeds (or the ladder's first rung where the planned grid is not estimable)
        seeds = planned.seeds if all(out[k].estimable for k in located) or not rungs else rungs[0]
        t = ps.run(Design(seeds, tuple(sorted(set(widths) | set(extra)))), _owners(located), set(located))
        for k in located:
            out[k].widths, out[k].span, out[k].at_widths = extra, span, t.get(k)
    return list(out.values()), ps


def _owners(keys: list[Key]) -> set[str]:
    return {k[0].split(".", 1)[0] for k in keys}


def _located(claim: str) -> tuple[str, ...]:
    try:
        return tuple(getattr(registry.hypotheses.get(claim.split(".", 1)[0]), "located_claims", ()))
    except Exception:  # noqa: BLE001 - an unknown plugin locates nothing
        return ()


def _refine(ps: PowerStudy, widths: tuple[int, ...], located: list[Key]) -> tuple[list[int], tuple[int, int] | None]:
    """Extra widths around k* (from the pilot) of the strata of ``located`` (every stratum for pooled and
    claim-level keys), united, and their overall span."""
    labels = {k[1] for k in located}
    every = any(label not in ps.mapping for label in labels)
    extra: set[int] = set()
    spans = []
    for label, (pilot_stratum, _) in ps.mapping.items():
        if not every and label not in labels:
            continue
        e, span = refinement(list(widths), pilot_stratum.window, pilot_stratum.k_star)
        extra |= set(e)
        if span:
            spans.append(span)
    if not extra:
        return [], None
    return sorted(extra), (min(s[0] for s in spans), max(s[1] for s in spans))


def wanted(verdicts: list[Any]) -> set[Key]:
    """The inconclusive verdicts of a board: claim-level and per stratum."""
    keys = {(v.claim, OVERALL) for v in verdicts if v.verdict == "inconclusive"}
    return keys | {(v.claim, stratum_label(s.stratum)) for v in verdicts for s in v.strata if s.verdict == "inconclusive"}


def attach(verdicts: list[Any], spec: Any, pilot: Pilot | str) -> dict[str, Any]:
    """Append the power estimate to the reason of every inconclusive verdict (claim-level and per stratum; a
    stratum's also as ``detail["power"]``) and return what the leaderboard's ``analysis["power"]`` records.
    ``pilot`` is the run itself (or another run); a string says why there is none."""
    n = spec.analysis.power_simulations
    want = wanted(verdicts)
    record: dict[str, Any] = {"simulations": n, "batch": BATCH, "target": TARGET, "ladder": list(LADDER),
                              "seed": spec.analysis.seed, "estimates": 0}
    if not n or not want:
        return record
    if isinstance(pilot, str):
        record["pilot"] = None
        record["note"] = pilot
        text = {k: f"power not estimable: {pilot}" for k in want}
    else:
        record["pilot"] = pilot.source
        results, _ = study(spec, pilot, simulations=n, want=want)
        origin = "" if pilot.source == "this run" else f" (pilot: {pilot.source})"
        text = {k: "power not estimable: the claim was not tested in the simulated runs" for k in want}
        text.update({_key(r): r.summary() + origin for r in results})
        details = {_key(r): r.record() for r in results}
        record["estimates"] = len(results)
        for v in verdicts:
            for s in v.strata:
                k = (v.claim, stratum_label(s.stratum))
                if s.verdict == "inconclusive" and k in details:
                    s.detail = {**s.detail, "power": details[k]}
    for v in verdicts:
        if v.verdict == "inconclusive" and (v.claim, OVERALL) in text:
            v.reason = _join(v.reason, text[(v.claim, OVERALL)])
        for s in v.strata:
            k = (v.claim, stratum_label(s.stratum))
            if s.verdict == "inconclusive" and k in text:
                s.reason = _join(s.reason, text[k])
    return record


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _key(r: ClaimPower) -> Key:
    return (r.claim, r.label)


def _join(reason: str, more: str) -> str:
    return f"{reason}; {more}" if reason else more


def _strip(reason: str) -> str:
    parts = reason.split("; ")
    cut = next((i for i, p in enumerate(parts) if p.startswith("power ")), len(parts))  # every estimate's opening
    return "; ".join(parts[:cut])


def strip(verdicts: list[Any]) -> list[Any]:
    """Copies of ``verdicts`` without what :func:`attach` added (the estimate closing an inconclusive reason,
    a stratum's ``detail["power"]``): the verdicts as decided, to compare apart from their power estimates."""
    out = []
    for v in verdicts:
        strata = [s.model_copy(update={"reason": _strip(s.reason),
                                       "detail": {k: x for k, x in s.detail.items() if k != "power"}})
                  for s in v.strata]
        out.append(v.model_copy(update={"reason": _strip(v.reason), "strata": strata}))
    return out
