"""Redundant neurons of the last hidden layer (shared/science section 6, Doimo et al.).

Doimo et al. find that wide interpolating nets split their last hidden layer into
many redundant groups: a random chunk of ``w_c`` neurons already classifies (with
the trained head, no retraining) and linearly predicts the whole layer.

On h (width W) and the trained head (W_out, b), for chunk sizes w = 1, 2, 4, ..., W:

- chunk error: logits ``h[:, idx] W_out[idx, :] + b``, mean over ``n_chunks_acc``
  random chunks, on train (the labels trained on, noisy where noisy) and test;
- chunk-to-layer R^2: ridge (``alpha``, intercept via train means) from
  ``h[:, idx]`` to all of h, fitted on train features, scored on test features as
  the variance-weighted R^2 ``1 - sum_j SS_res,j / sum_j SS_tot,j`` (SS_tot about
  the test mean), mean over ``n_chunks_r2`` chunks;
- residual correlation: on test points, the residuals ``e_j = h_j - hat h_j`` of
  that regression; mean of ``|corr(e_i, e_j)|`` over pairs i != j of neurons
  *outside* the chunk whose residual variance is at least ``1e-6`` of their test
  variance (explained neurons have no meaningful residual); None when fewer than
  two such neurons (always at w = W);
- ``w_c``: smallest w with mean R^2 >= ``r2_threshold``; ``groups = W / w_c``;
- ``scaling_slope``: least-squares slope of ``log(chunk test error - full test
  error)`` on ``log w`` over w < W where the difference is positive (None if < 3).

Everything is computed from W x W moment matrices, so a chunk costs one w x w
solve, independent of the number of points.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import probes
from .base import ProbeContext, ProbePlugin
from .features import features, head_weights

EXPLAINED = 1e-6  # residual variance / test variance below which a neuron counts as explained

# ---------------------------------------------------------------- pure functions


def chunk_sizes(W: int) -> list[int]:
    """Powers of two below W, then W itself."""
    out, w = [], 1
    while w < W:
        out.append(w)
        w *= 2
    return out + [int(W)]


def draw_chunks(rng: np.random.Generator, W: int, w: int, n: int) -> np.ndarray:
    """``(n, w)`` sorted neuron indices, each row a uniform random w-subset (one row when w == W)."""
    if w >= W:
        return np.arange(W)[None, :]
    return np.sort(rng.random((n, W)).argsort(axis=1)[:, :w], axis=1)


def chunk_errors(h: np.ndarray, W_out: np.ndarray, b: np.ndarray, y: np.ndarray, chunks: np.ndarray,
                 max_elems: int = 2**24) -> np.ndarray:
    """``(K,)`` error of each chunk's restricted head: argmax of ``h[:, idx] W_out[idx] + b`` vs ``y``.

    The K restricted heads are stacked side by side, ``(W, K*C)``, so a block of
    chunks is one matrix product (float32, like the model itself).
    """
    h = np.asarray(h, np.float32)
    W, C = W_out.shape
    mask = np.zeros((len(chunks), W), np.float32)
    np.put_along_axis(mask, chunks, 1.0, axis=1)
    out = np.empty(len(chunks))
    step = max(1, max_elems // max(1, len(h) * C))
    for s in range(0, len(chunks), step):
        m = mask[s : s + step]
        heads = (m.T[:, :, None] * np.asarray(W_out, np.float32)[:, None, :]).reshape(W, -1)  # (W, k*C)
        logits = (h @ heads).reshape(len(h), len(m), C) + np.asarray(b, np.float32)  # (n, k, C)
        out[s : s + step] = np.mean(logits.argmax(axis=2) != np.asarray(y)[:, None], axis=0)
    return out


def _moments(h_train: np.ndarray, h_test: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train Gram of centred features, test covariance, offset of the test mean from the train mean, test variances."""
    htr = np.asarray(h_train, np.float64)
    hte = np.asarray(h_test, np.float64)
    mu = htr.mean(axis=0)
    Xc = htr - mu
    G = Xc.T @ Xc
    Sigma = np.cov(hte, rowvar=False, bias=True).reshape(htr.shape[1], htr.shape[1])
    d = hte.mean(axis=0) - mu
    return G, Sigma, d, np.diag(Sigma).copy()


def chunk_regression(h_train: np.ndarray, h_test: np.ndarray, chunks: np.ndarray, alpha: float = 1e-8,
                     max_elems: int = 2**24, moments: tuple[np.ndarray, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per chunk (rows of ``chunks``, all of size w): test R^2 of ridge h[:, idx] -> h, and residual mean |corr|.

    Ridge with intercept: ``B = (Xc^T Xc + alpha I)^-1 Xc^T Yc`` on train-centred
    features; the prediction of a test point is ``mu + (x - mu)[idx] B``. With
    ``Sigma`` the test covariance and ``d`` the test-minus-train mean, the test
    residuals have covariance ``Sigma - B^T Sigma[idx] - Sigma[:, idx] B + B^T Sigma[idx, idx] B``
    and mean ``d - d[idx] B``; R^2 = 1 - (tr Cov_e + |mean_e|^2) / tr Sigma.
    ``moments`` (from :func:`_moments`) can be passed to share them across chunk sizes.
    """
    G, Sigma, d, var = moments if moments is not None else _moments(h_train, h_test)
    W = G.shape[0]
    K, w = chunks.shape
    r2 = np.empty(K)
    corr = np.full(K, np.nan)
    total = np.trace(Sigma)
    step = max(1, max_elems // max(1, w * W))
    eye = alpha * np.eye(w)
    for s in range(0, K, step):
        idx = chunks[s : s + step]  # (k, w)
        Gi = G[idx[:, :, None], idx[:, None, :]] + eye  # (k, w, w)
        B = np.linalg.solve(Gi, G[idx])  # (k, w, W)
        S_iW = Sigma[idx]  # (k, w, W)
        S_ii = Sigma[idx[:, :, None], idx[:, None, :]]  # (k, w, w)
        tr_cov = total - 2 * np.einsum("kiw,kiw->k", B, S_iW) + np.einsum("kiw,kiw->k", np.matmul(S_ii, B), B)
        mean_e = d[None] - np.einsum("ki,kiw->kw", d[idx], B)
        with np.errstate(all="ignore"):
            r2[s : s + step] = 1.0 - (tr_cov + np.sum(mean_e**2, axis=1)) / total
        for j in range(len(idx)):  # residual covariance among the neurons outside the chunk only
            out = np.setdiff1d(np.arange(W), idx[j])
            Bo = B[j][:, out]
            cross = Bo.T @ S_iW[j][:, out]
            cov_e = Sigma[np.ix_(out, out)] - cross - cross.T + Bo.T @ (S_ii[j] @ Bo)
            corr[s + j] = residual_mean_abs_corr(cov_e, var[out])
    return r2, corr


def residual_mean_abs_corr(cov_e: np.ndarray, var: np.ndarray) -> float:
    """Mean |corr| over pairs of distinct neurons whose residual variance (diagonal of ``cov_e``)
    is at least ``EXPLAINED`` times their variance ``var`` (NaN if fewer than 2 such neurons)."""
    ev = np.diag(cov_e)
    keep = (var > 0) & (ev >= EXPLAINED * var)
    m = int(keep.sum())
    if m < 2:
        return float("nan")
    sd = np.sqrt(ev[keep])
    c = np.abs(cov_e[np.ix_(keep, keep)] / sd[:, None] / sd[None, :])
    return float((c.sum() - np.trace(c)) / (m * (m - 1)))


def critical_chunk(sizes: list[int], r2: list[float], threshold: float = 0.95) -> int | None:
    """Smallest chunk size whose mean R^2 reaches ``threshold`` (None if none)."""
    for w, r in zip(sizes, r2):
        if r is not None and np.isfinite(r) and r >= threshold:
            return int(w)
    return None


def scaling_slope(sizes: list[int], chunk_test_error: list[float], full_test_error: float, min_points: int = 3) -> float | None:
    """Slope of log(chunk error - full error) vs log w over w < W with a positive difference."""
    w = np.asarray(sizes[:-1], float)
    diff = np.asarray(chunk_test_error[:-1], float) - full_test_error
    ok = np.isfinite(diff) & (diff > 0)
    if ok.sum() < min_points:
        return None
    return float(np.polyfit(np.log(w[ok]), np.log(diff[ok]), 1)[0])


def redundancy_values(h_train: np.ndarray, y_train: np.ndarray, h_test: np.ndarray, y_test: np.ndarray,
                      W_out: np.ndarray, b: np.ndarray, *, n_chunks_acc: int = 100, n_chunks_r2: int = 40,
                      alpha: float = 1e-8, r2_threshold: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Every value of the probe from arrays (features already extracted)."""
    W = int(h_train.shape[1])
    if W_out.shape[0] != W:
        raise ValueError(f"penultimate features have {W} units but the head kernel has {W_out.shape[0]} rows")
    sizes = chunk_sizes(W)
    tr_err, te_err, r2, rc = [], [], [], []
    moments = _moments(h_train, h_test)
    for i, w in enumerate(sizes):
        acc_chunks = draw_chunks(np.random.default_rng([seed, 1, i]), W, w, n_chunks_acc)
        tr_err.append(float(chunk_errors(h_train, W_out, b, y_train, acc_chunks).mean()))
        te_err.append(float(chunk_errors(h_test, W_out, b, y_test, acc_chunks).mean()))
        r, c = chunk_regression(h_train, h_test, draw_chunks(np.random.default_rng([seed, 2, i]), W, w, n_chunks_r2), alpha,
                                moments=moments)
        r2.append(_num(np.mean(r)))
        rc.append(_num(np.nanmean(c)) if np.isfinite(c).any() else None)
    full_tr, full_te = tr_err[-1], te_err[-1]
    w_c = critical_chunk(sizes, r2, r2_threshold)
    return {
        "width": W, "chunk_sizes": sizes, "chunk_train_error": tr_err, "chunk_test_error": te_err,
        "r2": r2, "residual_corr": rc, "w_c": w_c, "groups": (W / w_c) if w_c else None,
        "full_train_error": full_tr, "full_test_error": full_te,
        "scaling_slope": scaling_slope(sizes, te_err, full_te),
    }


def _num(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


# ---------------------------------------------------------------- the probe


@probes.register("redundancy", version="1")
class Redundancy(ProbePlugin):
    description = "chunk accuracy, chunk-to-layer R^2, critical chunk size w_c and redundant groups W/w_c (Doimo)"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n_chunks_acc: int = Field(default=100, ge=1, description="random chunks per size for the chunk error")
        n_chunks_r2: int = Field(default=40, ge=1, description="random chunks per size for the R^2")
        alpha: float = Field(default=1e-8, ge=0, description="ridge penalty of the chunk-to-layer regression")
        r2_threshold: float = Field(default=0.95, gt=0, le=1, description="mean R^2 defining w_c")
        max_points: int = Field(default=4000, ge=10, description="seeded subset of train and of test points if larger")
        batch_size: int = Field(default=2048, ge=1)

    def measure(self, ctx: ProbeContext, config: Any) -> dict[str, Any]:
        data = ctx.data
        rng = np.random.default_rng([ctx.seed, 0])
        tr = _subset(rng, len(data.x_train), config.max_points)
        te = _subset(rng, len(data.x_test), config.max_points)
        h_tr, _ = features(ctx.model, data.x_train[tr], config.batch_size)
        h_te, z_te = features(ctx.model, data.x_test[te], config.batch_size)
        W_out, b = head_weights(ctx.model)
        out = redundancy_values(h_tr, data.y_train[tr], h_te, data.y_test[te], W_out, b,
                                n_chunks_acc=config.n_chunks_acc, n_chunks_r2=config.n_chunks_r2,
                                alpha=config.alpha, r2_threshold=config.r2_threshold, seed=ctx.seed)
        out["model_test_error"] = float(np.mean(z_te.argmax(axis=1) != data.y_test[te]))
        out["n_train"], out["n_test"] = int(len(tr)), int(len(te))
        return out


def _subset(rng: np.random.Generator, n: int, cap: int) -> np.ndarray:
    return np.arange(n) if n <= cap else np.sort(rng.choice(n, cap, replace=False))
