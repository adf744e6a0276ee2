"""Per-point losses and predictions from logits, and the curve metrics built on them.

Kept in NumPy so every trainer (and every backend) reports identical numbers.
"""

from __future__ import annotations

import numpy as np

#: rows per forward call when evaluating on the full train and test sets (every trainer and engine)
EVAL_BATCH = 4096


def per_point(logits: np.ndarray, labels: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(predicted class, loss)`` for every point."""
    logits = np.asarray(logits, dtype=np.float64)
    pred = logits.argmax(axis=1)
    if loss == "cross_entropy":
        shifted = logits - logits.max(axis=1, keepdims=True)
        logz = np.log(np.exp(shifted).sum(axis=1))
        losses = logz - shifted[np.arange(len(labels)), labels]
    elif loss == "mse":
        onehot = np.eye(logits.shape[1])[labels]
        losses = ((logits - onehot) ** 2).mean(axis=1)
    else:
        raise ValueError(f"unknown loss {loss!r}")
    return pred.astype(np.int32), losses.astype(np.float32)


def curve_point(
    train_logits: np.ndarray, test_logits: np.ndarray, y_train: np.ndarray, y_true: np.ndarray,
    noisy: np.ndarray, y_test: np.ndarray, loss: str,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Scalar metrics at one epoch, and the per-point arrays they come from."""
    tr_pred, tr_loss = per_point(train_logits, y_train, loss)
    te_pred, te_loss = per_point(test_logits, y_test, loss)
    clean = ~noisy
    metrics = {
        "train_error": float(np.mean(tr_pred != y_train)),
        "train_loss": float(np.mean(tr_loss)),
        "test_error": float(np.mean(te_pred != y_test)),
        "test_loss": float(np.mean(te_loss)),
        "train_error_clean": float(np.mean(tr_pred[clean] != y_true[clean])) if clean.any() else float("nan"),
        # memorisation of noisy labels: error against the noisy label on noisy points
        "train_error_noisy": float(np.mean(tr_pred[noisy] != y_train[noisy])) if noisy.any() else float("nan"),
    }
    arrays = {
        "train_pred": tr_pred, "train_loss": tr_loss, "train_correct": tr_pred == y_train,
        "test_pred": te_pred, "test_loss": te_loss, "test_correct": te_pred == y_test,
    }
    return metrics, arrays
