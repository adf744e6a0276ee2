"""Leaderboard files in and out: the one writer, and a reader that refuses anything that is not a leaderboard.

:func:`write_leaderboard` is the only writer of leaderboard files: atomically, with the content
hash (:func:`.schema.content_hash`) stamped over exactly the JSON it writes. :func:`read_leaderboard`
reads one without checking its hashes (:func:`.integrity.load_leaderboard` checks them).

A file a user hands over is refused in one line that says why: not a file, too large (more than
:data:`MAX_BYTES`, ``DDBENCH_MAX_LEADERBOARD_MB`` to change), binary (an image, NUL bytes), not
UTF-8 (with the byte offset), not JSON (with line and column), JSON of another shape (a list,
``null``, a string), nested deeper than :data:`MAX_DEPTH`, no or an unreadable ``schema_version``,
or fields that do not fit the schema (the first one named).

Memory: the size is checked before reading; the file is read once in 1 MiB blocks and decoded as
it streams (binary and bad UTF-8 are refused at the block where they occur), so the peak is the
text once plus the parsed JSON, which is dropped as soon as the :class:`Leaderboard` is built.
"""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path
from typing import Any

from ..atomic import write_text
from ..errors import UserError
from . import SCHEMA_VERSION
from .schema import Leaderboard, LeaderboardError, board_data, content_hash

MAX_BYTES = 256 * 2**20
MAX_DEPTH = 64
_BLOCK = 2**20
_MAGIC = {b"\x89PNG": "a PNG image", b"%PDF": "a PDF document", b"PK\x03\x04": "a zip archive",
          b"\x1f\x8b": "a gzip archive", b"SQLite format 3": "a SQLite database", b"GIF8": "a GIF image",
          b"\xff\xd8\xff": "a JPEG image"}


class LeaderboardFileError(LeaderboardError, UserError):
    """A file that is not a readable ddbench leaderboard (exit code 2)."""

    def __init__(self, message: str):
        UserError.__init__(self, message)


def max_bytes() -> int:
    env = os.environ.get("DDBENCH_MAX_LEADERBOARD_MB")
    try:
        return int(float(env) * 2**20) if env else MAX_BYTES
    except ValueError:
        return MAX_BYTES


def _read_text(path: Path) -> str:
    try:
        if not path.exists():
            raise LeaderboardFileError(f"{path}: no such file")
        if path.is_dir():
            raise LeaderboardFileError(f"{path}: is a directory; give a leaderboard.json file")
        size, limit = path.stat().st_size, max_bytes()
        if size > limit:
            raise LeaderboardFileError(f"{path}: {size} bytes is too large for a leaderboard (at most {limit}; "
                                       "set DDBENCH_MAX_LEADERBOARD_MB to raise the limit)")
        decoder = codecs.getincrementaldecoder("utf-8")()
        parts: list[str] = []
        offset = 0
        with path.open("rb") as fh:
            while True:
                block = fh.read(_BLOCK)
                if offset == 0:
                    if block[:2] in (b"\xff\xfe", b"\xfe\xff"):
                        raise LeaderboardFileError(f"{path}: is UTF-16 text, not UTF-8; not a ddbench leaderboard")
                    for magic, what in _MAGIC.items():
                        if block.startswith(magic):
                            raise LeaderboardFileError(f"{path}: is {what}, not a ddbench leaderboard (JSON)")
                if b"\x00" in block:
                    raise LeaderboardFileError(f"{path}: is a binary file (NUL bytes), not a ddbench leaderboard (JSON)")
                try:
                    parts.append(decoder.decode(block, final=not block))
                except UnicodeDecodeError as exc:
                    raise LeaderboardFileError(f"{path}: is not UTF-8 text (byte {offset + exc.start}), "
                                               "not a ddbench leaderboard") from None
                if not block:
                    break
                offset += len(block)
                if offset > limit:
                    raise LeaderboardFileError(f"{path}: too large for a leaderboard (more than {limit} bytes)")
    except OSError as exc:
        raise LeaderboardFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    text = "".join(parts)
    return text.removeprefix("\ufeff")


def _depth_over(data: Any, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            if d > limit:
                return True
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return False


def _kind(data: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(data), type(data).__name__)


def parse_leaderboard(text: str, source: str) -> Leaderboard:
    try:
        data = json.loads(text)
    except RecursionError:
        raise LeaderboardFileError(f"{source}: nested too deeply (a leaderboard has at most {MAX_DEPTH} levels)") from None
    except json.JSONDecodeError as exc:
        raise LeaderboardFileError(f"{source}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except ValueError as exc:  # e.g. a number too long to convert
        raise LeaderboardFileError(f"{source}: not a ddbench leaderboard ({exc})") from None
    del text
    if not isinstance(data, dict):
        raise LeaderboardFileError(f"{source}: is JSON but not a ddbench leaderboard: the top level is {_kind(data)}, "
                                   "not an object with schema_version, spec_hash, rows and verdicts")
    if _depth_over(data, MAX_DEPTH):
        raise LeaderboardFileError(f"{source}: nested more than {MAX_DEPTH} levels deep; not a ddbench leaderboard")
    if "schema_version" not in data:
        raise LeaderboardFileError(f"{source}: is JSON but not a ddbench leaderboard (no schema_version)")
    version = data["schema_version"]
    if not isinstance(version, str) or version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise LeaderboardFileError(f"{source}: schema_version {version!r} is not readable by this ddbench "
                                   f"(reads {SCHEMA_VERSION.split('.')[0]}.x)")
    from pydantic import ValidationError

    try:
        return Leaderboard.model_validate(data)
    except ValidationError as err:
        from ..spec.problems import format_loc

        errors = err.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise LeaderboardFileError(f"{source}: not a ddbench leaderboard: {format_loc(tuple(first['loc'])) or '<top>'}: "
                                   f"{first['msg']}{more}") from None


def read_leaderboard_file(path: str | Path) -> Leaderboard:
    """Read ``path`` as a leaderboard or raise :class:`LeaderboardFileError` (a :class:`LeaderboardError`
    and a :class:`~ddbench.errors.UserError`) saying in one line why it is not one."""
    path = Path(path)
    return parse_leaderboard(_read_text(path), str(path))


def read_leaderboard(path: str | Path) -> Leaderboard:
    """Read a leaderboard file (refusing, in one line, anything that is not one: :func:`read_leaderboard_file`)
    without checking its hashes (:func:`.integrity.load_leaderboard` checks them)."""
    return read_leaderboard_file(path)


def write_leaderboard(board: Leaderboard, path: str | Path) -> None:
    """Write ``board`` atomically, with its content hash stamped over exactly what is written."""
    data = board_data(board)
    data["content_hash"] = board.content_hash = content_hash(data)
    write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
