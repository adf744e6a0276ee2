"""The leaderboard.json schema (version :data:`SCHEMA_VERSION`), as Pydantic models, and its content hash.

One file per run. Rows are cells (one trained model each); verdicts are hypothesis
claims. The content hash is part of the format: :func:`content_hash` of exactly the
JSON data a file holds (:func:`board_data`), computed here so that every board
validated from data knows the hash of what it was read from (:attr:`Leaderboard.read_hash`).
Files are read and written by :mod:`.io` (third-party tools: :func:`.io.read_leaderboard`,
which refuses files of an unknown major schema version with the reason) and checked
by :mod:`.integrity`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    model_serializer,
    model_validator,
)

from . import SCHEMA_VERSION

#: what every content hash starts with
PREFIX = "sha256:"

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
    metrics: dict[str, float | None] = Field(default_factory=dict, description="the cell's other scalar metrics "
                                             "(e.g. n_train and ridge of a closed-form family)")
    train_seconds: float | None = None
    probes: dict[str, Any] = Field(default_factory=dict)  # "probe.value" -> number
    curves: dict[str, list[float | None]] = Field(default_factory=dict)  # epoch -> recorded metrics
    error: str | None = None  # last line of the traceback of a failed cell


class ErrorControl(_Model):
    """How a verdict was tested: error control and resampling (docs/science.md, "Statistics");
    None where nothing was tested. A stratum's ``ci_level`` is Holm's step level of its test; a
    claim's, the headline stratum's."""

    family: str | None = None  # the multiple-comparison family: the hypothesis (its claims x strata)
    correction: str | None = None  # "holm"
    family_size: int | None = None  # m, the tests in the family
    ci_level: float | None = None  # the level of ci
    unit: str | None = None  # what the replicates resample: seeds, test_points, grid_points, cells, probe_se, ...
    replicates: int | None = None  # B
    nonfinite_share: float | None = None  # share of the B replicates that are NaN/inf (> 0.05: inconclusive)
    p_value: float | None = None  # two-sided, statistic == threshold
    p_adjusted: float | None = None  # Holm-adjusted within the family
    p_null: float | None = None  # one-sided p against the least-favourable null draws, where the claim has them


class StratumVerdict(ErrorControl):
    stratum: dict[str, Any]  # e.g. {"noise_rate": 0.15, "family": "mlp"} or {"pooled": true}
    verdict: VerdictName
    statistic: float | None = None
    ci: tuple[float, float] | None = None
    threshold: float | None = None
    side: Literal["greater", "less"] = "greater"  # holds when the CI lies above (greater) / below (less) threshold
    reason: str = ""
    detail: dict[str, Any] = Field(default_factory=dict)


class Verdict(ErrorControl):
    """One claim of one hypothesis: a verdict per stratum and pooled."""

    hypothesis: str
    hypothesis_version: str
    claim: str  # e.g. "double_descent.peak"
    description: str = ""
    verdict: VerdictName  # the pooled verdict (or the only stratum's)
    statistic: float | None = None
    ci: tuple[float, float] | None = None
    threshold: float | None = None
    side: Literal["greater", "less"] = "greater"
    reason: str = ""
    strata: list[StratumVerdict] = Field(default_factory=list)


class RefinedStratum(_Model):
    """What a refinement found and added in one stratum."""

    stratum: dict[str, Any]
    k_star: int | None = None  # the stratum's k* on the grid before this refinement (None: never reached)
    peak: int | None = None  # the width of its test-error peak near k* (None: no peak window, or not asked)
    gaps: list[tuple[int, int]] = Field(default_factory=list)  # the open intervals of the grid it filled
    added: list[int] = Field(default_factory=list)  # the new widths of this stratum
    note: str = ""  # why a target was missing (no k*, no peak), else ''


class Refinement(_Model):
    """One refinement of the grid (docs/science.md, "Refining the grid"): the widths it added and why."""

    source: Literal["model.refine", "ddbench refine"]  # the spec's own refine block, or the command
    around: list[str]  # k_star, peak
    points: int  # new widths asked per stratum
    spacing: Literal["geometric", "linear"]
    base: list[int]  # the grid's widths before this refinement
    added: list[int]  # the new widths: the union over strata, none of them in base
    strata: list[RefinedStratum] = Field(default_factory=list)


class Leaderboard(_Model):
    schema_version: str = SCHEMA_VERSION
    ddbench_version: str
    created: str  # ISO 8601, UTC
    backend: str
    device: str
    versions: dict[str, str] = Field(default_factory=dict)
    spec_name: str
    spec_hash: str
    content_hash: str | None = Field(
        default=None, description="sha256 of the canonical JSON of every other field (see ddbench.leaderboard.integrity)"
    )
    spec: dict[str, Any]
    data_fingerprints: dict[str, str] = Field(default_factory=dict)  # stratum label -> hash of train/test arrays
    plugins: dict[str, dict[str, str]] = Field(default_factory=dict)  # kind -> {name: version}
    analysis: dict[str, Any] = Field(default_factory=dict)  # alpha, bootstrap, multiple-comparison rule
    summary: dict[str, Any] = Field(default_factory=dict)  # cell counts by status, wall time
    rows: list[Row] = Field(default_factory=list)
    verdicts: list[Verdict] = Field(default_factory=list)
    probe_scores: list[dict[str, Any]] = Field(default_factory=list)  # probe-as-measure rank agreement (issue 3)
    refinements: list[Refinement] = Field(
        default_factory=list, description="how the grid was refined around k* and the peak, in order (schema 1.1; "
        "written only when it was: the rows' widths are the spec's plus every refinement's added ones)")

    #: the content hash of the JSON data this board was validated from (None when built in memory);
    #: computed while reading, so any reader that validates a file's data can have it checked
    _read_hash: str | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _hash_what_was_read(cls, data: Any, handler: Any) -> Any:
        board = handler(data)
        if isinstance(data, dict) and isinstance(board, Leaderboard):
            try:
                board._read_hash = content_hash(data)
            except (TypeError, ValueError):  # models or NaN in the input: not data read from a file
                board._read_hash = None
        return board

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> Any:
        """No ``refinements`` key on a board whose grid was not refined: boards from before it keep their hashes."""
        out = handler(self)
        if isinstance(out, dict) and out.get("refinements") == []:
            del out["refinements"]
        return out

    def widths(self) -> list[int]:
        """The widths of its rows: the spec's grid and every refinement's."""
        return sorted({r.width for r in self.rows})

    @property
    def read_hash(self) -> str | None:
        return self._read_hash

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


def board_data(board: Leaderboard) -> dict[str, Any]:
    """Exactly the JSON data :func:`.io.write_leaderboard` writes (and a reader reads back)."""
    return json.loads(json.dumps(board.model_dump(mode="json"), allow_nan=False, default=str))


def content_hash(data: dict[str, Any]) -> str:
    """The content hash of leaderboard JSON data (every field but ``content_hash``): ``sha256:`` + the
    SHA-256 of its canonical JSON (sorted keys, no whitespace, floats as Python writes them)."""
    body = {k: v for k, v in data.items() if k != "content_hash"}
    blob = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return PREFIX + hashlib.sha256(blob.encode()).hexdigest()
