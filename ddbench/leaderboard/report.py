"""Write a run's figures and its HTML report (``ddbench run`` and ``ddbench report RUN``).

Files next to ``leaderboard.json``: ``error_vs_width.png`` (error and loss vs width),
``probes_vs_width.png`` (the probes' declared measures), ``leaderboard.html``. The
per-point arrays of the run store, when there is one, give the test-point bands;
a figure that cannot be drawn is a warning, never a lost result.
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import atomic
from . import figures as F
from .html import write_html
from .intervals import Arrays
from .schema import Leaderboard

HTML_NAME = "leaderboard.html"


@contextmanager
def store_arrays(run_dir: str | Path) -> Iterator[Arrays | None]:
    """The run store's per-cell arrays (None when ``run_dir`` holds no store)."""
    from ..store.run_store import DB_NAME, RunStore

    if not (Path(run_dir) / DB_NAME).exists():
        yield None
        return
    store = RunStore.open_existing(run_dir)
    try:
        yield store.arrays
    finally:
        store.close()


def write_report(board: Leaderboard, run_dir: str | Path, *, html_path: str | Path | None = None,
                 pngs: bool = True) -> dict[str, Path]:
    """Write the PNG figures (``pngs``) and the HTML page; return the paths written."""
    run_dir = Path(run_dir)
    out: dict[str, Path] = {}
    drawn: dict[str, bytes] = {}  # PNGs already drawn; the page shows the same bytes (each figure drawn once)
    with store_arrays(run_dir) as arrays:
        if pngs:
            drawers = (("error_vs_width.png", lambda: F.curves_figure(board, arrays)),
                       ("probes_vs_width.png", lambda: F.probes_figure(board)))
            for name, draw in drawers:
                try:
                    fig = draw()
                    if fig is not None:
                        png = F.to_png(fig, dpi=110)
                        atomic.write_bytes(run_dir / name, png)
                        out[name] = run_dir / name
                        drawn[name] = png
                except Exception:  # noqa: BLE001 - a figure must never cost the results
                    warnings.warn(f"could not draw {run_dir / name}: {traceback.format_exc(limit=2)}")
        try:
            out["html"] = write_html(board, html_path or run_dir / HTML_NAME, arrays=arrays,
                                     curves_png=drawn.get("error_vs_width.png"),
                                     probes_png=drawn.get("probes_vs_width.png"))
        except Exception:  # noqa: BLE001 - nor the page
            warnings.warn(f"could not write {html_path or run_dir / HTML_NAME}: {traceback.format_exc(limit=2)}")
    return out
