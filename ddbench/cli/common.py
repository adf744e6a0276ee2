"""What every command shares: the two consoles, the one way to fail, spec loading with ``-s`` and
``--smoke``, backend selection. Commands print through ``common.console`` / ``common.err`` (looked up
at call time, so a test can swap them)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any, List, NoReturn, Optional

import typer
from rich.console import Console, RenderHook
from rich.markup import escape
from rich.segment import Segment

from ..safetext import terminal


class _Inert:
    """A renderable whose text segments show control characters as escapes; the console's own
    control segments (cursor moves of a live display) and styles pass unchanged."""

    def __init__(self, renderable: Any):
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: Any) -> Any:
        for seg in console.render(self.renderable, options):
            yield seg if seg.control else Segment(terminal(seg.text), seg.style)

    def __rich_measure__(self, console: Console, options: Any) -> Any:
        from rich.measure import Measurement

        return Measurement.get(console, options, self.renderable)


class InertText(RenderHook):
    """Every string a console prints reaches the terminal as text: whatever a leaderboard, a spec, a
    plugin's message or a traceback holds, no escape sequence of it (colours, screen clearing,
    hyperlinks, cursor moves) is sent (:func:`ddbench.safetext.terminal`)."""

    def process_renderables(self, renderables: list[Any]) -> list[Any]:
        return [_Inert(r) for r in renderables]


def make_console(**options: Any) -> Console:
    """A console whose output is inert text (:class:`InertText`)."""
    out = Console(**options)
    out.push_render_hook(InertText())
    return out


console = make_console(soft_wrap=True)
err = make_console(stderr=True, soft_wrap=True)

SET_HELP = "Override a spec field: -s training.epochs=50 (repeatable; the value is YAML, validated like the file)."
SMOKE_HELP = ("Quick end-to-end check: at most 3 widths <= 16, 2 epochs, 512 train/test points, one seed; "
              "writes to <run dir>-smoke.")


class Kind(str, Enum):
    """What ``ddbench list`` takes: the plugin kinds, and the recipes ddbench ships (``plugin test --kind``
    checks the four spec plugin kinds only)."""

    datasets = "datasets"
    families = "families"
    probes = "probes"
    hypotheses = "hypotheses"
    trainers = "trainers"
    executors = "executors"
    recipes = "recipes"


def text(message: object) -> str:
    """A message that may quote a file, a spec or a plugin, as terminal text: never markup, never a
    control sequence (:func:`ddbench.safetext.terminal`); print it with ``markup=False``, or escape it."""
    return terminal(message)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(text(message))}", highlight=False)
    raise typer.Exit(code)


def warn(message: object, indent: str = "") -> None:
    """A warning line on stderr; the message is text, never markup."""
    err.print(f"{indent}[yellow]warning:[/] {escape(text(message))}", highlight=False)


def spec_path(arg: Path) -> Path:
    """A spec argument as a file: the path when it exists or is not a bare name, else the recipe of that
    name (``ddbench run quickstart``); an unknown name exits 2 with the recipes and a "did you mean"."""
    from ..catalog import RECIPES, resolve

    return resolve(RECIPES, arg)


def board_path(arg: Path) -> Path:
    """A leaderboard argument as a file: the path, or the published leaderboard of that name."""
    from ..catalog import BOARDS, resolve

    return resolve(BOARDS, arg)


def load_spec(path: Path, overrides: Optional[List[str]] = None, smoke: bool = False, output: Optional[Path] = None,
              allow_large: bool = False) -> Any:
    """The spec (a file, or a recipe by name) with ``-s`` overrides applied (and cut down by ``--smoke``);
    exit 2 on any problem."""
    from ..spec.overrides import OverrideError, load_spec_with, smoke_spec
    from ..spec.validate import SpecError

    try:
        spec = load_spec_with(spec_path(path), overrides or [], allow_large=allow_large)
    except SpecError as exc:
        err.print(text(exc), highlight=False, markup=False)
        raise typer.Exit(2)
    except OverrideError as exc:
        fail(str(exc), 2)
    return smoke_spec(spec, output) if smoke else spec


def select_backend(name: Optional[str]) -> None:
    from ..backend import BackendError, select

    try:
        select(name)
    except BackendError as exc:
        fail(str(exc))
