"""Bundles as Ray tasks, across the machines of a Ray cluster (``ddbench run --executor ray``).

The driver (the process running ``ddbench run``) plans the bundles and commits every result
to the run's store; Ray workers only train. Each bundle becomes one Ray task. In its worker
the task selects the driver's Keras backend before Keras is imported, rebuilds the spec from
its JSON form, loads the stratum's data from the spec (so every node must be able to load the
dataset: MNIST-1D and synthetic data are generated, TFDS data must be prepared on each node),
trains the bundle with :func:`~ddbench.execute.work.train_bundle` in a temporary directory and
returns the cells' results with every file written under ``cells/<key>/`` (``model.keras``,
checkpoints) carried as bytes in ``CellResult.files``: no shared file system is needed. The
driver collects results as tasks finish (``ray.wait``) and commits each at once.

**GPU shares.** ``num_gpus_per_bundle`` (``--gpus-per-bundle``) fixes the share of a GPU every
bundle asks Ray for (0: train on CPUs). By default a bundle asks for no GPU on a cluster without
GPUs, and otherwise for ``1/k`` of a GPU, where ``k`` bundles like it fit the planner's budget of
one GPU (:data:`ddbench.memory.BUDGET_FRACTION` of its memory): the bundle's estimated bytes
(:class:`ddbench.memory.CellCost`, summed by the planner) plus its resident training data, with
``1 <= k <= max_bundles_per_gpu`` (4); a whole GPU when either is unknown. The GPU's memory is
``DDBENCH_DEVICE_MEMORY`` if set, else asked of ``nvidia-smi`` by a tiny task on a GPU node (GPUs
are assumed alike), and the planner cuts bundles to fit it (or the fixed share of it). Tasks
that share a GPU start with on-demand GPU memory (``XLA_PYTHON_CLIENT_PREALLOCATE=false``,
``TF_FORCE_GPU_ALLOW_GROWTH=true``), and a GPU task's worker process exits after the task, so its
memory goes back to the GPU.

**Lost workers.** Ray retries a task whose worker process or node dies (``max_retries``, 3);
Python errors are not retried (``retry_exceptions=False``): ``train_bundle`` already records
them as failed cells. Ray reports a lost worker and its retry in the driver's log (it does not
tell the driver program). A bundle that Ray still cannot finish after its retries has its cells
recorded as failed with Ray's error, and the run goes on; ``ddbench run`` again retries them.

Test hook: ``DDBENCH_RAY_TEST_CRASH_ONCE=<path>`` in a worker's environment makes the first task
attempt that finds no file at ``<path>`` create it and kill its own worker process (``os._exit``),
as a lost machine would; later attempts run normally. Only the tests set it.
"""

from __future__ import annotations

import math
import os
import platform
import tempfile
import traceback
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..memory import BUDGET_FRACTION
from ..plan import Bundle
from ..registry import executors
from ..spec.identity import training_hash
from .base import ExecContext, StratumData
from .work import CellResult, failed_results, train_bundle

CRASH_ONCE_ENV = "DDBENCH_RAY_TEST_CRASH_ONCE"
#: at most this many bundles share one GPU by default (each worker process holds its own context)
MAX_BUNDLES_PER_GPU = 4
#: environment of tasks that share a GPU: allocate GPU memory on demand, not all of it at start
SHARED_GPU_ENV = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", "TF_FORCE_GPU_ALLOW_GROWTH": "true"}
#: driver settings passed on to the workers (on other machines they do not inherit the driver's environment)
PASSED_ENV = ("TF_CPP_MIN_LOG_LEVEL", "DDBENCH_VERBOSE")


class RayNotInstalled(ImportError):
    pass


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayNotInstalled("the ray executor needs Ray: pip install 'ddbench[ray]'") from exc
    return ray


def gpu_share(est_bytes: float | None, gpu_bytes: int | None, max_per_gpu: int = MAX_BUNDLES_PER_GPU) -> float:
    """The share of one GPU a bundle needing ``est_bytes`` (data included) asks for: ``1/k`` with
    ``k`` such bundles fitting the planner's budget of a GPU of ``gpu_bytes``, ``1 <= k <= max_per_gpu``;
    a whole GPU when either is unknown. Rounded down to Ray's resolution (1e-4) so ``k`` fit."""
    if not est_bytes or est_bytes <= 0 or not gpu_bytes:
        return 1.0
    k = max(1, min(int(max_per_gpu), int(gpu_bytes * BUDGET_FRACTION // est_bytes)))
    return math.floor(10_000 / k) / 10_000


@executors.register("ray", version="1")
class RayExecutor:
    """One Ray task per bundle on a Ray cluster (``address``) or a local Ray instance."""

    name = "ray"
    description = "one Ray task per bundle, on a Ray cluster or a local Ray instance"

    def __init__(self, address: str | None = None, num_gpus_per_bundle: float | None = None, max_retries: int = 3,
                 num_cpus_per_bundle: float = 1.0, max_bundles_per_gpu: int = MAX_BUNDLES_PER_GPU,
                 runtime_env: dict[str, Any] | None = None, init_options: dict[str, Any] | None = None):
        """``address``: a Ray cluster (``ray://host:10001`` or ``host:6379``); without it, an already
        initialised Ray in this process, else ``ray.init()`` (``RAY_ADDRESS``, or a new local instance).
        ``runtime_env``: merged into every task's (e.g. ``py_modules`` where ddbench is not installed);
        ``init_options``: extra ``ray.init`` arguments."""
        if num_gpus_per_bundle is not None and not 0 <= num_gpus_per_bundle <= 1:
            raise ValueError(f"gpus per bundle must be between 0 and 1 (a share of one GPU), not {num_gpus_per_bundle}")
        if max_retries < 0 or max_bundles_per_gpu < 1:
            raise ValueError("max_retries must be >= 0 and max_bundles_per_gpu >= 1")
        self.ray = import_ray()
        self.address, self.num_gpus_per_bundle, self.max_retries = address, num_gpus_per_bundle, int(max_retries)
        self.num_cpus_per_bundle, self.max_bundles_per_gpu = num_cpus_per_bundle, int(max_bundles_per_gpu)
        self.runtime_env, self.init_options = dict(runtime_env or {}), dict(init_options or {})

    def execute(self, bundles: Iterable[Bundle], ctx: ExecContext) -> Iterator[CellResult]:
        ray = self.ray
        started = not ray.is_initialized()
        if started:
            options = {} if self.address else {"include_dashboard": False}  # a local instance: no dashboard
            try:
                ray.init(address=self.address, **{**options, **self.init_options})
            except Exception as exc:
                where = f"the Ray cluster at {self.address}" if self.address else "Ray"
                raise ConnectionError(f"cannot start or reach {where}: {type(exc).__name__}: {exc}") from exc
        elif self.address:
            ctx.on_message(f"Ray is already initialised in this process; using it, not {self.address}")
        in_flight: dict[Any, Bundle] = {}
        try:
            from .. import backend

            resources = ray.cluster_resources()
            gpus = float(resources.get("GPU", 0.0))
            gpu_bytes = None
            if gpus and self.num_gpus_per_bundle != 0:
                gpu_bytes = self._gpu_memory()
                if gpu_bytes:  # the planner cuts bundles to fit a GPU (or the fixed share of one)
                    share = self.num_gpus_per_bundle
                    ctx.device_memory = gpu_bytes if share is None else int(gpu_bytes * share)
            ctx.on_message(self._describe(resources, gpu_bytes))
            backend_name = backend.name()
            spec_json, driver_hash = ctx.spec.model_dump(mode="json"), training_hash(ctx.spec)
            tasks = {False: ray.remote(train_remote), True: ray.remote(max_calls=1)(train_remote)}
            for bundle in bundles:
                share = self._share(bundle, ctx.data, gpus, gpu_bytes)
                ref = tasks[share > 0].options(
                    num_cpus=self.num_cpus_per_bundle, num_gpus=share, max_retries=self.max_retries,
                    retry_exceptions=False, runtime_env=self._task_env(backend_name, share),
                ).remote(spec_json, driver_hash, ctx.trainer, backend_name, bundle, str(ctx.run_dir))
                in_flight[ref] = bundle
                ctx.on_bundle(bundle)
                yield from self._collect(in_flight, ctx, block=False)
            while in_flight:
                yield from self._collect(in_flight, ctx, block=True)
        finally:
            for ref in in_flight:  # interrupted: nobody will collect these
                try:
                    ray.cancel(ref, force=True)
                except Exception:
                    pass
            if started:
                ray.shutdown()

    def _collect(self, in_flight: dict[Any, Bundle], ctx: ExecContext, block: bool) -> Iterator[CellResult]:
        """Results of the tasks that have finished (at least one when ``block``)."""
        ray = self.ray
        if not in_flight:
            return
        if block:
            done, _ = ray.wait(list(in_flight), num_returns=1)
        else:
            done, _ = ray.wait(list(in_flight), num_returns=len(in_flight), timeout=0)
        for ref in done:
            bundle = in_flight.pop(ref)
            try:
                results = ray.get(ref)
            except ray.exceptions.RayTaskError as exc:  # a Python error outside training (not retried)
                results = failed_results(bundle, str(exc))
            except Exception as exc:  # the worker or its node was lost, and every retry too
                error = (f"Ray could not finish this bundle ({self.max_retries} retries): "
                         f"{type(exc).__name__}: {exc}")
                ctx.on_message(f"bundle {bundle.label} lost ({type(exc).__name__}) after {self.max_retries} "
                               f"retries; its {len(bundle.cells)} cell(s) are recorded as failed "
                               "(`ddbench run` again retries them)")
                results = failed_results(bundle, error)
            yield from results

    def _share(self, bundle: Bundle, data: StratumData, gpus: float, gpu_bytes: int | None) -> float:
        if self.num_gpus_per_bundle is not None:
            return float(self.num_gpus_per_bundle)
        if not gpus:
            return 0.0
        need = None
        if bundle.est_bytes:  # the planner estimated it, so it loaded the stratum: still in memory
            d = data.get((bundle.noise_rate, bundle.noise_seed))
            need = bundle.est_bytes + d.x_train.nbytes + d.x_test.nbytes
        return gpu_share(need, gpu_bytes, self.max_bundles_per_gpu)

    def _task_env(self, backend_name: str, share: float) -> dict[str, Any]:
        env = {"KERAS_BACKEND": backend_name}
        env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
        if 0 < share < 1:
            env.update({k: v for k, v in SHARED_GPU_ENV.items() if k not in os.environ})
        runtime_env = dict(self.runtime_env)
        runtime_env["env_vars"] = {**env, **runtime_env.get("env_vars", {})}
        return runtime_env

    def _gpu_memory(self) -> int | None:
        """Memory of one of the cluster's GPUs: DDBENCH_DEVICE_MEMORY, else nvidia-smi on a GPU node."""
        if os.environ.get("DDBENCH_DEVICE_MEMORY"):
            from .. import backend

            return backend.device_memory_bytes()
        ray = self.ray
        ref = ray.remote(gpu_memory_remote).options(num_gpus=0.0001, num_cpus=0, max_retries=1).remote()
        try:
            return ray.get(ref, timeout=120)
        except Exception:
            ray.cancel(ref, force=True)
            return None

    def _describe(self, resources: dict[str, float], gpu_bytes: int | None) -> str:
        cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
        nodes = sum(1 for k in resources if k.startswith("node:") and k != "node:__internal_head__")
        text = f"Ray: {nodes} node(s), {cpus:g} CPU(s), {gpus:g} GPU(s)"
        if gpus:
            text += f" of {gpu_bytes / 2**30:.0f} GiB" if gpu_bytes else " of unknown memory"
        if self.num_gpus_per_bundle is not None:
            return text + f"; each bundle asks for {self.num_gpus_per_bundle:g} GPU"
        if not gpus:
            return text + "; bundles train on CPUs"
        if not gpu_bytes:
            return text + "; each bundle asks for a whole GPU (set DDBENCH_DEVICE_MEMORY to share them)"
        return text + f"; up to {self.max_bundles_per_gpu} bundles share a GPU, as their memory estimates allow"


# -- in the worker --------------------------------------------------------------------------

_worker_data: dict[str, StratumData] = {}


def resume_dir_for(run_dir: str | None) -> Path | None:
    """Where a task keeps its bundle's resume file: the driver's run directory when this node can write
    to it (the same machine, or a shared filesystem), so a killed task or driver resumes mid-bundle;
    else None (the task's temporary directory, which does not outlive the task)."""
    if not run_dir:
        return None
    path = Path(run_dir)
    return path if path.is_dir() and os.access(path, os.W_OK) else None


def train_remote(spec_json: dict[str, Any], driver_hash: str, trainer_name: str, backend_name: str,
                 bundle: Bundle, run_dir: str | None = None) -> list[CellResult]:
    """The Ray task: train one bundle in a temporary directory, return its results with their files
    (the resume file goes to the run directory where this node can reach it: :func:`resume_dir_for`)."""
    crash_once_for_tests()
    from .. import backend

    backend.select(backend_name)  # before anything imports Keras
    from .. import registry
    from ..spec.hashing import content_hash
    from ..spec.model import Spec
    from ..train import get_trainer

    try:
        spec = Spec.model_validate(spec_json)
        if training_hash(spec) != driver_hash:
            raise RuntimeError(f"the spec rebuilt in the worker has training hash {training_hash(spec)}, "
                               f"the driver's {driver_hash}: is the same ddbench version installed on every node?")
        key = content_hash(spec.dataset.model_dump(mode="json"))
        if key not in _worker_data:  # a worker keeps one stratum of one dataset in memory
            _worker_data.clear()
            _worker_data[key] = StratumData(spec)
        data = _worker_data[key].get((bundle.noise_rate, bundle.noise_seed))
        trainer = get_trainer(trainer_name, registry.families.get(spec.model.family), spec.distribution,
                              engine=spec.engine)
    except Exception:
        return failed_results(bundle, traceback.format_exc())
    where = {"device": backend.device(), "node": platform.node(), "versions": backend.versions()}
    with tempfile.TemporaryDirectory(prefix="ddbench-ray-") as tmp:
        results = list(train_bundle(spec, bundle, data, trainer, Path(tmp), resume_dir=resume_dir_for(run_dir)))
        for result in results:
            result.files = cell_files(Path(tmp), result)
            result.provenance = where
    backend.clear_session()
    return results


def cell_files(work_dir: Path, result: CellResult) -> dict[str, bytes]:
    """Every file written under ``cells/<key>/``, by path relative to the work (= run) directory."""
    folder = work_dir / "cells" / result.cell.key
    if not folder.is_dir():
        return {}
    return {p.relative_to(work_dir).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def gpu_memory_remote() -> int | None:
    """The Ray task behind ``_gpu_memory``: nvidia-smi on the GPU node it lands on (no Keras import)."""
    from ..backend.native import nvidia_smi_total_bytes

    return nvidia_smi_total_bytes(0)


def crash_once_for_tests() -> None:
    """The test hook of the module docstring: a lost worker, once."""
    marker = os.environ.get(CRASH_ONCE_ENV)
    if not marker:
        return
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))  # atomic: exactly one attempt
    except FileExistsError:
        return
    os._exit(1)
