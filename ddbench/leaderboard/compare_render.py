"""Views of a :class:`~.compare.Comparison`: markdown, the terminal and JSON (``--format md|table|json``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from .compare import AGREE, FLIP, RESOLUTION, STATUSES, Comparison, Side, label
from .compare_metrics import METRICS, WidthDiff
from .document import Section, Table, sections_to_markdown
from .formatting import fmt_ci, fmt_num, fmt_signed
from .terminal import sections_to_rich


def _result_line(cmp: Comparison, strict: bool) -> str:
    counts = cmp.counts()
    tally = ", ".join(f"{counts[s]} {s}" + ("s" if counts[s] > 1 and s in (FLIP, RESOLUTION) else "")
                      for s in STATUSES if s in counts) or "no verdicts"
    code = cmp.exit_code(strict)
    if counts.get(FLIP):
        verdict = "CONTRADICT (flips)"
    elif counts.get(RESOLUTION):
        verdict = "no flip; resolution changed"
    elif set(counts) <= {AGREE}:
        verdict = "agree"
    else:
        verdict = "no flip; some claims not comparable"
    return f"result: {verdict} ({tally}); exit {code}" + (" (--strict)" if strict else "")


def _side(s: Side | None) -> str:
    """``holds 0.05 [0.03, 0.07]``: the verdict first (it is coloured by its first word)."""
    if s is None:
        return "—"
    if s.statistic is None and s.ci is None:
        return s.verdict
    return f"{s.verdict} {fmt_num(s.statistic)}" + (f" {fmt_ci(s.ci)}" if s.ci is not None else "")


def header_section(cmp: Comparison, strict: bool = False) -> Section:
    lines = [f"A: {cmp.a['spec']}, {cmp.a['backend'] or '?'}, created {cmp.a['created']}",
             f"B: {cmp.b['spec']}, {cmp.b['backend'] or '?'}, created {cmp.b['created']}"]
    if cmp.same_spec:
        lines.append("same spec hash")
    else:
        lines.append(f"different specs, compared on what they share: dataset {cmp.common.get('dataset')}, "
                     f"family {cmp.common.get('family')}, noise rates {cmp.common.get('noise_rates')}")
    if cmp.provenance_differences:
        lines.append("provenance differs: " + ", ".join(d.split(":", 1)[0] for d in cmp.provenance_differences))
    lines.append(_result_line(cmp, strict))
    worst = max((d for d in cmp.widths if d.metric == METRICS[0] and d.delta is not None),
                key=lambda d: abs(d.delta), default=None)
    if worst is not None:
        lines.append(f"largest per-width |Δ mean test error|: {abs(worst.delta):.4f} ({worst.group}, width {worst.width}; "
                     + (f"{abs(worst.delta) / worst.spread:.1f} x the larger seed sd)" if worst.spread else
                        "no seed sd: fewer than 2 seeds on both sides)"))
    lines += [f"note: {n}" for n in cmp.notes]
    return Section("ddbench leaderboard comparison", lines, level=1)


def provenance_section(cmp: Comparison) -> Section:
    rows = [[label(k), str(cmp.a.get(k) or "—"), str(cmp.b.get(k) or "—"),
             "" if k in ("spec", "content_hash", "created") or cmp.a.get(k) == cmp.b.get(k) else "differs"]
            for k in dict.fromkeys([*cmp.a, *cmp.b])]
    return Section("Provenance (A vs B)", [], Table(["field", "A", "B", ""], rows, colored=(3,), wrap=(1, 2)))


def verdict_section(cmp: Comparison) -> Section:
    rows = [[c.claim, c.stratum, c.status, _side(c.a), _side(c.b), c.why] for c in cmp.claims]
    if not rows:
        return Section("Verdicts", ["no verdicts on either side"])
    return Section("Verdicts", ["A, B: verdict, statistic [interval]"],
                   Table(["claim", "stratum", "status", "A", "B", "why"], rows, colored=(2, 3, 4), wrap=(5,), lead=3))


def _sd_pair(d: WidthDiff) -> str:
    return f"{fmt_num(d.sd_a, 2)}/{fmt_num(d.sd_b, 2)}"


def width_sections(cmp: Comparison) -> list[Section]:
    """Per curve: test error and test loss per width, B - A beside each side's seed sd."""
    by_group: dict[str, dict[int, dict[str, WidthDiff]]] = {}
    for d in cmp.widths:
        by_group.setdefault(d.group, {}).setdefault(d.width, {})[d.metric] = d
    out = []
    for group, widths in by_group.items():
        rows = []
        for w, ms in widths.items():
            err, loss = ms.get(METRICS[0]), ms.get(METRICS[1])
            first = err or loss
            rows.append([str(w), f"{first.n_a}/{first.n_b}",
                         *([fmt_num(err.mean_a), fmt_num(err.mean_b), fmt_signed(err.delta), _sd_pair(err)]
                           if err else ["—"] * 4),
                         *([fmt_signed(loss.delta), _sd_pair(loss)] if loss else ["—"] * 2)])
        lines = []
        worst = max((ms[METRICS[0]] for ms in widths.values() if METRICS[0] in ms and ms[METRICS[0]].delta is not None),
                    key=lambda d: abs(d.delta), default=None)
        if worst is not None:
            sd = f", {abs(worst.delta) / worst.spread:.1f} x the larger seed sd" if worst.spread else \
                " (no seed sd: fewer than 2 seeds on both sides)"
            lines.append(f"largest |Δ test error| {abs(worst.delta):.4f} at width {worst.width}{sd}")
        out.append(Section(f"Test error and loss vs width: {group}", lines,
                           Table(["width", "seeds", "err A", "err B", "Δ err", "err sd A/B", "Δ loss", "loss sd A/B"], rows,
                                 numeric=(0, 2, 3, 4, 6))))
    return out


def cell_section(cmp: Comparison) -> Section:
    c = cmp.cells
    by_coords = c.matched - c.matched_by_key
    lines = [f"{c.matched} finished cells on both sides ({c.matched_by_key} by key, {by_coords} by family/width/noise/seed)",
             f"only in A: {c.only_a}, only in B: {c.only_b}"]
    if c.max_abs is not None:
        lines.append(f"|test error A - B| per cell: max {c.max_abs:.4f}, mean {c.mean_abs:.4f}")
        if c.max_abs > 0:
            lines.append(f"largest difference: {c.worst}")
    return Section("Cells", lines)


def comparison_sections(cmp: Comparison, strict: bool = False) -> list[Section]:
    out = [header_section(cmp, strict), provenance_section(cmp)]
    if cmp.spec_differences:
        out.append(Section("Spec differences (A vs B)", cmp.spec_differences))
    return out + [verdict_section(cmp), *width_sections(cmp), cell_section(cmp)]


def render_comparison_markdown(cmp: Comparison, strict: bool = False) -> str:
    return sections_to_markdown(comparison_sections(cmp, strict))


def render_comparison_rich(cmp: Comparison, strict: bool = False) -> list[Any]:
    return sections_to_rich(comparison_sections(cmp, strict))


def print_comparison(cmp: Comparison, console: Any = None, strict: bool = False) -> None:
    from rich.console import Console

    console = console or Console()
    for item in render_comparison_rich(cmp, strict):
        console.print(item)


def comparison_json(cmp: Comparison, strict: bool = False) -> dict[str, Any]:
    """Plain JSON data of the comparison (``--format json``)."""
    data = dataclasses.asdict(cmp)
    data["widths"] = [{**dataclasses.asdict(d), "delta": d.delta, "spread": d.spread} for d in cmp.widths]
    data["counts"] = cmp.counts()
    data["exit_code"] = cmp.exit_code(strict)
    data["strict"] = strict
    return data
