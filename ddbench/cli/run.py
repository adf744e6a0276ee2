"""Commands that take a spec: ``run``, ``validate``, ``plan``, ``analyse`` and ``schema``; and ``refine``, which
takes the spec a run directory recorded.

Keras is imported only by the commands that train or load models, after ``--backend`` has set
``KERAS_BACKEND``; ``validate`` and ``schema`` stay fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.markup import escape

from . import common


def _executor(name: str, address: Optional[str], gpus_per_bundle: Optional[float]) -> Any:
    from ..execute import EXECUTORS, get_executor

    if name not in EXECUTORS:
        common.fail(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")
    if name != "ray" and (address is not None or gpus_per_bundle is not None):
        common.fail("--address and --gpus-per-bundle need --executor ray")
    options = {"address": address, "num_gpus_per_bundle": gpus_per_bundle} if name == "ray" else {}
    try:
        return get_executor(name, **options)
    except (ImportError, ValueError) as exc:
        common.fail(str(exc))


def run(
    spec_path: Path = typer.Argument(..., help="The YAML spec, or a recipe's name (ddbench list recipes).", exists=False),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Run directory (default: the spec's output_dir or runs/<name>)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Keras backend: tensorflow (default), jax or torch."),
    trainer: Optional[str] = typer.Option(None, "--trainer", help="auto (= stateless), stateless (a bundle as one compiled program), packed (one multi-output fit) or fit (reference, one model at a time)."),
    retry_failed: bool = typer.Option(True, "--retry-failed/--keep-failed", help="Retry cells that failed in an earlier run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the final summary line and the output paths."),
    executor: str = typer.Option("local", "--executor", help="Where bundles train: local (this process) or ray (a Ray cluster, or a local Ray instance)."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray: the cluster to connect to (e.g. ray://head:10001 or head:6379); default RAY_ADDRESS or a local instance."),
    gpus_per_bundle: Optional[float] = typer.Option(None, "--gpus-per-bundle", help="Ray: the share of a GPU each bundle asks for (0 to 1); default from the bundle's memory estimate, 0 without GPUs."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", "-s", help=common.SET_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (as `ddbench plan`) and train nothing."),
    smoke: bool = typer.Option(False, "--smoke", help=common.SMOKE_HELP),
    tensorboard: Optional[Path] = typer.Option(None, "--tensorboard", help="Also write every cell's curves as TensorBoard logs under this directory."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Accept a grid larger than the limit (5000 cells)."),
) -> None:
    """Train the spec's grid (resuming a previous run), test the hypotheses, write the leaderboard."""
    common.select_backend(backend)  # first: the spec's distribution is validated against the backend
    from ..train import AUTO, TRAINERS  # after the backend: the registry's trainers import Keras

    if trainer is not None and trainer not in (AUTO, *TRAINERS):
        common.fail(f"--trainer {trainer!r} is unknown; allowed: {AUTO}, {', '.join(TRAINERS)}", 2)
    spec = common.load_spec(spec_path, overrides, smoke, output, allow_large=yes)
    if smoke:
        output = None  # the smoke spec's output_dir is <run dir>-smoke
    if dry_run:
        _print_plan(spec, output, retry_failed)
        return
    runner_executor = _executor(executor, address, gpus_per_bundle)
    from ..run.pipeline import run as run_spec
    from ..spec.validate import check_grid
    from ..store.binding import SpecChanged
    from ..store.lock import RunLocked

    if not quiet:
        for w in check_grid(spec):
            common.warn(w)
    from .progress import RichProgress

    progress = RichProgress(common.console, enabled=not quiet)
    try:
        result = run_spec(spec, run_dir=output, progress=progress, retry_failed=retry_failed, trainer=trainer,
                          executor=runner_executor)
    except (RunLocked, SpecChanged, ValueError, ConnectionError) as exc:
        common.fail(str(exc))
    except KeyboardInterrupt:
        common.err.print("[yellow]interrupted[/]: finished cells are saved; run the same command again to resume.")
        raise typer.Exit(130)
    if tensorboard is not None:
        from ..store.tensorboard import write_tensorboard

        n = write_tensorboard(result.run_dir, tensorboard)
        if not quiet:
            common.console.print(f"TensorBoard: {n} cells' curves under {tensorboard} (tensorboard --logdir {tensorboard})",
                                 highlight=False, markup=False)
    _report(result, quiet, [tensorboard] if tensorboard is not None else [])


def _report(result: Any, quiet: bool, extra_paths: list[Path]) -> None:
    """The end of ``run`` and ``refine``: the board, warnings, the summary line and the output paths; exit 3
    when cells failed."""
    from .progress import output_paths, summary_line

    if not quiet:
        from ..leaderboard.render import print_board

        print_board(result.leaderboard, common.console)
        for note in result.warnings:
            common.warn(note)
    if quiet:  # lost or damaged models are never silent, even with -q
        for note in result.repairs:
            common.err.print(f"warning: {common.text(note)}", highlight=False, markup=False)
    counts = result.counts
    common.console.print(("" if quiet else "\n") + summary_line(result), highlight=False, markup=False)
    for path in output_paths(result.run_dir) + extra_paths:
        common.console.print(f"  {path}", highlight=False, markup=False)
    if counts["failed"]:
        common.err.print(f"[red]{counts['failed']} cell(s) failed[/]; see `ddbench status {escape(str(result.run_dir))} --failures`")
        raise typer.Exit(3)


def refine(
    run_dir: Path = typer.Argument(..., help="A run directory trained by `ddbench run`."),
    around: Optional[str] = typer.Option(None, "--around", help="What to refine around: k_star, peak, or k_star,peak (the default)."),
    points: Optional[int] = typer.Option(None, "--points", help="New widths per stratum, 1 to 64 (default 4)."),
    spacing: Optional[str] = typer.Option(None, "--spacing", help="auto (the grid's own, the default), geometric or linear."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Keras backend (default: the one the run was trained with)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the final summary line and the output paths."),
) -> None:
    """Add widths around k* and the test-error peak to a run, in place: train only their cells, analyse again
    and rewrite the leaderboard (its spec becomes the refined grid; docs/science.md, "Refining the grid")."""
    from ..run.refine import recorded_run, settings_from

    try:
        settings = settings_from(around, points, spacing)
    except ValueError as exc:
        common.fail(str(exc), 2)
    try:
        spec, identity = recorded_run(run_dir)
    except (FileNotFoundError, ValueError) as exc:
        common.fail(str(exc))
    common.select_backend(backend or identity.get("backend"))
    from ..run.pipeline import run as run_spec
    from ..store.binding import SpecChanged
    from ..store.lock import RunLocked
    from .progress import RichProgress

    try:
        result = run_spec(spec, run_dir=run_dir, progress=RichProgress(common.console, enabled=not quiet),
                          retry_failed=False, refine=settings)
    except (RunLocked, SpecChanged, ValueError, ConnectionError) as exc:
        common.fail(str(exc))
    except KeyboardInterrupt:
        common.err.print("[yellow]interrupted[/]: finished cells are saved; `ddbench refine` again trains the rest "
                         "(and refines no further until they are done).")
        raise typer.Exit(130)
    _report(result, quiet, [])


def validate(
    spec_paths: List[Path] = typer.Argument(..., help="One or more YAML specs or recipe names."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", "-s", help=common.SET_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Accept a grid larger than the limit (5000 cells)."),
) -> None:
    """Check specs without training: every problem with its YAML path, value and what is allowed."""
    from ..errors import UserError
    from ..spec.overrides import OverrideError, load_spec_with
    from ..spec.preflight import count_cells, grid_factors
    from ..spec.validate import SpecError, check_grid

    bad = 0
    for path in spec_paths:
        try:
            spec = load_spec_with(common.spec_path(path), overrides or [], allow_large=yes)
        except UserError as exc:  # a name that is no recipe: reported like a bad spec, the others still checked
            bad += 1
            common.err.print(f"error: {exc}", highlight=False, markup=False)
            continue
        except SpecError as exc:
            bad += 1
            common.err.print(common.text(exc), highlight=False, markup=False)
            continue
        except OverrideError as exc:
            common.fail(str(exc), 2)
        n, factors = count_cells(spec), grid_factors(spec)  # counted, never built: a huge grid does not hang
        common.console.print(f"[green]ok[/] {escape(common.text(path))}: {n} cells ({' x '.join(factors)}), hash {spec.spec_hash()}", highlight=False)
        for w in check_grid(spec):
            common.warn(w, indent="  ")
    if bad:
        raise typer.Exit(2)


def _print_plan(spec: Any, output: Optional[Path], retry_failed: bool = True, device: Optional[str] = None) -> None:
    from ..engine.throughput import devices
    from .plan_render import render_plan
    from .planview import THIS, plan_view

    allowed = (THIS, *devices())
    if device is not None and device not in allowed:
        common.fail(f"--device {device!r} is unknown; allowed: {', '.join(allowed)}", 2)
    render_plan(plan_view(spec, output, retry_failed=retry_failed, device=device), common.console)


def plan(
    spec_path: Path = typer.Argument(..., help="The YAML spec, or a recipe's name (ddbench list recipes)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Run directory (its finished cells are left out)."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", "-s", help=common.SET_HELP),
    smoke: bool = typer.Option(False, "--smoke", help=common.SMOKE_HELP),
    backend: Optional[str] = typer.Option(None, "--backend", help="Keras backend (parameter counts and device memory)."),
    device: Optional[str] = typer.Option(None, "--device", help="The device whose bundles (cut to its memory) and time are "
                                         "listed: this (this machine, the default), cpu, h100 or h200. The time on every "
                                         "device of the throughput table is shown below them either way, each figure "
                                         "marked measured or assumed."),
    power: bool = typer.Option(False, "--power", help="Estimate the chance that the planned grid decides each claim, and the seeds or widths that would bring it to 80% (docs/science.md, 'Power'), instead of listing the cells."),
    pilot: Optional[Path] = typer.Option(None, "--pilot", help="--power: the run directory (or leaderboard file or published name) whose seed spread is simulated; default: the closest published leaderboard of the same dataset and family."),
    simulations: Optional[int] = typer.Option(None, "--simulations", min=20, max=10000, help="--power: at most this many simulated runs per design (default: the spec's analysis.power_simulations, else 60)."),
) -> None:
    """List the cells and bundles a run would train: parameters, peak memory, and the estimated time on this
    machine, one H100 and one H200 (FLOPs / sustained rate; no data is loaded where the dataset declares its shapes)."""
    common.select_backend(backend)
    spec = common.load_spec(spec_path, overrides, smoke, output)
    if pilot is not None and not power:
        common.fail("--pilot needs --power", 2)
    if power:
        from ..errors import UserError
        from ..spec.model import DEFAULT_POWER_SIMULATIONS
        from .powerview import print_power

        try:
            print_power(spec, pilot, None if smoke else output,
                        simulations or spec.analysis.power_simulations or DEFAULT_POWER_SIMULATIONS, common.console)
        except UserError as exc:
            common.fail(str(exc), 2)
        return
    _print_plan(spec, None if smoke else output, device=device)


def analyse(
    spec_path: Path = typer.Argument(..., help="The spec the run was made with (a file or a recipe's name)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Run directory."),
) -> None:
    """Recompute verdicts and the leaderboard from finished cells, without training."""
    common.select_backend(None)
    spec = common.load_spec(spec_path, allow_large=True)  # reads an existing run; creates no cells
    from ..leaderboard.render import print_board
    from ..run.analyse import reanalyse
    from ..store.binding import SpecChanged

    try:
        board = reanalyse(spec.run_dir(output), spec)
    except (FileNotFoundError, SpecChanged) as exc:
        common.fail(str(exc))
    print_board(board, common.console)


def schema(
    leaderboard: bool = typer.Option(False, "--leaderboard", help="The schema of leaderboard.json instead (docs/leaderboard-format.md)."),
) -> None:
    """Print the JSON Schema of a spec (every input form, and the installed plugins' own options) or,
    with --leaderboard, of leaderboard.json."""
    if leaderboard:
        from ..leaderboard.schema import Leaderboard

        data = Leaderboard.model_json_schema()
    else:
        from ..spec.schema import spec_json_schema

        data = spec_json_schema()
    common.console.print_json(json.dumps(data))
