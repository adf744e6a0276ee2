"""``leaderboard.html``: one self-contained page per run (CSS inline, figures as base64 PNG, no script).

What a reader sees, top to bottom: the run in one line (failures counted); every claim
on one line; error and loss vs width with pointwise interval bands, k* and the peaks
where they exist; a card per claim (verdict, statistic, interval and its level,
threshold, error-control family, the reason when not applicable, and every stratum);
the probes' declared measures vs width; the epoch-wise curves; failed cells and failed
or NaN probes; the per-width tables; provenance. Every value is HTML-escaped; the page
never loads anything (``tests/test_report.py`` opens it in headless Chromium).
"""

from __future__ import annotations

import base64
import html
import json
import traceback
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import atomic
from . import figures as F
from .document import Section, Table
from .formatting import fmt_ci, fmt_counts, fmt_num, fmt_refinement
from .intervals import Arrays
from .measures import scores_section
from .render import _status_counts, curve_sections, unfinished_section
from .schema import Leaderboard, Verdict
from .verdicts import detail_summary, ordered_entries, stratum_labels, verdict_entries

VERDICT_ORDER = ("holds", "fails", "inconclusive", "not_applicable")
#: fields of a verdict (or stratum) about error control, shown when present (the stats layer adds them)
CONTROL_FIELDS = (("family", "family"), ("correction", "correction"), ("family_size", "tests in family"),
                  ("level", "level"), ("ci_level", "CI level"), ("unit", "resampling unit"), ("replicates", "replicates"),
                  ("p_value", "p-value"), ("p_adjusted", "adjusted p"), ("p_null", "p vs null"),
                  ("nonfinite_share", "non-finite replicates"))

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d2329;background:#f6f7f9}
main{max-width:1180px;margin:0 auto;padding:18px 22px 60px}
h1{font-size:1.55em;margin:.2em 0}h2{font-size:1.2em;margin:1.6em 0 .5em;border-bottom:1px solid #d6dae0;padding-bottom:.2em}
h3{font-size:1em;margin:1em 0 .3em}.sub{color:#5b6570;margin:.1em 0 .6em}
.summary span{display:inline-block;margin:2px 8px 2px 0}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.85em;font-weight:600;white-space:nowrap}
.holds{background:#d8f3dc;color:#1b6b2f}.fails{background:#fde2e1;color:#a4161a}
.inconclusive{background:#fff3c4;color:#7a5b00}.not_applicable{background:#e9ecef;color:#555}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.card{background:#fff;border:1px solid #d6dae0;border-left:5px solid #adb5bd;border-radius:6px;padding:10px 12px}
.card.v-holds{border-left-color:#2d9d4a}.card.v-fails{border-left-color:#d62828}
.card.v-inconclusive{border-left-color:#e0a800}.card.v-not_applicable{border-left-color:#adb5bd}
.claim{font-weight:600;word-break:break-word}.desc{color:#444;margin:.3em 0;font-size:.92em}
.reason{color:#5b6570;font-style:italic;font-size:.9em;margin:.3em 0}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:1px 10px;margin:.4em 0;font-size:.9em}
dl.kv dt{color:#5b6570}dl.kv dd{margin:0;font-variant-numeric:tabular-nums;word-break:break-word}
table{border-collapse:collapse;font-size:.86em;background:#fff;margin:.3em 0}
th,td{border:1px solid #dee2e6;padding:2px 6px;text-align:left;vertical-align:top}th{background:#f1f3f5}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
figure{background:#fff;border:1px solid #d6dae0;border-radius:6px;margin:10px 0;padding:8px}
figure img{max-width:100%;height:auto;display:block;margin:0 auto}figcaption{color:#5b6570;font-size:.88em;margin-top:4px}
.failed{color:#a4161a;font-weight:600}pre{background:#fff;border:1px solid #d6dae0;padding:8px;overflow:auto;font-size:.82em}
details{margin:.4em 0}summary{cursor:pointer;color:#28527a}
"""


def esc(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _value(obj: Any, name: str) -> Any:
    """A field of a pydantic model, declared or extra (absent: None)."""
    v = getattr(obj, name, None)
    if v is None and getattr(obj, "model_extra", None):
        v = obj.model_extra.get(name)
    return v


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return fmt_num(v)
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        return fmt_ci(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)
    return str(v)


def _kv(pairs: Iterable[tuple[str, Any]]) -> str:
    items = [f"<dt>{esc(k)}</dt><dd>{esc(_fmt(v))}</dd>" for k, v in pairs if v not in (None, "", [], {})]
    return f'<dl class="kv">{"".join(items)}</dl>' if items else ""


def claim_name(claim: str) -> str:
    """A claim name that wraps only after its dots and underscores, never inside a word."""
    return "".join(esc(ch) + ("<wbr>" if ch in "._" else "") for ch in claim)


def badge(verdict: str) -> str:
    return f'<span class="badge {esc(verdict)}">{esc(verdict.replace("_", " "))}</span>'


def table_html(t: Table, *, verdict_cols: Iterable[int] = ()) -> str:
    colored = set(t.colored) | set(verdict_cols)
    head = "".join(f"<th>{esc(h)}</th>" for h in t.headers)
    body = []
    for row in t.rows:
        cells = []
        for i, c in enumerate(row):
            if i in colored and c in VERDICT_ORDER:
                cells.append(f"<td>{badge(c)}</td>")
            else:
                cells.append(f'<td class="num">{esc(c)}</td>' if i in t.numeric else f"<td>{esc(c)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def section_html(s: Section, level: int = 3) -> str:
    out = [f"<h{level}>{esc(s.title)}</h{level}>"]
    if s.lines:
        out.append("<ul>" + "".join(f"<li>{esc(line)}</li>" for line in s.lines) + "</ul>")
    if s.table is not None:
        out.append(table_html(s.table))
    return "\n".join(out)


# --------------------------------------------------------------------------- verdicts


def _threshold_text(v: Any) -> str | None:
    thr = _value(v, "threshold")
    if thr is None:
        return None
    side = _value(v, "side") or "greater"
    return f"holds when the interval lies {'above' if side == 'greater' else 'below'} {fmt_num(thr)}"


def verdict_card(v: Verdict, board: Leaderboard) -> str:
    ci_level = _value(v, "ci_level") or _value(v, "level")
    pairs: list[tuple[str, Any]] = [
        ("statistic", _value(v, "statistic")),
        ("interval", fmt_ci(v.ci) + (f" at level {fmt_num(ci_level)}" if ci_level is not None else "") if v.ci else None),
        ("threshold", _threshold_text(v)),
    ]
    pairs += [(label, _value(v, name)) for name, label in CONTROL_FIELDS if name not in ("ci_level",)]
    a = board.analysis
    if _value(v, "correction") is None and a.get("correction"):  # older leaderboards: one rule for the board
        pairs.append(("correction", a["correction"] + (f" over {a['tests']} tests" if a.get("tests") else "")
                      + (f" (alpha {a['alpha']})" if a.get("alpha") is not None else "")))
    entries = ordered_entries(verdict_entries(v))
    labels = stratum_labels(e.stratum for e in entries)
    rows = []
    by_key = {tuple(sorted(s.stratum.items(), key=str)): s for s in v.strata}
    for e in entries:
        s = by_key.get(tuple(sorted(e.stratum.items(), key=str)))
        extra = [f"{label} {_fmt(_value(s, name))}" for name, label in CONTROL_FIELDS
                 if s is not None and name in ("p_adjusted", "unit", "replicates") and _value(s, name) is not None]
        rows.append("<tr>" + "".join([
            f"<td>{esc(labels[e.key])}</td>", f"<td>{badge(e.verdict)}</td>",
            f'<td class="num">{esc(fmt_num(e.statistic))}</td>', f'<td class="num">{esc(fmt_ci(e.ci))}</td>',
            f"<td>{esc('; '.join(x for x in [detail_summary(e.detail), *extra, e.reason] if x))}</td>",
        ]) + "</tr>")
    strata = ("<details><summary>strata</summary><table><thead><tr><th>stratum</th><th>verdict</th><th>statistic</th>"
              "<th>interval</th><th>detail / reason</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></details>")
    reason = f'<p class="reason">{esc(v.reason)}</p>' if v.reason else ""
    desc = f'<p class="desc">{esc(v.description)}</p>' if v.description else ""
    return (f'<div class="card v-{esc(v.verdict)}" id="claim-{esc(v.claim)}"><div class="claim">{claim_name(v.claim)} '
            f'{badge(v.verdict)}</div>{desc}{_kv(pairs)}{reason}{strata}</div>')


def glance_html(board: Leaderboard) -> str:
    """Every claim on one line: verdict, statistic, interval (links to its card)."""
    if not board.verdicts:
        return '<h2 id="glance">Verdicts</h2><p>no hypotheses were tested</p>'
    counts = Counter(v.verdict for v in board.verdicts)
    summary = " · ".join(f"{counts[k]} {badge(k)}" for k in VERDICT_ORDER if counts.get(k))
    rows = "".join(
        f'<tr><td><a href="#claim-{esc(v.claim)}">{claim_name(v.claim)}</a></td><td>{badge(v.verdict)}</td>'
        f'<td class="num">{esc(fmt_num(v.statistic))}</td><td class="num">{esc(fmt_ci(v.ci))}</td>'
        f"<td>{esc(v.reason if v.verdict in ('not_applicable', 'inconclusive') else '')}</td></tr>"
        for v in board.verdicts)
    return (f'<h2 id="glance">Verdicts at a glance</h2><p class="summary">{len(board.verdicts)} claims: {summary}</p>'
            "<table><thead><tr><th>claim</th><th>verdict</th><th>statistic</th><th>interval</th><th>why not "
            f"applicable / what it needs</th></tr></thead><tbody>{rows}</tbody></table>")


def verdicts_html(board: Leaderboard) -> str:
    if not board.verdicts:
        return ""
    out = ['<h2 id="verdicts">Verdicts, claim by claim</h2>']
    by_h: dict[str, list[Verdict]] = {}
    for v in board.verdicts:
        by_h.setdefault(v.hypothesis, []).append(v)
    for h, vs in by_h.items():
        version = vs[0].hypothesis_version
        out.append(f"<h3>{esc(h)} <small class=\"sub\">(version {esc(version)})</small></h3>")
        out.append('<div class="cards">' + "".join(verdict_card(v, board) for v in vs) + "</div>")
    return "\n".join(out)


# --------------------------------------------------------------------------- figures


def _img(fig: Any, alt: str, caption: str, dpi: int = 100) -> str:
    return _img_png(F.to_png(fig, dpi), alt, caption)


def _img_png(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{esc(alt)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def _figure_or_note(make: Any, alt: str, caption: str) -> str:
    try:
        fig = make()
    except Exception:  # noqa: BLE001 - a figure must never cost the page
        last = traceback.format_exc().strip().splitlines()[-1]
        return f'<p class="failed">figure "{esc(alt)}" could not be drawn: {esc(last)}</p>'
    return "" if fig is None else _img(fig, alt, caption)


CURVES_CAPTION = ("Mean over seeds per width; bands are pointwise intervals in the verdicts' resampling unit "
                        "(not min..max). Dashed: k*, the smallest width whose mean training error reaches the "
                        "interpolation threshold (drawn only where reached). Star: the peak the double-descent "
                        "verdict measured, drawn only where the curve rises above both sides.")


def curves_html(board: Leaderboard, arrays: Arrays | None, png: bytes | None = None) -> str:
    """The error/loss figure; ``png``: the one already drawn for ``error_vs_width.png`` (drawn once)."""
    alt = "error and loss vs width"
    fig = _img_png(png, alt, CURVES_CAPTION) if png else _figure_or_note(lambda: F.curves_figure(board, arrays), alt,
                                                                          CURVES_CAPTION)
    return "\n".join(['<h2 id="curves">Error and loss vs width</h2>', fig])


PROBES_CAPTION = ("The probes' declared measures, one panel each, mean over seeds; band = pointwise interval (t over "
                  "seeds, or the probe's own standard error for one seed); dashed: each group's k* (in the group's "
                  "colour); x: cells whose probe failed or gave NaN.")


def figures_html(board: Leaderboard, probes_png: bytes | None = None) -> str:
    """The probe measures (``probes_png``: the figure already drawn for ``probes_vs_width.png``, the same
    panels; drawn here only without it) and the epoch-wise curves."""
    out = []
    if F.measure_keys(board):
        out.append('<h2 id="probes">Probe measures vs width</h2>')
        alt = "probe measures vs width"
        out.append(_img_png(probes_png, alt, PROBES_CAPTION) if probes_png else
                   _figure_or_note(lambda: F.probes_figure(board), alt, PROBES_CAPTION))
    if F.has_epoch_curves(board):
        out.append('<h2 id="epochs">Epoch-wise curves</h2>')
        out.append(_figure_or_note(lambda: F.epochs_figure(board), "epoch-wise curves",
                                   "Test error and loss at the recorded epochs, one line per width (colour), "
                                   "mean over seeds."))
    return "\n".join(out)


# --------------------------------------------------------------------------- failures and provenance


def _bad_probes(board: Leaderboard) -> list[tuple[Any, str, str]]:
    """(row, probe, status) of every probe that failed or gave NaN on a cell."""
    return [(r, k[: -len(".status")], v) for r in board.rows for k, v in r.probes.items()
            if k.endswith(".status") and v not in (None, "ok")]


def failures_html(board: Leaderboard) -> str:
    out = []
    cells = unfinished_section(board)
    if cells is not None:
        out.append(f'<h2 id="failures" class="failed">Cells not finished: {esc(cells.lines[0])}</h2>')
        out.append(table_html(cells.table))
    bad = _bad_probes(board)
    if bad:
        counts = Counter(v for _, _, v in bad)
        out.append(f'<h2 id="failed-probes" class="failed">Failed or NaN probes: {esc(fmt_counts(counts))}</h2>')
        rows = [[r.key, str(r.width), f"{r.noise_rate:g}", str(r.seed), probe, str(status)] for r, probe, status in bad]
        out.append(table_html(Table(["cell", "width", "p", "seed", "probe", "status"], rows, numeric=(1, 2, 3))))
    return "\n".join(out)


def provenance_html(board: Leaderboard) -> str:
    s = board.summary
    pairs = [
        ("ddbench", board.ddbench_version), ("schema", board.schema_version), ("created", board.created),
        ("spec", f"{board.spec_name} (hash {board.spec_hash})"), ("backend", board.backend), ("device", board.device),
        ("versions", ", ".join(f"{k} {v}" for k, v in board.versions.items())),
        ("trainer", s.get("trainer")), ("executor", s.get("executor")), ("precision", s.get("precision")),
        ("distribution", s.get("distribution")), ("engine", s.get("engine")),
        ("wall time", f"{fmt_num(s['wall_seconds'])} s" if isinstance(s.get("wall_seconds"), (int, float)) else None),
        ("cells", fmt_counts(_status_counts(board))),
        *[("grid refined", fmt_refinement(step)) for step in board.refinements],
        ("analysis", board.analysis),
        ("plugins", "; ".join(f"{kind}: " + ", ".join(f"{n} v{v}" for n, v in d.items()) for kind, d in board.plugins.items())),
        ("data fingerprints", board.data_fingerprints),
        ("content hash", _value(board, "content_hash")),
    ]
    spec = json.dumps(board.spec, indent=1, default=str)
    return (f'<h2 id="provenance">Provenance</h2>{_kv(pairs)}'
            f"<details><summary>resolved spec</summary><pre>{esc(spec)}</pre></details>")


def tables_html(board: Leaderboard) -> str:
    parts = [section_html(s) for s in curve_sections(board)]
    scores = scores_section(board)
    if scores is not None:
        parts.append(section_html(scores))
    return ('<h2 id="tables">Tables</h2><details><summary>per-width means (± sd over seeds) and probe scores'
            "</summary>" + "\n".join(parts) + "</details>")


def header_html(board: Leaderboard) -> str:
    spec = board.spec or {}
    ds = spec.get("dataset") or {}
    model = spec.get("model") or {}
    counts = _status_counts(board)
    parts = [f"{model.get('family', '?')} on {ds.get('name', '?')}",
             f"noise rates {(ds.get('noise') or {}).get('rates', '?')}",
             f"{len(spec.get('seeds') or [])} seed(s)", f"cells: {fmt_counts(counts)}",
             f"{board.backend} on {board.device}"]
    failed = counts.get("failed", 0) + counts.get("diverged", 0)
    warn = f' <a class="failed" href="#failures">{failed} cell(s) failed or diverged</a>' if failed else ""
    bad_probes = len(_bad_probes(board))
    warn += f' <a class="failed" href="#failed-probes">{bad_probes} probe(s) failed or NaN</a>' if bad_probes else ""
    desc = f'<p class="sub">{esc(spec.get("description"))}</p>' if spec.get("description") else ""
    return (f"<h1>ddbench: {esc(board.spec_name)}</h1>{desc}<p class=\"sub\">{esc(' · '.join(parts))}{warn}</p>"
            f'<p class="sub">spec hash {esc(board.spec_hash)} · created {esc(board.created)} · '
            f'<a href="#glance">verdicts</a> · <a href="#curves">curves</a> · <a href="#verdicts">claims</a> · '
            f'<a href="#probes">probes</a> · <a href="#provenance">provenance</a></p>')


def render_html(board: Leaderboard, *, arrays: Arrays | None = None, curves_png: bytes | None = None,
                probes_png: bytes | None = None) -> str:
    """The page. ``arrays`` (a run store's ``arrays``) gives test-point bands for one or two seeds;
    ``curves_png`` and ``probes_png`` are the error/loss and probe figures if they are already drawn."""
    body = "\n".join([header_html(board), glance_html(board), curves_html(board, arrays, curves_png), verdicts_html(board),
                      figures_html(board, probes_png), failures_html(board), tables_html(board), provenance_html(board)])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>ddbench: {esc(board.spec_name)}</title><style>{CSS}</style></head>"
            f"<body><main>\n{body}\n</main></body></html>\n")


def write_html(board: Leaderboard, path: str | Path, *, arrays: Arrays | None = None,
               curves_png: bytes | None = None, probes_png: bytes | None = None) -> Path:
    """Write the page atomically (:func:`ddbench.atomic.write_text`: a unique temporary name, then a rename,
    so a link planted at the page's path, or at a temporary name, is never written through)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, render_html(board, arrays=arrays, curves_png=curves_png, probes_png=probes_png))
    return path
