"""torch: no vmapped lanes, so no padding (every cell trains at its own width)."""

from __future__ import annotations

from typing import Any

#: this backend trains padded lanes
PADS_LANES = False


def padding_is_exact(narrow: Any, wide: Any, xb: Any, yb: Any, loss_fn: Any, rtol: float = 1e-4,
                     atol: float = 1e-6) -> tuple[bool, str]:
    """Never: the torch engine has no lanes to pad into."""
    return False, "no vmapped lanes on torch"
