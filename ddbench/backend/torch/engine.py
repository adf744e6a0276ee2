"""PyTorch: no compiled bundle epoch; the stateless trainer falls back to the packed ``fit`` trainer."""

from __future__ import annotations

#: the compiled bundle engine of this backend: none
Engine = None
