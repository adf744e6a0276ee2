"""The rich progress display of ``ddbench run``: cells done, ETA, current bundle."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from .plan import Bundle, Cell
from .runner import Progress as ProgressEvents


class RichProgress(ProgressEvents):
    def __init__(self, console: Console, enabled: bool = True):
        self.console, self.enabled = console, enabled
        self._bar: Progress | None = None
        self._cells = self._epochs = None

    def start(self, total_cells: int, todo: int) -> None:
        done = total_cells - todo
        self.console.print(f"{total_cells} cells: {done} already finished, {todo} to train", highlight=False)
        if not self.enabled or not todo:
            return
        self._bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=self.console, transient=False,
        )
        self._bar.start()
        self._cells = self._bar.add_task("cells", total=todo)
        self._epochs = self._bar.add_task("epochs", total=1, visible=False)

    def bundle_started(self, bundle: Bundle) -> None:
        if self._bar is not None:
            self._bar.update(self._epochs, description=f"epochs {bundle.label}", completed=0, total=None, visible=True)

    def epochs_done(self, bundle: Bundle, epoch: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._epochs, completed=epoch, total=total)

    def cell_finished(self, cell: Cell, status: str, metrics: dict[str, Any]) -> None:
        if self._bar is not None:
            self._bar.advance(self._cells)
        if status != "done":
            self.console.print(f"[red]{status}[/] {cell.label}", highlight=False)

    def message(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
