"""Optional TensorBoard logs of every cell's curves (``ddbench run --tensorboard DIR``).

Off by default. After a run (training resumed or not) every done or diverged cell of the run
directory gets one TensorBoard run, ``DIR/<p>/<width and grid>/seed<seed>``, with a scalar per
recorded metric (``train_loss``, ``test_error``, ...) at each recorded epoch. The event files are
written here directly (TFRecord framing of ``Event`` protocol buffers with ``simple_value``
scalars, the format TensorBoard reads), so logging needs neither TensorFlow nor the
``tensorboard`` package and works under every Keras backend. Open with
``tensorboard --logdir DIR``. Writing again replaces a cell's events file, so a grown grid or a
re-run never duplicates points.
"""

from __future__ import annotations

import math
import shutil
import socket
import struct
import time
from pathlib import Path

from .. import atomic


def cell_logdir(root: Path, descriptor: dict) -> Path:
    grid = "".join(f"_{k}{v}" for k, v in sorted((descriptor.get("grid") or {}).items()))
    return (root / f"p{descriptor['noise_rate']:g}" / f"w{descriptor['width']:05d}{grid}"
            / f"noise{descriptor['noise_seed']}_seed{descriptor['seed']}")


# --------------------------------------------------------------------------- the event-file format


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1  # Castagnoli, reflected
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked_crc(data: bytes) -> bytes:
    c = crc32c(data)
    return struct.pack("<I", (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire: int, payload: bytes) -> bytes:
    key = _varint((number << 3) | wire)
    return key + (_varint(len(payload)) + payload if wire == 2 else payload)


def event(wall_time: float, step: int = 0, *, file_version: str | None = None,
          scalar: tuple[str, float] | None = None) -> bytes:
    """One serialized ``tensorflow.Event``: wall_time (1), step (2), file_version (3) or a summary (5)
    holding one ``Summary.Value`` with tag (1) and simple_value (2)."""
    out = _field(1, 1, struct.pack("<d", wall_time)) + _field(2, 0, _varint(step))
    if file_version is not None:
        out += _field(3, 2, file_version.encode())
    if scalar is not None:
        tag, value = scalar
        val = _field(1, 2, tag.encode()) + _field(2, 5, struct.pack("<f", value))
        out += _field(5, 2, _field(1, 2, val))
    return out


def record(data: bytes) -> bytes:
    """TFRecord framing: length, its masked CRC-32C, the data, its masked CRC-32C."""
    length = struct.pack("<Q", len(data))
    return length + _masked_crc(length) + data + _masked_crc(data)


def write_events(where: Path, scalars: list[tuple[str, int, float]]) -> Path:
    """An events file in ``where`` with ``(tag, step, value)`` scalars; returns its path."""
    where.mkdir(parents=True, exist_ok=True)
    now = time.time()
    path = where / f"events.out.tfevents.{int(now)}.{socket.gethostname()}"
    blob = record(event(now, file_version="brain.Event:2"))
    blob += b"".join(record(event(now, step, scalar=(tag, value))) for tag, step, value in scalars)
    atomic.write_bytes(path, blob)  # replaced by a rename: never written through a planted link
    return path


def write_tensorboard(run_dir: str | Path, logdir: str | Path) -> int:
    """Write every finished cell's curves of ``run_dir`` under ``logdir``; return how many cells."""
    from .run_store import RunStore

    root = Path(logdir)
    store = RunStore.open_existing(run_dir)
    try:
        records = [r for r in store.records() if r.status in ("done", "diverged") and r.curves.get("epoch")]
    finally:
        store.close()
    for r in records:
        where = cell_logdir(root, r.descriptor)
        if where.exists():
            shutil.rmtree(where)
        epochs = r.curves["epoch"]
        points = [(metric, int(epoch), float(value)) for metric, values in sorted(r.curves.items()) if metric != "epoch"
                  for epoch, value in zip(epochs, values) if value is not None and math.isfinite(float(value))]
        write_events(where, points)
    return len(records)
