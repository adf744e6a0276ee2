"""Verdicts flattened to one entry per (claim, stratum), with the labels and notes a reader sees beside them.

Shared by the views (:mod:`.render`, :mod:`.html`) and by :mod:`.compare`, which matches
entries of two leaderboards by :func:`stratum_key`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .formatting import canon, fmt_p, fmt_signed
from .schema import Verdict
from .strata import control_summary


def stratum_key(stratum: dict[str, Any]) -> tuple:
    """Identity of a stratum across leaderboards (a pooled stratum's member count is not part of it)."""
    return tuple(sorted((k, canon(v)) for k, v in stratum.items() if k != "strata"))


def stratum_labels(strata: Iterable[dict[str, Any]]) -> dict[tuple, str]:
    """Short labels that show only what varies, e.g. ``p=0.15``, ``depth=2 p=0.1``, ``pooled``."""
    strata = list(strata)
    plain = [s for s in strata if not (s.get("pooled") or s.get("overall"))]
    keys: list[str] = []
    for s in plain:
        keys += [k for k in s if k not in keys]
    varying = {k for k in keys if len({canon(s.get(k, "∅")) for s in plain}) > 1}
    labels: dict[tuple, str] = {}
    for s in strata:
        if s.get("overall"):
            label = "overall"
        elif s.get("pooled"):
            label = "pooled" + (f" ({s['strata']} strata)" if isinstance(s.get("strata"), int) else "")
        else:
            parts = [str(s[k]) if k == "family" else f"{k}={s[k]}" for k in keys
                     if k in s and k != "noise_rate" and k in varying]
            if "noise_rate" in s:
                parts.append(fmt_p(float(s["noise_rate"])))
            label = " ".join(parts) or " ".join(f"{k}={v}" for k, v in s.items()) or "all"
        labels[stratum_key(s)] = label
    return labels


@dataclass
class VerdictEntry:
    """One (claim, stratum) verdict, or the claim-level verdict as stratum ``overall``."""

    claim: str
    stratum: dict[str, Any]
    verdict: str
    statistic: float | None
    ci: tuple[float, float] | None
    threshold: float | None
    reason: str
    detail: dict[str, Any]
    side: str = "greater"
    control: str = ""  # error control and resampling of this test (family, level, unit, replicates, p)

    @property
    def key(self) -> tuple:
        return stratum_key(self.stratum)


def verdict_entries(v: Verdict, *, overall: str = "distinct") -> list[VerdictEntry]:
    """Flatten a claim into entries per stratum, plus ``overall``.

    ``overall="distinct"`` adds the claim-level verdict only where it is not already a
    stratum's (no strata, or several strata and no pooled one); ``"always"`` always adds it.
    """
    out = [VerdictEntry(v.claim, dict(s.stratum), s.verdict, s.statistic, s.ci, s.threshold, s.reason, dict(s.detail),
                        s.side, control_summary(s)) for s in v.strata]
    distinct = not v.strata or (len(v.strata) > 1 and not any(s.stratum.get("pooled") for s in v.strata))
    if overall == "always" or distinct:
        out.append(VerdictEntry(v.claim, {"overall": True}, v.verdict, v.statistic, v.ci, v.threshold, v.reason, {}, v.side))
    return out


def ordered_entries(entries: Iterable[VerdictEntry]) -> list[VerdictEntry]:
    """Plain strata first (first-seen order), then pooled, then overall."""
    return sorted(entries, key=lambda e: 2 if e.stratum.get("overall") else 1 if e.stratum.get("pooled") else 0)


def detail_summary(detail: dict[str, Any]) -> str:
    """The few detail fields a reader wants next to a verdict; absent ones are skipped."""
    parts = []
    if "k_star" in detail:
        parts.append(f"k*={detail['k_star']}" if detail["k_star"] is not None else "k* not reached")
    if detail.get("peak_width") is not None:
        peak = f"peak at {detail['peak_width']}"
        if detail.get("peak_height") is not None:
            peak += f" ({fmt_signed(detail['peak_height'])})"
        parts.append(peak)
    if detail.get("seeds") is not None:
        parts.append(f"{detail['seeds']} seeds")
    if detail.get("missing_widths"):
        parts.append(f"missing widths {detail['missing_widths']}")
    return ", ".join(parts)
