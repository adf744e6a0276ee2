"""A plugin package on disk: its name checked, its files rendered from the kind's templates, written
all at once into a directory that did not exist.

The package of plugin ``NAME`` is ``ddbench-NAME`` (underscores become hyphens), its module
``ddbench_NAME``, its class ``NAME`` in CamelCase plus the kind (``blobs`` -> ``BlobsDataset``).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import EXIT_INPUT, UserError
from .kinds import KINDS, RESERVED, Kind
from .templates import common

NAME_RE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
MAX_NAME = 40
PLACEHOLDER = re.compile(r"__([A-Z]+(?:_[A-Z]+)*)__")


@dataclass(frozen=True)
class Scaffold:
    """A package ready to be written: its kind, plugin name, directory and files (relative path -> text)."""

    kind: Kind
    name: str
    directory: Path
    files: dict[str, str]
    values: dict[str, str]  # what the placeholders were filled with (MODULE, CLASS, DIST, GROUP, ...)


def resolve_kind(text: str) -> Kind:
    """A kind by its singular (``probe``) or plural (``probes``, as ``ddbench list``) name."""
    key = text.strip().lower()
    for kind in KINDS.values():
        if key in (kind.name, kind.plural):
            return kind
    raise UserError(f"unknown plugin kind {text!r}; allowed: {', '.join(KINDS)}", EXIT_INPUT)


def check_name(name: str) -> None:
    """A plugin name is lowercase words joined by single underscores (a Python name, an entry-point name)."""
    if len(name) > MAX_NAME or not NAME_RE.fullmatch(name):
        raise UserError(f"plugin name {name!r} is not allowed: use lowercase letters, digits and single "
                        f"underscores, starting with a letter, at most {MAX_NAME} characters (e.g. my_probe)",
                        EXIT_INPUT)


def render(text: str, values: dict[str, str]) -> str:
    """``text`` with every ``__PLACEHOLDER__`` filled; an unknown placeholder is a bug in a template."""

    def fill(match: re.Match[str]) -> str:
        try:
            return values[match.group(1)]
        except KeyError:
            raise ValueError(f"scaffold template has an unknown placeholder {match.group(0)}") from None

    return PLACEHOLDER.sub(fill, text)


def placeholder_values(kind: Kind, name: str) -> dict[str, str]:
    names = {"NAME": name, "MODULE": f"ddbench_{name}", "DIST": "ddbench-" + name.replace("_", "-"),
             "CLASS": "".join(part.capitalize() for part in name.split("_")) + kind.suffix,
             "KIND": kind.name, "KINDS": kind.plural, "GROUP": kind.group, "DDBENCH_VERSION": __version__}
    texts = {"SUMMARY": kind.summary, "PLUGIN_NOTE": kind.plugin_note, "TEST_SUMMARY": kind.test_summary,
             "CHECK_LINES": kind.check_lines, "USAGE": kind.usage}
    return {**names, **{key: render(text, names) for key, text in texts.items()}}


def prepare(kind: str, name: str, directory: str | Path | None = None) -> Scaffold:
    """Check the kind, the name and the directory (default ``./ddbench-NAME``, which must not exist) and
    render the files. Nothing is written, and no plugin is loaded."""
    k = resolve_kind(kind)
    check_name(name)
    values = placeholder_values(k, name)
    dest = Path(directory) if directory is not None else Path(values["DIST"])
    if dest.exists() or dest.is_symlink():
        raise UserError(f"{dest} already exists; plugin new writes a new directory (choose another --dir), "
                        "nothing was written", EXIT_INPUT)
    files = {
        "pyproject.toml": render(common.PYPROJECT, values),
        "README.md": render(common.README, values),
        ".gitignore": common.GITIGNORE,
        f"src/{values['MODULE']}/__init__.py": render(k.source, values),
        f"tests/test_{name}.py": render(k.test, values),
    }
    return Scaffold(k, name, dest, files, values)


def taken_by(kind: Kind, name: str) -> str | None:
    """What already answers to ``name`` among the installed plugins of ``kind`` (a plugin's module, or a name
    ddbench keeps), None if the name is free. Loads that kind's plugins: Keras for most kinds, so choose the
    backend first (``ddbench.backend.select``)."""
    from .. import registry

    if name in RESERVED.get(kind.name, ()):
        return "ddbench, which keeps this name"
    reg = registry.KINDS[kind.plural]
    return reg.origin(name) if name in reg else None


def refuse_taken(scaffold: Scaffold) -> None:
    """An installed plugin of the same kind and name would hide the new one's entry point: refuse it."""
    origin = taken_by(scaffold.kind, scaffold.name)
    if origin is not None:
        raise UserError(f"a {scaffold.kind.name} named {scaffold.name!r} is already installed (from {origin}); "
                        "choose another name", EXIT_INPUT)


def write(scaffold: Scaffold) -> Path:
    """Write the package: into a hidden directory beside the destination, renamed onto it when complete,
    so a failure leaves nothing behind."""
    dest = scaffold.directory
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    tmp.mkdir()
    try:
        for rel, text in scaffold.files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        if dest.exists() or dest.is_symlink():  # appeared meanwhile: never replace it
            raise UserError(f"{dest} already exists; nothing was written", EXIT_INPUT)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def new_plugin(kind: str, name: str, directory: str | Path | None = None) -> Path:
    """``ddbench plugin new KIND NAME [--dir DIR]`` from Python: the package's directory."""
    scaffold = prepare(kind, name, directory)
    refuse_taken(scaffold)
    return write(scaffold)
