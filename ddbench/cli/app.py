"""The ``ddbench`` command line (Typer + rich).

Keras is imported only by the commands that train or load models, after
``--backend`` has set ``KERAS_BACKEND``; ``--help``, ``validate`` and ``list`` stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from .. import __version__
from ..errors import EXIT_INTERNAL, debug_enabled, explain

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _Guarded(TyperGroup):
    """The one place where errors become one line and an exit code (ddbench.errors; --debug shows tracebacks)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if debug_enabled() or type(exc).__module__.split(".")[0] in ("click", "typer"):
                raise  # usage errors and exits are the framework's (exit code 2 with the usage line)
            message, code = explain(exc) or (
                f"internal error: {type(exc).__name__}: {exc}; run again with --debug (or DDBENCH_DEBUG=1) for the "
                "traceback, and please report it", EXIT_INTERNAL)
            err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
            raise typer.Exit(code) from None


app = typer.Typer(help="ddbench: a declarative benchmark for double descent and its explanations.", cls=_Guarded,
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
board_app = typer.Typer(help="Show and compare leaderboards.", no_args_is_help=True)
app.add_typer(board_app, name="leaderboard")
plugin_app = typer.Typer(help="Check plugins.", no_args_is_help=True)
app.add_typer(plugin_app, name="plugin")
console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

VERDICT_STYLE = {"holds": "bold green", "fails": "bold red", "inconclusive": "yellow", "not_applicable": "dim"}


class Kind(str, Enum):
    datasets = "datasets"
    families = "families"
    probes = "probes"
    hypotheses = "hypotheses"
    trainers = "trainers"
    executors = "executors"


def _version(value: bool) -> None:
    if value:
        console.print(f"ddbench {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
         debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error (also DDBENCH_DEBUG=1).")) -> None:
    """ddbench: spec -> grid -> train -> probe -> hypotheses -> leaderboard.

    Exit codes: 0 done; 1 refused or the result says no (a flip, a failed plugin check, a run directory of
    another spec); 2 a malformed input (spec, file, argument); 3 some cells failed; 4 the system or the run
    store stopped the command; 70 internal error; 130 interrupted.
    """
    if debug:
        os.environ["DDBENCH_DEBUG"] = "1"


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def _load(path: Path, overrides: Optional[List[str]] = None, smoke: bool = False, output: Optional[Path] = None,
          allow_large: bool = False) -> Any:
    """The spec with ``-s`` overrides applied (and cut down by ``--smoke``); exit 2 on any problem."""
    from ..spec.overrides import OverrideError, load_spec_with, smoke_spec
    from ..spec.validate import SpecError

    try:
        spec = load_spec_with(path, overrides or [], allow_large=allow_large)
    except SpecError as exc:
        err.print(str(exc), highlight=False, markup=False)
        raise typer.Exit(2)
    except OverrideError as exc:
        _fail(str(exc), 2)
    return smoke_spec(spec, output) if smoke else spec


SET_HELP = "Override a spec field: -s training.epochs=50 (repeatable; the value is YAML, validated like the file)."
SMOKE_HELP = ("Quick end-to-end check: at most 3 widths <= 16, 2 epochs, 512 train/test points, one seed; "
              "writes to <run dir>-smoke.")


def _select_backend(name: Optional[str]) -> None:
    from ..backend import BackendError, select

    try:
        select(name)
    except BackendError as exc:
        _fail(str(exc))


def _executor(name: str, address: Optional[str], gpus_per_bundle: Optional[float]) -> Any:
    from ..execute import EXECUTORS, get_executor

    if name not in EXECUTORS:
        _fail(f"unknown executor {name!r}; allowed: {', '.join(EXECUTORS)}")
    if name != "ray" and (address is not None or gpus_per_bundle is not None):
        _fail("--address and --gpus-per-bundle need --executor ray")
    options = {"address": address, "num_gpus_per_bundle": gpus_per_bundle} if name == "ray" else {}
    try:
        return get_executor(name, **options)
    except (ImportError, ValueError) as exc:
        _fail(str(exc))


@app.command()
def run(
    spec_path: Path = typer.Argument(..., help="The YAML spec.", exists=False),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Run directory (default: the spec's output_dir or runs/<name>)."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Keras backend: tensorflow (default), jax or torch."),
    trainer: Optional[str] = typer.Option(None, "--trainer", help="auto (= stateless), stateless (a bundle as one compiled program), packed (one multi-output fit) or fit (reference, one model at a time)."),
    retry_failed: bool = typer.Option(True, "--retry-failed/--keep-failed", help="Retry cells that failed in an earlier run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the final summary line and the output paths."),
    executor: str = typer.Option("local", "--executor", help="Where bundles train: local (this process) or ray (a Ray cluster, or a local Ray instance)."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray: the cluster to connect to (e.g. ray://head:10001 or head:6379); default RAY_ADDRESS or a local instance."),
    gpus_per_bundle: Optional[float] = typer.Option(None, "--gpus-per-bundle", help="Ray: the share of a GPU each bundle asks for (0 to 1); default from the bundle's memory estimate, 0 without GPUs."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", "-s", help=SET_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan (as `ddbench plan`) and train nothing."),
    smoke: bool = typer.Option(False, "--smoke", help=SMOKE_HELP),
    tensorboard: Optional[Path] = typer.Option(None, "--tensorboard", help="Also write every cell's curves as TensorBoard logs under this directory."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Accept a grid larger than the limit (5000 cells)."),
) -> None:
    """Train the spec's grid (resuming a previous run), test the hypotheses, write the leaderboard."""
    _select_backend(backend)  # first: the spec's distribution is validated against the backend
    from ..train import AUTO, TRAINERS  # after the backend: the registry's trainers import Keras

    if trainer is not None and trainer not in (AUTO, *TRAINERS):
        _fail(f"--trainer {trainer!r} is unknown; allowed: {AUTO}, {', '.join(TRAINERS)}", 2)
    spec = _load(spec_path, overrides, smoke, output, allow_large=yes)
    if smoke:
        output = None  # the smoke spec's output_dir is <run dir>-smoke
    if dry_run:
        _print_plan(spec, output, retry_failed)
        return
    runner_executor = _executor(executor, address, gpus_per_bundle)
    from ..run.pipeline import run as run_spec
    from ..spec.validate import check_grid
    from ..store.run_store import RunLocked, SpecChanged

    if not quiet:
        for w in check_grid(spec):
            err.print(f"[yellow]warning:[/] {w}", highlight=False)
    from .progress import RichProgress, output_paths, summary_line

    progress = RichProgress(console, enabled=not quiet)
    try:
        result = run_spec(spec, run_dir=output, progress=progress, retry_failed=retry_failed, trainer=trainer,
                          executor=runner_executor)
    except (RunLocked, SpecChanged, ValueError, ConnectionError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]: finished cells are saved; run the same command again to resume.")
        raise typer.Exit(130)
    if tensorboard is not None:
        from ..store.tensorboard import write_tensorboard

        n = write_tensorboard(result.run_dir, tensorboard)
        if not quiet:
            console.print(f"TensorBoard: {n} cells' curves under {tensorboard} (tensorboard --logdir {tensorboard})",
                          highlight=False)
    if not quiet:
        from ..leaderboard.render import print_board

        print_board(result.leaderboard, console)
        for note in result.warnings:
            err.print(f"[yellow]warning:[/] {note}", highlight=False)
    if quiet:  # lost or damaged models are never silent, even with -q
        for note in result.repairs:
            err.print(f"warning: {note}", highlight=False, markup=False)
    counts = result.counts
    console.print(("" if quiet else "\n") + summary_line(result), highlight=False, markup=False)
    for path in output_paths(result.run_dir) + ([tensorboard] if tensorboard is not None else []):
        console.print(f"  {path}", highlight=False, markup=False)
    if counts["failed"]:
        err.print(f"[red]{counts['failed']} cell(s) failed[/]; see `ddbench status {result.run_dir} --failures`")
        raise typer.Exit(3)


@app.command()
def validate(
    spec_paths: List[Path] = typer.Argument(..., help="One or more YAML specs."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", "-s", help=SET_HELP),
    yes: bool = typer.Option(False, "--yes", "-y", help="Accept a grid larger than the limit (5000 cells)."),
) -> None:
    """Check specs without training: every problem with its YAML path, value and what is allowed."""
    from ..spec.overrides import OverrideError, load_spec_with
    from ..spec.preflight import count_cells, grid_factors
    from ..spec.validate import SpecError, check_grid

    bad = 0
    for path in spec_paths:
        try:
            spec = load_spec_with(path, overrides or [], allow_large=yes)
        except SpecError as exc:
            bad += 1
            err.print(str(exc), highlight=False, markup=False)
            continue
        except OverrideError as exc:
            _fail(str(exc), 2)
        n, factors = count_cells(spec), grid_factors(spec)  # counted, never built: a huge grid does not hang
        console.print(f"[green]ok[/] {path}: {n} cells ({' x '.join(factors)}), hash {spec.spec_hash()}", highlight=False)
        for w in check_grid(spec):
            err.print(f"  [yellow]warning:[/] {w}", highlight=False)
    if bad:
        raise typer.Exit(2)


def _print_plan(spec: Any, output: Optional[Path], retry_failed: bool = True) -> None:
    from .planview import plan_view, render_plan

    render_plan(plan_view(spec, output, retry_failed=retry_failed), console)


@app.command()
def plan(
    spec_path: Path = typer.Argument(..., help="The YAML spec."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Run directory (its finished cells are left out)."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", "-s", help=SET_HELP),
    smoke: bool = typer.Option(False, "--smoke", help=SMOKE_HELP),
    backend: Optional[str] = typer.Option(None, "--backend", help="Keras backend (parameter counts and device memory)."),
) -> None:
    """List the cells and bundles a run would train: parameters, memory estimates, an estimated time."""
    _select_backend(backend)
    spec = _load(spec_path, overrides, smoke, output)
    _print_plan(spec, None if smoke else output)


@app.command()
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
    console.print_json(json.dumps(data))


@app.command("list")
def list_plugins(kind: Kind = typer.Argument(..., help="datasets, families, probes or hypotheses.")) -> None:
    """List the installed plugins of one kind (built-in and from entry points)."""
    from .. import registry

    reg = registry.KINDS[kind.value]
    table = Table(title=f"ddbench {kind.value}")
    for col in ("name", "version", "description", "from"):
        table.add_column(col)
    for name, plugin in reg.items():
        desc = getattr(plugin, "description", "")
        claims = getattr(plugin, "claims", None)
        if claims:
            desc += "\n" + "\n".join(f"  claim {k}: {v}" for k, v in claims.items())
        table.add_row(name, plugin.plugin_version, desc, reg.origin(name))
    console.print(table)


@app.command()
def status(
    run_dir: Path = typer.Argument(..., help="A run directory."),
    failures: bool = typer.Option(False, "--failures", "-f", help="List every failed cell and failed/NaN probe with its traceback."),
) -> None:
    """Spec hash, a width x noise-rate table of cell states, failed cells and failed/NaN probes."""
    from ..store.run_store import RunStore
    from ..store.status import collect, render

    try:
        store = RunStore.open_existing(run_dir)
    except FileNotFoundError as exc:
        _fail(str(exc))
    try:
        render(collect(store), console, failures=failures)
    finally:
        store.close()


@app.command()
def export(
    run_dir: Path = typer.Argument(..., help="A run directory."),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv or parquet (parquet needs the results extra: pandas, pyarrow)."),
    out_dir: Optional[Path] = typer.Option(None, "--output", "-o", help="Directory for cells.FORMAT and curves.FORMAT (default: RUN_DIR)."),
) -> None:
    """Tidy tables of a run: cells.FORMAT (every metric, probe value and status, timings, provenance) and
    curves.FORMAT (one row per cell and recorded epoch)."""
    from ..store.results import export as export_tables

    try:
        paths = export_tables(run_dir, fmt, out_dir)
    except (FileNotFoundError, ValueError, ImportError) as exc:
        _fail(str(exc))
    for path in paths.values():
        console.print(f"wrote {path}", highlight=False)


@app.command()
def report(
    run_dir: Path = typer.Argument(..., help="A run directory (with its leaderboard.json)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The HTML file (default: RUN_DIR/leaderboard.html)."),
) -> None:
    """Write the run's self-contained HTML report (and its PNG figures) again from leaderboard.json."""
    import warnings

    from ..leaderboard.report import write_report
    from ..leaderboard.schema import LeaderboardError, read_leaderboard

    try:
        board = read_leaderboard(Path(run_dir) / "leaderboard.json")
    except LeaderboardError as exc:
        _fail(str(exc))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = write_report(board, run_dir, html_path=output)
    for w in caught:
        err.print(f"[yellow]warning:[/] {escape(str(w.message))}", highlight=False)
    if "html" not in paths:
        _fail(f"could not write the report of {run_dir}")
    for path in paths.values():
        console.print(f"wrote {path}", highlight=False)


@app.command()
def analyse(
    spec_path: Path = typer.Argument(..., help="The spec the run was made with."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Run directory."),
) -> None:
    """Recompute verdicts and the leaderboard from finished cells, without training."""
    _select_backend(None)
    spec = _load(spec_path, allow_large=True)  # reads an existing run; creates no cells
    from ..leaderboard.render import print_board
    from ..run.pipeline import reanalyse
    from ..store.run_store import SpecChanged

    try:
        board = reanalyse(spec.run_dir(output), spec)
    except (FileNotFoundError, SpecChanged) as exc:
        _fail(str(exc))
    print_board(board, console)


@plugin_app.command("test")
def plugin_test(
    name: str = typer.Argument(..., help="The plugin's registered name."),
    kind: Optional[Kind] = typer.Option(None, "--kind", help="Needed only when several kinds share the name."),
    budget: float = typer.Option(60.0, "--budget", help="Seconds allowed for one measurement / evaluation."),
    input_shape: str = typer.Option("40", "--input-shape", help="Families: input shape, e.g. 40 or 32,32,3."),
    backend: Optional[str] = typer.Option(None, "--backend", help="Keras backend."),
    overrides: Optional[List[str]] = typer.Option(None, "--set", "-s", help="Hypotheses: change the zoo spec, e.g. -s training.epochs=300 (repeatable)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress while the zoo trains."),
    workdir: Optional[Path] = typer.Option(None, "--workdir", help="Keep the trained zoo here and reuse it next time (default: a temporary directory)."),
) -> None:
    """Run a plugin on a tiny zoo: determinism, output schema, status/NaN handling, time budget;
    a hypothesis on a zoo that reaches k*, every declared claim exercised, no undeclared claim."""
    _select_backend(backend)
    from ..spec.overrides import OverrideError
    from ..spec.validate import SpecError
    from .plugin_check import check_plugin
    from .progress import RichProgress

    shape = tuple(int(v) for v in input_shape.split(",") if v.strip())
    try:
        resolved, checks = check_plugin(name, kind.value if kind else None, budget_s=budget, input_shape=shape,
                                        workdir=workdir, overrides=overrides or [],
                                        progress=RichProgress(err, enabled=not quiet))
    except KeyError as exc:
        _fail(str(exc.args[0] if exc.args else exc))
    except (SpecError, OverrideError) as exc:
        _fail(str(exc), 2)
    singular = {"datasets": "dataset", "families": "family", "probes": "probe", "hypotheses": "hypothesis"}
    table = Table(title=f"{singular.get(resolved, resolved)} {name}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail", overflow="fold")
    for c in checks:
        table.add_row(c.name, "[green]pass[/]" if c.ok else "[red]FAIL[/]", c.message)
    console.print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


class BoardFormat(str, Enum):
    table = "table"
    md = "md"
    json = "json"


_FORMAT = typer.Option(BoardFormat.table, "--format", "-f", help="table (terminal), md (markdown) or json.")


@board_app.command("show")
def board_show(path: Path = typer.Argument(..., help="A leaderboard.json."), fmt: BoardFormat = _FORMAT) -> None:
    """Print a leaderboard (verdicts and error curves) after checking its spec and content hashes."""
    from ..leaderboard.integrity import load_leaderboard
    from ..leaderboard.render import print_board, render_markdown
    from ..leaderboard.schema import LeaderboardError, board_data

    try:
        board = load_leaderboard(path)
    except LeaderboardError as exc:
        _fail(str(exc), code=2)
    if fmt is BoardFormat.json:
        print(json.dumps(board_data(board), indent=1))
    elif fmt is BoardFormat.md:
        print(render_markdown(board), end="")
    else:
        print_board(board, console)


@board_app.command("compare")
def board_compare(
    a: Path = typer.Argument(..., help="Leaderboard A (e.g. a published one in leaderboards/)."),
    b: Path = typer.Argument(..., help="Leaderboard B (e.g. your run)."),
    fmt: BoardFormat = _FORMAT,
    strict: bool = typer.Option(False, "--strict", help="Exit 1 on resolution changes too, not only on flips."),
) -> None:
    """Line up two leaderboards claim by claim: agree, resolution change, flip or not comparable.

    Exits 1 when a claim flips (holds vs fails, disjoint intervals), 2 when a leaderboard is refused.
    """
    from ..leaderboard import compare_render as view
    from ..leaderboard.compare import IncompatibleLeaderboards, compare
    from ..leaderboard.integrity import load_leaderboard
    from ..leaderboard.schema import LeaderboardError

    try:
        cmp = compare(load_leaderboard(a), load_leaderboard(b))
    except (LeaderboardError, IncompatibleLeaderboards) as exc:
        _fail(str(exc), code=2)
    if fmt is BoardFormat.json:
        print(json.dumps(view.comparison_json(cmp, strict), indent=1, default=str))
    elif fmt is BoardFormat.md:
        print(view.render_comparison_markdown(cmp, strict), end="")
    else:
        view.print_comparison(cmp, console, strict)
    raise typer.Exit(cmp.exit_code(strict))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
