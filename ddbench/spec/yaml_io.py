"""Strict YAML loading for specs: one clear problem instead of a traceback, a hang or a silent choice.

* the file must be text: UTF-8 (an optional BOM is allowed), no NUL bytes, at most :data:`MAX_BYTES`;
* a key may appear once per mapping, at any level (YAML would silently keep the last one);
* nesting is limited to :data:`MAX_DEPTH` levels (PyYAML's composer recurses: deep input would
  raise ``RecursionError``);
* aliases are allowed, but the document they expand to is limited to :data:`MAX_NODES` nodes, so an
  alias bomb ("billion laughs") is refused at once instead of hanging validation;
* only plain YAML data (SafeLoader): no Python tags.

:func:`load_yaml` returns the data and the composed node tree (for line numbers).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1_000_000
MAX_DEPTH = 40
MAX_NODES = 200_000


@dataclass
class YamlProblem(Exception):
    message: str
    line: int | None = None
    path: str = ""

    def __str__(self) -> str:
        return self.message if self.line is None else f"line {self.line}: {self.message}"


def read_text(path: str | Path, what: str = "spec") -> str:
    """The file's text, or :class:`YamlProblem` saying why it is not a readable text file."""
    path = Path(path)
    try:
        if path.is_dir():
            raise YamlProblem(f"is a directory; give the {what} file")
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise YamlProblem(f"the file has {size} bytes; a {what} may have at most {MAX_BYTES}")
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise YamlProblem(f"cannot read the {what}: {exc.strerror or exc}") from None
    return decode_text(data, what)


def decode_text(data: bytes, what: str = "spec") -> str:
    if len(data) > MAX_BYTES:
        raise YamlProblem(f"the file has more than {MAX_BYTES} bytes; a {what} may have at most {MAX_BYTES}")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise YamlProblem(f"not UTF-8 text: the file is UTF-16; save the {what} as UTF-8")
    if b"\x00" in data[:8192] or data[:8] == b"\x89PNG\r\n\x1a\n":
        raise YamlProblem(f"this is a binary file, not a YAML {what}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise YamlProblem(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} cannot be decoded; "
                          f"save the {what} as UTF-8", line) from None
    if "\x00" in text:
        raise YamlProblem(f"this is a binary file (it contains NUL characters), not a YAML {what}")
    return text


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and deep nesting while composing."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlProblem(f"nested more than {MAX_DEPTH} levels deep; a spec needs far fewer", mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _path(parts: tuple[Any, ...]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else ("." if out else "") + str(p)
    return out


def _check_keys(node: yaml.MappingNode, at: tuple[Any, ...]) -> None:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            raise YamlProblem("a mapping key must be a plain value (a name), not a list or mapping",
                              key_node.start_mark.line + 1, _path(at))
        key = (key_node.tag, key_node.value)
        if key in seen:
            raise YamlProblem(f"duplicate key {key_node.value!r} (first at line {seen[key]}); YAML would silently "
                              "keep only the last one: remove one of them", key_node.start_mark.line + 1,
                              _path(at + (key_node.value,)))
        seen[key] = key_node.start_mark.line + 1


def _walk(root: yaml.Node) -> None:
    """Check keys and count the nodes of the expanded document (aliases counted each time they are used)."""
    count = 0
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, at = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise YamlProblem(f"the document expands to more than {MAX_NODES} values (YAML aliases repeated "
                              "inside each other?); a spec needs far fewer")
        if isinstance(node, yaml.MappingNode):
            _check_keys(node, at)
            for k, v in node.value:
                stack.append((v, at + (k.value,)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((v, at + (i,)) for i, v in enumerate(node.value))


def load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """Parse one YAML document strictly; raise :class:`YamlProblem` (with the line) on anything refused."""
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        _walk(root)
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlProblem(f"not valid YAML: {problem}", line) from None
    except RecursionError:
        raise YamlProblem(f"nested too deeply; a spec needs far fewer than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a 5000-digit number, a date 2024-13-45
        raise YamlProblem(f"a value cannot be read: {exc}") from None
    finally:
        loader.dispose()
    return data, root


def line_map(root: yaml.Node | None) -> dict[tuple[Any, ...], int]:
    """Every YAML path of the composed tree -> its 1-based line (for error messages)."""
    out: dict[tuple[Any, ...], int] = {}
    if root is None:
        return out
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    budget = MAX_NODES
    while stack and budget > 0:
        node, path = stack.pop()
        budget -= 1
        out.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                out[path + (k.value,)] = k.start_mark.line + 1
                stack.append((v, path + (k.value,)))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                stack.append((v, path + (i,)))
    return out
