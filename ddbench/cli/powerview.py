"""``ddbench plan SPEC --power``: the chance that the planned grid decides each claim, and what would bring
it to 80% (docs/science.md, Statistics, "Power").

The estimate simulates runs from a pilot (``--pilot``: a run directory or a leaderboard; default: the
closest published leaderboard of the same dataset and family) and decides them with the leaderboard's own
pipeline. The time a recommendation costs is the planner's estimate (:func:`.planview.estimate_without_data`)
of the cells it adds.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..safetext import terminal
from .plan_render import fmt_seconds
from .planview import estimate_without_data


def _variant(spec: Any, seeds: int | None = None, widths: list[int] | None = None) -> Any:
    """The spec with ``seeds`` seeds (its own first, then the next unused ones) and/or more widths."""
    update: dict[str, Any] = {}
    if seeds is not None:
        have = list(spec.seeds)
        extra = [s for s in range(max(have) + 1, max(have) + 1 + max(0, seeds - len(have)))]
        update["seeds"] = have[:seeds] + extra
    if widths is not None:
        update["model"] = spec.model.model_copy(update={"widths": sorted(set(spec.model.widths) | set(widths))})
    return spec.model_copy(update=update)


class _Costs:
    """The planner's time estimate of a variant of the spec, minus the planned grid's (cached)."""

    def __init__(self, spec: Any, run_dir: Path | None):
        self.spec, self.run_dir = spec, run_dir
        self.base = estimate_without_data(spec, run_dir)
        self._cache: dict[tuple, str] = {}

    def text(self, seeds: int | None = None, widths: list[int] | None = None) -> str:
        key = (seeds, tuple(widths or ()))
        if key not in self._cache:
            try:
                n, est, _ = estimate_without_data(_variant(self.spec, seeds, widths), self.run_dir)
            except Exception:  # noqa: BLE001 - a plan that cannot be estimated says so
                n, est = None, None
            if n is None:
                self._cache[key] = "?"
            else:
                extra = None if est is None or self.base[1] is None else max(0.0, est - self.base[1])
                self._cache[key] = f"+{n - self.base[0]} cells, +{fmt_seconds(extra)} to train"
        return self._cache[key]


def _stratum_text(r: Any) -> str:
    if r.stratum is None:
        return "claim"
    if r.stratum.get("pooled"):
        return f"pooled ({r.stratum.get('strata', '?')} strata)"
    return " ".join(f"{k}={v}" for k, v in r.stratum.items() if k != "family") or "all"


def _needs(r: Any, costs: _Costs) -> tuple[str, str]:
    """(what would bring the claim to 80%, what that costs)."""
    from ..hypotheses.power import TARGET

    p = r.planned
    if p.tested and p.power >= TARGET:
        return "—", ""
    options = []
    if r.widths_suffice:
        seeds = None if r.at_widths.seeds == p.seeds else r.at_widths.seeds
        more = "" if seeds is None else f" and {seeds} seeds"
        options.append((f"widths between {r.span[0]} and {r.span[1]}{more}: {', '.join(map(str, r.widths))} "
                        f"({100 * r.at_widths.power:.0f}% ± {100 * r.at_widths.se:.0f}%)",
                        costs.text(seeds=seeds, widths=r.widths)))
    if r.seeds_needed is not None and r.at_seeds is not None:
        options.append((f"~{r.seeds_needed} seeds ({100 * r.at_seeds.power:.0f}% ± {100 * r.at_seeds.se:.0f}%)",
                        costs.text(seeds=r.seeds_needed)))
    elif r.at_seeds is not None:
        options.append((f"more than {r.ladder_top} seeds ({100 * r.at_seeds.power:.0f}% at {r.ladder_top})", ""))
    if not options:
        return "—" if not p.tested else "unknown", ""
    return " or ".join(o for o, _ in options), "; ".join(c for _, c in options if c)


def _power_text(t: Any) -> str:
    from ..hypotheses.power import NOT_ESTIMABLE

    if not t.tested and t.no_arrays:
        return f"{NOT_ESTIMABLE} (with {t.seeds} seed{'' if t.seeds == 1 else 's'} error curves are resampled over " \
            "test points)"
    split = f", holds {t.holds}, fails {t.fails}" if t.decided else ""
    return f"power {100 * t.power:.0f}% ± {100 * t.se:.0f}% ({t.runs} runs{split})"


def print_power(spec: Any, pilot: Path | None, run_dir: Path | None, simulations: int, console: Any) -> None:
    """Estimate and print the power of ``spec``'s planned grid (``ddbench plan --power``)."""
    from ..hypotheses.power import LADDER, TARGET, study
    from ..leaderboard.power import open_pilot

    start = time.time()
    with open_pilot(spec, pilot) as (source, why):
        results, ps = study(spec, source, simulations=simulations)
    costs = _Costs(spec, spec.run_dir(run_dir))

    def say(line: str) -> None:
        console.print(terminal(line), highlight=False, markup=False)

    n_noise = len(spec.dataset.noise.seeds)
    say(f"power of {spec.name}: {len(spec.seeds)} seed(s) x {n_noise} noise draw(s), {len(spec.model.widths)} widths; "
        f"planned: {costs.base[0]} cells to train, est. {fmt_seconds(costs.base[1])} ({costs.base[2]})")
    say(why)
    say(f"power = share of at most {simulations} simulated runs (batches of 20) that decide the claim (holds or "
        f"fails) with the leaderboard's pipeline (Holm within each hypothesis); ± is its Monte-Carlo SE; target "
        f"{100 * TARGET:.0f}%, seeds tried {', '.join(map(str, LADDER))}")
    for s in ps.unmatched:
        say(f"note: the pilot has no stratum like {s}: not estimated")
    untested: dict[str, str] = {}
    last = None
    for r in _shown(results):
        if not r.shown:
            if not any(o.claim == r.claim and o.shown for o in results):
                untested.setdefault(r.claim, r.planned.reason)
            continue
        if r.claim != last:
            say(r.claim)
            last = r.claim
        needs, cost = _needs(r, costs)
        say(f"  {_stratum_text(r)}: {_power_text(r.planned)}" + ("" if needs == "—" else f"; to reach 80%: {needs}")
            + (f" ({cost})" if cost else ""))
    for claim, reason in untested.items():
        say(f"not tested in the simulated runs: {claim} ({reason or 'no reason given'})")
    say(f"power estimated in {time.time() - start:.1f} s")


def _shown(results: list[Any]) -> list[Any]:
    """Every stratum row; the claim-level row only where it is not already a stratum's (several tested strata
    and no pooled one)."""
    from ..hypotheses.power import OVERALL

    by_claim: dict[str, list[Any]] = {}
    for r in results:
        by_claim.setdefault(r.claim, []).append(r)
    out = []
    for rows in by_claim.values():
        strata = [r for r in rows if r.label != OVERALL]
        tested = [r for r in strata if r.tested]
        pooled = any(r.stratum and r.stratum.get("pooled") for r in tested)
        out += strata if strata else rows
        if strata and len(tested) > 1 and not pooled:
            out += [r for r in rows if r.label == OVERALL]
    return out
