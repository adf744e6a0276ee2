"""Integrity of a leaderboard file: its spec hash and its content hash.

A leaderboard is cited and compared, so ``leaderboard show`` and ``leaderboard compare``
refuse one that was edited after ddbench wrote it:

- ``spec_hash`` must be the hash of the resolved spec it carries, recomputed with the
  spec model's own hashing (:meth:`ddbench.spec.model.Spec.spec_hash`); an edited spec whose
  hash was left alone, or a hash replaced by another, is refused;
- ``content_hash`` is ``sha256:`` + the SHA-256 of the canonical JSON (sorted keys, no
  whitespace, floats as Python writes them) of every other field of the file: rows,
  verdicts, provenance, spec (:func:`.schema.content_hash`). It is stamped by
  :func:`.io.write_leaderboard` over exactly the data it writes, so an edited number or
  verdict is refused too.

These hashes catch edits, not forgeries: anyone may recompute them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import __version__
from .io import read_leaderboard
from .schema import Leaderboard, LeaderboardError, board_data, content_hash


class IntegrityError(LeaderboardError):
    """A leaderboard whose hashes do not match what it carries; the message is one line."""


def recomputed_spec_hash(spec: Any) -> str:
    """The spec hash of a resolved spec, or :class:`ValueError` with the first reason it is not a spec."""
    from pydantic import ValidationError

    from ..spec.model import Spec

    try:
        return Spec.model_validate(spec).spec_hash()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "spec"
        raise ValueError(f"{where}: {first.get('msg', 'invalid')}") from None


def _check_spec(spec: Any, claimed: Any, where: Any, written_by: Any) -> None:
    try:
        actual = recomputed_spec_hash(spec)
    except ValueError as exc:
        raise IntegrityError(
            f"{where}: refused: its resolved spec is not a valid spec for ddbench {__version__} ({exc}; "
            f"written by ddbench {written_by or '?'})"
        ) from None
    if claimed != actual:
        raise IntegrityError(
            f"{where}: refused: spec_hash {claimed} does not match its resolved spec, which hashes to {actual} "
            f"(the spec or its hash was edited after ddbench {written_by or '?'} wrote it)"
        )


def _check_content(stored: Any, actual: str, where: Any) -> None:
    if not stored:
        raise IntegrityError(
            f"{where}: refused: no content_hash (written before content hashes, or removed); "
            f"write it again with `ddbench analyse` on its run"
        )
    if stored != actual:
        raise IntegrityError(
            f"{where}: refused: content_hash does not match its contents "
            f"(a row, a verdict or another field was edited after it was written)"
        )


def check_integrity(data: dict[str, Any], where: str | Path = "<leaderboard>") -> None:
    """Raise :class:`IntegrityError` unless both hashes of leaderboard JSON ``data`` match what it carries."""
    _check_spec(data.get("spec"), data.get("spec_hash"), where, data.get("ddbench_version"))
    _check_content(data.get("content_hash"), content_hash(data), where)


def check_board(board: Leaderboard, where: str | Path = "<leaderboard>") -> None:
    """:func:`check_integrity` for a board already read: its content hash is the one computed over the
    data it was validated from (:attr:`.schema.Leaderboard.read_hash`), so any reader will do."""
    _check_spec(board.spec, board.spec_hash, where, board.ddbench_version)
    _check_content(board.content_hash, board.read_hash or content_hash(board_data(board)), where)


def load_leaderboard(path: str | Path) -> Leaderboard:
    """Read a leaderboard file and check both of its hashes: what ``show`` and ``compare`` read."""
    board = read_leaderboard(path)  # the one reading call (a safer reader can replace it)
    check_board(board, path)
    return board
