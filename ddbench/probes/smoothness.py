"""Input-space smoothness of the loss around training points (docs/science.md, "smoothness"; Gamba et al.).

Sharpness ``J(x) = ||grad_x CE(f(x), y)||_2`` with y the *training* label, and its
Monte Carlo volume estimate ``S(x) = mean_k (J(x) + J(x^(k))) / 2`` over M
augmented copies. Around a memorised noisy label the loss must turn sharply, so
noisy points should be sharper than clean ones near k*; wide models are expected
to smooth that out again. The same copies give the "label volume": the fraction
still predicted as the training label.

Augmentations (recorded in ``augmentation``/``adaptation``):
- images (H, W, C): shifts by r pixels at angles ``2*pi*k/M``, offsets rounded to
  integer pixels (``np.rint``), edge padding; flattened images whose dataset
  records ``meta["image_shape"]`` are shifted as images;
- 1-D signals (L,) or (L, C): circular shifts by ``+r`` for even k and ``-r`` for
  odd k (a signal has only two directions, so copies repeat; each distinct copy is
  evaluated once);
- ``augmentation: gaussian``: ``x + sigma * eps_k`` with seeded ``eps_k``.

Geodesic variant (``geodesic: true``): for each of the M directions, anchors
``a_0 = x, a_1, ..., a_A`` of growing strength 1..A; the path value is the trapezoid
sum ``sum_t (J(a_t) + J(a_t+1)) / 2 * ||a_t+1 - a_t||`` divided by the path length
``sum_t ||a_t+1 - a_t||`` -- a length-weighted mean of J along the path, as in the
authors' ``integrate_line`` -- then averaged over the directions. (Version 1 did not
divide: its values were this one times each point's path length.)

Randomness: the evaluated subset of training points is drawn with the context's
``points_seed`` (the same points at every width); Gaussian copies with ``ctx.seed``
(cell key + probe name) and the copy index.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..registry import probes
from .base import ProbeContext, ProbePlugin
from .gradients import input_gradients

# ---------------------------------------------------------------- pure functions


def evaluation_subset(noisy: np.ndarray, budget: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded subset of ``budget`` training points holding every noisy
    point (as many as fit). Depends only on the mask and the seed: paired across widths."""
    noisy = np.asarray(noisy, bool)
    n = len(noisy)
    if budget >= n:
        return np.arange(n)
    rng = np.random.default_rng([seed, 3])
    noisy_idx, clean_idx = np.flatnonzero(noisy), np.flatnonzero(~noisy)
    if len(noisy_idx) >= budget:
        return np.sort(rng.choice(noisy_idx, budget, replace=False))
    rest = rng.choice(clean_idx, budget - len(noisy_idx), replace=False)
    return np.sort(np.concatenate([noisy_idx, rest]))


def shift_offset(k: int, M: int, r: int, spatial_dims: int) -> tuple[int, ...]:
    """Integer offset of copy k: ``rint(r*(sin, cos)(2*pi*k/M))`` for images, ``+-r`` (even/odd k) for signals."""
    if spatial_dims == 2:
        theta = 2 * math.pi * k / M
        return int(np.rint(r * math.sin(theta))), int(np.rint(r * math.cos(theta)))
    return (r if k % 2 == 0 else -r,)


def shift_images(x: np.ndarray, offset: tuple[int, ...]) -> np.ndarray:
    """Translate a batch (n, H, W, ...) by (dy, dx) pixels, repeating edge pixels (edge padding)."""
    dy, dx = offset
    H, W = x.shape[1:3]
    rows = np.clip(np.arange(H) - dy, 0, H - 1)
    cols = np.clip(np.arange(W) - dx, 0, W - 1)
    return x[:, rows][:, :, cols]


def roll_signals(x: np.ndarray, offset: tuple[int, ...]) -> np.ndarray:
    """Circularly shift a batch of 1-D signals (n, L) or (n, L, C) along L."""
    return np.roll(x, offset[0], axis=1)


def mc_sharpness(J0: np.ndarray, Jk: np.ndarray) -> np.ndarray:
    """``S(x) = mean_k (J(x) + J(x^(k))) / 2`` for J0 (n,) and Jk (M, n)."""
    return np.mean((J0[None, :] + Jk) / 2, axis=0)


def trapezoid_path(J: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Trapezoid integral of J along a path: J (T+1, ...) at the path points, steps (T, ...) the step lengths."""
    return np.sum((J[1:] + J[:-1]) / 2 * steps, axis=0)


def path_mean(J: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Length-weighted mean of J along a path: the trapezoid integral divided by the path length
    ``sum_t steps_t`` (a path of length zero is the point ``a_0``: its value is ``J[0]``)."""
    J, steps = np.asarray(J, np.float64), np.asarray(steps, np.float64)
    length = steps.sum(axis=0)
    integral = trapezoid_path(J, steps)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(length > 0, integral / np.where(length > 0, length, 1.0), J[0])


def mean_se(v: np.ndarray) -> tuple[float | None, float | None]:
    """Mean and its standard error (None when undefined)."""
    if not len(v):
        return None, None
    return float(np.mean(v)), (float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None)


class Augmenter:
    """Copy k of a batch at strength t (pixels/positions for shifts, multiples of sigma for noise)."""

    def __init__(self, layout: str, kind: str, shape: tuple[int, ...], sigma: float, seed: int):
        self.layout, self.kind, self.shape, self.sigma, self.seed = layout, kind, shape, sigma, seed

    def key(self, k: int, M: int, t: int) -> tuple[Any, ...]:
        """Copies with equal keys are equal (repeated shifts are evaluated once)."""
        if self.kind == "gaussian":
            return ("gaussian", k, t)
        return shift_offset(k, M, t, 2 if self.layout == "image" else 1)

    def __call__(self, x: np.ndarray, k: int, M: int, t: int) -> np.ndarray:
        if self.kind == "gaussian":
            eps = np.random.default_rng([self.seed, 5, k]).standard_normal(x.shape).astype(np.float32)
            return x + t * self.sigma * eps
        shaped = x.reshape((len(x), *self.shape))
        off = self.key(k, M, t)
        moved = shift_images(shaped, off) if self.layout == "image" else roll_signals(shaped, off)
        return moved.reshape(x.shape)


def input_layout(x: np.ndarray, meta: dict[str, Any]) -> tuple[str, tuple[int, ...], str | None]:
    """``(layout, sample shape to augment in, adaptation note)`` for a training array."""
    image_shape = tuple(meta.get("image_shape") or ())
    if x.ndim == 2 and len(image_shape) == 3 and math.prod(image_shape) == x.shape[1]:
        return "image", image_shape, f"flattened images shifted as images of shape {image_shape}"
    if x.ndim == 4:
        return "image", tuple(x.shape[1:]), None
    if x.ndim in (2, 3):
        return "signal", tuple(x.shape[1:]), "1-D signals: circular shifts by +r (even k) and -r (odd k)"
    raise ValueError(f"smoothness: unsupported input shape {x.shape[1:]}")


# ---------------------------------------------------------------- the probe


@probes.register("smoothness", version="2")
class Smoothness(ProbePlugin):
    description = "input-space sharpness ||grad_x CE|| around training points, clean vs noisy (Gamba et al.)"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")
        points: int = Field(default=1024, ge=1, description="training points evaluated (all noisy ones first)")
        copies: int = Field(default=8, ge=1, description="M augmented copies per point")
        radius: int = Field(default=1, ge=0, description="shift r in pixels (images) or positions (1-D)")
        augmentation: Literal["shift", "gaussian"] = "shift"
        sigma: float = Field(default=0.05, gt=0, description="noise scale of augmentation: gaussian")
        geodesic: bool = Field(default=False, description="also the length-weighted mean of J along growing augmentations")
        geodesic_steps: int = Field(default=4, ge=1, description="path strengths 1..steps")
        epochwise: bool = Field(default=False, description="sharpness_mean at every saved checkpoint")
        batch_size: int = Field(default=512, ge=1)

    def measure(self, ctx: ProbeContext, config: Any) -> dict[str, Any]:
        data = ctx.data
        idx = evaluation_subset(data.noisy, config.points, ctx.points_seed)
        x, y, noisy = data.x_train[idx], data.y_train[idx], np.asarray(data.noisy, bool)[idx]
        layout, shape, adaptation = input_layout(data.x_train, data.meta)
        aug = Augmenter(layout, config.augmentation, shape, config.sigma, ctx.seed)
        model, bs = ctx.model, config.batch_size
        frac_noisy = float(np.mean(data.noisy)) if len(data.noisy) else 0.0

        def evaluate(xa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """||grad_x CE|| and the prediction at every row of ``xa`` (any number of stacked copies of x)."""
            g, z = input_gradients(model, xa, np.tile(y, len(xa) // len(y)), bs, with_logits=True)
            return np.linalg.norm(g.reshape(len(g), -1), axis=1), z.argmax(axis=1)

        def copies(t: int, cache: dict[Any, tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
            keys = [aug.key(k, config.copies, t) for k in range(config.copies)]
            missing = [k for k, q in enumerate(keys) if q not in cache and q not in keys[:k]]
            if missing:  # all missing copies in one batched pass on the device
                J, pred = evaluate(np.concatenate([aug(x, k, config.copies, t) for k in missing]))
                for j, k in enumerate(missing):
                    cache[keys[k]] = (J[j * len(x):(j + 1) * len(x)], pred[j * len(x):(j + 1) * len(x)])
            return np.stack([cache[q][0] for q in keys]), np.stack([cache[q][1] for q in keys])

        def sharpness(cache: dict[Any, Any]) -> np.ndarray:
            J0, _ = evaluate(x)
            Jk, _ = copies(config.radius, cache)
            return mc_sharpness(J0, Jk)

        J0, _ = evaluate(x)
        cache: dict[Any, Any] = {}
        Jk, pk = copies(config.radius, cache)
        S = mc_sharpness(J0, Jk)
        still = (pk == y[None, :]).mean(axis=0)  # per point: fraction of copies keeping the training label
        out: dict[str, Any] = {
            "n_points": int(len(idx)), "n_noisy_points": int(noisy.sum()),
            "augmentation": (f"gaussian sigma={config.sigma} M={config.copies}" if config.augmentation == "gaussian"
                             else f"shift r={config.radius} M={config.copies} "
                             + ("edge-padded" if layout == "image" else "circular")),
            "adaptation": adaptation if config.augmentation == "shift" else None,
            "jacobian_norm_mean": _group_stats("j", J0, noisy, frac_noisy)["j_mean"],  # J(x) alone, no MC copies
        }
        out.update(_group_stats("sharpness", S, noisy, frac_noisy))
        out.update(_group_stats("label_volume", still, noisy, frac_noisy))
        c, n = out["sharpness_clean"], out["sharpness_noisy"]
        out["noisy_clean_ratio"] = float(n / c) if n is not None and c else None

        if config.geodesic:
            steps = range(1, config.geodesic_steps + 1)
            J_path = [np.broadcast_to(J0, (config.copies, len(x)))]
            lengths, prev = [], np.broadcast_to(x[None], (config.copies, *x.shape))
            for t in steps:
                Jt, _ = copies(t, cache)
                pts = np.stack([aug(x, k, config.copies, t) for k in range(config.copies)])
                lengths.append(np.linalg.norm((pts - prev).reshape(config.copies, len(x), -1), axis=2))
                J_path.append(Jt)
                prev = pts
            steps_len = np.stack(lengths)  # (A, M, n)
            G = path_mean(np.stack(J_path), steps_len).mean(axis=0)  # (n,): mean over directions
            out.update({k.replace("sharpness", "geodesic"): v for k, v in _group_stats("sharpness", G, noisy, frac_noisy).items()})
            out["geodesic_path_length"] = float(steps_len.sum(axis=0).mean())  # mean over points and directions

        out["epochwise"] = out["epochwise_se"] = out["epochwise_peak_epoch"] = None
        if config.epochwise and ctx.checkpoints:
            final = model.get_weights()
            curve, se = {}, {}
            try:
                for epoch in sorted(ctx.checkpoints):
                    model.load_weights(str(ctx.checkpoints[epoch]))
                    stats = _group_stats("s", sharpness({}), noisy, frac_noisy)
                    curve[int(epoch)], se[int(epoch)] = stats["s_mean"], stats["s_mean_se"]
            finally:
                model.set_weights(final)
            out["epochwise"], out["epochwise_se"] = curve, se
            out["epochwise_peak_epoch"] = int(max(curve, key=lambda e: curve[e]))
        elif config.epochwise:
            out["epochwise_note"] = "no checkpoints: set training.record.checkpoints: true"
        return out


def _group_stats(name: str, v: np.ndarray, noisy: np.ndarray, frac_noisy: float) -> dict[str, Any]:
    """Means over clean and noisy points, and a mean reweighted to the training set's noisy fraction
    (the subset over-samples noisy points), each with its standard error."""
    c, c_se = mean_se(v[~noisy])
    n, n_se = mean_se(v[noisy])
    if n is None:
        mean, se = c, c_se
    elif c is None:
        mean, se = n, n_se
    else:
        mean = (1 - frac_noisy) * c + frac_noisy * n
        se = (math.sqrt(((1 - frac_noisy) * c_se) ** 2 + (frac_noisy * n_se) ** 2)
              if c_se is not None and n_se is not None else None)
    return {f"{name}_mean": mean, f"{name}_mean_se": se, f"{name}_clean": c, f"{name}_clean_se": c_se,
            f"{name}_noisy": n, f"{name}_noisy_se": n_se}
