"""The leaderboard.json schema (version :data:`SCHEMA_VERSION`), as Pydantic models.

One file per run. Rows are cells (one trained model each); verdicts are hypothesis
claims. Third-party tools should read it with :func:`read_leaderboard`, which
refuses files of an unknown major schema version with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from . import SCHEMA_VERSION

VerdictName = Literal["holds", "fails", "inconclusive", "not_applicable"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Row(_Model):
    """One cell: a trained model and its measurements."""

    key: str
    status: Literal["done", "failed", "diverged", "pending", "running"]
    family: str
    width: int
    config: dict[str, Any] = Field(default_factory=dict, description="family options of this cell (grid axes included)")
    params: int | None = None
    noise_rate: float
    noise_seed: int
    seed: int
    train_error: float | None = None  # on the labels trained on (noisy ones included)
    train_loss: float | None = None
    test_error: float | None = None
    test_loss: float | None = None
    train_error_clean: float | None = None  # on clean points, vs their (true) labels
    train_error_noisy: float | None = None  # on noisy points, vs their noisy labels (memorisation)
    epochs: int | None = None
    train_seconds: float | None = None
    probes: dict[str, Any] = Field(default_factory=dict)  # "probe.value" -> number
    curves: dict[str, list[float | None]] = Field(default_factory=dict)  # epoch -> recorded metrics
    error: str | None = None  # last line of the traceback of a failed cell


class StratumVerdict(_Model):
    stratum: dict[str, Any]  # e.g. {"noise_rate": 0.15, "family": "mlp"} or {"pooled": true}
    verdict: VerdictName
    statistic: float | None = None
    ci: tuple[float, float] | None = None
    threshold: float | None = None
    side: Literal["greater", "less"] = "greater"  # holds when the CI lies above (greater) / below (less) threshold
    reason: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)


class Verdict(_Model):
    """One claim of one hypothesis: a verdict per stratum and pooled."""

    hypothesis: str
    hypothesis_version: str
    claim: str  # e.g. "double_descent.peak"
    description: str = ""
    verdict: VerdictName  # the pooled verdict (or the only stratum's)
    statistic: float | None = None
    ci: tuple[float, float] | None = None
    ci_level: float | None = None
    threshold: float | None = None
    side: Literal["greater", "less"] = "greater"
    reason: str = ""
    strata: list[StratumVerdict] = Field(default_factory=list)


class Leaderboard(_Model):
    schema_version: str = SCHEMA_VERSION
    ddbench_version: str
    created: str  # ISO 8601, UTC
    backend: str
    device: str
    versions: dict[str, str] = Field(default_factory=dict)
    spec_name: str
    spec_hash: str
    spec: dict[str, Any]
    data_fingerprints: dict[str, str] = Field(default_factory=dict)  # stratum label -> hash of train/test arrays
    plugins: dict[str, dict[str, str]] = Field(default_factory=dict)  # kind -> {name: version}
    analysis: dict[str, Any] = Field(default_factory=dict)  # alpha, bootstrap, multiple-comparison rule
    summary: dict[str, Any] = Field(default_factory=dict)  # cell counts by status, wall time
    rows: list[Row] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    probe_scores: list[dict[str, Any]] = Field(default_factory=list)  # probe-as-measure rank agreement (issue 3)

    def execution_note(self) -> str:
        """``; precision: ...; distribution: ...`` when they are not the defaults (float32, one device), else ''."""
        out = ""
        if self.summary.get("precision") not in (None, "float32"):
            out += f"; precision: {self.summary['precision']}"
        dist = self.summary.get("distribution") if isinstance(self.summary.get("distribution"), dict) else {}
        if dist.get("strategy") not in (None, "none"):
            out += f"; distribution: {dist['strategy']} over {dist.get('replicas', '?')} devices"
            out += "" if dist.get("applied", True) else " (not applied by the trainer)"
        return out


class LeaderboardError(ValueError):
    pass


def read_leaderboard(path: str | Path) -> Leaderboard:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise LeaderboardError(f"{path}: cannot read ({exc.strerror})") from None
    except json.JSONDecodeError as exc:
        raise LeaderboardError(f"{path}: not JSON ({exc})") from None
    version = str(data.get("schema_version", ""))
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise LeaderboardError(
            f"{path}: schema_version {version or '(missing)'} is not readable by this ddbench "
            f"(reads {SCHEMA_VERSION.split('.')[0]}.x)"
        )
    try:
        return Leaderboard.model_validate(data)
    except Exception as exc:
        raise LeaderboardError(f"{path}: not a ddbench leaderboard: {exc}") from None


def write_leaderboard(board: Leaderboard, path: str | Path) -> None:
    from ..atomic import write_text

    write_text(path, json.dumps(board.model_dump(mode="json"), indent=1, allow_nan=False, default=str) + "\n")
