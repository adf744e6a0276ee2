"""leaderboard.html and the report figures: known-answer bands, peaks only where they exist,
curated probe panels, failures marked, and the page in a real headless Chromium."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner
from util import tiny_spec_text

from ddbench import registry
from ddbench.cli.app import app
from ddbench.leaderboard import figures as F
from ddbench.leaderboard.curves import curve_groups
from ddbench.leaderboard.html import render_html
from ddbench.leaderboard.intervals import metric_band, probe_band
from ddbench.leaderboard.io import read_leaderboard
from ddbench.leaderboard.schema import (
    Leaderboard,
    Row,
    StratumVerdict,
    Verdict,
)
from ddbench.probes.base import ProbePlugin
from ddbench.stats.plan import ResamplingPlan

cli = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run")


@registry.probes.register("report_flaky_for_test", version="0")
class Flaky(ProbePlugin):
    """Fails at width 8, NaN at width 32 for p > 0, else width and bookkeeping."""

    measures = ("value",)

    def measure(self, ctx, config):
        if ctx.cell.width == 8:
            raise RuntimeError("flaky at width 8")
        value = float("nan") if ctx.cell.width == 32 and ctx.cell.noise_rate > 0 else float(ctx.cell.width)
        return {"value": value, "value_se": 0.5, "n_points": 7}


# --------------------------------------------------------------------------- boards built by hand


def _row(width: int, seed: int, p: float, test_error: float, **kw) -> Row:
    return Row(key=f"k{width}-{seed}-{p}", status=kw.pop("status", "done"), family="mlp", width=width,
               noise_rate=p, noise_seed=0, seed=seed, train_error=kw.pop("train_error", 0.0),
               test_error=test_error, test_loss=kw.pop("test_loss", 1.0), train_loss=0.1, **kw)


def _board(rows: list[Row], verdicts: list[Verdict] = (), probes: list[str] = ()) -> Leaderboard:
    return Leaderboard(ddbench_version="0", created="2024-01-01T00:00:00Z", backend="tensorflow", device="cpu",
                       spec_name="hand", spec_hash="abc", spec={"probes": [{"name": p} for p in probes]},
                       analysis={"alpha": 0.05, "bootstrap": 400, "interpolation_threshold": 0.01},
                       rows=rows, verdicts=list(verdicts))


def _dd(p: float, peak_height: float, peak_width: int = 8) -> Verdict:
    detail = {"k_star": 8, "peak_width": peak_width, "peak_height": peak_height, "peak_value": 0.5}
    s = StratumVerdict(stratum={"family": "mlp", "noise_rate": p}, verdict="not_applicable" if p == 0 else "holds",
                       statistic=peak_height, detail=detail)
    return Verdict(hypothesis="double_descent", hypothesis_version="1", claim="double_descent.peak",
                   verdict=s.verdict, strata=[s])


def _stars(fig) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for ax in fig.axes for line in ax.get_lines() if line.get_marker() == "*"
            for x, y in zip(line.get_xdata(), line.get_ydata())]


def test_peak_star_only_where_the_recorded_curve_has_a_peak():
    rows = [_row(w, 0, p, e) for p in (0.0, 0.2) for w, e in ((2, 0.4), (8, 0.5), (32, 0.3))]
    no_peak = _board(rows, [_dd(0.0, -0.007)])  # p = 0: a "peak width" with negative excess is no peak
    assert all(not F.dd_peaks(no_peak, g) for g in curve_groups(no_peak))
    assert _stars(F.curves_figure(no_peak)) == []
    with_peak = _board(rows, [_dd(0.2, 0.05)])
    (g0, g2) = curve_groups(with_peak)
    assert not F.dd_peaks(with_peak, g0) and F.dd_peaks(with_peak, g2)["peak"].width == 8
    assert _stars(F.curves_figure(with_peak)) == [(8.0, 0.5)]
    # the statistical core's per-stratum record, when the leaderboard has one, is read first
    core = _board(rows, [_dd(0.2, 0.05)])
    core.analysis["strata"] = [{"stratum": {"family": "mlp", "noise_rate": 0.2}, "k_star": 8,
                                "test_error_peak": {"width": 32, "excess": 0.02},
                                "test_loss_peak": {"width": 8, "excess": -0.1}}]
    assert _stars(F.curves_figure(core)) == [(32.0, 0.3)]  # error panel only, at the core's width and the row mean
    # an explicit peak_found from the verdict layer decides
    found_false = _dd(0.2, 0.05)
    found_false.strata[0].detail["peak_found"] = False
    assert _stars(F.curves_figure(_board(rows, [found_false]))) == []


def test_k_star_line_only_where_reached():
    rows = [_row(w, 0, 0.2, 0.5, train_error=t) for w, t in ((2, 0.5), (8, 0.0), (32, 0.0))]
    rows += [_row(w, 0, 0.0, 0.5, train_error=0.3) for w in (2, 8, 32)]
    fig = F.curves_figure(_board(rows))
    vlines = {ax.get_title().split(":")[0]: [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() == "--"]
              for ax in fig.axes}
    assert vlines["p = 0.2"] == [8] and vlines["p = 0"] == []
    assert any("k* not reached" in t.get_text() for ax in fig.axes for t in ax.texts)


def test_seed_band_is_a_bootstrap_interval_not_min_max():
    errs = {0: 0.40, 1: 0.50, 2: 0.60, 3: 0.45, 4: 0.55}
    board = _board([_row(8, s, 0.2, e) for s, e in errs.items()])
    (group,) = curve_groups(board)
    band = metric_band(board, group, "test_error", None, ResamplingPlan(2000, 0), 0.95)
    assert band.method == "seeds" and band.mean == [pytest.approx(0.5)]
    se = np.std(list(errs.values())) / np.sqrt(len(errs))  # bootstrap SE of a mean: population sd / sqrt(n)
    assert band.lo[0] == pytest.approx(0.5 - 1.96 * se, abs=0.02) and band.hi[0] == pytest.approx(0.5 + 1.96 * se, abs=0.02)
    assert 0.40 < band.lo[0] and band.hi[0] < 0.60  # strictly inside min..max


def test_test_point_band_matches_the_binomial_interval():
    rng = np.random.default_rng(3)
    correct = (rng.random(2000) >= 0.25).astype(np.float32)  # error ~ 0.25 over 2000 points
    e = 1 - correct.mean()
    board = _board([_row(8, 0, 0.2, float(e))])
    (group,) = curve_groups(board)
    band = metric_band(board, group, "test_error", lambda key: {"test_correct": correct}, ResamplingPlan(2000, 0), 0.95)
    half = 1.96 * np.sqrt(e * (1 - e) / len(correct))
    assert band.method == "test_points"
    assert band.lo[0] == pytest.approx(e - half, abs=0.004) and band.hi[0] == pytest.approx(e + half, abs=0.004)
    none = metric_band(board, group, "test_error", None, ResamplingPlan(200, 0), 0.95)
    assert none.method == "none" and none.lo == [None]  # one seed, no arrays: no band, said so


def test_probe_band_t_interval_and_probe_se():
    rows = [_row(8, s, 0.2, 0.5, probes={"p.v": v}) for s, v in enumerate((1.0, 2.0, 3.0))]
    rows.append(_row(16, 0, 0.2, 0.5, probes={"p.v": 4.0, "p.v_se": 0.5}))
    (group,) = curve_groups(_board(rows))
    band = probe_band(group, "p.v", 0.95)
    h = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)
    assert band.lo[0] == pytest.approx(2 - h) and band.hi[0] == pytest.approx(2 + h)
    assert band.lo[1] == pytest.approx(4 - 1.96 * 0.5, abs=1e-3)
    assert band.method == "seeds (t)/probe se"


def test_probe_panels_are_the_declared_measures_only():
    probes = {"class_activation.complexity": 3.0, "class_activation.complexity_se": 0.1,
              "class_activation.complexity_chunks": 40, "class_activation.n_test": 100,
              "undeclared.value": 1.0, "undeclared.value_se": 0.2, "undeclared.n_points": 5,
              "undeclared.note": "text", "undeclared.complexity_chunks": 3}
    board = _board([_row(8, 0, 0.2, 0.5, probes=probes)], probes=["class_activation", "undeclared"])
    assert F.measure_keys(board) == ["class_activation.complexity", "undeclared.value"]
    fig = F.probes_figure(board)
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in shown] == F.measure_keys(board)
    assert all(ax.get_ylabel() and ax.get_xlabel() == "width" for ax in shown)


def test_html_cards_show_statistic_interval_control_fields_and_reason():
    s = StratumVerdict(stratum={"family": "mlp", "noise_rate": 0.2}, verdict="holds", statistic=0.05, ci=(0.03, 0.07),
                       threshold=0.01, detail={"k_star": 8})
    held = Verdict(hypothesis="double_descent", hypothesis_version="1", claim="double_descent.peak", verdict="holds",
                   statistic=0.05, ci=(0.03, 0.07), ci_level=0.99, threshold=0.01, strata=[s],
                   family="double_descent", correction="holm", unit="test_points", replicates=1000, p_value=0.0021)
    na = Verdict(hypothesis="low_rank", hypothesis_version="1", claim="low_rank.depth_lowers_rank",
                 verdict="not_applicable", reason="no depth axis varies <here>")
    board = _board([_row(w, 0, 0.2, 0.5, probes={"weight_norm.status": "failed"} if w == 8 else {})
                    for w in (2, 8, 32)], [held, na])
    page = render_html(board)
    card = page[page.index('id="claim-double_descent.peak"'):]
    card = card[:card.index('class="card', 10)]
    for text in ("0.05", "[0.03, 0.07]", "0.99", "holm", "test_points", "1000", "0.0021", "double_descent"):
        assert text in card, text
    assert "no depth axis varies &lt;here&gt;" in page  # the reason, escaped
    assert "Failed or NaN probes" in page and "k8-0-0.2" in page
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//)""", page) and "<script" not in page and "<link" not in page


# --------------------------------------------------------------------------- a tiny run, in a real browser


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    spec = tmp / "tiny.yaml"
    spec.write_text(tiny_spec_text().replace("probes: [weight_norm]", "probes: [weight_norm, report_flaky_for_test]")
                    + f"output_dir: {tmp / 'run'}\n")
    res = cli.invoke(app, ["run", str(spec), "--quiet"])
    assert (tmp / "run" / "leaderboard.json").exists(), res.output
    return tmp / "run"


def _browser(user_data: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run does)"
    opts = Options()
    opts.binary_location = chromium
    for flag in (*CHROME_FLAGS, f"--user-data-dir={user_data}", "--window-size=1280,1800"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


def _load(browser, path: Path) -> tuple[list[dict], list[list]]:
    browser.get(path.resolve().as_uri())
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.alt])")
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    return errors, images


@pytest.mark.slow
def test_report_in_headless_chromium(tiny_run: Path, tmp_path: Path):
    page = tiny_run / "leaderboard.html"
    assert page.exists() and (tiny_run / "leaderboard.md").exists()  # written by `ddbench run`
    page.unlink()
    res = cli.invoke(app, ["report", str(tiny_run)])  # and again by `ddbench report`
    assert res.exit_code == 0, res.output
    text = page.read_text()
    assert "Failed or NaN probes" in text and "report_flaky_for_test" in text and "nan" in text
    # the figures from ddbench run are the curated ones: one panel per declared measure
    assert "probes_vs_width.png" in res.output and "error_vs_width.png" in res.output

    broken = tmp_path / "broken.html"  # the harness itself must see a broken image and a console error
    broken.write_text('<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA" alt="bad">'
                      '<script>console.error("boom")</script></body></html>')
    browser = _browser(tmp_path / "chromium-profile")
    try:
        errors, images = _load(browser, broken)
        assert errors and any("boom" in e["message"] for e in errors)
        assert images and images[0][1] == 0
        errors, images = _load(browser, page)
        browser.set_window_size(1280, 1800)
        assert browser.title == "ddbench: tiny"
        cards = browser.execute_script("return document.querySelectorAll('.card').length")
    finally:
        browser.quit()
    assert errors == []
    assert len(images) >= 3, images  # error/loss vs width, probes, epochs
    assert all(complete and w > 0 and h > 0 for complete, w, h, _ in images), images
    assert cards == 2  # double_descent.peak and .loss_peak


@pytest.mark.slow
def test_export_parquet_loads_in_pandas(tiny_run: Path, tmp_path: Path):
    import pandas as pd

    from ddbench.store.results import load

    res = cli.invoke(app, ["export", str(tiny_run), "--format", "parquet", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    cells, curves = pd.read_parquet(tmp_path / "cells.parquet"), pd.read_parquet(tmp_path / "curves.parquet")
    board = read_leaderboard(tiny_run / "leaderboard.json")
    assert len(cells) == len(board.rows) == 6
    by_key = {r.key: r for r in board.rows}
    for _, c in cells.iterrows():
        assert c["test_error"] == pytest.approx(by_key[c["key"]].test_error)
        assert c["report_flaky_for_test.status"] == ("failed" if c["width"] == 8 else
                                                     "nan" if c["width"] == 32 and c["noise_rate"] > 0 else "ok")
    assert len(curves) == sum(len(r.curves["epoch"]) for r in board.rows)
    loaded = load(tiny_run)
    assert loaded.cells.shape == cells.shape and loaded.curves.shape == curves.shape
    assert cells["prov.versions.keras"].notna().all() and cells["timing.train_seconds"].notna().all()
