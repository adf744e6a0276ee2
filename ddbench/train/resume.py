"""Resume mid-bundle: the whole training state of a bundle, saved atomically, loaded on the next run.

An engine exports its state as a list of arrays: the compiled one (trainer ``stateless``) every
lane's weights, optimizer slots and non-trainable variables (see ``export_state`` of the backend's
engine), the ``fit``-based ones (``fit``: one cell at a time, ``packed``: one seed's cells) their
models' and optimizer's variables; with it goes the number of epochs trained, which is also the
position in every seed's sequence of batch orders and (through the optimizer's iteration count)
in the schedule. :class:`BundleCheckpoint` writes them with the curves recorded so far to one
``.npz`` file per bundle, through a temporary file and a rename (:mod:`ddbench.atomic`; a kill leaves the old
file or the new one, never half of one). There is one file per bundle, overwritten in place, so
its size is bounded by one copy of the bundle's state (reported as ``checkpoint_bytes``); it is
removed once the bundle's cells are handed to the store.

The file names the bundle's cell keys and its state layout; a file that does not match (another
bundle, a changed engine layout) is ignored and the bundle trains from epoch 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path, discard, refuse_link
from ..plan import Bundle


def bundle_id(bundle: Bundle) -> str:
    return hashlib.sha256("|".join(sorted(c.key for c in bundle.cells)).encode()).hexdigest()[:16]


class BundleCheckpoint:
    """The resume file of one bundle under ``<work_dir>/resume/``, saved at least every ``minutes``."""

    def __init__(self, work_dir: Path, bundle: Bundle, minutes: float = 10.0):
        self.path = Path(work_dir) / "resume" / f"{bundle_id(bundle)}.npz"
        self.keys = sorted(c.key for c in bundle.cells)
        self.interval = float(minutes) * 60.0
        self.last_save = time.monotonic()
        self.nbytes = 0

    def due(self) -> bool:
        return time.monotonic() - self.last_save >= self.interval

    def epochs_until_due(self, seconds_per_epoch: float | None) -> int:
        """How many epochs fit before the next save is due at ``seconds_per_epoch`` (at least 1; no limit
        while the pace is unknown), so an engine that trains many epochs per call still saves on time."""
        if not seconds_per_epoch or seconds_per_epoch <= 0:
            return 2**31
        left = self.interval - (time.monotonic() - self.last_save)
        return max(1, int(left // seconds_per_epoch))

    def save(self, epoch: int, state: list[np.ndarray], curves: list[dict[str, list[float]]]) -> None:
        """Write the state after ``epoch`` trained epochs (and the curves recorded so far), atomically."""
        refuse_link(self.path.parent, "the resume directory").mkdir(parents=True, exist_ok=True)
        meta = {"keys": self.keys, "epoch": int(epoch), "curves": curves, "layout": _layout(state)}
        with atomic_path(self.path) as tmp, open(tmp, "xb") as f:  # never through a planted link
            np.savez(f, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8),
                     **{f"s{i:05d}": a for i, a in enumerate(state)})
            f.flush()
            os.fsync(f.fileno())
        self.nbytes = self.path.stat().st_size
        self.last_save = time.monotonic()

    def load(self, template: list[np.ndarray]) -> tuple[int, list[np.ndarray], list[dict[str, list[float]]]] | None:
        """``(epoch, state, curves)`` if a checkpoint of this bundle with ``template``'s layout exists."""
        if not self.path.exists():
            return None
        try:
            with np.load(self.path) as z:
                meta = json.loads(z["meta"].tobytes().decode())
                state = [z[f"s{i:05d}"] for i in range(len(template))]
        except Exception:  # noqa: BLE001  an unreadable file is no checkpoint
            return None
        if meta["keys"] != self.keys or meta["layout"] != _layout(template):
            return None
        return meta["epoch"], state, meta["curves"]

    def remove(self) -> None:
        discard(self.path)  # the file, and a save's temporary left by a kill mid-way


def _layout(state: list[Any]) -> list[list[Any]]:
    return [[list(np.shape(a)), str(np.asarray(a).dtype)] for a in state]
