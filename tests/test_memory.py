"""Bundles fit the device; a bundle that runs out of memory is split and retried, not lost."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest
from util import tiny_spec_text

from ddbench import memory
from ddbench.data import load_train_data
from ddbench.execute import StratumData, train_bundle
from ddbench.execute.work import is_out_of_memory
from ddbench.memory import plan_bundles
from ddbench.plan import Bundle, make_bundles, plan_cells
from ddbench.run.pipeline import run
from ddbench.spec.validate import load_spec_text
from ddbench.train.base import CellOutcome, Trainer

OOM = "jaxlib.xla_extension.XlaRuntimeError: RESOURCE_EXHAUSTED: Out of memory while trying to allocate 123 bytes."


def _spec(**kw):
    return load_spec_text(tiny_spec_text(rates="[0.0]", widths="[2, 8, 32, 64]", seeds="[0, 1]", **kw))


def test_make_bundles_groups_seeds_and_cuts_by_budget():
    cells = plan_cells(_spec())
    (whole,) = make_bundles(cells)
    assert len(whole.cells) == 8 and whole.seeds == [0, 1]
    cost = lambda c: float(c.width)  # noqa: E731
    parts = make_bundles(cells, budget_bytes=40.0, cost=cost)
    # by increasing width, both seeds of a width side by side; a bundle closes when the next cell does not fit
    assert [[(c.width, c.seed) for c in b.cells] for b in parts] == [
        [(2, 0), (2, 1), (8, 0), (8, 1)], [(32, 0)], [(32, 1)], [(64, 0)], [(64, 1)]]
    assert all(sum(cost(c) for c in b.cells) <= 40 or len(b.cells) == 1 for b in parts)
    assert sorted(c.key for b in parts for c in b.cells) == sorted(c.key for c in cells)


def test_cell_cost_counts_parameters_slots_and_activations():
    spec = _spec()
    data = load_train_data(spec.dataset, 0.0, 0)
    cost = memory.CellCost("mlp", data.input_shape, data.num_classes, spec.training)
    cell = [c for c in plan_cells(spec) if c.width == 32][0]
    d = int(np.prod(data.input_shape))
    params = d * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10
    assert cost.params(cell) == params
    # SGD with momentum: weights, gradients, one slot; activations: two hidden layers and the logits at least
    assert cost.param_bytes(cell) == params * 3 * 4
    acts = cost.activations(cell)
    assert acts >= 32 + 32 + 10
    assert cost(cell) == pytest.approx(cost.param_bytes(cell) + acts * spec.training.batch_size * 2 * 4)


def test_plan_bundles_follows_device_memory(monkeypatch):
    spec = _spec()
    cells = plan_cells(spec)
    (one,) = list(plan_bundles(spec, cells, StratumData(spec)))  # 24 GiB of host memory: one bundle
    assert len(one.cells) == 8
    data = load_train_data(spec.dataset, 0.0, 0)
    cost = memory.CellCost("mlp", data.input_shape, data.num_classes, spec.training)
    widest = max(cost(c) for c in cells)
    monkeypatch.setenv("DDBENCH_DEVICE_MEMORY", str(int((1.5 * widest + data.x_train.nbytes + data.x_test.nbytes)
                                                         / memory.BUDGET_FRACTION)))
    parts = list(plan_bundles(spec, cells, StratumData(spec)))
    assert len(parts) > 2 and all(len(b.cells) == 1 for b in parts if b.cells[0].width == 64)


class _OomAbove(Trainer):
    """Trains nothing: 'runs out of memory' for bundles larger than ``limit`` cells, like an engine would."""

    name = "fake"

    def __init__(self, limit: int, raise_it: bool):
        self.limit, self.raise_it, self.sizes = limit, raise_it, []

    def train(self, bundle, data, training, events) -> Iterator[CellOutcome]:
        self.sizes.append(len(bundle.cells))
        if len(bundle.cells) > self.limit:
            if self.raise_it:
                raise RuntimeError(OOM)
            for c in bundle.cells:
                yield CellOutcome(c, "failed", error=OOM)
            return
        for c in bundle.cells:
            yield CellOutcome(c, "done", metrics={"train_loss": 0.0}, params=1)


@pytest.mark.parametrize("raise_it", [True, False])
def test_out_of_memory_splits_and_retries(tmp_path, raise_it):
    assert is_out_of_memory(OOM) and is_out_of_memory("torch.OutOfMemoryError: CUDA out of memory")
    assert not is_out_of_memory("ValueError: bad shape")
    spec = _spec()
    data = load_train_data(spec.dataset, 0.0, 0)
    (bundle,) = make_bundles(plan_cells(spec))
    trainer = _OomAbove(limit=2, raise_it=raise_it)
    splits = []
    results = list(train_bundle(spec, bundle, data, trainer, tmp_path, on_split=lambda b, h: splits.append(len(b.cells))))
    assert sorted(r.cell.key for r in results) == sorted(c.key for c in bundle.cells)
    assert {r.status for r in results} == {"done"}
    assert trainer.sizes == [8, 4, 2, 2, 4, 2, 2] and splits == [8, 4, 4]


class _RaisesAfterFirst(Trainer):
    """Finishes the first cell, then raises (``oom``: out of memory) for the rest of the bundle."""

    name = "fake"

    def __init__(self, oom: bool):
        self.oom, self.calls = oom, []

    def train(self, bundle, data, training, events) -> Iterator[CellOutcome]:
        self.calls.append([c.key for c in bundle.cells])
        first, *rest = bundle.cells
        yield CellOutcome(first, "done", metrics={"train_loss": 0.0}, params=1)
        if rest and (len(self.calls) == 1 or not self.oom):
            raise RuntimeError(OOM if self.oom else "ValueError: bad shape")
        for c in rest:
            yield CellOutcome(c, "done", metrics={"train_loss": 0.0}, params=1)


@pytest.mark.parametrize("oom", [False, True])
def test_a_cell_finished_before_an_error_stays_finished(tmp_path, oom):
    spec = _spec()
    data = load_train_data(spec.dataset, 0.0, 0)
    bundle = Bundle(plan_cells(spec)[:4])
    trainer = _RaisesAfterFirst(oom)
    results = list(train_bundle(spec, bundle, data, trainer, tmp_path))
    by_key = {}
    for r in results:
        assert r.cell.key not in by_key, "a cell was reported twice"
        by_key[r.cell.key] = r.status
    first = bundle.cells[0].key
    assert by_key[first] == "done" and len(by_key) == 4
    # an error fails only the cells not yet finished; out of memory retries only those, never the finished one
    assert all(k == first or s == ("done" if oom else "failed") for k, s in by_key.items())
    assert all(first not in call for call in trainer.calls[1:])


def test_a_cell_that_does_not_fit_alone_is_recorded_failed(tmp_path):
    spec = _spec()
    data = load_train_data(spec.dataset, 0.0, 0)
    bundle = Bundle(plan_cells(spec)[:2])
    results = list(train_bundle(spec, bundle, data, _OomAbove(limit=0, raise_it=False), tmp_path))
    assert [r.status for r in results] == ["failed", "failed"] and all("RESOURCE_EXHAUSTED" in r.error for r in results)


@pytest.mark.slow
def test_run_survives_out_of_memory_through_the_runner(tmp_path, monkeypatch):
    """The real engine under a wrapper that fails bundles of more than 2 cells: every cell still lands done."""
    from ddbench.execute import local
    from ddbench.train.stateless import StatelessTrainer

    class Tight(StatelessTrainer):
        def train(self, bundle, data, training, events):
            if len(bundle.cells) > 2:
                raise RuntimeError(OOM)
            yield from super().train(bundle, data, training, events)

    monkeypatch.setattr(local, "get_trainer", lambda *a, **k: Tight())
    messages = []

    class Listen:
        def __getattr__(self, name):
            return (lambda text: messages.append(text)) if name == "message" else (lambda *a, **k: None)

    res = run(_spec(), run_dir=tmp_path / "run", progress=Listen())
    assert res.counts["done"] == 8, res.counts
    assert any("out of memory with 8 cells" in m for m in messages), messages
