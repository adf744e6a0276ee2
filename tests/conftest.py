"""Shared fixtures: quiet TensorFlow, a per-session dataset cache, tiny specs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from util import tiny_spec_text

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


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
