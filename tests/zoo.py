"""Small synthetic zoos (ResultTable objects built directly, no training) for the statistics tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ddbench.hypotheses.cells import CellView
from ddbench.hypotheses.table import ResultTable

WIDTHS = [2, 4, 8, 16, 32, 64, 128]
TRAIN = [0.6, 0.4, 0.2, 0.0, 0.0, 0.0, 0.0]  # k* = 16 (index 3)


def zoo(test_error: Callable[[float, int, int], float], *, rates=(0.2,), seeds=(0,), n_test=400, widths=WIDTHS,
        train=TRAIN, probes: Callable[[float, int, int], dict[str, Any]] | None = None,
        rng: np.random.Generator | None = None, failed: set[tuple[float, int, int]] = frozenset(),
        identical_seeds: bool = False) -> ResultTable:
    """Cells whose per-point test correctness is Bernoulli(1 - test_error(rate, seed, i)) (sampled with ``rng``),
    with test losses 2 x wrong + noise, training errors ``train`` and probe values ``probes(rate, seed, i)``.
    Cells in ``failed`` ((rate, seed, width)) are recorded with status ``failed``. ``identical_seeds``: every
    seed gets the first seed's draws (copies, as a seed-independent computation would give)."""
    rng = rng or np.random.default_rng(0)
    cells, arrays = [], {}
    draws: dict[tuple[float, int], tuple[np.ndarray, np.ndarray]] = {}
    for rate in rates:
        for seed in seeds:
            for i, w in enumerate(widths):
                e = float(np.clip(test_error(rate, seed, i), 0, 1))
                if not identical_seeds or (rate, i) not in draws:
                    draws[(rate, i)] = (rng.random(n_test) < e, rng.random(n_test))
                wrong, jitter = draws[(rate, i)]
                loss = (2.0 * wrong + 0.1 * jitter).astype(np.float32)
                key = f"{rate}-{seed}-{w}"
                arrays[key] = {"test_correct": ~wrong, "test_loss": loss}
                status = "failed" if (rate, seed, w) in failed else "done"
                cells.append(CellView(key, "mlp", {}, {}, w, rate, 0, seed, status, w * 10,
                                      {"train_error": train[i], "test_error": float(wrong.mean()),
                                       "test_loss": float(loss.mean())},
                                      {}, probes(rate, seed, i) if probes else {}))
    return ResultTable(cells, lambda k: arrays[k])
