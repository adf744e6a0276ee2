"""Probes that ran past their time limit and could not be interrupted (stage 2 of :mod:`ddbench.probes.limit`).

Such a probe still runs when the process must end, so it is noted in ``RUN/cells/<key>/stuck_probes.json``
(probe name -> the limit it ran past) before the process exits with code 130, every committed cell
kept. The resumed run retrains the cell in flight and, finding the note, records the probe as failed
(timed out) instead of running it again; with a larger ``time_limit`` in the spec it runs again.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from .. import atomic
from ..errors import EXIT_INTERRUPTED
from ..plan import Cell
from ..safetext import terminal

STUCK_NAME = "stuck_probes.json"
#: the note is a few names; a larger file is not one
_MAX_BYTES = 1 << 16


def _path(run_dir: Path, cell: Cell) -> Path:
    return Path(run_dir) / "cells" / cell.key / STUCK_NAME


def stuck_probes(run_dir: Path, cell: Cell) -> dict[str, float]:
    """Probe name -> the time limit it ran past without returning, on ``cell`` (empty when none did)."""
    try:
        fd = os.open(_path(run_dir, cell), os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return {}
    try:
        data = json.loads(os.read(fd, _MAX_BYTES))
    except ValueError:
        return {}
    finally:
        os.close(fd)
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items()
            if isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)}


def stuck_error(name: str, limit: float) -> str:
    return (f"ProbeTimeout: {name} did not finish within its time limit of {limit:g} s and could not be interrupted; "
            "the run was stopped there and resumed, and the probe is recorded as timed out (raise "
            "probes[].time_limit in the spec to run it again)")


def stop_stuck_run(run_dir: Path, cell: Cell, name: str, limit: float) -> None:
    """Note the stuck probe for the resumed run, say so, and end the process (called from the watchdog thread)."""
    try:
        marks = stuck_probes(run_dir, cell)
        marks[name] = float(limit)
        atomic.write_text(_path(run_dir, cell), json.dumps(marks, sort_keys=True))
        resume = "run the same command again to resume: the probe is recorded as timed out"
    except Exception as exc:  # noqa: BLE001 - the process ends either way
        resume = f"the note for the resumed run could not be written ({exc}); the probe will run again on resume"
    print(terminal(f"\nerror: probe {name} on {cell.label} did not finish within its time limit of {limit:g} s and "
                   f"could not be interrupted; the run stops here (finished cells are saved); {resume}"),
          file=sys.stderr, flush=True)
    os._exit(EXIT_INTERRUPTED)
