"""Wall time of whole recipes on the default path: ddbench's engine vs per-cell ``fit``, side by side.

Each spec is run twice from scratch, one after the other in the same invocation, as a user runs
it (``ddbench run SPEC``, a fresh process, a fresh run directory): with the default trainer
(``auto``: the compiled bundle engine) and with the reference ``fit`` trainer (every cell its own
``model.fit``). It prints, per run, the wall time the user waits for and where it went
(training, of it compiling, evaluation, probes: the run's own timings; then each probe's seconds and
what lies outside the cells: start-up, analysis, the outputs with their figures), model-epochs/s, the
ratio fit/auto of wall and of training time, and how far the two runs' curves are apart (max |difference| of test
error over every cell and recorded epoch; they train the same models from the same seeds, so
the difference is float round-off growing through training).

    python benchmarks/recipe_wall.py                               # the quickstart, auto vs fit
    python benchmarks/recipe_wall.py specs/mnist1d-dd.yaml         # the full 114-cell recipe
    python benchmarks/recipe_wall.py specs/mnist1d-dd.yaml --reference none
    python benchmarks/recipe_wall.py --epochs 3 --smoke            # CI: 3 epochs, no probes

The backend is whatever the environment chose (TensorFlow by default). Targets (issue #10,
2 CPU cores): the quickstart <= 60 s of run time and ``mnist1d-dd.yaml`` <= 5 min; the script
prints each run's time beside its target and never asserts it. Compare the ratios, which are
measured in one run on one machine, not absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGETS_S = {"quickstart": 60.0, "mnist1d-dd": 300.0}
RUN = "import sys; from ddbench.cli import app; sys.argv = ['ddbench', *sys.argv[1:]]; app()"


def run_recipe(spec: Path, trainer: str, run_dir: Path, overrides: list[str]) -> float:
    """``ddbench run`` in a fresh process; its wall seconds."""
    cmd = [sys.executable, "-c", RUN, "run", str(spec), "-o", str(run_dir), "--trainer", trainer, "-q"]
    for o in overrides:
        cmd += ["-s", o]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"ddbench run {spec.name} --trainer {trainer} failed (exit {proc.returncode}):\n"
                 f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return wall


def outside_cells(run_dir: Path, wall: float) -> dict[str, float]:
    """The run's seconds outside its cells, from its store: the training phase as a whole
    (``wall_seconds``: bundles, probes, commits), the analysis and the outputs; start-up is the rest
    of the process's wall time (imports, the spec, the data)."""
    from ddbench.store.run_store import RunStore

    store = RunStore.open_existing(run_dir)
    try:
        run, analyse, outputs = (float(store.meta(k) or 0.0) for k in ("wall_seconds", "analyse_seconds",
                                                                         "outputs_seconds"))
    finally:
        store.close()
    return {"run": run, "analyse": analyse, "outputs": outputs, "startup": wall - run - analyse - outputs}


def breakdown(cells) -> dict[str, float]:
    """Where a run's time went, from its cells' timings (bundle times are shared out over their cells,
    so the sums are the bundles' totals; training includes compiling) and probe seconds."""
    done = cells[cells["status"] == "done"]

    def total(col: str) -> float:
        return float(done[col].fillna(0).sum()) if col in done else 0.0

    per_probe = {c[: -len(".seconds")]: total(c) for c in done.columns
                 if c.endswith(".seconds") and not c.startswith("timing.")}
    return {"cells": float(len(done)), "model_epochs": float(done["epochs"].sum()),
            "compile": total("timing.compile_seconds"), "train": total("timing.train_seconds"),
            "eval": total("timing.eval_seconds"), "probes": sum(per_probe.values()),
            **{f"probe:{k}": v for k, v in per_probe.items()}}


def curve_gap(ca, cb) -> tuple[float, int]:
    """Max |test error difference| over every (cell, recorded epoch) the two runs share, and how many."""
    merged = ca.merge(cb, on=["key", "epoch"], suffixes=("_a", "_b"))
    if merged.empty:
        return float("nan"), 0
    return float((merged["test_error_a"] - merged["test_error_b"]).abs().max()), len(merged)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("specs", nargs="*", type=Path, default=[ROOT / "specs" / "quickstart.yaml"])
    ap.add_argument("--reference", default="fit", choices=["fit", "packed", "none"],
                    help="the trainer run beside auto (none: auto only)")
    ap.add_argument("--epochs", type=int, default=None, help="override training.epochs (a shorter measurement)")
    ap.add_argument("--smoke", action="store_true", help="no probes or hypotheses beyond double_descent (CI)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the run directories under this folder")
    args = ap.parse_args(argv)

    import keras

    from ddbench.store.results import load

    overrides = [f"training.epochs={args.epochs}"] if args.epochs else []
    if args.smoke:
        overrides += ["probes=[weight_norm]", "hypotheses=[double_descent]"]
    trainers = ["auto"] + ([] if args.reference == "none" else [args.reference])
    print(f"# recipe_wall {datetime.date.today()} | backend {keras.backend.backend()} | Keras {keras.__version__} | "
          f"{platform.machine()}, {os.cpu_count()} CPUs | load average {os.getloadavg()[0]:.1f}")
    base = args.keep or Path(tempfile.mkdtemp(prefix="ddbench-recipe-"))
    header = (f"{'spec':<18} {'trainer':<8} {'wall s':>8} {'train s':>8} {'of it compile':>13} {'eval s':>7} "
              f"{'probes s':>8} {'model-epochs/s':>14}")
    for spec in args.specs:
        name = spec.stem
        print(f"\n{header}")
        seen: dict[str, tuple[float, dict[str, float], Any]] = {}  # trainer -> (wall, breakdown, curves)
        for trainer in trainers:
            run_dir = base / f"{name}-{trainer}"
            wall = run_recipe(spec, trainer, run_dir, overrides)
            results = load(run_dir)  # the run's cells and curves tables, read once
            b = breakdown(results.cells)
            seen[trainer] = (wall, b, results.curves)
            rate = b["model_epochs"] / max(b["train"], 1e-9)
            print(f"{name:<18} {trainer:<8} {wall:8.1f} {b['train']:8.1f} {b['compile']:13.1f} {b['eval']:7.1f} "
                  f"{b['probes']:8.1f} {rate:14.0f}")
            out = outside_cells(run_dir, wall)
            probes = ", ".join(f"{k[6:]} {v:.1f}" for k, v in sorted(b.items()) if k.startswith("probe:"))
            print(f"  probes s: {probes or 'none'}\n  outside the cells s: start-up {out['startup']:.1f}, training phase "
                  f"{out['run']:.1f}, analysis {out['analyse']:.1f}, outputs (figures, page) {out['outputs']:.1f}; "
                  f"load average now {os.getloadavg()[0]:.1f}")
        wall, b, curves = seen["auto"]
        target = TARGETS_S.get(name) if not (args.epochs or args.smoke) else None
        print(f"  {int(b['cells'])} cells, {int(b['model_epochs'])} model-epochs"
              + (f"; target for auto: <= {target:.0f} s -> {'met' if wall <= target else 'not met'} ({wall:.0f} s)"
                 if target else ""))
        if args.reference != "none":
            rw, rb, ref_curves = seen[args.reference]
            print(f"  ratio {args.reference}/auto: wall {rw / wall:.2f}, training {rb['train'] / max(b['train'], 1e-9):.2f}")
            gap, n = curve_gap(curves, ref_curves)
            print(f"  curves: max |test error auto - {args.reference}| = {gap:.4f} over {n} (cell, epoch) points")


if __name__ == "__main__":
    main()
