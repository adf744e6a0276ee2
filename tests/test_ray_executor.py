"""The Ray executor on a local Ray instance (2 CPUs, no dashboard), started once for the module.

Workers are fresh Python processes: they get this checkout on PYTHONPATH (in CI, ddbench is
also pip-installed) and inherit the test's environment (dataset cache, Keras backend). A lost
worker is simulated with the executor's test hook: ``DDBENCH_RAY_TEST_CRASH_ONCE`` names a
marker file, created here so that nothing crashes; a test deletes it to make the next task
attempt kill its worker process once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import ray  # noqa: E402  (pinned by the test extra: missing, these tests fail)
from typer.testing import CliRunner
from util import assert_curves_close, tiny_spec_text

import ddbench
from ddbench.cli.app import app
from ddbench.execute import ExecContext, StratumData, get_executor
from ddbench.execute.ray_executor import CRASH_ONCE_ENV, RayExecutor, gpu_share
from ddbench.memory import BUDGET_FRACTION, plan_bundles
from ddbench.plan import plan_cells
from ddbench.run.events import Progress
from ddbench.run.pipeline import run
from ddbench.spec.validate import load_spec_text
from ddbench.store.run_store import RunStore

ROOT = str(Path(ddbench.__file__).resolve().parent.parent)

pytestmark = pytest.mark.slow


class Recorder(Progress):
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.bundles = 0

    def bundle_started(self, bundle) -> None:
        self.bundles += 1

    def message(self, text: str) -> None:
        self.messages.append(text)


class Cluster:
    def __init__(self, marker: Path):
        self.marker = marker

    def arm_crash(self) -> None:
        """The next task attempt kills its worker process (once)."""
        self.marker.unlink()


def spec_of(rates: str = "[0.0, 0.2]"):
    return load_spec_text(tiny_spec_text(rates=rates, widths="[2, 8]", epochs=2))


def test_executor_starts_and_stops_its_own_ray_instance(tmp_path):
    if ray.is_initialized():
        pytest.skip("Ray is already initialised in this process")
    spec = spec_of()
    ctx = ExecContext(spec, tmp_path, "auto", StratumData(spec))
    assert list(RayExecutor(init_options={"num_cpus": 1}).execute([], ctx)) == []
    assert not ray.is_initialized()  # it started this one, so it shut it down


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    marker = tmp_path_factory.mktemp("ray") / "crashed"
    marker.touch()
    saved = os.environ.get(CRASH_ONCE_ENV)
    os.environ[CRASH_ONCE_ENV] = str(marker)  # inherited by the workers
    path = os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p)
    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    try:
        yield Cluster(marker)
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop(CRASH_ONCE_ENV, None)
        else:
            os.environ[CRASH_ONCE_ENV] = saved


def test_workers_import_this_ddbench(cluster):
    @ray.remote
    def where() -> str:
        import ddbench

        return ddbench.__file__

    assert Path(ray.get(where.remote())).resolve() == Path(ddbench.__file__).resolve()


def test_ray_run_matches_local_run(cluster, tmp_path):
    spec = spec_of()
    local = run(spec, run_dir=tmp_path / "local")
    progress = Recorder()
    remote = run(spec, run_dir=tmp_path / "ray", executor=RayExecutor(), progress=progress)
    assert ray.is_initialized()  # an instance it did not start is left running
    assert progress.bundles == 2 and any("Ray: 1 node(s), 2 CPU(s), 0 GPU(s)" in m for m in progress.messages)
    rows = {r.key: r for r in local.leaderboard.rows}
    assert len(rows) == 4 and {r.key for r in remote.leaderboard.rows} == set(rows)
    for r in remote.leaderboard.rows:
        ref = rows[r.key]
        assert r.status == ref.status == "done"
        for name in ("train_loss", "test_loss", "train_error", "test_error"):
            assert getattr(r, name) == pytest.approx(getattr(ref, name), rel=1e-5), name
        assert r.probes.keys() == ref.probes.keys() and "weight_norm.head_sq_norm" in r.probes
        assert r.probes == pytest.approx(ref.probes, rel=1e-5)
        assert r.curves.keys() == ref.curves.keys()
        for name, values in ref.curves.items():
            assert_curves_close(r.curves[name], values, rel=1e-5, name=name)
        assert (tmp_path / "ray" / "cells" / r.key / "model.keras").stat().st_size > 0
    records = RunStore(tmp_path / "ray").records()
    assert all(rec.provenance["executor"] == "ray" and rec.provenance["node"] for rec in records)
    assert all(rec.weights == f"cells/{rec.key}/model.keras" for rec in records)
    assert json.loads((tmp_path / "ray" / "leaderboard.json").read_text())["verdicts"]


def test_lost_worker_is_retried(cluster, tmp_path):
    cluster.arm_crash()
    result = run(spec_of("[0.1]"), run_dir=tmp_path / "run", executor=RayExecutor(max_retries=1))
    assert cluster.marker.exists(), "no task attempt crashed"
    assert result.counts["done"] == 2 and result.counts["failed"] == 0


def test_bundle_lost_after_its_retries_fails_its_cells_and_the_run_goes_on(cluster, tmp_path):
    cluster.arm_crash()
    progress = Recorder()
    spec = spec_of()
    result = run(spec, run_dir=tmp_path / "run", executor=RayExecutor(max_retries=0), progress=progress)
    assert cluster.marker.exists()
    assert result.counts["failed"] == 2 and result.counts["done"] == 2  # one bundle of two cells lost
    failed = [r for r in RunStore(tmp_path / "run").records() if r.status == "failed"]
    assert all("Ray could not finish this bundle" in r.error and "Error" in r.error for r in failed)
    assert any("lost" in m and "recorded as failed" in m for m in progress.messages)
    assert (tmp_path / "run" / "leaderboard.json").exists()

    again = run(spec, run_dir=tmp_path / "run", executor=RayExecutor())  # a new run retries failed cells
    assert again.counts["done"] == 4


def test_cli_runs_with_the_ray_executor(cluster, write_spec, tmp_path):
    cli = CliRunner()
    spec = write_spec(rates="[0.0]", widths="[2, 8]", epochs=2)
    res = cli.invoke(app, ["run", str(spec), "--executor", "ray", "--gpus-per-bundle", "0"])
    assert res.exit_code == 0, res.output
    assert "each bundle asks for 0 GPU" in res.output
    records = RunStore(tmp_path / "run").records()
    assert len(records) == 2 and all(r.status == "done" and r.provenance["executor"] == "ray" for r in records)
    board = json.loads((tmp_path / "run" / "leaderboard.json").read_text())
    assert all((tmp_path / "run" / "cells" / row["key"] / "model.keras").exists() for row in board["rows"])

    res = cli.invoke(app, ["run", str(spec), "--executor", "ray", "--gpus-per-bundle", "2"])
    assert res.exit_code == 1 and "between 0 and 1" in res.output
    res = cli.invoke(app, ["run", str(spec), "--executor", "dask"])
    assert res.exit_code == 1 and "allowed: local, ray" in res.output
    res = cli.invoke(app, ["run", str(spec), "--address", "head:6379"])
    assert res.exit_code == 1 and "need --executor ray" in res.output


def test_gpu_share_rule():
    gib = 2**30
    budget = 80 * gib * BUDGET_FRACTION
    assert gpu_share(budget, 80 * gib) == 1.0
    assert gpu_share(budget / 2, 80 * gib) == 0.5
    assert gpu_share(budget / 3, 80 * gib) == 0.3333  # rounded down: three fit in one GPU
    assert gpu_share(1.0, 80 * gib) == 0.25  # at most 4 bundles share a GPU
    assert gpu_share(1.0, 80 * gib, max_per_gpu=8) == 0.125
    assert gpu_share(2 * budget, 80 * gib) == 1.0  # too big: a whole GPU (out-of-memory splits it)
    assert gpu_share(None, 80 * gib) == gpu_share(1.0, None) == gpu_share(0.0, 80 * gib) == 1.0
    assert isinstance(get_executor("ray", num_gpus_per_bundle=0.5), RayExecutor)
    with pytest.raises(ValueError, match="between 0 and 1"):
        RayExecutor(num_gpus_per_bundle=1.5)


def test_gpu_shares_and_bundles_follow_the_memory_estimates(tmp_path, monkeypatch):
    spec = spec_of()
    ctx = ExecContext(spec, tmp_path, "auto", StratumData(spec))
    executor = RayExecutor()
    ctx.device_memory = 2**30  # what execute() sets from the cluster's GPUs
    bundles = list(plan_bundles(spec, plan_cells(spec), ctx.data, ctx))
    assert len(bundles) == 2 and all(b.est_bytes > 0 for b in bundles)
    assert [executor._share(b, ctx.data, 1.0, 2**30) for b in bundles] == [0.25, 0.25]  # tiny MLPs: 4 a GPU
    assert executor._share(bundles[0], ctx.data, 0.0, None) == 0.0  # a cluster without GPUs
    assert executor._share(bundles[0], ctx.data, 1.0, None) == 1.0  # a GPU of unknown memory
    d = ctx.data.get((0.0, 0))
    need = bundles[0].est_bytes + d.x_train.nbytes + d.x_test.nbytes
    assert executor._share(bundles[0], ctx.data, 1.0, int(2.5 * need / BUDGET_FRACTION)) == 0.5
    assert RayExecutor(num_gpus_per_bundle=0.3)._share(bundles[0], ctx.data, 1.0, 2**30) == 0.3

    # a GPU too small for a stratum's cells together: the planner cuts the bundles
    ctx.device_memory = int((d.x_train.nbytes + d.x_test.nbytes + bundles[0].est_bytes / 2) / BUDGET_FRACTION)
    assert [len(b.cells) for b in plan_bundles(spec, plan_cells(spec), ctx.data, ctx)] == [1, 1, 1, 1]

    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)
    monkeypatch.delenv("TF_FORCE_GPU_ALLOW_GROWTH", raising=False)
    shared = RayExecutor(runtime_env={"env_vars": {"A": "1"}, "py_modules": ["x"]})._task_env("jax", 0.25)
    assert shared["py_modules"] == ["x"] and shared["env_vars"]["A"] == "1"
    assert shared["env_vars"]["KERAS_BACKEND"] == "jax" and shared["env_vars"]["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert "TF_FORCE_GPU_ALLOW_GROWTH" not in executor._task_env("tensorflow", 1.0)["env_vars"]


def test_the_gpu_memory_task_runs_without_keras_and_without_a_gpu():
    """The task ``_gpu_memory`` sends to a GPU node imports only the native helper (it once imported a
    helper that no longer existed, and the executor's ``except`` hid the ImportError)."""
    from ddbench.execute.ray_executor import gpu_memory_remote

    got = gpu_memory_remote()
    assert got is None or got > 0


def test_a_task_keeps_its_resume_file_in_the_run_directory_when_it_can_reach_it(tmp_path):
    """So that a killed task (or driver) resumes mid-bundle; an unreachable run directory (another
    node without a shared filesystem) leaves it in the task's temporary directory."""
    from ddbench.execute.ray_executor import resume_dir_for
    from ddbench.execute.work import BundleEvents
    from ddbench.plan import make_bundles, plan_cells
    from ddbench.spec.validate import load_spec_text

    assert resume_dir_for(str(tmp_path)) == tmp_path
    assert resume_dir_for(str(tmp_path / "elsewhere")) is None and resume_dir_for(None) is None
    (bundle,) = make_bundles(plan_cells(load_spec_text(tiny_spec_text(rates="[0.2]"))))
    work = tmp_path / "task-tmp"
    assert BundleEvents(work, False, resume_dir=tmp_path).resume(bundle).path.parent == tmp_path / "resume"
    assert BundleEvents(work, False).resume(bundle).path.parent == work / "resume"
