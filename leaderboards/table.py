"""Write the table of leaderboards/README.md from the published leaderboards (run from the repo root).

    python leaderboards/table.py > /tmp/table.md

One row per claim of each published leaderboard: the claim, what the paper reports, ddbench's
pooled verdict with its statistic and interval, the cells, seeds and epochs behind it, and,
where the verdict is not the paper's, how the recipe's setting differs from the paper's.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ddbench.leaderboard.integrity import load_leaderboard  # noqa: E402

#: what each source paper reports for the claim (docs/science.md has the definitions)
PAPER = {
    "double_descent.peak": "a test-error peak at the interpolation threshold, then a second descent (Nakkiran et al.; MNIST-1D)",
    "double_descent.loss_peak": "test loss peaks at the threshold too, usually more sharply",
    "class_activation.cam_similarity_decreases": "CAM similarity between classes falls with width past the threshold (Gu)",
    "class_activation.complexity_tracks_loss": "effective complexity tracks the test loss over width (Gu)",
    "class_activation.complexity_peak": "effective complexity peaks with the test loss (Gu)",
    "class_activation.activation_ratio_decreases": "activations grow sparser with width (Gu)",
    "class_activation.knn_true_rises": "noisy points' neighbours recover their true labels with width, for MLP/CNN (Gu)",
    "smoothness.peak_at_error_peak": "input-space sharpness peaks with the test error (Gamba et al.)",
    "smoothness.decreases_above_k_star": "sharpness falls with width past the threshold (Gamba et al.)",
    "smoothness.noisy_sharper": "the loss is sharper around noisy-label points (Gamba et al.)",
    "smoothness.noisy_volume_grows": "wide nets interpolate noisy labels over larger neighbourhoods (Gamba et al.)",
    "smoothness.epochwise_rise_fall": "epoch-wise, sharpness rises then falls (Gamba et al.)",
    "norm_capacity.peaks_coincide": "risk and ||a||^2 peak together at P = n (Wang et al.)",
    "norm_capacity.fall_together": "past P = n risk and norm fall together, almost linearly (Wang et al.)",
    "norm_capacity.unimodal_in_norm": "against the norm the risk shows no double descent (Wang et al.)",
    "norm_capacity.strong_ridge_flattens": "strong ridge removes the peak (recorded)",
    "norm_capacity.trained_norm_tracks_error": "(ddbench's extension, not in the paper)",
    "low_rank.depth_lowers_rank": "deeper nets have lower-rank embeddings after training (Huh et al.)",
    "low_rank.depth_lowers_rank_init": "and at initialisation (Huh et al.)",
    "low_rank.linear_overparam_lowers_rank": "linear over-parameterisation lowers the rank (Huh et al., CNNs on CIFAR/ImageNet)",
    "low_rank.erank_per_width_falls_above_k_star": "(ddbench's extension, not in the paper)",
    "redundancy.chunks_interpolate": "chunks of w_c neurons fit the training set with the trained head (Doimo et al.)",
    "redundancy.residual_corr_falls": "residual correlation falls with chunk size (Doimo et al.)",
    "redundancy.groups_grow_linearly": "the number of redundant groups W / w_c grows linearly with W (Doimo et al.)",
    "redundancy.error_scaling": "chunk error falls like w^-1/2 (Doimo et al.)",
    "redundancy.needs_interpolation": "redundancy appears only with zero training error (Doimo et al.)",
}


#: where a verdict is not the paper's: how each recipe's setting differs from the paper's (the README's
#: "Where a verdict differs" section says more)
SETTING = {
    "quickstart": "MNIST-1D, 2-layer MLP, 200 epochs, 1 seed (papers: MNIST/CIFAR-10, thousands of epochs)",
    "quickstart-3seeds": "MNIST-1D, 2-layer MLP, 200 epochs, 3 seeds (papers: MNIST/CIFAR-10, thousands of epochs)",
    "gu-mnist-fcnn-cpu": "MNIST-1D, 12 widths, 300 epochs (Gu: MNIST, 35 widths, 4000 epochs)",
    "gu-digits-fcnn": "8x8 digits, 1000 images, 300 epochs (Gu: MNIST, 4000 epochs)",
    "nakkiran-resnet18-cpu": "1-D 5-layer CNN, 1000 MNIST-1D points, 200 epochs (Nakkiran: ResNet18, CIFAR-10, 4000)",
    "gamba-cifar10-cnn-cpu": "2-layer MLP on 1000 MNIST-1D points, 200 epochs, 8 checkpoints (Gamba: 5-layer CNN, CIFAR-10)",
    "wang-rf-phi-cpu": "random features on 300 MNIST-1D points (Wang et al.: random features on MNIST)",
    "huh-depth-cpu": "width-64 MLPs on MNIST-1D, 60 epochs (Huh et al.: CNNs on CIFAR/ImageNet)",
    "doimo-wrn-cpu": "2-layer MLP on 1000 MNIST-1D points, 150 epochs (Doimo: WRN-28 on CIFAR-10)",
}


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}"


def main() -> int:
    root = Path(__file__).resolve().parent
    print("| leaderboard | claim | what the paper reports | ddbench verdict | statistic [CI] | cells, seeds, epochs "
          "| where it differs: our setting (the paper's) |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted(root.glob("*.json")):
        board = load_leaderboard(path)
        spec = board.spec
        done = sum(1 for r in board.rows if r.status == "done")
        setting = f"{done}/{len(board.rows)} cells, {len(spec.get('seeds', []))} seeds, {spec['training']['epochs']} epochs"
        for v in board.verdicts:
            ci = f" [{fmt(v.ci[0])}, {fmt(v.ci[1])}]" if v.ci else ""
            stat = f"{fmt(v.statistic)}{ci}" if v.statistic is not None else "—"
            paper = PAPER.get(v.claim, "")
            differs = SETTING.get(path.stem, "") if v.verdict != "holds" and "extension" not in paper else ""
            print(f"| `{path.stem}` | `{v.claim}` | {paper} | **{v.verdict}** | {stat} | {setting} | {differs} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
