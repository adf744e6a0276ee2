"""Shared fixtures: quiet TensorFlow, a per-session dataset cache, tiny specs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from util import tiny_spec_text

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def _share_the_cores() -> None:
    """Under pytest-xdist (``-n N``), give each worker its share of the cores for TensorFlow's and OpenMP's
    thread pools (set before either is imported, and inherited by the scripts tests start), so that N
    workers do not each spin a pool as wide as the machine: on 2 cores, 2 workers of 1 thread each."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers < 2:
        return
    share = str(max(1, (os.cpu_count() or 1) // workers))
    for var in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(var, share)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


_share_the_cores()


@pytest.fixture(scope="session", autouse=True)
def _dataset_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Generate MNIST-1D at most once per test session, outside the user's home."""
    os.environ.setdefault("DDBENCH_CACHE", str(tmp_path_factory.mktemp("ddbench-cache")))


@pytest.fixture
def write_spec(tmp_path: Path):
    def write(name: str = "spec.yaml", **kw: str) -> Path:
        path = tmp_path / name
        path.write_text(tiny_spec_text(**kw) + f"output_dir: {tmp_path / 'run'}\n")
        return path

    return write


#: the files that took longest on 2 cores (``--durations``, 2026-12-08), in that order: under ``-n auto
#: --dist loadfile`` each file runs whole on one worker, so the long ones go first instead of ending the
#: run alone; other files follow, those with more ``slow`` (training) tests first
LONGEST_FIRST = ("test_lanes", "test_conv_engine", "test_conv_sweep_smoke", "test_resume", "test_ray_executor", "test_scaffold", "test_wheel",
                 "test_reload", "test_stateless", "test_run", "test_benchmark_smoke", "test_recipe_wall_smoke")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long files first (:data:`LONGEST_FIRST`, then by their count of ``slow`` tests), each file's tests in order."""
    slow: dict[str, int] = {}
    for item in items:
        slow[item.module.__name__] = slow.get(item.module.__name__, 0) + (item.get_closest_marker("slow") is not None)
    first = {name: i for i, name in enumerate(dict.fromkeys(item.module.__name__ for item in items))}

    def rank(item: pytest.Item) -> tuple[int, int, int]:
        name = item.module.__name__
        known = LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
        return known, -slow[name], first[name]

    items.sort(key=rank)
