"""Class-activation patterns (docs/science.md, "class_activation"; Gu).

On the test set, grouped by *predicted* class: how similar the classes' activation
maps are (CAM similarity), a Rademacher-style effective complexity of the
penultimate features, the fraction of active units, and, for noisy cells, whether
the representation places noisy training points next to clean points of their
*true* class (5-NN, cosine). The math lives in pure array functions below so it
can be tested on known answers; :class:`ClassActivation` only gathers arrays.

Randomness: the test subset (when ``max_test_points`` cuts it) is drawn with the
context's ``points_seed`` (the same points at every width); the sign vectors of
chunk j with ``(ctx.seed, j)`` (cell key + probe name + chunk index).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import probes
from .base import ProbeContext, ProbePlugin
from .features import features

# ---------------------------------------------------------------- pure functions


def class_cams(a: np.ndarray, b: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C, A, B)``: ``mean_{i: pred_i=c} a_i b_i^T`` per class (zero for a class never predicted)."""
    a = a.reshape(len(a), -1).astype(np.float32)
    b = b.reshape(len(b), -1).astype(np.float32)
    out = np.zeros((num_classes, a.shape[1], b.shape[1]), np.float32)
    for c in range(num_classes):  # C is small; each class is one batched matmul
        rows = pred == c
        n_c = int(rows.sum())
        if n_c:
            out[c] = a[rows].T @ b[rows] / n_c
    return out


def mean_offdiag_cosine(maps: np.ndarray) -> float:
    """Mean cosine similarity between the flattened maps of different classes.

    A zero map (class never predicted) has cosine 0 with every other map.
    """
    flat = maps.reshape(len(maps), -1).astype(np.float64)
    if len(flat) < 2:
        return float("nan")
    norm = np.linalg.norm(flat, axis=1)
    unit = flat / np.where(norm > 0, norm, 1.0)[:, None]
    gram = unit @ unit.T
    C = len(flat)
    return float((gram.sum() - np.trace(gram)) / (C * (C - 1)))


def cam_similarity(a: np.ndarray, b: np.ndarray, pred: np.ndarray, num_classes: int) -> float:
    return mean_offdiag_cosine(class_cams(a, b, pred, num_classes))


def sign_vectors(seed: int, chunk_index: int, n_signs: int, m: int) -> np.ndarray:
    """``(n_signs, m)`` Rademacher vectors, seeded by (probe seed, chunk index)."""
    rng = np.random.default_rng([seed, chunk_index])
    return rng.integers(0, 2, size=(n_signs, m)).astype(np.float64) * 2 - 1


def chunk_complexities(h: np.ndarray, pred: np.ndarray, num_classes: int, m: int, n_signs: int, seed: int,
                       signs: Any = None) -> np.ndarray:
    """Per chunk: ``max_sigma (1/d) sum_j sum_i sigma_i B_ij`` over consecutive m-row chunks of each class.

    ``sum_j sum_i sigma_i B_ij = sigma . rowsum(B)``, so each chunk needs only its
    row sums: all chunks and sign vectors are one einsum. ``signs(chunk_index)``
    overrides the sign draw (tests).
    """
    h = h.reshape(len(h), -1).astype(np.float64)
    d = h.shape[1]
    row_sums, index = [], []
    for c in range(num_classes):
        rows = h[pred == c]
        k = len(rows) // m
        if k:
            row_sums.append(rows[: k * m].sum(axis=1).reshape(k, m))
            index.extend(range(k))
    if not row_sums:
        return np.zeros(0)
    R = np.concatenate(row_sums)  # (chunks, m)
    draw = signs or (lambda j: sign_vectors(seed, j, n_signs, m))
    cache = {j: draw(j) for j in sorted(set(index))}
    S = np.stack([cache[j] for j in index])  # (chunks, n_signs, m)
    return np.einsum("ksm,km->ks", S, R).max(axis=1) / d


def activation_ratio(h: np.ndarray) -> float:
    """Fraction of non-zero entries of the penultimate features."""
    return float(np.count_nonzero(h) / h.size) if h.size else float("nan")


def _unit_rows(v: np.ndarray) -> np.ndarray:
    v = v.reshape(len(v), -1).astype(np.float32)
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(n > 0, n, 1.0)


def knn_predict(train_h: np.ndarray, train_y: np.ndarray, query_h: np.ndarray, num_classes: int, k: int = 5,
                block: int = 1024) -> np.ndarray:
    """Majority vote of the k cosine-nearest training rows (ties: smallest label), in query blocks."""
    T, Q = _unit_rows(train_h), _unit_rows(query_h)
    k = min(k, len(T))
    out = np.empty(len(Q), np.int64)
    for s in range(0, len(Q), block):
        sim = Q[s : s + block] @ T.T  # (b, n_train)
        nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        votes = np.zeros((len(nn), num_classes), np.int64)
        np.add.at(votes, (np.repeat(np.arange(len(nn)), k), train_y[nn].ravel()), 1)
        out[s : s + block] = votes.argmax(axis=1)
    return out


def cam_values(x: np.ndarray, h: np.ndarray, z: np.ndarray, pred: np.ndarray, num_classes: int, *, m: int = 20,
               n_signs: int = 50, seed: int = 0) -> dict[str, Any]:
    """Every test-set value of the probe from arrays: CAM similarities, complexity, activation ratio."""
    chunks = chunk_complexities(h, pred, num_classes, m, n_signs, seed)
    return {
        "cam_ih_similarity": cam_similarity(x, h, pred, num_classes),
        "cam_ho_similarity": cam_similarity(h, z, pred, num_classes),
        "complexity": float(chunks.mean()) if len(chunks) else None,
        "complexity_se": float(chunks.std(ddof=1) / np.sqrt(len(chunks))) if len(chunks) > 1 else None,
        "complexity_chunks": int(len(chunks)),
        "activation_ratio": activation_ratio(h),
    }


# ---------------------------------------------------------------- the probe


@probes.register("class_activation", version="2")
class ClassActivation(ProbePlugin):
    description = "CAM similarity, effective complexity, activation ratio, kNN of noisy points (Gu)"
    measures = ("cam_ih_similarity", "cam_ho_similarity", "complexity", "activation_ratio",
                "knn_noisy_acc_true", "knn_noisy_acc_noisy")

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        m: int = Field(default=20, ge=1, description="rows per chunk of the complexity estimate")
        sign_vectors: int = Field(default=50, ge=1, description="Rademacher sign vectors per chunk")
        knn_k: int = Field(default=5, ge=1, description="neighbours of the noisy-point kNN test")
        max_test_points: int | None = Field(default=10000, ge=1, description="seeded test subset (order kept) if larger")
        batch_size: int = Field(default=2048, ge=1)

    def measure(self, ctx: ProbeContext, config: Any) -> dict[str, Any]:
        data, C = ctx.data, ctx.data.num_classes
        x_test = data.x_test
        if config.max_test_points is not None and len(x_test) > config.max_test_points:
            keep = np.sort(np.random.default_rng(ctx.points_seed).choice(len(x_test), config.max_test_points, replace=False))
            x_test = x_test[keep]
        h, z = features(ctx.model, x_test, config.batch_size)
        pred = z.argmax(axis=1)
        out = cam_values(x_test.reshape(len(x_test), -1), h, z, pred, C, m=config.m,
                         n_signs=config.sign_vectors, seed=ctx.seed)
        out["n_test"] = int(len(x_test))
        noisy = np.asarray(data.noisy, bool)
        out["n_noisy"] = int(noisy.sum())
        out["knn_noisy_acc_true"] = out["knn_noisy_acc_noisy"] = None
        if noisy.any() and (~noisy).any():
            h_tr, _ = features(ctx.model, data.x_train, config.batch_size)
            nn_pred = knn_predict(h_tr[~noisy], data.y_train[~noisy], h_tr[noisy], C, config.knn_k)
            out["knn_noisy_acc_true"] = float(np.mean(nn_pred == data.y_true[noisy]))
            out["knn_noisy_acc_noisy"] = float(np.mean(nn_pred == data.y_train[noisy]))
        return out
