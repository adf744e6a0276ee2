"""Effective rank of learned representations (docs/science.md, "low_rank"; Huh et al.).

Huh et al. argue that depth (and linear over-parameterisation) biases networks
towards low effective rank embeddings. The measure, for a matrix with singular
values ``s``: ``p_i = s_i / sum s``, ``H = -sum p_i log p_i``, ``erank = exp(H)``.

Matrices measured:
- ``erank``: the Gram matrix ``Phi Phi^T`` of the penultimate embeddings of a
  fixed batch (``batch`` points of ``split``, drawn with the constant
  ``subset_seed``, so every cell of a run -- all widths, depths and seeds -- is
  measured on the same points);
- ``erank_init``: the same at initialisation, the **mean over ``init_draws`` fresh
  draws** (default 5) of the same architecture, with its standard error
  (``erank_init_se``). Draw d is ``keras.models.clone_model`` after
  ``keras.utils.set_random_seed`` with a seed derived from the architecture seed
  (:func:`~ddbench.probes.base.architecture_seed`: family, options, width and the
  cell's seed, not its noise rate or noise seed, which an untrained model cannot
  depend on) and d, so the cells of one architecture and seed share their draws,
  computed once per run. The cell's exact initial weights are not stored, so these are
  draws from the same initial distribution, not the cell's own starting point
  (version 1 reported a single draw; version 2 seeded the draws from the cell key);
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
from .base import ProbeContext, ProbePlugin, architecture_seed, derive_seed
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
    """``(erank, H)`` of ``Phi Phi^T`` for embeddings ``phi`` of shape (points, features).

    The Gram matrix is symmetric positive semi-definite, so its singular values are the absolute
    values of its eigenvalues: ``eigvalsh`` gives them several times faster than an SVD. Its
    non-zero eigenvalues are those of ``Phi^T Phi`` (both are the squared singular values of
    ``Phi``), so the smaller of the two is decomposed (features x features when there are fewer
    features than points: a 300-wide layer on 512 points costs a fifth); the rest are zero, and
    the numerical-rank tolerance stays that of the points x points Gram matrix."""
    phi = np.asarray(phi, dtype=np.float64).reshape(len(phi), -1)
    n, d = phi.shape
    small = phi.T @ phi if d < n else phi @ phi.T
    if not np.all(np.isfinite(small)):
        return float("nan"), float("nan")
    return erank_from_singular_values(np.linalg.eigvalsh(small), (n, n))


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


def init_draw_seed(seed: int, draw: int) -> int:
    """Seed of fresh initialisation number ``draw`` of an architecture whose
    :func:`~ddbench.probes.base.architecture_seed` is ``seed``."""
    return derive_seed("low_rank-init", int(seed), int(draw))


def mean_se(values: list[float | None]) -> tuple[float | None, float | None]:
    """Mean and standard error of the finite values (None when there are none; SE None for one)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], np.float64)
    if not len(v):
        return None, None
    return float(v.mean()), (float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None)


def init_draws(model: Any, x: np.ndarray, seed: int, draws: int, batch_size: int,
               e2e: Callable[[Any], np.ndarray] | None = None) -> list[tuple[float, float, float, float | None]]:
    """Per fresh draw: (erank, entropy, erank per width, end-to-end erank or None) of the initial model.

    Every draw's weights are loaded into one clone, so its compiled forward pass is
    built once per call, not once per draw.
    """
    holder = None
    out = []
    for d in range(draws):
        fresh = fresh_init(model, init_draw_seed(seed, d))
        if holder is None:
            holder = fresh
        else:
            holder.set_weights(fresh.get_weights())
        h0, _ = features(holder, x, batch_size)
        er, ent = gram_effective_rank(h0)
        out.append((er, ent, er / int(h0.shape[1]), effective_rank(e2e(holder))[0] if e2e is not None else None))
    return out


#: (architecture, architecture seed, points, draws) -> the fresh draws' values (see :func:`init_draws`):
#: the cells of one architecture and seed (every noise rate and noise seed) share them
_INIT_CACHE: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}


# ---------------------------------------------------------------- the probe


@probes.register("low_rank", version="3")
class LowRank(ProbePlugin):
    description = "effective rank of the penultimate Gram matrix (trained, and mean of fresh inits), and of deep-linear products (Huh)"
    measures = ("erank", "entropy", "erank_per_width", "erank_end_to_end")

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        batch: int = Field(default=512, ge=2, description="points in the fixed batch whose Gram matrix is measured")
        split: Literal["test", "train"] = Field(default="test", description="where the fixed batch comes from")
        subset_seed: int = Field(default=0, description="seed of the batch draw: constant, so all cells share the points")
        init: bool = Field(default=True, description="also measure fresh initialisations of the same architecture")
        init_draws: int = Field(default=5, ge=1, description="fresh initialisations averaged for the *_init values")
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
            "erank_init": None, "erank_init_se": None, "entropy_init": None, "entropy_init_se": None,
            "erank_init_per_width": None, "erank_init_per_width_se": None, "n_init_draws": 0,
            "erank_end_to_end": None, "entropy_end_to_end": None,
            "erank_end_to_end_init": None, "erank_end_to_end_init_se": None,
        }
        linear = is_linear_model(ctx.model)
        e2e = load_end_to_end() if linear else None
        if e2e is not None:
            out["erank_end_to_end"], out["entropy_end_to_end"] = effective_rank(e2e(ctx.model))
        if config.init:
            arch = (ctx.cell.family, repr(sorted(ctx.cell.family_config.items())), ctx.cell.width,
                    tuple(ctx.model.inputs[0].shape[1:]))
            seed = architecture_seed(ctx.cell, "low_rank")
            key = (arch, seed, hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest(),
                   e2e is not None, config.init_draws)
            if key not in _INIT_CACHE:
                _INIT_CACHE[key] = init_draws(ctx.model, x, seed, config.init_draws, config.batch_size, e2e)
                while len(_INIT_CACHE) > 256:
                    _INIT_CACHE.pop(next(iter(_INIT_CACHE)))
            draws = _INIT_CACHE[key]
            out["n_init_draws"] = len(draws)
            out["erank_init"], out["erank_init_se"] = mean_se([d[0] for d in draws])
            out["entropy_init"], out["entropy_init_se"] = mean_se([d[1] for d in draws])
            out["erank_init_per_width"], out["erank_init_per_width_se"] = mean_se([d[2] for d in draws])
            if e2e is not None:
                out["erank_end_to_end_init"], out["erank_end_to_end_init_se"] = mean_se([d[3] for d in draws])
            out["init_note"] = (f"mean of {len(draws)} fresh draws of the same architecture (seeds from the architecture, "
                                "the cell's seed and the draw index), not the cell's own initial weights")
        return out
