"""How fast does a double-descent grid train? Three engines timed side by side, in one run.

  (a) the per-cell ``fit`` loop (ddbench's reference ``FitTrainer``);
  (b) a hand-written jitted JAX reference: the packed grid (all widths in one
      program), one ``lax.scan`` per epoch, one seed at a time, pure JAX (no Keras):
      what a careful researcher writes;
  (b') with several seeds, (b) with the seeds vmapped by hand (the best a researcher
      can do without padding);
  (c) ddbench's engine (``StatelessTrainer``): Keras models, one compiled program
      per bundle, a whole epoch per call, seeds (and, on accelerators, narrow widths
      padded together) as vmapped lanes.

On the MNIST-1D MLP grid (depth 2, batch 128, 4000 training points) it prints
model-epochs/s of each and the ratios c/a and c/b, and each engine's sustained GFLOP/s as a
fraction of this machine's own float32 matmul peak (a large jitted matmul on the same backend,
measured first); then the engine alone on single widths (the widest of the quickstart grid), where
the fraction of peak is highest; then images/s of ``cnn5`` and
``resnet18k`` (k = 4, 16, 64, batch 128, CIFAR-shaped synthetic data) through the
engine, and the projected hours of the Nakkiran et al. ResNet18 sweep (k = 1..64,
4000 epochs of 50k images) from those images/s.

    python benchmarks/sweep_throughput.py            # small CPU grid (5 widths up to 128)
    python benchmarks/sweep_throughput.py --full     # 13 widths 2..1024, 1 and 3 seeds (for a GPU)
    python benchmarks/sweep_throughput.py --smoke    # 2 widths, 1-2 epochs, no images (CI)
    python benchmarks/sweep_throughput.py --full --record-device h100   # and feed the planner (below)

``--record-device KEY`` (cpu, h100, h200: the devices of ``ddbench.engine.throughput``) records what
this run measured as that device's figures, so that ``ddbench plan`` uses them, marked measured with
this command, date and device as their source: the engine's steady dense GFLOP/s (c) on the MLP grid
(the last seed count), the conv GFLOP/s of the image models (training images/s x their counted FLOPs,
the mean over cnn5 and resnet18k at their largest timed k) and the seconds of compiling (and the first
epoch of) the grid's bundle. Commit the file it writes (``ddbench/engine/throughput.json``) with this
output in ``benchmarks/RESULTS.md``.

Runs under ``KERAS_BACKEND=jax`` (set here before Keras is imported). Nothing is
asserted about speed: every number is a measurement of this run, on this device.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

FULL_WIDTHS = [int(v) for v in np.unique(np.round(np.geomspace(2, 1024, 13)).astype(int))]
CPU_WIDTHS = [int(v) for v in np.unique(np.round(np.geomspace(2, 128, 5)).astype(int))]
SMOKE_WIDTHS = [2, 8]
#: the widest widths of specs/quickstart.yaml (geomspace(2, 300, 14))
QUICKSTART_WIDEST = [139, 204, 300]
LR, MOMENTUM, BATCH = 0.05, 0.9, 128
NAKKIRAN = {"k": range(1, 65), "epochs": 4000, "n": 50_000}


# --------------------------------------------------------------------------- shared setup


def mlp_spec(widths: list[int], epochs: int, seeds: list[int], n_train: int):
    from ddbench.spec.model import Spec

    return Spec.model_validate({
        "name": "throughput",
        "dataset": {"name": "mnist1d", "n_train": n_train, "n_test": 1000},
        "model": {"family": "mlp", "config": {"depth": 2}, "widths": widths},
        "training": {"optimizer": {"name": "sgd", "lr": LR, "momentum": MOMENTUM}, "batch_size": BATCH,
                     "epochs": epochs, "record": {"schedule": "final"}},
        "seeds": seeds,
    })


def keras_engine(trainer_name: str, spec) -> dict[str, float]:
    """Train the spec's grid with a ddbench trainer; wall seconds and the engine's own timings."""
    from ddbench.data import load_train_data
    from ddbench.plan import make_bundles, plan_cells
    from ddbench.train import get_trainer
    from ddbench.train.base import NullEvents

    data = load_train_data(spec.dataset, 0.0, 0)
    trainer = get_trainer(trainer_name)
    compile_s = train_s = 0.0
    cells = 0
    groups: set[tuple[int, int]] = set()
    t0 = time.perf_counter()
    for bundle in make_bundles(plan_cells(spec)):
        for out in trainer.train(bundle, data, spec.training, NullEvents()):
            if out.status != "done":
                raise RuntimeError(f"{trainer_name}: {out.cell.label} {out.status}: {out.error}")
            cells += 1
            train_s += out.timings.get("train_seconds", 0.0)
            compile_s += out.timings.get("compile_seconds", 0.0)
            if "padded_to_width" in out.timings:
                groups.add((int(out.timings["padded_to_width"]), int(out.timings["lanes"])))
    wall = time.perf_counter() - t0
    layout = ", ".join(f"{lanes}x@{w}" for w, lanes in sorted(groups))
    return {"wall": wall, "cells": cells, "train": train_s, "compile": compile_s, "layout": layout}


# --------------------------------------------------------------------------- the machine's limit


def matmul_peak(n: int, repeats: int = 5) -> float:
    """This device's float32 matmul GFLOP/s: the best of ``repeats`` jitted ``n x n @ n x n`` products
    (2 n^3 FLOPs each), timed after the device finished; the ceiling every engine is measured against."""
    import jax
    import jax.numpy as jnp

    key = jax.random.PRNGKey(0)
    a = jax.random.normal(key, (n, n), jnp.float32)
    b = jax.random.normal(jax.random.split(key)[0], (n, n), jnp.float32)
    mm = jax.jit(lambda u, v: u @ v)
    jax.block_until_ready(mm(a, b))  # compile
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(mm(a, b))
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def mlp_flops_per_epoch(width: int, d_in: int = 40, classes: int = 10, n_train: int = 4000) -> float:
    """Training FLOPs of one epoch of the depth-2 MLP ``d_in-w-w-classes``: a multiply-add per weight per
    example forward (2 FLOPs) and twice that backward, over the ``n // batch`` full batches."""
    weights = d_in * width + width * width + width * classes
    return 6.0 * weights * (n_train // BATCH) * BATCH


def gflops(widths: list[int], model_epochs_per_width: float, seconds: float) -> float:
    return sum(mlp_flops_per_epoch(w) for w in widths) * model_epochs_per_width / seconds / 1e9


# --------------------------------------------------------------------------- (b) hand-written JAX


def handwritten_jax(widths: list[int], epochs: int, seeds: list[int], x: np.ndarray, y: np.ndarray,
                    vmap_seeds: bool = False) -> dict[str, float]:
    """What a careful researcher writes: every width in one jitted program, one lax.scan per epoch;
    seeds one after another, or (``vmap_seeds``) vmapped together in the same program."""
    import jax
    import jax.numpy as jnp

    n, d_in = x.shape
    classes = int(y.max()) + 1
    steps = n // BATCH

    def init(key, width):
        dims = [d_in, width, width, classes]
        params = []
        for a, b in zip(dims[:-1], dims[1:]):
            key, sub = jax.random.split(key)
            lim = math.sqrt(6.0 / (a + b))  # glorot uniform, zero bias
            params.append((jax.random.uniform(sub, (a, b), minval=-lim, maxval=lim), jnp.zeros((b,))))
        return params

    def forward(params, xb):
        for w, b in params[:-1]:
            xb = jax.nn.relu(xb @ w + b)
        w, b = params[-1]
        return xb @ w + b

    def loss(grid, xb, yb):  # the sum of per-width mean losses: each width gets its own gradient
        total = 0.0
        for params in grid:
            logits = forward(params, xb)
            total += jnp.mean(jax.nn.logsumexp(logits, axis=1) - jnp.take_along_axis(logits, yb[:, None], 1)[:, 0])
        return total

    def epoch(state, key, xs, ys):
        perm = jax.random.permutation(key, n)[: steps * BATCH].reshape(steps, BATCH)

        def step(carry, idx):
            grid, vel = carry
            g = jax.grad(loss)(grid, xs[idx], ys[idx])
            vel = jax.tree.map(lambda v, gi: MOMENTUM * v - LR * gi, vel, g)
            grid = jax.tree.map(lambda p, v: p + v, grid, vel)
            return (grid, vel), None

        state, _ = jax.lax.scan(step, state, perm)
        return state

    xs, ys = jax.device_put(x), jax.device_put(y.astype(np.int32))

    def start(seed):
        key = jax.random.PRNGKey(seed)
        grid = [init(k, w) for k, w in zip(jax.random.split(key, len(widths)), widths)]
        return (grid, jax.tree.map(jnp.zeros_like, grid)), jax.random.split(jax.random.PRNGKey(1000 + seed), epochs)

    t_all = time.perf_counter()
    compile_s, steady_s = time_seed_runs(epoch, [start(s) for s in seeds], epochs, xs, ys, vmap_seeds)
    return {"wall": time.perf_counter() - t_all, "compile": compile_s, "steady": steady_s}


def time_seed_runs(epoch, starts: list, epochs: int, xs, ys, vmap_seeds: bool) -> tuple[float, float]:
    """Run ``epoch(state, key, xs, ys)`` for ``epochs`` epochs from each ``(state, keys)`` of ``starts``:
    one seed after another, or (``vmap_seeds``) all seeds vmapped in one program. Returns the seconds
    of the first (compiling) epochs and of the steady ones, timed after the device finished."""
    import jax
    import jax.numpy as jnp

    runs = [starts] if vmap_seeds else [[st] for st in starts]
    fn = jax.jit(jax.vmap(epoch, in_axes=(0, 0, None, None))) if vmap_seeds else jax.jit(epoch)
    first = steady = 0.0
    for run in runs:
        if vmap_seeds:
            state = jax.tree.map(lambda *leaves: jnp.stack(leaves), *[st for st, _ in run])
            keys = jnp.stack([k for _, k in run], axis=1)  # (epochs, seeds, 2)
        else:
            state, keys = run[0]
        t0 = time.perf_counter()
        state = jax.block_until_ready(fn(state, keys[0], xs, ys))  # compile + first epoch
        t1 = time.perf_counter()
        for e in range(1, epochs):
            state = fn(state, keys[e], xs, ys)
        jax.block_until_ready(state)
        first += t1 - t0
        steady += time.perf_counter() - t1
    return first, steady


# --------------------------------------------------------------------------- images/s


def images_per_second(family: str, k: int, steps: int, repeats: int) -> tuple[float, float]:
    """Training images/s of one model through the engine, on CIFAR-shaped synthetic data (compile excluded),
    and its forward FLOPs per image (counted from its layer shapes)."""
    from ddbench import backend
    from ddbench.data import TrainData
    from ddbench.plan import Cell
    from ddbench.spec.model import TrainingSpec
    from ddbench.train.base import build_cell_model
    from ddbench.train.stateless import make_engine

    backend.clear_session()
    rng = np.random.default_rng(0)
    n = steps * BATCH
    x = rng.standard_normal((n, 32, 32, 3)).astype(np.float32)
    y = rng.integers(0, 10, n)
    data = TrainData(x, y, y, np.zeros(n, bool), x[:BATCH], y[:BATCH], 10, 0.0, "exact", 0)
    training = TrainingSpec.model_validate({"optimizer": {"name": "adam", "lr": 1e-4}, "batch_size": BATCH,
                                            "epochs": 1 + repeats, "record": {"schedule": "final"}})
    from ddbench import registry

    config = registry.families.get(family)().Config().model_dump(mode="json")
    cell = Cell(family, config, k, 0.0, 0, 0, f"bench-{family}-{k}")
    model, _ = build_cell_model(cell, data)
    from ddbench.families.flops import forward_flops

    flops = float(forward_flops(model).total)
    engine = make_engine([cell], [model], data, training)
    engine.run_epochs(0, 1)  # compile + warm-up epoch
    t0 = time.perf_counter()
    engine.run_epochs(1, 1 + repeats)
    engine.sync()
    return repeats * n / (time.perf_counter() - t0), flops


def projected_hours(ips: dict[int, float]) -> float:
    """Nakkiran sweep hours on one device, one k after another.

    Seconds per image are interpolated log-log between the measured k; below the
    smallest measured k the smallest one's cost is used (small models are
    overhead-bound); above the largest the last segment's slope is extended, or,
    with a single measured k, cost grows as k^2 (the FLOPs of a width-k ResNet).
    """
    ks = sorted(ips)
    lk = np.log(ks)
    lt = np.log([1.0 / ips[k] for k in ks])  # seconds per image
    total = 0.0
    for k in NAKKIRAN["k"]:
        if k <= ks[0]:
            spi = 1.0 / ips[ks[0]]
        elif len(ks) == 1:
            spi = (k / ks[0]) ** 2 / ips[ks[0]]
        else:
            i = int(np.clip(np.searchsorted(lk, np.log(k)) - 1, 0, len(ks) - 2))
            slope = (lt[i + 1] - lt[i]) / (lk[i + 1] - lk[i])
            spi = math.exp(lt[i] + slope * (math.log(k) - lk[i]))
        total += spi * NAKKIRAN["n"] * NAKKIRAN["epochs"]
    return total / 3600.0


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="13 widths 2..1024, 1 and 3 seeds, k = 4, 16, 64")
    mode.add_argument("--smoke", action="store_true", help="2 widths, 1 fit epoch (2 for b, c: one steady), no images (CI)")
    ap.add_argument("--epochs", type=int, help="epochs of (b) and (c) (default: 100 full, 60 CPU, 2 smoke)")
    ap.add_argument("--fit-epochs", type=int, help="epochs of (a) (default: as --epochs; rates are per model-epoch)")
    ap.add_argument("--seeds", type=int, nargs="+", help="seed counts to time (default: 1 3 full, 1 otherwise)")
    ap.add_argument("--no-images", action="store_true", help="skip the cnn5/resnet18k images/s")
    ap.add_argument("--image-steps", type=int, help="batches per timed epoch of the image models")
    ap.add_argument("--peak-n", type=int, help="matrix size of the peak matmul (default 2048; 8192 --full)")
    ap.add_argument("--image-budget", type=float, help="skip an image model whose predicted time (k^2 scaling from the "
                    "previous k, compile excluded) exceeds this many seconds (default: 60 on the CPU grid, none --full)")
    ap.add_argument("--record-device", choices=["cpu", "h100", "h200"],
                    help="record the measured GFLOP/s as this device's figures for `ddbench plan` (see above)")
    ap.add_argument("--record-file", type=Path, help="where to record (default: ddbench/engine/throughput.json)")
    args = ap.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows even when piped

    budget = float("inf")
    if args.full:
        widths, epochs, seed_counts, ks, steps, repeats = FULL_WIDTHS, 100, [1, 3], [4, 16, 64], 40, 2
    elif args.smoke:
        widths, epochs, seed_counts, ks, steps, repeats = SMOKE_WIDTHS, 2, [1], [], 0, 0
    else:
        widths, epochs, seed_counts, ks, steps, repeats, budget = CPU_WIDTHS, 60, [1], [4, 16, 64], 1, 1, 60.0
    budget = args.image_budget or budget
    epochs = args.epochs or epochs
    fit_epochs = args.fit_epochs or (1 if args.smoke else epochs)
    seed_counts = args.seeds or seed_counts
    steps = args.image_steps or steps
    n_train = 4000

    from ddbench import backend

    backend.select(None)
    if backend.name() != "jax":
        print(f"note: running under KERAS_BACKEND={backend.name()}; (b) and (c) are meant for jax")
    print(f"ddbench sweep throughput  {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"backend {backend.name()}, device {backend.device()}, versions {backend.versions()}")
    print(f"grid: mnist1d MLP depth 2, widths {widths} ({len(widths)}), batch {BATCH}, n_train {n_train}, "
          f"SGD lr {LR} momentum {MOMENTUM}; epochs (b),(c) {epochs}, (a) {fit_epochs}")

    from ddbench.data import load_train_data

    peak_n = args.peak_n or (8192 if args.full else 512 if args.smoke else 2048)
    if args.record_device:
        from ddbench.engine import throughput

        found = throughput.device_key(backend.device())
        if found != args.record_device:
            ap.error(f"--record-device {args.record_device}: this machine is {backend.device()!r} "
                     f"({found or 'not in the table'}); record a device's figures on that device")
    measured: dict[str, float] = {}
    peak = matmul_peak(peak_n)
    print(f"measured float32 matmul peak: {peak:,.1f} GFLOP/s (jitted {peak_n}x{peak_n} matmul, best of 5); "
          "every GFLOP/s below is also given as a fraction of it")

    # untimed warm-up: the process's first model pays backend and data start-up, which is no engine's cost
    keras_engine("fit", mlp_spec(widths[:1], 1, [0], n_train))
    for n_seeds in seed_counts:
        seeds = list(range(n_seeds))
        spec = mlp_spec(widths, epochs, seeds, n_train)
        data = load_train_data(spec.dataset, 0.0, 0)
        cells = len(widths) * n_seeds
        a = keras_engine("fit", mlp_spec(widths, fit_epochs, seeds, n_train))
        b = handwritten_jax(widths, epochs, seeds, data.x_train, data.y_train)
        bv = handwritten_jax(widths, epochs, seeds, data.x_train, data.y_train, vmap_seeds=True) if n_seeds > 1 else None
        c = keras_engine("stateless", spec)
        me = cells * epochs
        a_rate = cells * fit_epochs / a["wall"]
        steady_epochs = cells * (epochs - 1)

        def steady(run_s: float) -> float:
            return steady_epochs / run_s if epochs > 1 and run_s > 0 else float("nan")

        b_wall, c_wall = me / b["wall"], me / c["wall"]
        b_steady, c_steady = steady(b["steady"]), steady(c["train"] - c["compile"])
        print(f"\nseeds={n_seeds}: {cells} models")
        print(f"  (a) per-cell fit          : {a_rate:10.1f} model-epochs/s  (wall {a['wall']:.1f}s incl. build/compile/eval, "
              f"{a['cells']} models x {fit_epochs} epochs)")
        print(f"  (b) hand-written JAX scan : {b_steady:10.1f} model-epochs/s steady ({b['steady']:.2f}s), "
              f"{b_wall:.1f} incl. compile (wall {b['wall']:.2f}s, compile+1st epoch {b['compile']:.2f}s); one seed at a time")
        if bv is not None:
            print(f"  (b') same, seeds vmapped  : {steady(bv['steady']):10.1f} model-epochs/s steady ({bv['steady']:.2f}s), "
                  f"{me / bv['wall']:.1f} incl. compile")
        print(f"  (c) ddbench stateless     : {c_steady:10.1f} model-epochs/s steady ({c['train'] - c['compile']:.2f}s), "
              f"{c_wall:.1f} incl. build/compile/eval (wall {c['wall']:.2f}s, compile+1st epoch {c['compile']:.2f}s)")
        print(f"      lanes x padded width  : {c['layout'] or 'n/a (not the JAX engine)'}")
        print(f"  grid-epochs/s             : (a) {a_rate / len(widths):.2f}  "
              f"(b) {b_steady / len(widths):.2f}  (c) {c_steady / len(widths):.2f} "
              f"(steady; one grid-epoch = {len(widths)} widths x 1 seed x 1 epoch)")
        print(f"  ratio c/a (wall)          : {c_wall / a_rate:.2f}")
        print(f"  ratio c/b (steady)        : {c_steady / b_steady:.2f}")
        print(f"  ratio c/b (wall)          : {c_wall / b_wall:.2f}")
        if bv is not None:
            print(f"  ratio c/b' (steady)       : {c_steady / steady(bv['steady']):.2f}")
        per_width = n_seeds * (epochs - 1)  # steady model-epochs of each width

        def share(seconds: float) -> str:
            if epochs <= 1 or seconds <= 0:
                return "n/a"
            g = gflops(widths, per_width, seconds)
            return f"{g:7.1f} GFLOP/s = {g / peak:6.1%} of peak"

        a_g = gflops(widths, n_seeds * fit_epochs, a["wall"])
        print(f"  sustained (a) fit         : {a_g:7.1f} GFLOP/s = {a_g / peak:6.1%} of peak (wall)")
        print(f"  sustained (b) steady      : {share(b['steady'])}")
        if bv is not None:
            print(f"  sustained (b') steady     : {share(bv['steady'])}")
        print(f"  sustained (c) steady      : {share(c['train'] - c['compile'])}")
        if epochs > 1 and c["train"] > c["compile"]:
            measured["dense_gflops"] = gflops(widths, per_width, c["train"] - c["compile"])
            measured["bundle_seconds"] = c["compile"]

    if not args.smoke:
        single = QUICKSTART_WIDEST
        print(f"\nthe engine (c) on single widths, 1 seed, {epochs} epochs (the widest of the quickstart grid)")
        for w in single:
            c1 = keras_engine("stateless", mlp_spec([w], epochs, [0], n_train))
            g = gflops([w], epochs - 1, c1["train"] - c1["compile"])
            print(f"  width {w:4d}: {g:7.1f} GFLOP/s = {g / peak:6.1%} of peak")

    from ddbench import registry

    if args.no_images or args.smoke or not ks:
        print("\nimages/s: skipped" + (" (--smoke)" if args.smoke else " (--no-images)"))
        return record(args, measured)
    print(f"\nimages/s through the engine (training, batch {BATCH}, CIFAR-shaped synthetic 32x32x3, Adam, "
          f"{steps} batches x {repeats} timed epoch(s), compile excluded)")
    resnet: dict[int, float] = {}
    conv: dict[str, float] = {}  # the GFLOP/s of each family at its largest timed k
    for family in ("cnn5", "resnet18k"):
        if family not in registry.families:
            print(f"  {family}: not registered in this tree, skipped")
            continue
        prev: tuple[int, float] | None = None
        for k in ks:
            if prev is not None:
                predicted = (1 + repeats) * steps * BATCH * (k / prev[0]) ** 2 / prev[1]  # warm-up + timed epochs
                if predicted > budget:
                    print(f"  {family:9s} k={k:<3d}: skipped (predicted ~{predicted:,.0f}s from k={prev[0]} with cost ~ k^2; "
                          f"--image-budget {budget:g}s)")
                    continue
            try:
                ips, flops = images_per_second(family, k, steps, repeats)
            except Exception as exc:  # e.g. out of memory: report, go on
                print(f"  {family:9s} k={k:<3d}: failed ({type(exc).__name__}: {str(exc)[:200]})")
                continue
            conv[family] = ips * 3 * flops / 1e9
            print(f"  {family:9s} k={k:<3d}: {ips:10.1f} images/s = {conv[family]:,.1f} GFLOP/s "
                  f"(3 x {flops / 1e6:,.1f} MFLOP per image, counted)")
            prev = (k, ips)
            if family == "resnet18k":
                resnet[k] = ips
    if resnet:
        hours = projected_hours(resnet)
        print(f"projected Nakkiran ResNet18 sweep (k=1..64, {NAKKIRAN['epochs']} epochs x {NAKKIRAN['n']} images, "
              f"one model at a time on this device, images/s interpolated log-log from measured k={sorted(resnet)}"
              f"{', cost ~ k^2 beyond' if len(resnet) == 1 else ''}): "
              f"{hours:,.0f} hours ({hours / 24:,.1f} days)")
    if conv:
        measured["conv_gflops"] = sum(conv.values()) / len(conv)
    return record(args, measured)


def record(args: argparse.Namespace, measured: dict[str, float]) -> int:
    """With ``--record-device``, write what this run measured as that device's figures."""
    if not args.record_device:
        return 0
    from ddbench import backend
    from ddbench.engine import throughput

    if not measured:
        print(f"\nnothing measured to record for {args.record_device}")
        return 1
    cmd = " ".join(["benchmarks/sweep_throughput.py", *sys.argv[1:]])
    source = (f"{cmd} on {backend.device()}, backend {backend.name()}, "
              f"{datetime.date.today().isoformat()}")
    path = args.record_file or throughput.MEASURED_PATH
    throughput.record(args.record_device, source, path, **measured)
    figures = ", ".join(f"{k} {v:,.1f}" for k, v in sorted(measured.items()))
    print(f"\nrecorded for {args.record_device} in {path}: {figures}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
