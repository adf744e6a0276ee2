"""The views of :mod:`.summary`: a terminal table, markdown (``leaderboards/README.md``'s claim table is
exactly this output) and a self-contained HTML page whose every verdict links to its report.

Everything a leaderboard carries (names, claims, descriptions, settings) is untrusted text: markdown
escapes it (names go in code spans), HTML escapes it, and the terminal prints it as plain text, never
as markup.
"""

from __future__ import annotations

import html
from typing import Any

from .formatting import fmt_num
from .summary import ClaimRow, Entry

LEGEND = ("the consensus is over the recipes' pooled verdicts: holds everywhere / fails everywhere (every recipe where "
          "the claim applies decides it, the same way), mixed (decided, not the same way on all), undecided "
          "(decided nowhere); not_applicable verdicts are listed, not counted")
HEADERS = ["claim", "what it claims", "verdict per recipe: statistic [CI]", "settings that differ", "consensus"]


def _stat(e: Entry) -> str:
    """The statistic and its interval, 3 significant digits (numbers only: safe in every view)."""
    if e.statistic is None:
        return ""
    return fmt_num(e.statistic, 3) + (f" [{fmt_num(e.ci[0], 3)}, {fmt_num(e.ci[1], 3)}]" if e.ci else "")


def entry_text(e: Entry) -> str:
    """``quickstart: holds 0.0547 [0.0428, 0.0665]``."""
    return f"{e.board}: {e.verdict} {_stat(e)}".rstrip()


def differs_text(row: ClaimRow) -> list[str]:
    """``epochs: 150 / 200 / 300`` per setting that differs (a value may hold commas: noise rates)."""
    return [f"{name}: {' / '.join(values)}" for name, values in row.differs.items()]


# -- markdown ------------------------------------------------------------------------------------------

_MD_SPECIAL = "\\`*_{}[]<>|#!"


def md_text(text: Any) -> str:
    """Untrusted text for a markdown table cell: every character markdown or a table could read escaped."""
    flat = " ".join(str(text).split())
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in flat)


def md_code(text: Any) -> str:
    """Untrusted text as a code span in a table cell (backticks cannot be escaped inside one: dropped)."""
    flat = " ".join(str(text).split()).replace("`", "'").replace("|", "\\|")
    return f"`{flat}`"


def render_markdown(rows: list[ClaimRow]) -> str:
    """The legend, then one table row per claim."""
    out = [f"{LEGEND[0].upper()}{LEGEND[1:]}.", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in rows:  # verdicts are the schema's words and statistics numbers: written as they are
        entries = "<br>".join(f"{md_code(e.board)} **{e.verdict}** {_stat(e)}".rstrip() for e in row.entries)
        differs = "<br>".join(f"{name}: {', '.join(md_code(v) for v in values)}"
                              for name, values in row.differs.items()) or "—"
        out.append(f"| {md_code(row.claim)} | {md_text(row.description)} | {entries} | {differs} | "
                   f"{row.consensus} |")
    return "\n".join(out) + "\n"


# -- HTML ----------------------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:90em}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .5em;vertical-align:top;text-align:left}
.holds{color:#1a7f37}.fails{color:#cf222e}.inconclusive{color:#9a6700}.not_applicable{color:#6e7781}
.consensus{font-weight:bold}ul{margin:0;padding-left:1.1em}"""


def _esc(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _href(address: str) -> str:
    """A relative link, never read as a URL scheme (``javascript:``)."""
    head = address.split("/", 1)[0]
    return _esc(("./" + address) if ":" in head else address)


def render_html(rows: list[ClaimRow], boards: list[str]) -> str:
    """A self-contained page (no script, nothing loaded); each verdict links to its recipe's report."""
    body = []
    for row in rows:
        entries = "".join(f'<li><a href="{_href(e.report)}">{_esc(e.board)}</a>: '
                          f'<span class="{_esc(e.verdict)}">{_esc(e.verdict)}</span> {_esc(_stat(e))}</li>'
                          for e in row.entries)
        differs = "".join(f"<li>{_esc(d)}</li>" for d in differs_text(row))
        first = row.consensus.split(" ")[0]
        body.append(f"<tr><td><code>{_esc(row.claim)}</code></td><td>{_esc(row.description)}</td>"
                    f"<td><ul>{entries}</ul></td><td>{f'<ul>{differs}</ul>' if differs else '—'}</td>"
                    f'<td class="consensus {_esc(first)}">{_esc(row.consensus)}</td></tr>')
    head = "".join(f"<th>{_esc(h)}</th>" for h in HEADERS)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>ddbench: claims across {len(boards)} leaderboards</title><style>{_CSS}</style></head><body>"
            f"<h1>Claims across {len(boards)} leaderboards</h1><p>{_esc(', '.join(boards))}</p>"
            f"<p>{_esc(LEGEND)}. Each verdict links to its recipe's report (<code>ddbench report NAME</code> "
            "writes a published one).</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></body></html>\n")


# -- terminal ------------------------------------------------------------------------------------------

def rich_items(rows: list[ClaimRow], boards: list[str]) -> list[Any]:
    """Renderables for the terminal: plain text cells (never markup), laid out to fit its width."""
    from .document import Section, Table
    from .terminal import sections_to_rich

    table = Table(["claim", "consensus", "verdicts", "differs"],
                  [[row.claim, row.consensus, "; ".join(entry_text(e) for e in row.entries),
                    "; ".join(differs_text(row)) or "—"] for row in rows],
                  colored=(1,), wrap=(2, 3), lead=2)
    lines = [f"{len(rows)} claims over {len(boards)} leaderboards: {', '.join(boards)}", LEGEND]
    return sections_to_rich([Section("Claims across leaderboards", lines, table, level=1)])
