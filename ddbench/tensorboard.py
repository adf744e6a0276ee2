"""Optional TensorBoard logs of every cell's curves (``ddbench run --tensorboard DIR``).

Off by default. After a run (training resumed or not) every done or diverged cell of the run
directory gets one TensorBoard run, ``DIR/<p>/<width and grid>/seed<seed>``, with a scalar per
recorded metric (``train_loss``, ``test_error``, ...) at each recorded epoch, written with
TensorFlow's own ``tf.summary.write`` with the scalars plugin's metadata (what
``tf.summary.scalar`` writes, without needing the ``tensorboard`` package; TensorFlow is needed,
whatever the Keras backend). Open with
``tensorboard --logdir DIR``. Writing again replaces a cell's events file, so a grown grid or a
re-run never duplicates points.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path


def cell_logdir(root: Path, descriptor: dict) -> Path:
    grid = "".join(f"_{k}{v}" for k, v in sorted((descriptor.get("grid") or {}).items()))
    return (root / f"p{descriptor['noise_rate']:g}" / f"w{descriptor['width']:05d}{grid}"
            / f"noise{descriptor['noise_seed']}_seed{descriptor['seed']}")


def write_tensorboard(run_dir: str | Path, logdir: str | Path) -> int:
    """Write every finished cell's curves of ``run_dir`` under ``logdir``; return how many cells."""
    try:
        import tensorflow as tf
    except ImportError as exc:  # pragma: no cover - tensorflow is a test dependency
        raise RuntimeError("--tensorboard needs tensorflow (pip install 'ddbench[tf]')") from exc
    from tensorflow.core.framework import summary_pb2

    from .store import RunStore

    scalars = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
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
        writer = tf.summary.create_file_writer(str(where))
        with writer.as_default():
            epochs = r.curves["epoch"]
            for metric, values in sorted(r.curves.items()):
                if metric == "epoch":
                    continue
                for epoch, value in zip(epochs, values):
                    if value is not None and math.isfinite(float(value)):
                        tf.summary.write(metric, tf.constant(float(value), tf.float32), step=int(epoch),
                                         metadata=scalars)
        writer.flush()
        writer.close()
    return len(records)
