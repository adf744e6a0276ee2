"""Strings that others wrote (a leaderboard, a spec, a plugin), made inert for each output.

A published leaderboard, a shared spec and a third-party plugin are untrusted: every string read
from them is shown as *text*, never as live markup or as a terminal command. One function per
output:

* :func:`terminal`: control characters (C0 and C1, DEL, bidirectional overrides) are shown as
  escapes (``\\x1b``, ``\\u202e``), so no string clears the screen, sets colours, plants a
  hyperlink (OSC 8) or reorders a line; newlines and tabs stay, unless ``newlines=False``. Rich
  markup is never interpreted from data: views print ``rich.text.Text`` objects, or pass
  ``markup=False``.
* :func:`markdown`: controls escaped and line breaks folded to spaces (no string starts a block or
  a link definition), ``&`` and ``<`` as HTML entities (no raw HTML, no entity, no
  ``<javascript:...>`` autolink), backslashes doubled (no escape of ours is undone) and a ``]``
  that would close a link, an image or a reference (``](``, ``][``, ``]:``) escaped, so the only
  links in a rendered page are the bare ``http(s)`` URLs a renderer may autolink. Brackets that
  link nothing, such as intervals ``[0.03, 0.07]``, stay as they are.

HTML is escaped by :func:`html.escape` where the page is built (``leaderboard/html.py``).
"""

from __future__ import annotations

import re

#: C0 controls but tab and newline, DEL, C1 controls, the bidirectional marks, embeddings, overrides and isolates
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("[\t\n]")
#: what makes a string live in markdown: an HTML tag, entity or autolink, an escape, the end of a link text
_MD_LIVE = re.compile(r"[&<\\]|\](?=[(\[:])")
_MD_INERT = {"&": "&amp;", "<": "&lt;", "\\": "\\\\", "]": "\\]"}


def _escape_control(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: object, *, newlines: bool = True) -> str:
    """``text`` with every control character shown as an escape (``newlines=False``: line breaks and
    tabs too, for a one-line field)."""
    out = _CONTROL.sub(_escape_control, str(text))
    return out if newlines else _LINE_BREAKS.sub(_escape_control, out)


def markdown(text: object) -> str:
    """``text`` as literal markdown text: it renders as itself and never as markup, HTML or a link."""
    out = _LINE_BREAKS.sub(" ", _CONTROL.sub(_escape_control, str(text)))
    return _MD_LIVE.sub(lambda m: _MD_INERT[m.group(0)], out)
