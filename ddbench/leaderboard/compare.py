"""Line up two leaderboards: did a rerun, another backend or another trainer change the science?

Two leaderboards are compared claim by claim and stratum by stratum, and cell by
cell on the final test error. Leaderboards that measure different things (another
dataset or family, disjoint noise rates, another schema major version) are refused
with the reason rather than compared, because a "flip" between them would mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .render import (
    Section, Table, VerdictEntry, canon, fmt_ci, fmt_num, sections_to_markdown, sections_to_rich,
    stratum_labels, varying_config_keys, verdict_entries,
)
from .schema import Leaderboard, Row

MAX_SPEC_DIFFERENCES = 20


class IncompatibleLeaderboards(ValueError):
    """Raised when two leaderboards cannot be meaningfully compared; the message says why."""


@dataclass
class ClaimDiff:
    """One (claim, stratum) on both sides. ``status``: agree, flip, changed, only in A, only in B."""

    claim: str
    stratum: str
    status: str
    verdict_a: str | None = None
    verdict_b: str | None = None
    statistic_a: float | None = None
    statistic_b: float | None = None
    ci_a: tuple[float, float] | None = None
    ci_b: tuple[float, float] | None = None
    ci_overlap: bool | None = None  # None when a side has no CI


@dataclass
class CellDiff:
    """Final test error of cells present and finished on both sides."""

    matched: int = 0
    matched_by_key: int = 0
    only_a: int = 0
    only_b: int = 0
    max_abs: float | None = None
    mean_abs: float | None = None
    worst: str | None = None  # which cell differs most


@dataclass
class Comparison:
    a: str  # "name (hash), created ..."
    b: str
    same_spec: bool
    common: dict[str, Any]  # the comparable part both sides share
    spec_differences: list[str]
    claims: list[ClaimDiff]
    cells: CellDiff
    notes: list[str] = field(default_factory=list)
    agree: bool = True  # no flip and no other verdict change among the (claim, stratum) pairs on both sides

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for c in self.claims:
            out[c.status] = out.get(c.status, 0) + 1
        return out


# --------------------------------------------------------------------------- compatibility


def comparable_part(board: Leaderboard) -> dict[str, Any]:
    """What must match for two different specs to be comparable: dataset, family, noise rates."""
    spec = board.spec or {}
    ds, model = spec.get("dataset") or {}, spec.get("model") or {}
    rates = (ds.get("noise") or {}).get("rates") or sorted({r.noise_rate for r in board.rows})
    family = model.get("family") or ",".join(sorted({r.family for r in board.rows})) or None
    return {"dataset": ds.get("name"), "family": family, "noise_rates": sorted(float(r) for r in rates)}


def _major(version: str) -> str:
    return str(version).split(".")[0]


def check_compatible(a: Leaderboard, b: Leaderboard) -> dict[str, Any]:
    """The common comparable part, or :class:`IncompatibleLeaderboards` with every reason."""
    if _major(a.schema_version) != _major(b.schema_version):
        raise IncompatibleLeaderboards(
            f"schema versions {a.schema_version} vs {b.schema_version} differ in their major version; "
            f"re-export both with the same ddbench"
        )
    pa, pb = comparable_part(a), comparable_part(b)
    common_rates = sorted({canon(r) for r in pa["noise_rates"]} & {canon(r) for r in pb["noise_rates"]})
    if a.spec_hash == b.spec_hash:
        return {**pa, "noise_rates": common_rates}
    reasons = []
    if pa["dataset"] != pb["dataset"]:
        reasons.append(f"different datasets: {pa['dataset'] or '?'} vs {pb['dataset'] or '?'}")
    if pa["family"] != pb["family"]:
        reasons.append(f"different families: {pa['family'] or '?'} vs {pb['family'] or '?'}")
    if not common_rates:
        reasons.append(f"no common noise rate: {pa['noise_rates']} vs {pb['noise_rates']}")
    if reasons:
        raise IncompatibleLeaderboards(
            f"cannot compare {a.spec_name} ({a.spec_hash}) with {b.spec_name} ({b.spec_hash}): " + "; ".join(reasons)
        )
    return {**pa, "noise_rates": common_rates}


def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: obj}


def spec_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    fa, fb = _flatten(a), _flatten(b)
    diffs = [f"{k}: {fa.get(k, '(absent)')} vs {fb.get(k, '(absent)')}"
             for k in sorted(set(fa) | set(fb)) if canon(fa.get(k)) != canon(fb.get(k)) or (k in fa) != (k in fb)]
    if len(diffs) > MAX_SPEC_DIFFERENCES:
        diffs = diffs[:MAX_SPEC_DIFFERENCES] + [f"... and {len(diffs) - MAX_SPEC_DIFFERENCES} more"]
    return diffs


# --------------------------------------------------------------------------- verdicts and cells


def _status(va: str, vb: str) -> str:
    if va == vb:
        return "agree"
    return "flip" if {va, vb} == {"holds", "fails"} else "changed"


def _overlap(ci_a: Any, ci_b: Any) -> bool | None:
    if ci_a is None or ci_b is None:
        return None
    return bool(ci_a[0] <= ci_b[1] and ci_b[0] <= ci_a[1])


def compare_claims(a: Leaderboard, b: Leaderboard) -> tuple[list[ClaimDiff], list[str]]:
    side: dict[str, dict[tuple[str, tuple], VerdictEntry]] = {"A": {}, "B": {}}
    order: list[tuple[str, tuple]] = []
    for name, board in (("A", a), ("B", b)):
        for v in board.verdicts:
            for e in verdict_entries(v):
                k = (e.claim, e.key)
                side[name][k] = e
                if k not in order:
                    order.append(k)
    # no member counts in pooled labels: the two sides may pool different strata (see the notes)
    labels = stratum_labels({k: v for k, v in e.stratum.items() if k != "strata"} for s in side.values() for e in s.values())
    claims = list(dict.fromkeys(k[0] for k in order))
    diffs, notes = [], []
    for k in sorted(order, key=lambda k: (claims.index(k[0]), order.index(k))):
        ea, eb = side["A"].get(k), side["B"].get(k)
        label = labels[k[1]]
        if ea is None or eb is None:
            e = ea or eb
            diffs.append(ClaimDiff(k[0], label, "only in A" if eb is None else "only in B",
                                   verdict_a=ea.verdict if ea else None, verdict_b=eb.verdict if eb else None,
                                   statistic_a=ea.statistic if ea else None, statistic_b=eb.statistic if eb else None,
                                   ci_a=ea.ci if ea else None, ci_b=eb.ci if eb else None))
            continue
        if ea.stratum.get("pooled") and ea.stratum.get("strata") != eb.stratum.get("strata"):
            notes.append(f"{k[0]} pooled over {ea.stratum.get('strata')} vs {eb.stratum.get('strata')} strata")
        diffs.append(ClaimDiff(k[0], label, _status(ea.verdict, eb.verdict), ea.verdict, eb.verdict,
                               ea.statistic, eb.statistic, ea.ci, eb.ci, _overlap(ea.ci, eb.ci)))
    return diffs, notes


def _coords(r: Row, axes: list[str]) -> tuple:
    return (r.family, r.width, canon(r.noise_rate), r.noise_seed, r.seed, tuple(canon(r.config.get(k)) for k in axes))


def compare_cells(a: Leaderboard, b: Leaderboard) -> CellDiff:
    """Match finished cells by key, else by (family, width, noise rate, noise seed, seed, grid axes)."""
    axes = sorted(set(varying_config_keys(a.rows)) | set(varying_config_keys(b.rows)))
    done_a = [r for r in a.rows if r.status == "done" and r.test_error is not None]
    done_b = [r for r in b.rows if r.status == "done" and r.test_error is not None]
    by_key = {r.key: r for r in done_b}
    by_coord = {_coords(r, axes): r for r in done_b}
    used: set[str] = set()
    pairs: list[tuple[Row, Row]] = []
    by_key_count = 0
    for ra in done_a:
        rb = by_key.get(ra.key)
        if rb is not None and rb.key not in used:
            by_key_count += 1
        else:
            rb = by_coord.get(_coords(ra, axes))
            if rb is None or rb.key in used:
                continue
        used.add(rb.key)
        pairs.append((ra, rb))
    out = CellDiff(matched=len(pairs), matched_by_key=by_key_count, only_a=len(done_a) - len(pairs),
                   only_b=len(done_b) - len(pairs))
    if pairs:
        diffs = [abs(ra.test_error - rb.test_error) for ra, rb in pairs]
        i = max(range(len(diffs)), key=diffs.__getitem__)
        ra, rb = pairs[i]
        out.max_abs, out.mean_abs = max(diffs), sum(diffs) / len(diffs)
        out.worst = (f"{ra.family} width {ra.width} p={ra.noise_rate:g} seed {ra.seed}: "
                     f"{ra.test_error:.4f} vs {rb.test_error:.4f}")
    return out


def _describe(board: Leaderboard) -> str:
    return f"{board.spec_name} ({board.spec_hash}), {board.backend} on {board.device}, created {board.created}"


def compare(a: Leaderboard, b: Leaderboard) -> Comparison:
    """Compare two leaderboards, or raise :class:`IncompatibleLeaderboards` with the reason."""
    common = check_compatible(a, b)
    same = a.spec_hash == b.spec_hash
    claims, notes = compare_claims(a, b)
    cells = compare_cells(a, b)
    both = [c for c in claims if not c.status.startswith("only")]
    if not both:
        notes.append("no (claim, stratum) in common")
    return Comparison(
        a=_describe(a), b=_describe(b), same_spec=same, common=common,
        spec_differences=[] if same else spec_differences(a.spec, b.spec),
        claims=claims, cells=cells, notes=notes, agree=all(c.status == "agree" for c in both),
    )


# --------------------------------------------------------------------------- rendering


def comparison_sections(cmp: Comparison) -> list[Section]:
    counts = cmp.counts()
    lines = [f"A: {cmp.a}", f"B: {cmp.b}"]
    if cmp.same_spec:
        lines.append("same spec hash")
    else:
        lines.append(f"different specs, compared on the common part: dataset {cmp.common.get('dataset')}, "
                     f"family {cmp.common.get('family')}, noise rates {cmp.common.get('noise_rates')}")
    tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no verdicts"
    lines.append(f"overall: {'agree' if cmp.agree else 'DISAGREE'} ({tally})")
    lines += [f"note: {n}" for n in cmp.notes]
    sections = [Section("ddbench leaderboard comparison", lines, level=1)]
    if cmp.spec_differences:
        sections.append(Section("Spec differences (A vs B)", cmp.spec_differences))
    rows = [[c.claim, c.stratum, c.status, c.verdict_a or "—", c.verdict_b or "—", _stat_ci(c.statistic_a, c.ci_a),
             _stat_ci(c.statistic_b, c.ci_b), "—" if c.ci_overlap is None else "yes" if c.ci_overlap else "no"]
            for c in cmp.claims]
    sections.append(Section("Verdicts", [] if rows else ["no verdicts on either side"],
                            Table(["claim", "stratum", "status", "A", "B", "statistic A [CI]", "statistic B [CI]",
                                   "CIs overlap"], rows, colored=(2, 3, 4, 7))
                            if rows else None))
    c = cmp.cells
    cell_lines = [f"{c.matched} finished cells on both sides ({c.matched_by_key} by key, "
                  f"{c.matched - c.matched_by_key} by family/width/noise/seed); only in A: {c.only_a}, only in B: {c.only_b}"]
    if c.max_abs is not None:
        cell_lines.append(f"|test error A - B|: max {c.max_abs:.4f}, mean {c.mean_abs:.4f}")
        if c.max_abs > 0:
            cell_lines.append(f"largest difference: {c.worst}")
    sections.append(Section("Cells", cell_lines))
    return sections


def _stat_ci(stat: float | None, ci: Any) -> str:
    return "—" if stat is None and ci is None else f"{fmt_num(stat)} {fmt_ci(ci)}" if ci is not None else fmt_num(stat)


def render_comparison_markdown(cmp: Comparison) -> str:
    return sections_to_markdown(comparison_sections(cmp))


def render_comparison_rich(cmp: Comparison) -> list[Any]:
    return sections_to_rich(comparison_sections(cmp))


def print_comparison(cmp: Comparison, console: Any = None) -> None:
    from rich.console import Console

    console = console or Console()
    for item in render_comparison_rich(cmp):
        console.print(item)
