"""The engine's throughput model: how many seconds a grid's training takes on a device.

``ddbench plan`` counts a cell's work in floating-point operations and divides it by a sustained
rate of the device it would train on. The work of one cell (:func:`cell_work`):

* training: ``3 x forward FLOPs`` per example (forward, and a backward pass of about twice the
  forward work) for ``epochs x (n_train // batch_size) x batch_size`` examples (the protocol
  trains full batches only; a closed-form family solves once, over ``n_train`` examples);
* evaluation: ``1 x forward FLOPs`` for every training and test point at every recorded epoch.

Forward FLOPs per example come from the built model's layer shapes
(:func:`ddbench.families.flops.forward_flops`: 2 per weight per position, convolutions
separately), or, when no model is built, ``2 x params`` (exact for Dense layers, a lower bound
for convolutions). The time is ``dense FLOPs / dense rate + conv FLOPs / conv rate + bundles x
seconds per bundle`` (building and compiling each bundle's program). Probes are not included.

Every figure of the table below says where it comes from, and whether it was **measured** (by
ddbench's own benchmarks, ``benchmarks/RESULTS.md``) or is **assumed, unmeasured**:

* ``cpu`` (2 shared cores, the machine the project's benchmarks ran on): dense 44 GFLOP/s,
  measured (session 4, ``recipe_wall.py``: the engine's steady training of the quickstart MLPs);
  conv 1.3 GFLOP/s, measured (``sweep_throughput.py``, JAX: training images/s of cnn5 and
  resnet18k at k = 16 on 32x32x3 (11.6 and 7.6 images/s) times their counted FLOPs: 1.0 and
  1.6 GFLOP/s; 0.8-3.1 over k = 1..16); 10 s per bundle, measured (quickstart: 20.4 s of compiling
  for its 2 bundles).
* ``h100`` (one H100 SXM, 80 GB HBM3, 3.35 TB/s): peak 67 TFLOP/s float32, 495 TFLOP/s TF32
  tensor core (dense; NVIDIA's datasheet). Small models sustain a small fraction of that (each
  step is a few tiny kernels, bound by launch latency). Dense 3,760 GFLOP/s, **assumed,
  unmeasured** by ddbench: the team's one H100 data point, a jitted JAX loop training the
  13-width MNIST-1D MLP grid (widths 2..1024, 4000 points, batch 128) at ~90 grid-epochs/s, i.e.
  41.7 GFLOP per grid-epoch x 90 (Keras ``fit`` reached ~5 grid-epochs/s, 0.21 TFLOP/s); the
  engine matches such a loop on CPU (c/b 0.8-1.2), on a GPU that is unmeasured. Conv 10,000
  GFLOP/s, **assumed, unmeasured** (15% of the float32 peak, 2% of TF32's: no GPU convolution
  has been timed). 30 s per bundle, assumed.
* ``h200`` (one H200, 141 GB HBM3e, 4.8 TB/s): the same compute as the H100 (NVIDIA's datasheets
  give the same float32 and TF32 peaks), so the same **assumed** rates; its memory holds larger
  bundles, and its bandwidth (1.43x) may run bandwidth-bound small models faster, which is not
  assumed here.

A measured figure replaces an assumed one through :data:`MEASURED_PATH` (a JSON file beside this
module, written by ``python benchmarks/sweep_throughput.py --record-device KEY`` on that device
and committed with its output in ``benchmarks/RESULTS.md``); ``ddbench plan`` then shows it as
measured, with its source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

#: measured figures that replace the assumed ones (absent until a benchmark recorded one)
MEASURED_PATH = Path(__file__).with_name("throughput.json")
#: the figures a device has: sustained dense and conv GFLOP/s, seconds per bundle
FIGURES = ("dense_gflops", "conv_gflops", "bundle_seconds")
#: training costs about three forward passes (forward, then backward to inputs and to weights)
TRAIN_FACTOR = 3.0
H100_FP32_TFLOPS, H100_TF32_TFLOPS = 67.0, 495.0


@dataclass(frozen=True)
class Figure:
    value: float
    measured: bool
    source: str

    @property
    def status(self) -> str:
        return "measured" if self.measured else "assumed, unmeasured"


@dataclass(frozen=True)
class Device:
    """One device of the table. ``memory_bytes`` None: this machine's memory, asked of the backend."""

    key: str
    label: str
    memory_bytes: int | None
    dense_gflops: Figure
    conv_gflops: Figure
    bundle_seconds: Figure

    @property
    def measured(self) -> bool:
        return all(getattr(self, f).measured for f in FIGURES)

    @property
    def status(self) -> str:
        kinds = {getattr(self, f).status for f in FIGURES}
        return kinds.pop() if len(kinds) == 1 else "partly measured"


_H100_DENSE = Figure(3760.0, False, "assumed, unmeasured: the team's H100 data point, a jitted JAX loop training the "
                     "13-width MNIST-1D MLP grid at ~90 grid-epochs/s (41.7 GFLOP each), 5.6% of the float32 peak")
_GPU_CONV = Figure(10000.0, False, f"assumed, unmeasured: 15% of the H100's {H100_FP32_TFLOPS:g} TFLOP/s float32 peak "
                   f"(2% of TF32's {H100_TF32_TFLOPS:g}); no GPU convolution has been timed")
_GPU_BUNDLE = Figure(30.0, False, "assumed, unmeasured: building and compiling one bundle's program")

DEVICES: dict[str, Device] = {
    "cpu": Device(
        "cpu", "CPU, 2 cores", None,
        Figure(44.0, True, "measured: the engine's steady training of the quickstart MLPs, 2 cores "
               "(benchmarks/RESULTS.md, session 4, recipe_wall.py)"),
        Figure(1.3, True, "measured: training images/s of cnn5 and resnet18k at k = 16 (32x32x3, JAX) x their "
               "counted FLOPs, 1.0 and 1.6 GFLOP/s (benchmarks/RESULTS.md, sweep_throughput.py)"),
        Figure(10.0, True, "measured: 20.4 s of compiling for the quickstart's 2 bundles (benchmarks/RESULTS.md, session 4)"),
    ),
    "h100": Device("h100", "H100 SXM, 80 GB", 80 * 2**30, _H100_DENSE, _GPU_CONV, _GPU_BUNDLE),
    "h200": Device("h200", "H200, 141 GB", 140 * 2**30,
                   replace(_H100_DENSE, source=_H100_DENSE.source + "; the H200 has the H100's compute"),
                   replace(_GPU_CONV, source=_GPU_CONV.source + "; the H200 has the H100's compute"), _GPU_BUNDLE),
}


def read_measured(path: Path = MEASURED_PATH) -> dict[str, dict[str, Any]]:
    """The recorded measurements: ``{device: {figure: {"value": v, "source": s}}}``; {} without a file."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a throughput record ({exc}); delete it or record again") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a throughput record (a JSON object of devices expected)")
    return data


def devices(path: Path = MEASURED_PATH) -> dict[str, Device]:
    """The device table, with every recorded measurement in place of the assumed figure."""
    out = dict(DEVICES)
    for key, figures in read_measured(path).items():
        if key not in out or not isinstance(figures, dict):
            continue
        changes = {}
        for name, rec in figures.items():
            if name in FIGURES and isinstance(rec, dict) and float(rec.get("value", 0)) > 0:
                changes[name] = Figure(float(rec["value"]), True, f"measured: {rec.get('source', '?')}")
        out[key] = replace(out[key], **changes)
    return out


def record(key: str, source: str, path: Path = MEASURED_PATH, **values: float) -> dict[str, Any]:
    """Record measured figures of device ``key`` (``dense_gflops=..., conv_gflops=..., bundle_seconds=...``)
    with their ``source`` (command, date, device); other devices' and figures' records are kept."""
    from ..atomic import write_text

    if key not in DEVICES:
        raise ValueError(f"unknown device {key!r}; allowed: {', '.join(DEVICES)}")
    bad = sorted(set(values) - set(FIGURES))
    if bad:
        raise ValueError(f"unknown figure(s) {bad}; allowed: {', '.join(FIGURES)}")
    data = read_measured(path)
    entry = data.setdefault(key, {})
    for name, value in values.items():
        if value is not None and value > 0:
            entry[name] = {"value": round(float(value), 3), "source": source}
    write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data


def device_key(description: str | None) -> str | None:
    """The table's key of the device a backend describes (``1x NVIDIA H100 80GB HBM3`` -> h100); ``cpu``
    for a CPU; None for an accelerator the table does not know."""
    text = (description or "").lower()
    for key in ("h200", "h100"):
        if key in text:
            return key
    if not text or "gpu" in text or "tpu" in text or "nvidia" in text or "cuda" in text:
        return None
    return "cpu"


@dataclass(frozen=True)
class Work:
    """Floating-point operations to train cells, by kind of layer."""

    dense: float = 0.0
    conv: float = 0.0

    def __add__(self, other: "Work") -> "Work":
        return Work(self.dense + other.dense, self.conv + other.conv)

    @property
    def total(self) -> float:
        return self.dense + self.conv


def cell_work(forward_dense: float, forward_conv: float, *, n_train: int, n_test: int, epochs: int, batch_size: int,
              recorded: int, closed_form: bool = False) -> Work:
    """The FLOPs of one cell: training (3 forward passes per example, full batches) and the evaluation
    of every training and test point at each of the ``recorded`` epochs."""
    trained = n_train if closed_form else epochs * (n_train // batch_size) * batch_size
    passes = TRAIN_FACTOR * trained + recorded * (n_train + n_test)
    return Work(forward_dense * passes, forward_conv * passes)


def seconds(work: Work, n_bundles: int, device: Device) -> float:
    """Estimated seconds of ``work`` in ``n_bundles`` bundles on ``device``."""
    return (work.dense / (device.dense_gflops.value * 1e9) + work.conv / (device.conv_gflops.value * 1e9)
            + n_bundles * device.bundle_seconds.value)
