"""The recipes ddbench ships and the leaderboards it publishes, found by name.

``specs/NAME.yaml`` and ``leaderboards/NAME.json`` of the repository are the package data
``ddbench.recipes`` and ``ddbench.published`` (``setup.py`` maps the two directories into the
package: one copy of each file), read with ``importlib.resources`` in a wheel and in an editable
install alike. A source checkout whose install predates the two packages, that is not installed, or
that runs beside an editable install of another checkout reads its own directories beside ``ddbench/``.

Wherever a spec or a leaderboard file is accepted, :func:`resolve` turns a bare name (no directory,
no suffix) into the packaged file: a path that exists always wins, and an unknown name is refused
with the names there are and a "did you mean", or, for a recipe that was renamed, its new name.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import UserError


@dataclass(frozen=True)
class Shelf:
    """One kind of packaged file."""

    package: str  # the package its files are data of
    checkout: str  # the directory of the repository they come from
    suffix: str
    what: str  # how a message names one
    listing: str  # the command that lists them


RECIPES = Shelf("ddbench.recipes", "specs", ".yaml", "recipe", "ddbench list recipes")
BOARDS = Shelf("ddbench.published", "leaderboards", ".json", "published leaderboard", "ddbench leaderboard summary")

#: recipes (and their published leaderboards) that were renamed: old name -> new name. The old
#: names said what the paper trains, not what the CPU recipe trains.
RENAMED = {
    "gamba-cifar10-cnn-cpu": "gamba-mnist1d-mlp-cpu",
    "nakkiran-resnet18-cpu": "nakkiran-mnist1d-cnn5-cpu",
}


def directory(shelf: Shelf) -> Path | None:
    """The directory of the shelf's files, or None when this ddbench has none.

    The package data of this ``ddbench``: inside it (a wheel) or beside it (a checkout, installed in
    editable mode or not). An import of the data package that lands elsewhere (an editable install of
    another checkout, while this one runs from its own directory) is not taken."""
    here = Path(__file__).resolve().parent
    beside = here.parent / shelf.checkout
    try:
        root: Path | None = Path(str(resources.files(shelf.package))).resolve()
    except ModuleNotFoundError:  # a checkout installed before the data packages existed, or not at all
        root = None
    if root is not None and (root.parent == here or root == beside.resolve()):
        return root
    return beside if beside.is_dir() else None


def names(shelf: Shelf) -> list[str]:
    """The names on the shelf, sorted."""
    root = directory(shelf)
    if root is None:
        return []
    return sorted(p.stem for p in root.iterdir() if p.suffix == shelf.suffix and p.is_file())


def find(shelf: Shelf, name: str) -> Path | None:
    """The packaged file called ``name``, or None."""
    root = directory(shelf)
    if root is None or name not in names(shelf):
        return None
    return root / f"{name}{shelf.suffix}"


def is_bare_name(arg: str) -> bool:
    """A name, not a path: no directory part and no suffix."""
    p = Path(arg)
    return bool(arg) and p.name == arg and not p.suffix and not arg.startswith(".") and "\\" not in arg


def unknown(shelf: Shelf, name: str) -> str:
    """The message for a name that is neither a file nor on the shelf."""
    known = names(shelf)
    new = RENAMED.get(name)
    if new is not None and new in known:
        return f"{name!r} is not a {shelf.what} any more: renamed: use {new!r}."
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = (f" The {shelf.what}s: {', '.join(known)} ({shelf.listing})." if known
               else f" This ddbench ships no {shelf.what}s.")
    return f"{name!r} is neither a file nor a {shelf.what}{hint or '.'}{listing}"


def resolve(shelf: Shelf, arg: str | Path) -> Path:
    """``arg`` as a path when it exists or is not a bare name, else the packaged file of that name.

    Raises :class:`~ddbench.errors.UserError` (exit 2) for a bare name that is neither."""
    path = Path(arg)
    if path.exists() or not is_bare_name(str(arg)):
        return path
    found = find(shelf, str(arg))
    if found is None:
        raise UserError(unknown(shelf, str(arg)))
    return found
