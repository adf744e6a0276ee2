"""Short stable hashes of JSON-able data: what cell keys, spec hashes and cache names are made of."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import numpy as np


def content_hash(obj: Any, length: int = 16) -> str:
    """A short stable hash of JSON-able data (sorted keys, floats as repr)."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        f = float(o)
        return None if math.isnan(f) else f
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")
