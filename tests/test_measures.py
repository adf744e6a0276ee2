"""Probe-as-measure scores: Kendall tau and granulated tau on constructed zoos."""

import pytest

from ddbench.leaderboard.measures import probe_scores
from ddbench.leaderboard.schema import Row


def row(width, p, seed, test_error, value, depth=None):
    return Row(key=f"{width}-{p}-{seed}-{depth}", status="done", family="mlp", width=width,
               config={} if depth is None else {"depth": depth}, noise_rate=p, noise_seed=0, seed=seed,
               test_error=test_error, probes={"m.value": value, "m.name": "text"})


def test_perfect_measure_has_tau_one_on_every_axis():
    rows = [row(w, p, 0, 0.1 * w + p, 0.1 * w + p) for w in (1, 2, 3) for p in (0.0, 0.2)]
    (s,) = probe_scores(rows, [])
    assert s["probe"] == "m.value" and s["n"] == 6
    assert s["kendall_tau"] == pytest.approx(1.0)
    assert s["per_axis"]["width"] == pytest.approx(1.0) and s["per_axis"]["noise_rate"] == pytest.approx(1.0)
    assert s["granulated_tau"] == pytest.approx(1.0)


def test_anti_correlated_measure_and_axis_that_does_not_vary():
    rows = [row(w, 0.1, 0, 0.5 - 0.1 * w, float(w)) for w in (1, 2, 3, 4)]
    (s,) = probe_scores(rows, ["depth"])
    assert s["kendall_tau"] == pytest.approx(-1.0)
    assert s["per_axis"]["noise_rate"] is None and s["per_axis"]["depth"] is None
    assert s["granulated_tau"] == pytest.approx(-1.0)


def test_granulated_tau_separates_axes():
    # the measure follows test error across widths but is reversed across depth
    rows = []
    for w in (1, 2, 3):
        for d in (1, 2, 3):
            err = 0.1 * w + 0.01 * d
            rows.append(row(w, 0.1, 0, err, 0.1 * w - 0.01 * d, depth=d))
    (s,) = probe_scores(rows, ["depth"])
    assert s["per_axis"]["width"] == pytest.approx(1.0)
    assert s["per_axis"]["depth"] == pytest.approx(-1.0)
    assert s["granulated_tau"] == pytest.approx(0.0)


def test_bookkeeping_values_are_not_scored():
    rows = [row(w, 0.1, 0, 0.1 * w, float(w)) for w in (1, 2, 3)]
    for r in rows:
        r.probes.update({"m.n_points": 512, "m.value_se": 0.1 * r.width, "k.kept": float(r.width), "k.dropped": 1.0 * r.width})
    keys = {s["probe"] for s in probe_scores(rows, [], {"m": None, "k": ("kept",)})}
    assert keys == {"m.value", "k.kept"}
