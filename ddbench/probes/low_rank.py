"""Effective rank of learned representations (shared/science section 5, Huh et al.).

Huh et al. argue that depth (and linear over-parameterisation) biases networks
towards low effective rank embeddings. The measure, for a matrix with singular
values ``s``: ``p_i = s_i / sum s``, ``H = -sum p_i log p_i``, ``erank = exp(H)``.

Matrices measured:
- ``erank``: the Gram matrix ``Phi Phi^T`` of the penultimate embeddings of a
  fixed batch (``batch`` points of ``split``, drawn with the constant
  ``subset_seed``, so every cell of a run -- all widths, depths and seeds -- is
  measured on the same points);
- ``erank_init``: the same at *a* fresh initialisation of the same architecture
  (``keras.models.clone_model`` after ``keras.utils.set_random_seed(ctx.seed)``).
  The cell's exact initial weights are not stored, so this is a draw from the
  same initial distribution, not the cell's own starting point;
- ``erank_end_to_end`` (and ``_init``): for deep linear models only (every layer
  a Dense-like map with no activation), the collapsed product ``W_1 ... W_L``
  from ``end_to_end_matrix`` (imported lazily; skipped when unavailable).
"""

from __future__ import annotations

import hashlib

import importlib
from typing import Any, Callable, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import probes
from .base import ProbeContext, ProbePlugin
from .features import features

# ---------------------------------------------------------------- pure functions


def erank_from_singular_values(s: np.ndarray, shape: tuple[int, ...] | None = None) -> tuple[float, float]:
    """``(erank, H)`` from singular values. Values below the numerical-rank tolerance
    ``max(s) * max(shape) * eps`` (NumPy's ``matrix_rank`` rule) count as zero, so a
    matrix with r equal non-zero singular values has erank exactly r. A zero matrix
    has no spectrum: ``(nan, nan)``."""
    s = np.abs(np.asarray(s, dtype=np.float64).ravel())
    if not s.size or s.max() <= 0 or not np.all(np.isfinite(s)):
        return float("nan"), float("nan")
    tol = s.max() * max(shape or (len(s),)) * np.finfo(np.float64).eps
    s = s[s > tol]
    p = s / s.sum()
    H = float(-np.sum(p * np.log(p)))
    return float(np.exp(H)), H


def effective_rank(matrix: np.ndarray) -> tuple[float, float]:
    """``(erank, H)`` of a 2-D matrix (Roy & Vetterli's effective rank)."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"effective_rank needs a 2-D matrix, got shape {m.shape}")
    return erank_from_singular_values(np.linalg.svd(m, compute_uv=False), m.shape)


def gram_effective_rank(phi: np.ndarray) -> tuple[float, float]:
    """``(erank, H)`` of ``Phi Phi^T`` for embeddings ``phi`` of shape (points, features)."""
    phi = np.asarray(phi, dtype=np.float64).reshape(len(phi), -1)
    return effective_rank(phi @ phi.T)


def fixed_subset(n: int, size: int, seed: int) -> np.ndarray:
    """Sorted indices of ``size`` of ``n`` points drawn with ``seed`` (all points if n <= size)."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


# ---------------------------------------------------------------- model helpers

_LINEAR_PASSTHROUGH = {"InputLayer", "Flatten", "Reshape", "Dropout"}


def is_linear_model(model: Any) -> bool:
    """True when every layer is a Dense-like map (2-D kernel) without activation, or a reshape."""
    found = False
    for layer in model.layers:
        if type(layer).__name__ in _LINEAR_PASSTHROUGH:
            continue
        kernel = getattr(layer, "kernel", None)
        if kernel is None or len(kernel.shape) != 2:
            return False
        act = getattr(layer, "activation", None)
        if act is not None and getattr(act, "__name__", "") != "linear":
            return False
        found = True
    return found


def load_end_to_end() -> Callable[[Any], np.ndarray] | None:
    """``end_to_end_matrix`` from the families that define it, imported lazily (None if none does)."""
    for module in ("ddbench.families.linear", "ddbench.families.deep_linear"):
        try:
            fn = getattr(importlib.import_module(module), "end_to_end_matrix", None)
        except ImportError:
            continue
        if fn is not None:
            return fn
    return None


def fresh_init(model: Any, seed: int) -> Any:
    """A clone of ``model`` (same architecture) with freshly drawn initial weights.

    ``keras.utils.set_random_seed`` reseeds Python, NumPy and the backend
    globally; probes run after training, so only later random draws of this
    process see the new state.
    """
    import keras

    keras.utils.set_random_seed(int(seed))
    return keras.models.clone_model(model)


#: (architecture, seed, points) -> the fresh draw's (erank, entropy, erank per width, end-to-end erank)
_INIT_CACHE: dict[tuple[Any, ...], tuple[Any, ...]] = {}


# ---------------------------------------------------------------- the probe


@probes.register("low_rank", version="1")
class LowRank(ProbePlugin):
    description = "effective rank of the penultimate Gram matrix (trained and at a fresh init), and of deep-linear products (Huh)"
    measures = ("erank", "entropy", "erank_per_width", "erank_end_to_end")

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        batch: int = Field(default=512, ge=2, description="points in the fixed batch whose Gram matrix is measured")
        split: Literal["test", "train"] = Field(default="test", description="where the fixed batch comes from")
        subset_seed: int = Field(default=0, description="seed of the batch draw: constant, so all cells share the points")
        init: bool = Field(default=True, description="also measure a fresh initialisation of the same architecture")
        batch_size: int = Field(default=2048, ge=1)

    def measure(self, ctx: ProbeContext, config: Any) -> dict[str, Any]:
        x_all = ctx.data.x_test if config.split == "test" else ctx.data.x_train
        x = x_all[fixed_subset(len(x_all), config.batch, config.subset_seed)]
        h, _ = features(ctx.model, x, config.batch_size)
        erank, H = gram_effective_rank(h)
        dim = int(h.shape[1])
        out: dict[str, Any] = {
            "erank": erank, "entropy": H, "erank_per_width": erank / dim, "feature_dim": dim,
            "n_points": int(len(x)), "split": config.split,
            "erank_init": None, "entropy_init": None, "erank_init_per_width": None,
            "erank_end_to_end": None, "entropy_end_to_end": None, "erank_end_to_end_init": None,
        }
        linear = is_linear_model(ctx.model)
        e2e = load_end_to_end() if linear else None
        if e2e is not None:
            out["erank_end_to_end"], out["entropy_end_to_end"] = effective_rank(e2e(ctx.model))
        if config.init:
            # a fresh draw depends on the architecture, the seed and the points only: cells that differ in
            # noise rate alone share it, so it is computed once per process
            arch = (ctx.cell.family, repr(sorted(ctx.cell.family_config.items())), ctx.cell.width,
                    tuple(ctx.model.inputs[0].shape[1:]))
            key = (arch, int(ctx.seed), hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest(),
                   e2e is not None)
            if key not in _INIT_CACHE:
                fresh = fresh_init(ctx.model, ctx.seed)
                h0, _ = features(fresh, x, config.batch_size)
                er, ent = gram_effective_rank(h0)
                _INIT_CACHE[key] = (er, ent, er / int(h0.shape[1]), effective_rank(e2e(fresh))[0] if e2e is not None else None)
                while len(_INIT_CACHE) > 256:
                    _INIT_CACHE.pop(next(iter(_INIT_CACHE)))
            (out["erank_init"], out["entropy_init"], out["erank_init_per_width"],
             out["erank_end_to_end_init"]) = _INIT_CACHE[key]
            out["init_note"] = "fresh draw of the same architecture (seed ctx.seed), not the cell's own initial weights"
        return out
