"""Line up two leaderboards: did a rerun, another backend or more seeds change the science?

Each (claim, stratum) on either side gets one status (:func:`classify`):

- ``agree``: the same verdict;
- ``resolution change``: the evidence resolves the claim differently without
  contradicting it: decided on one side and inconclusive on the other; holds vs fails
  with overlapping intervals; or holds vs fails where the two sides' intervals are not
  on the same footing (different seed counts with fewer than 3 seeds on a side, or
  different resampling units because of different seed counts);
- ``flip``: holds on one side, fails on the other, with disjoint intervals on the same
  footing: a contradiction;
- ``not comparable``, with the reason: another dataset, model family or label-noise
  kind, another threshold, different resampling units at the same seed count, the
  claim or stratum (noise rate) missing on one side, a pooled verdict over different
  noise rates, or not applicable on one side only.

Beside the verdicts: both sides' provenance (backend, precision, Keras, seeds, resampling unit,
replicates, width grid and its refinements, ddbench and plugin versions) with differences flagged, a note
naming different width grids and every refinement on one side only, and per width the difference of mean
test error and test loss next to each side's seed spread. Rendering lives in :mod:`.compare_render`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .compare_metrics import CellDiff, WidthDiff, compare_cells, compare_widths, grid_notes, spec_differences
from .formatting import canon
from .schema import Leaderboard, Verdict
from .verdicts import stratum_labels, verdict_entries

AGREE, RESOLUTION, FLIP, NOT_COMPARABLE = "agree", "resolution change", "flip", "not comparable"
STATUSES = (FLIP, RESOLUTION, NOT_COMPARABLE, AGREE)
#: fewer seeds than this cannot be resampled as seeds (the statistical core then resamples points)
MIN_SEED_UNITS = 3


class IncompatibleLeaderboards(ValueError):
    """Raised when two leaderboards cannot be read side by side at all; the message says why."""


@dataclass
class Side:
    """One side of a (claim, stratum): its verdict and what it rests on."""

    verdict: str
    statistic: float | None = None
    ci: tuple[float, float] | None = None
    threshold: float | None = None
    side: str = "greater"
    reason: str = ""
    seeds: int | None = None
    unit: str | None = None
    replicates: int | None = None
    level: float | None = None
    family: str | None = None  # the error-control family, where recorded
    p_value: float | None = None
    p_adjusted: float | None = None
    hypothesis_version: str | None = None


@dataclass
class ClaimDiff:
    claim: str
    stratum: str
    status: str
    why: str = ""
    a: Side | None = None
    b: Side | None = None
    ci_overlap: bool | None = None  # None when a side has no interval


@dataclass
class Comparison:
    a: dict[str, Any]  # provenance of each side (see provenance())
    b: dict[str, Any]
    same_spec: bool
    common: dict[str, Any]
    provenance_differences: list[str]
    spec_differences: list[str]
    claims: list[ClaimDiff]
    widths: list[WidthDiff]
    cells: CellDiff
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {s: n for s in STATUSES if (n := sum(c.status == s for c in self.claims))}

    @property
    def agree(self) -> bool:
        return all(c.status == AGREE for c in self.claims)

    def exit_code(self, strict: bool = False) -> int:
        """1 on a flip (and on a resolution change when ``strict``), else 0."""
        bad = {FLIP, RESOLUTION} if strict else {FLIP}
        return int(any(c.status in bad for c in self.claims))


# --------------------------------------------------------------------------- provenance


def _get(obj: Any, name: str) -> Any:
    """A field of a pydantic model (extra fields included) or a dict, else None."""
    if isinstance(obj, dict):
        return obj.get(name)
    value = getattr(obj, name, None)
    if value is None and getattr(obj, "model_extra", None):
        value = obj.model_extra.get(name)
    return value


def _prov(board: Leaderboard, *names: str) -> Any:
    """The first of ``names`` found in the cell identity (``summary.identity``: backend, keras, precision),
    provenance, summary, top level or versions of ``board``."""
    identity = board.summary.get("identity") if isinstance(board.summary.get("identity"), dict) else {}
    for src in (identity, _get(board, "provenance") or {}, board.summary, board, board.versions):
        for n in names:
            v = _get(src, n)
            if v not in (None, "", {}):
                return v
    return None


def _major_minor(version: Any) -> str | None:
    return None if version is None else ".".join(str(version).split(".")[:2])


def board_seeds(board: Leaderboard) -> list[int]:
    seeds = (board.spec or {}).get("seeds")
    return sorted(seeds) if isinstance(seeds, list) else sorted({r.seed for r in board.rows})


def _names(values: Any) -> str | None:
    vals = sorted({str(v) for v in values if v is not None})
    return ", ".join(vals) if vals else None


def provenance(board: Leaderboard) -> dict[str, Any]:
    """What a side rests on, one flat string per field (``None`` where not recorded); plugin
    versions as ``kind.name`` (``hypotheses.double_descent``)."""
    sides = [s for v in board.verdicts for _, s in _sides(board, v)]
    training = (board.spec or {}).get("training") or {}
    out: dict[str, Any] = {
        "spec": f"{board.spec_name} ({board.spec_hash})",
        "content_hash": (board.content_hash or "")[len("sha256:"):][:16] or None,
        "created": board.created,
        "ddbench": board.ddbench_version,
        "backend": _prov(board, "backend"),
        "precision": _prov(board, "precision") or training.get("precision") or "float32",
        "keras": _major_minor(_prov(board, "keras", "keras_version")),
        "device": board.device,
        "trainer": _prov(board, "trainer"),
        "seeds": str(board_seeds(board)),
        "resampling_unit": _names(s.unit for s in sides),
        "replicates": _names(s.replicates for s in sides) or _names([board.analysis.get("bootstrap")]),
        "error_control": _names([board.analysis.get("correction")]),
        "widths": str(board.widths()),
        "refinement": "; ".join(f"{r.source} added {r.added} around {', '.join(r.around)}"
                                for r in board.refinements) or None,
    }
    for kind, plugins in sorted(board.plugins.items()):
        for name, version in sorted(plugins.items()):
            out[f"{kind}.{name}"] = str(version)
    return out


def label(key: str) -> str:
    """How a provenance key is shown: ``resampling unit``, ``hypotheses.double_descent``."""
    return key if "." in key else key.replace("_", " ")


def provenance_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    skip = {"spec", "content_hash", "created"}
    return [f"{label(k)}: {a.get(k) or '—'} vs {b.get(k) or '—'}" for k in dict.fromkeys([*a, *b])
            if k not in skip and a.get(k) != b.get(k)]


# --------------------------------------------------------------------------- specs


def comparable_part(board: Leaderboard) -> dict[str, Any]:
    """What must match for two leaderboards' verdicts to be comparable."""
    spec = board.spec or {}
    ds, model = spec.get("dataset") or {}, spec.get("model") or {}
    noise = ds.get("noise") or {}
    rates = noise.get("rates") or sorted({r.noise_rate for r in board.rows})
    family = model.get("family") or ",".join(sorted({r.family for r in board.rows})) or None
    return {"dataset": ds.get("name"), "family": family, "noise kind": noise.get("kind"),
            "noise_rates": sorted(float(r) for r in rates)}


def _major(version: str) -> str:
    return str(version).split(".")[0]


def board_reasons(pa: dict[str, Any], pb: dict[str, Any]) -> list[str]:
    """Why no verdict of A can be compared with one of B (empty when they can)."""
    out = []
    for key, what in (("dataset", "datasets"), ("family", "model families"), ("noise kind", "label-noise kinds")):
        if canon(pa[key]) != canon(pb[key]):
            out.append(f"different {what}: {pa[key] or '?'} vs {pb[key] or '?'}")
    return out


# --------------------------------------------------------------------------- verdicts


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _sides(board: Leaderboard, v: Verdict) -> list[tuple[Any, Side]]:
    """(entry, Side) per stratum of ``v`` (and its claim-level verdict where that is distinct)."""
    entries = verdict_entries(v)  # the strata, then the claim-level verdict where it is distinct
    sources = [*v.strata, v][: len(entries)]
    n_seeds = len(board_seeds(board)) or None
    out = []
    for e, src in zip(entries, sources):
        detail = _get(src, "detail") or {}

        def pick(name: str, *alts: str, src: Any = src, detail: dict = detail) -> Any:
            for n in (name, *alts):
                for where in (src, detail, v):
                    value = _get(where, n)
                    if value not in (None, ""):
                        return value
            return None

        family = pick("family")
        family = family.get("name", str(family)) if isinstance(family, dict) else family
        out.append((e, Side(
            verdict=e.verdict, statistic=e.statistic, ci=tuple(e.ci) if e.ci is not None else None,
            threshold=e.threshold, side=e.side, reason=e.reason,
            seeds=_count(pick("seeds")) or n_seeds, unit=_unit(pick("unit", "resampling_unit", "bootstrap")),
            replicates=_count(pick("replicates", "n_replicates")), level=_num(pick("level", "ci_level")),
            family=None if family is None else str(family),
            p_value=_num(pick("p_value")), p_adjusted=_num(pick("p_adjusted")), hypothesis_version=v.hypothesis_version,
        )))
    return out


def _count(x: Any) -> int | None:
    if isinstance(x, (list, tuple)):
        return len(x) or None
    return int(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0 else None


def _unit(x: Any) -> str | None:
    return x if isinstance(x, str) and x else None


def _overlap(ci_a: Any, ci_b: Any) -> bool | None:
    if ci_a is None or ci_b is None:
        return None
    return bool(ci_a[0] <= ci_b[1] and ci_b[0] <= ci_a[1])


def _seeds_note(a: Side, b: Side) -> str:
    units = f" (units {a.unit} vs {b.unit})" if a.unit != b.unit and a.unit and b.unit else ""
    return f"seeds {a.seeds or '?'} vs {b.seeds or '?'}{units}"


def same_footing(a: Side, b: Side) -> bool:
    """Whether the two sides' intervals measure the same spread, so that disjoint ones contradict.

    Not when the seed counts differ and a side has fewer than :data:`MIN_SEED_UNITS` seeds (its
    interval cannot include the seed-to-seed spread the other side's mean is subject to), nor when
    the recorded resampling units differ."""
    if a.seeds != b.seeds and min(a.seeds or 0, b.seeds or 0) < MIN_SEED_UNITS:
        return False
    return not (a.unit and b.unit and a.unit != b.unit)


def classify(a: Side | None, b: Side | None, board_why: list[str] | None = None) -> tuple[str, str]:
    """(status, why) of one (claim, stratum); see the module docstring."""
    if board_why:
        return NOT_COMPARABLE, "; ".join(board_why)
    if a is None or b is None:
        return NOT_COMPARABLE, f"only in {'A' if b is None else 'B'}"
    if canon(a.threshold) != canon(b.threshold) or a.side != b.side:
        return NOT_COMPARABLE, f"different claims: threshold {a.side} {a.threshold} vs {b.side} {b.threshold}"
    if a.unit and b.unit and a.unit != b.unit and a.seeds == b.seeds:
        return NOT_COMPARABLE, f"resampling units differ at the same seed count: {a.unit} vs {b.unit}"
    notes = []
    if a.seeds != b.seeds:
        notes.append(_seeds_note(a, b))
    if a.level is not None and b.level is not None and canon(a.level) != canon(b.level):
        notes.append(f"levels {a.level:.4g} vs {b.level:.4g}")
    if a.family and b.family and a.family != b.family:
        notes.append(f"error-control families {a.family} vs {b.family}")
    if a.hypothesis_version != b.hypothesis_version:
        notes.append(f"hypothesis version {a.hypothesis_version} vs {b.hypothesis_version}")
    overlap = _overlap(a.ci, b.ci)
    if a.verdict == b.verdict:
        if overlap is False and a.verdict in ("holds", "fails"):
            notes.append("intervals disjoint")
        return AGREE, "; ".join(notes)
    if "not_applicable" in (a.verdict, b.verdict):
        na, other = ("A", a) if a.verdict == "not_applicable" else ("B", b)
        return NOT_COMPARABLE, "; ".join([f"not applicable in {na}" + (f": {other.reason}" if other.reason else ""), *notes])
    if "inconclusive" in (a.verdict, b.verdict):
        decided = "B" if a.verdict == "inconclusive" else "A"
        return RESOLUTION, "; ".join([f"decided in {decided} only", *notes])
    # holds vs fails
    if not same_footing(a, b):
        return RESOLUTION, "; ".join([f"{a.verdict} vs {b.verdict} on intervals of different footing", *notes])
    if overlap is None:
        return RESOLUTION, "; ".join([f"{a.verdict} vs {b.verdict}, no interval on a side", *notes])
    if overlap:
        return RESOLUTION, "; ".join([f"{a.verdict} vs {b.verdict}, intervals overlap", *notes])
    return FLIP, "; ".join([f"{a.verdict} vs {b.verdict}, intervals disjoint", *notes])


def compare_claims(a: Leaderboard, b: Leaderboard, board_why: list[str]) -> list[ClaimDiff]:
    sides: dict[str, dict[tuple[str, tuple], tuple[Any, Side]]] = {"A": {}, "B": {}}
    order: list[tuple[str, tuple]] = []
    hyps = {"A": {v.hypothesis for v in a.verdicts}, "B": {v.hypothesis for v in b.verdicts}}
    hyp_of: dict[str, str] = {}
    for name, board in (("A", a), ("B", b)):
        for v in board.verdicts:
            hyp_of[v.claim] = v.hypothesis
            for e, s in _sides(board, v):
                k = (e.claim, e.key)
                sides[name][k] = (e, s)
                if k not in order:
                    order.append(k)
    labels = stratum_labels({k: v for k, v in e.stratum.items() if k != "strata"}
                            for side in sides.values() for e, _ in side.values())
    rates = {n: {canon(r) for r in comparable_part(bd)["noise_rates"]} for n, bd in (("A", a), ("B", b))}
    claims = list(dict.fromkeys(k[0] for k in order))
    out = []
    for k in sorted(order, key=lambda k: (claims.index(k[0]), order.index(k))):
        ea, eb = sides["A"].get(k), sides["B"].get(k)
        why = list(board_why)
        if not why and (ea is None or eb is None):
            missing, present = ("B", ea) if eb is None else ("A", eb)
            stratum = present[0].stratum
            if hyp_of[k[0]] not in hyps[missing]:
                why.append(f"hypothesis {hyp_of[k[0]]} not tested in {missing}")
            elif not any(kk[0] == k[0] for kk in sides[missing]):
                why.append(f"claim not in {missing}")
            elif "noise_rate" in stratum and canon(stratum["noise_rate"]) not in rates[missing]:
                why.append(f"noise rate {stratum['noise_rate']:g} not in {missing}")
            elif stratum.get("pooled") or stratum.get("overall"):
                why.append(f"claim-level verdict ({'pooled' if stratum.get('pooled') else 'overall'}) not in {missing}")
            else:
                why.append(f"stratum not in {missing}")
        elif not why and (ea[0].stratum.get("pooled") or ea[0].stratum.get("overall")) and rates["A"] != rates["B"]:
            why.append("pooled over different noise rates")
        status, text = classify(ea[1] if ea else None, eb[1] if eb else None, why)
        overlap = _overlap(ea[1].ci, eb[1].ci) if ea and eb else None
        out.append(ClaimDiff(k[0], labels[k[1]], status, text, ea[1] if ea else None, eb[1] if eb else None, overlap))
    return out


# --------------------------------------------------------------------------- the comparison


def compare(a: Leaderboard, b: Leaderboard) -> Comparison:
    """Compare two leaderboards (already read; :func:`.integrity.load_leaderboard` checks their hashes)."""
    if _major(a.schema_version) != _major(b.schema_version):
        raise IncompatibleLeaderboards(
            f"schema versions {a.schema_version} vs {b.schema_version} differ in their major version; "
            f"re-export both with the same ddbench"
        )
    pa, pb = comparable_part(a), comparable_part(b)
    why = board_reasons(pa, pb)
    common_rates = sorted({canon(r) for r in pa["noise_rates"]} & {canon(r) for r in pb["noise_rates"]})
    same = a.spec_hash == b.spec_hash
    prov_a, prov_b = provenance(a), provenance(b)
    claims = compare_claims(a, b, why)
    notes = [f"nothing compared: {w}" for w in why]
    if not claims:
        notes.append("no verdicts on either side")
    if not common_rates:
        notes.append(f"no common noise rate: {pa['noise_rates']} vs {pb['noise_rates']}")
    notes += grid_notes(a, b)
    return Comparison(
        a=prov_a, b=prov_b, same_spec=same, common={**pa, "noise_rates": common_rates},
        provenance_differences=provenance_differences(prov_a, prov_b),
        spec_differences=[] if same else spec_differences(a.spec, b.spec),
        claims=claims, widths=[] if why else compare_widths(a, b), cells=compare_cells(a, b), notes=notes,
    )
