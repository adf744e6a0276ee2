"""Leaderboard views (markdown, terminal, PNG) and comparisons, on small synthetic leaderboards."""

from __future__ import annotations

import io
from typing import Any

import pytest

from ddbench.leaderboard.compare import (
    NOT_COMPARABLE,
    IncompatibleLeaderboards,
    compare,
)
from ddbench.leaderboard.compare_render import (
    print_comparison,
    render_comparison_markdown,
)
from ddbench.leaderboard.curves import curve_groups
from ddbench.leaderboard.plot import plot_error_vs_width
from ddbench.leaderboard.render import print_board, render_markdown
from ddbench.leaderboard.schema import Leaderboard, Row, StratumVerdict, Verdict

WIDTHS = [4, 8, 16, 32]
RATES = [0.1, 0.2]
SEEDS = [0, 1]
# per noise rate: mean train error and test error per width; k* = 8 (first train error <= 0.01), peak at 16
TRAIN = [0.30, 0.005, 0.0, 0.0]
TEST = {0.1: [0.30, 0.33, 0.38, 0.22], 0.2: [0.35, 0.40, 0.47, 0.28]}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_board(*, dataset: str = "mnist1d", family: str = "mlp", spec_hash: str = "0123456789abcdef",
               schema_version: str = "1.0", flip: bool = False, failed_rate: float | None = None,
               widths: list[int] = WIDTHS, seeds: list[int] = SEEDS, rates: list[float] = RATES) -> Leaderboard:
    """2 noise rates x 4 widths x 2 seeds with curves, and a double_descent verdict per stratum and pooled."""
    rows = []
    for p in rates:
        for i, w in enumerate(widths):
            for s in seeds:
                status = "failed" if p == failed_rate else "done"
                tr, te = TRAIN[i % 4], TEST.get(p, TEST[0.1])[i % 4] + 0.01 * s
                metrics: dict[str, Any] = {}
                if status == "done":
                    metrics = dict(train_error=tr, test_error=te, train_loss=2 * tr, test_loss=3 * te,
                                   curves={"epoch": [1, 10, 100], "train_error": [0.9, 0.5, tr], "test_error": [0.9, 0.6, te],
                                           "train_loss": [2.3, 1.0, 2 * tr], "test_loss": [2.3, 1.5, 3 * te]})
                else:
                    metrics = dict(error="RuntimeError: out of memory")
                rows.append(Row(key=f"{family}-w{w}-p{p}-s{s}", status=status, family=family, width=w,
                                config={"depth": 2, "width": w}, params=50 * w, noise_rate=p, noise_seed=0, seed=s,
                                epochs=100, **metrics))

    def strata(claim: str) -> list[StratumVerdict]:
        out = []
        for p in rates:
            if p == failed_rate:
                continue
            verdict = "holds" if claim == "peak" else ("inconclusive" if p == 0.1 else "holds")
            if flip and claim == "peak" and p == 0.2:
                verdict = "fails"
            stat = 0.05 if verdict == "holds" else -0.02 if verdict == "fails" else 0.01
            out.append(StratumVerdict(
                stratum={"family": family, "noise_rate": p}, verdict=verdict, statistic=stat,
                ci=(stat - 0.02, stat + 0.02), threshold=0.01,
                detail={"k_star": 8, "peak_width": 16, "peak_height": stat, "widths": widths,
                        "test_error": TEST.get(p, TEST[0.1]), "train_error": TRAIN, "seeds": len(seeds)},
            ))
        if len(out) > 1:
            out.append(StratumVerdict(stratum={"pooled": True, "strata": len(out)}, verdict=out[0].verdict,
                                      statistic=0.04, ci=(0.02, 0.06), threshold=0.01, reason="mean peak excess"))
        return out

    verdicts = []
    for claim in ("peak", "loss_peak"):
        st = strata(claim)
        head = next((s for s in st if s.stratum.get("pooled")), st[0] if st else None)
        verdicts.append(Verdict(hypothesis="double_descent", hypothesis_version="1", claim=f"double_descent.{claim}",
                                verdict=head.verdict if head else "not_applicable",
                                statistic=head.statistic if head else None, ci=head.ci if head else None,
                                threshold=0.01, reason="" if head else "no finished strata", strata=st))
    spec = {"name": "dd-test", "dataset": {"name": dataset, "n_train": 4000, "noise": {"rates": rates, "kind": "may_keep"}},
            "model": {"family": family, "widths": widths}, "training": {"epochs": 100}, "analysis": {"interpolation_threshold": 0.01}}
    return Leaderboard(schema_version=schema_version, ddbench_version="0.1.0", created="2024-01-01T00:00:00Z",
                       backend="jax", device="cpu", spec_name="dd-test", spec_hash=spec_hash, spec=spec,
                       analysis={"alpha": 0.05, "tests": 4, "ci_level": 0.9875, "correction": "bonferroni"},
                       rows=rows, verdicts=verdicts)


def section(md: str, title_part: str) -> str:
    """The markdown between the heading containing ``title_part`` and the next heading."""
    blocks = md.split("\n#")
    found = [b for b in blocks if title_part in b.splitlines()[0]]
    assert found, f"no section {title_part!r} in\n{md}"
    return found[0]


def table_row(text: str, first_cell: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in\n{text}")


# --------------------------------------------------------------------------- markdown / terminal


def test_markdown_header_and_matrix() -> None:
    md = render_markdown(make_board())
    head = section(md, "ddbench leaderboard")
    assert "dd-test" in head and "0123456789abcdef" in head and "0.1.0" in head and "jax" in head
    assert "16 done" in head
    matrix = section(md, "Verdict matrix")
    assert table_row(matrix, "stratum") == ["stratum", "double_descent.peak", "double_descent.loss_peak"]
    assert table_row(matrix, "p=0.1") == ["p=0.1", "holds", "inconclusive"]
    assert table_row(matrix, "p=0.2") == ["p=0.2", "holds", "holds"]
    assert table_row(matrix, "pooled (2 strata)")[1:] == ["holds", "inconclusive"]
    assert table_row(matrix, "overall")[1:] == ["holds", "inconclusive"]
    verdicts = section(md, "Verdicts")
    assert "[0.03, 0.07]" in verdicts and "k*=8" in verdicts


def test_markdown_marks_k_star_and_peak() -> None:
    md = render_markdown(make_board())
    for p in RATES:
        curve = section(md, f"Error vs width: p={p:g}")
        assert "k* = 8" in curve
        assert "k*" in table_row(curve, "8")[-1] and "peak" not in table_row(curve, "8")[-1]
        assert table_row(curve, "16")[-1] == "← peak, loss peak"
        assert table_row(curve, "4")[-1] == "" and table_row(curve, "32")[-1] == ""
        row = table_row(curve, "4")
        assert row[1] == "200" and row[2] == "2" and "±" in row[4]


def test_markdown_failed_cells_and_fallback_k_star() -> None:
    board = make_board(failed_rate=0.2)
    md = render_markdown(board)
    assert "no finished cells" in section(md, "Error vs width: p=0.2")
    unfinished = section(md, "Cells not finished")
    assert "8 failed" in unfinished and "out of memory" in unfinished
    # without verdicts k* comes from the rows themselves
    board.verdicts = []
    md = render_markdown(board)
    assert "no hypotheses were tested" in md
    assert "k*" in table_row(section(md, "Error vs width: p=0.1"), "8")[-1]


def test_rich_output_has_the_same_content() -> None:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200, record=True, color_system="truecolor")
    print_board(make_board(flip=True), console)
    text = console.export_text()
    assert "Verdict matrix" in text and "fails" in text and "← peak, loss peak" in text
    assert "[0.03, 0.07]" in text  # brackets must not be eaten as rich markup


# --------------------------------------------------------------------------- plot


def _assert_png(path: Any) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 1000


def test_plot_writes_png(tmp_path: Any) -> None:
    _assert_png(plot_error_vs_width(make_board(), tmp_path / "err.png"))


def test_plot_all_failed_stratum_one_width_one_seed(tmp_path: Any) -> None:
    _assert_png(plot_error_vs_width(make_board(failed_rate=0.2), tmp_path / "failed.png"))
    groups = curve_groups(make_board(failed_rate=0.2))
    assert [g.finished for g in groups] == [True, False]
    _assert_png(plot_error_vs_width(make_board(widths=[8], seeds=[0]), tmp_path / "sub" / "one.png"))
    empty = make_board()
    empty.rows, empty.verdicts = [], []
    _assert_png(plot_error_vs_width(empty, tmp_path / "empty.png"))


# --------------------------------------------------------------------------- compare


def test_identical_boards_agree() -> None:
    cmp = compare(make_board(), make_board())
    assert cmp.agree and cmp.same_spec and cmp.exit_code(strict=True) == 0
    assert {c.status for c in cmp.claims} == {"agree"}
    assert cmp.cells.matched == 16 and cmp.cells.matched_by_key == 16 and cmp.cells.max_abs == 0.0
    assert "result: agree (6 agree); exit 0" in render_comparison_markdown(cmp)


def test_flip_is_reported() -> None:
    cmp = compare(make_board(), make_board(flip=True))
    assert not cmp.agree and cmp.exit_code() == 1
    flips = [(c.claim, c.stratum) for c in cmp.claims if c.status == "flip"]
    assert flips == [("double_descent.peak", "p=0.2")]
    md = render_comparison_markdown(cmp)
    assert "| double_descent.peak | p=0.2 | flip | holds 0.05 [0.03, 0.07] | fails -0.02 [-0.04, 0] |" in md
    assert "CONTRADICT (flips)" in md
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200, record=True)
    print_comparison(cmp, console)
    text = console.export_text()
    assert "flip" in text and "double_descent.peak" in text


def test_different_spec_same_comparable_part_is_compared() -> None:
    b = make_board(spec_hash="fedcba9876543210", rates=[0.2], family="mlp")
    b.spec["training"]["epochs"] = 200
    for r in b.rows:
        r.key = "other-" + r.key
        r.test_error += 0.01
    cmp = compare(make_board(), b)
    assert not cmp.same_spec and cmp.common["noise_rates"] == [0.2]
    assert any("training.epochs: 100 vs 200" in d for d in cmp.spec_differences)
    assert cmp.cells.matched == 8 and cmp.cells.matched_by_key == 0
    assert cmp.cells.max_abs == pytest.approx(0.01)
    assert {(c.status, c.why) for c in cmp.claims if c.stratum == "p=0.1"} == {(NOT_COMPARABLE, "noise rate 0.1 not in B")}
    deltas = [d.delta for d in cmp.widths if d.metric == "test_error"]
    assert len(deltas) == 4 and deltas == pytest.approx([0.01] * 4)


def test_different_dataset_is_not_comparable() -> None:
    cmp = compare(make_board(), make_board(dataset="cifar10", spec_hash="ffff"))
    assert {c.status for c in cmp.claims} == {NOT_COMPARABLE} and cmp.exit_code(strict=True) == 0
    assert all("different datasets: mnist1d vs cifar10" in c.why for c in cmp.claims)
    assert "nothing compared: different datasets: mnist1d vs cifar10" in render_comparison_markdown(cmp)


def test_schema_major_mismatch_refused() -> None:
    with pytest.raises(IncompatibleLeaderboards, match="major"):
        compare(make_board(), make_board(schema_version="2.0"))


def test_grid_axis_gets_its_own_curve_tables() -> None:
    a, b = make_board(), make_board()
    for depth, board in ((2, a), (4, b)):
        for r in board.rows:
            r.config = {**r.config, "depth": depth}
            r.key += f"-d{depth}"
        for v in board.verdicts:
            for s in v.strata:
                if not s.stratum.get("pooled"):
                    s.stratum = {"family": "mlp", "depth": depth, "noise_rate": s.stratum["noise_rate"]}
                    s.detail["peak_width"] = 16 if depth == 2 else 32
    a.rows += b.rows
    for va, vb in zip(a.verdicts, b.verdicts):
        va.strata = [s for s in va.strata if not s.stratum.get("pooled")] + [s for s in vb.strata if not s.stratum.get("pooled")]
    md = render_markdown(a)
    assert table_row(section(md, "Verdict matrix"), "depth=4 p=0.2")[1:] == ["holds", "holds"]
    assert table_row(section(md, "Error vs width: depth=2 p=0.1"), "16")[-1] == "← peak, loss peak"
    assert table_row(section(md, "Error vs width: depth=4 p=0.1"), "32")[-1] == "← peak, loss peak"
    assert table_row(section(md, "Error vs width: depth=4 p=0.1"), "8")[-1] == "← k*"
