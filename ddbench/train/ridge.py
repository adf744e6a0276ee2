"""Ridge regression in closed form, primal or dual, in float64.

``a = (F^T F + lambda I)^-1 F^T Y`` (primal, a P x P system) equals
``F^T (F F^T + lambda I)^-1 Y`` (dual, n x n) by the push-through identity; the
dual is the cheap and well-posed side when P > n. ``lambda = 0`` means the
ridgeless limit, the minimum-norm least-squares solution (SVD based), which is
the lambda -> 0 limit of both forms.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import scipy.linalg

Solver = Literal["auto", "primal", "dual"]


def choose_form(n: int, p: int, solver: Solver) -> str:
    """``primal`` or ``dual``; ``auto`` picks the smaller system (dual when P > n)."""
    if solver == "auto":
        return "dual" if p > n else "primal"
    return solver


def _svd_ridge(F: np.ndarray, Y: np.ndarray, ridge: float) -> np.ndarray:
    """``V diag(s / (s^2 + lambda)) U^T Y``: the fallback when a Cholesky solve fails."""
    U, s, Vt = scipy.linalg.svd(F, full_matrices=False)
    keep = s > s.max(initial=0.0) * max(F.shape) * np.finfo(float).eps
    shrink = np.where(keep, s / (s**2 + ridge), 0.0)
    return Vt.T @ (shrink[:, None] * (U.T @ Y))


def ridge_solve(F: np.ndarray, Y: np.ndarray, ridge: float, solver: Solver = "auto") -> tuple[np.ndarray, str]:
    """The ridge coefficients (P x C) and the method used (primal | dual | min_norm | <form>+svd)."""
    F = np.asarray(F, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    n, p = F.shape
    if ridge == 0:
        a, *_ = scipy.linalg.lstsq(F, Y, lapack_driver="gelsd")
        return a, "min_norm"
    form = choose_form(n, p, solver)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)  # ill-conditioned near P = n: still solved
        try:
            if form == "primal":
                A = F.T @ F
                A[np.diag_indices_from(A)] += ridge
                return scipy.linalg.solve(A, F.T @ Y, assume_a="pos"), form
            K = F @ F.T
            K[np.diag_indices_from(K)] += ridge
            return F.T @ scipy.linalg.solve(K, Y, assume_a="pos"), form
        except np.linalg.LinAlgError:  # round-off made the system indefinite
            return _svd_ridge(F, Y, ridge), form + "+svd"
