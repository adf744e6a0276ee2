"""Redundant neurons of the last hidden layer (docs/science.md, "redundancy"; Doimo et al.).

Doimo et al. find that wide interpolating nets split their last hidden layer into
many redundant groups: a random chunk of ``w_c`` neurons already classifies (with
the trained head, no retraining) and linearly predicts the whole layer.

On h (width W) and the trained head (W_out, b), for chunk sizes w = W, W/2, W/4, ...
down to 1 (integer division, as the authors do; listed in increasing order):

- chunk error: logits ``h[:, idx] W_out[idx, :] + b``, mean over ``n_chunks_acc``
  random chunks, on train (the labels trained on, noisy where noisy) and test;
- chunk-to-layer R^2: ridge (``alpha``, with intercept) from ``h[:, idx]`` to all of
  h, **fitted and scored on the same test features** (as the authors' code does),
  variance-weighted ``1 - sum_j SS_res,j / sum_j SS_tot,j``, mean over
  ``n_chunks_r2`` chunks;
- residual correlation: the residuals ``r = h - prediction`` of that regression over
  **all W neurons** (chunk members included), their correlation matrix
  ``cov(r_i, r_j) / (sd_i sd_j + 1e-8)``, mean absolute value of its strictly lower
  triangle, averaged over the same chunks (None when W = 1);
- ``w_c``: smallest w with mean R^2 >= ``r2_threshold``; ``groups = W / w_c``;
- ``scaling_slope``: least-squares slope of ``log(chunk test error - full test
  error)`` on ``log w`` over w < W where the difference is positive (None if < 3);
- with ``out_of_sample: true``, also the ddbench variant fitted on training features
  and scored on test features, under its own names (``r2_out_of_sample``,
  ``residual_corr_out_of_sample``, ``w_c_out_of_sample``); version 1 reported that
  variant as ``r2`` and counted only neurons outside the chunk in ``residual_corr``.

Everything is computed from W x W moment matrices, so a chunk costs one w x w
solve, independent of the number of points.

Randomness: the train and test subsets (``max_points``) are drawn with the context's
``points_seed`` (the same points at every width); the chunks of size w with
``(ctx.seed, tag, w)`` (cell key + probe name + chunk size).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import probes
from .base import ProbeContext, ProbePlugin
from .features import features, head_weights

CORR_EPS = 1e-8  # added to sd_i * sd_j in the residual correlation (as the authors do)

# ---------------------------------------------------------------- pure functions


def chunk_sizes(W: int) -> list[int]:
    """W, W//2, W//4, ... down to 1 (integer division), in increasing order (W last)."""
    out, w = [], int(W)
    while w >= 1:
        out.append(w)
        w //= 2
    return sorted(set(out))


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


def moments(h_fit: np.ndarray, h_score: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(G, Sigma, d)``: Gram of the centred fitting features, covariance of the scored features
    (population), offset of the scored mean from the fitting mean (zero when both are the same)."""
    hf = np.asarray(h_fit, np.float64)
    mu = hf.mean(axis=0)
    Xc = hf - mu
    G = Xc.T @ Xc
    if h_score is None:
        return G, G / len(hf), np.zeros(hf.shape[1])
    hs = np.asarray(h_score, np.float64)
    Sigma = np.cov(hs, rowvar=False, bias=True).reshape(hf.shape[1], hf.shape[1])
    return G, Sigma, hs.mean(axis=0) - mu


def chunk_regression(h_fit: np.ndarray, h_score: np.ndarray | None, chunks: np.ndarray, alpha: float = 1e-8,
                     max_elems: int = 2**24, moments_: tuple[np.ndarray, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per chunk (rows of ``chunks``, all of size w): R^2 of ridge h[:, idx] -> h, and residual mean |corr|.

    The ridge (with intercept) is fitted on ``h_fit`` and scored on ``h_score``
    (``None``: on ``h_fit`` itself, the authors' definition):
    ``B = (Xc^T Xc + alpha I)^-1 Xc^T Yc`` on centred fitting features; the
    prediction of a point is ``mu + (x - mu)[idx] B``. With ``Sigma`` the covariance
    of the scored features and ``d`` their mean minus the fitting mean, the residuals
    have covariance ``Sigma - B^T Sigma[idx] - Sigma[:, idx] B + B^T Sigma[idx, idx] B``
    and mean ``d - d[idx] B``; R^2 = 1 - (tr Cov_e + |mean_e|^2) / tr Sigma. The
    residual correlation is the mean |strict lower triangle| of
    ``Cov_e / (sd sd^T + 1e-8)`` over all W neurons (NaN when W = 1).
    ``moments_`` (from :func:`moments`) can be passed to share them across chunk sizes.
    """
    G, Sigma, d = moments_ if moments_ is not None else moments(h_fit, h_score)
    W = G.shape[0]
    K, w = chunks.shape
    r2 = np.empty(K)
    corr = np.full(K, np.nan)
    total = np.trace(Sigma)
    lower = np.tril_indices(W, -1)
    step = max(1, max_elems // max(1, 3 * W * W + w * W))
    eye = alpha * np.eye(w)
    for s in range(0, K, step):
        idx = chunks[s : s + step]  # (k, w)
        Gi = G[idx[:, :, None], idx[:, None, :]] + eye  # (k, w, w)
        B = np.linalg.solve(Gi, G[idx])  # (k, w, W)
        S_iW = Sigma[idx]  # (k, w, W)
        S_ii = Sigma[idx[:, :, None], idx[:, None, :]]  # (k, w, w)
        Bt = np.swapaxes(B, 1, 2)  # (k, W, w)
        cross = Bt @ S_iW  # (k, W, W)
        cov_e = Sigma[None] - cross - np.swapaxes(cross, 1, 2) + Bt @ (S_ii @ B)
        mean_e = d[None] - np.einsum("ki,kiw->kw", d[idx], B)
        tr_cov = np.trace(cov_e, axis1=1, axis2=2)
        with np.errstate(all="ignore"):
            r2[s : s + step] = 1.0 - (tr_cov + np.sum(mean_e**2, axis=1)) / total
        if W > 1:
            sd = np.sqrt(np.clip(np.diagonal(cov_e, axis1=1, axis2=2), 0.0, None))  # (k, W)
            c = cov_e / (sd[:, :, None] * sd[:, None, :] + CORR_EPS)
            corr[s : s + step] = np.abs(c[:, lower[0], lower[1]]).mean(axis=1)
    return r2, corr


def residual_mean_abs_corr(residuals: np.ndarray) -> float:
    """Reference implementation from explicit residuals (points x W): mean |strict lower triangle| of
    ``cov(r_i, r_j) / (sd_i sd_j + 1e-8)`` (population moments; NaN when W = 1)."""
    r = np.asarray(residuals, np.float64)
    rc = r - r.mean(axis=0)
    cov = rc.T @ rc / len(r)
    sd = np.sqrt(np.diag(cov))
    c = cov / (sd[:, None] * sd[None, :] + CORR_EPS)
    i, j = np.tril_indices(r.shape[1], -1)
    return float(np.abs(c[i, j]).mean()) if len(i) else float("nan")


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
                      alpha: float = 1e-8, r2_threshold: float = 0.95, seed: int = 0,
                      out_of_sample: bool = False) -> dict[str, Any]:
    """Every value of the probe from arrays (features already extracted)."""
    W = int(h_train.shape[1])
    if W_out.shape[0] != W:
        raise ValueError(f"penultimate features have {W} units but the head kernel has {W_out.shape[0]} rows")
    sizes = chunk_sizes(W)
    tr_err, te_err, r2, rc, r2_oos, rc_oos = [], [], [], [], [], []
    same = moments(h_test)  # the authors' R^2: fitted and scored on the test features
    oos = moments(h_train, h_test) if out_of_sample else None
    for w in sizes:
        acc_chunks = draw_chunks(np.random.default_rng([seed, 1, w]), W, w, n_chunks_acc)
        tr_err.append(float(chunk_errors(h_train, W_out, b, y_train, acc_chunks).mean()))
        te_err.append(float(chunk_errors(h_test, W_out, b, y_test, acc_chunks).mean()))
        r2_chunks = draw_chunks(np.random.default_rng([seed, 2, w]), W, w, n_chunks_r2)
        r, c = chunk_regression(h_test, None, r2_chunks, alpha, moments_=same)
        r2.append(_num(np.mean(r)))
        rc.append(_mean_finite(c))
        if oos is not None:
            r, c = chunk_regression(h_train, h_test, r2_chunks, alpha, moments_=oos)
            r2_oos.append(_num(np.mean(r)))
            rc_oos.append(_mean_finite(c))
    full_tr, full_te = tr_err[-1], te_err[-1]
    w_c = critical_chunk(sizes, r2, r2_threshold)
    out = {
        "width": W, "chunk_sizes": sizes, "chunk_train_error": tr_err, "chunk_test_error": te_err,
        "r2": r2, "residual_corr": rc, "w_c": w_c, "groups": (W / w_c) if w_c else None,
        "full_train_error": full_tr, "full_test_error": full_te,
        "scaling_slope": scaling_slope(sizes, te_err, full_te),
    }
    if oos is not None:
        w_c_oos = critical_chunk(sizes, r2_oos, r2_threshold)
        out.update({"r2_out_of_sample": r2_oos, "residual_corr_out_of_sample": rc_oos, "w_c_out_of_sample": w_c_oos,
                    "groups_out_of_sample": (W / w_c_oos) if w_c_oos else None})
    return out


def _mean_finite(c: np.ndarray) -> float | None:
    return _num(np.nanmean(c)) if np.isfinite(c).any() else None


def _num(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


# ---------------------------------------------------------------- the probe


@probes.register("redundancy", version="2")
class Redundancy(ProbePlugin):
    description = "chunk accuracy, chunk-to-layer R^2, critical chunk size w_c and redundant groups W/w_c (Doimo)"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        n_chunks_acc: int = Field(default=100, ge=1, description="random chunks per size for the chunk error")
        n_chunks_r2: int = Field(default=40, ge=1, description="random chunks per size for the R^2")
        alpha: float = Field(default=1e-8, ge=0, description="ridge penalty of the chunk-to-layer regression")
        r2_threshold: float = Field(default=0.95, gt=0, le=1, description="mean R^2 defining w_c")
        max_points: int = Field(default=4000, ge=10, description="seeded subset of train and of test points if larger")
        out_of_sample: bool = Field(default=False, description="also R^2 fitted on train, scored on test (own names)")
        batch_size: int = Field(default=2048, ge=1)

    def measure(self, ctx: ProbeContext, config: Any) -> dict[str, Any]:
        data = ctx.data
        rng = np.random.default_rng([ctx.points_seed, 0])
        tr = _subset(rng, len(data.x_train), config.max_points)
        te = _subset(rng, len(data.x_test), config.max_points)
        h_tr, _ = features(ctx.model, data.x_train[tr], config.batch_size)
        h_te, z_te = features(ctx.model, data.x_test[te], config.batch_size)
        W_out, b = head_weights(ctx.model)
        out = redundancy_values(h_tr, data.y_train[tr], h_te, data.y_test[te], W_out, b,
                                n_chunks_acc=config.n_chunks_acc, n_chunks_r2=config.n_chunks_r2,
                                alpha=config.alpha, r2_threshold=config.r2_threshold, seed=ctx.seed,
                                out_of_sample=config.out_of_sample)
        out["model_test_error"] = float(np.mean(z_te.argmax(axis=1) != data.y_test[te]))
        out["n_train"], out["n_test"] = int(len(tr)), int(len(te))
        return out


def _subset(rng: np.random.Generator, n: int, cap: int) -> np.ndarray:
    return np.arange(n) if n <= cap else np.sort(rng.choice(n, cap, replace=False))
