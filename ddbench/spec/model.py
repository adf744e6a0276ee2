"""The YAML spec a researcher writes, as Pydantic v2 models.

Everything a run depends on is in the spec, so the resolved spec (defaults filled
in, grid shorthands expanded) and its hash identify a run. Unknown keys are errors:
a typo must never silently fall back to a default. Plugin names and plugin options
(family config, hypothesis params, ...) are checked against the registry in
:func:`check_plugins`, so ``ddbench validate`` reports them with their YAML path too.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import Field, field_validator, model_serializer, model_validator

from .grid import GridInput, RefineSpec, expand_grid
from .hashing import content_hash
from .limits import DEFAULT_PROBE_TIME_LIMIT, MAX_NAME_LENGTH, MAX_SEED, check_output_dir, check_seeds
from .strict import _Strict

SPEC_FORMAT = 1
#: simulated runs per design of the power estimate (analysis.power_simulations)
DEFAULT_POWER_SIMULATIONS = 60
#: fields that say how/where to run, not what to measure: they do not change the spec hash
EXECUTION_FIELDS = ("output_dir", "description", "trainer", "engine", "distribution")
#: fields that determine the trained models: a run directory is bound to them
TRAINING_FIELDS = ("dataset", "model", "training", "seeds")


# --------------------------------------------------------------------------- sections


class _LateFields(_Strict):
    """A section with fields added after runs were published (``_late_fields``: name -> default): each is left
    out of the dump while at its default, so specs and leaderboards from before it keep their hashes."""

    _late_fields: ClassVar[dict[str, Any]] = {}

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any) -> Any:
        out = handler(self)
        if isinstance(out, dict):
            for name, default in self._late_fields.items():
                if name in out and out[name] == default:
                    del out[name]
        return out


class NoiseSpec(_Strict):
    """Label noise (docs/science.md, "label noise")."""

    rates: list[float] = Field(default=[0.0], description="label-noise rates p in [0, 1)")
    kind: Literal["exact", "may_keep"] = Field(
        default="exact",
        description="exact: round(p*n) points always get a wrong label; may_keep: a fraction p get randint(0, C)",
    )
    seeds: list[int] = Field(default=[0], description="noise draws; each is a separate stratum of the grid")

    @field_validator("rates")
    @classmethod
    def _rates(cls, v: list[float]) -> list[float]:
        if not v:
            raise ValueError("give at least one noise rate (0.0 for clean labels)")
        for i, r in enumerate(v):
            if not 0.0 <= r < 1.0:
                raise ValueError(f"rates[{i}] = {r} is outside [0, 1)")
        if len(set(v)) != len(v):
            raise ValueError("noise rates repeat")
        return v

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        return check_seeds(v, "noise seeds")


class DatasetSpec(_Strict):
    name: str = Field(description="a registered dataset (ddbench list datasets)")
    n_train: int | None = Field(default=None, ge=1, description="training points (None: the dataset's default)")
    n_test: int | None = Field(default=None, ge=1, description="test points (None: the dataset's default)")
    subset: Literal["first", "balanced"] = Field(
        default="first", description="how n_train/n_test are drawn: the first n, or a seeded class-balanced draw"
    )
    subset_seed: int = Field(default=0, ge=0, le=MAX_SEED, description="seed of the balanced subset draw")
    noise: NoiseSpec = Field(default_factory=NoiseSpec)
    options: dict[str, Any] = Field(default_factory=dict, description="dataset-specific options")


class OptimizerSpec(_Strict):
    name: Literal["sgd", "adam", "adamw", "rmsprop"] = "sgd"
    lr: float = Field(default=0.01, gt=0)
    momentum: float = Field(default=0.0, ge=0, lt=1)
    nesterov: bool = False
    weight_decay: float = Field(default=0.0, ge=0)
    beta_1: float = Field(default=0.9, gt=0, lt=1)
    beta_2: float = Field(default=0.999, gt=0, lt=1)


class ScheduleSpec(_Strict):
    """Learning-rate schedule over epochs (no plateau/early-stopping schedulers)."""

    name: Literal["constant", "inverse_sqrt", "cosine", "step"] = "constant"
    every: int = Field(default=50, ge=1, description="inverse_sqrt: lr/sqrt(1 + epoch//every); step: decay period")
    factor: float = Field(default=0.1, gt=0, le=1, description="step: multiply lr by this every `every` epochs")
    min_lr: float = Field(default=0.0, ge=0, description="cosine: final lr")


class RecordSpec(_Strict):
    """Epochs at which train/test loss and error are recorded (and checkpoints saved)."""

    schedule: Literal["log", "linear", "final"] = "log"
    num: int = Field(default=12, ge=1, le=10_000, description="how many recorded epochs (log/linear)")
    epochs: list[int] | None = Field(default=None, description="explicit epochs; overrides schedule")
    checkpoints: bool = Field(default=False, description="also save weights at every recorded epoch")


#: the precision of existing specs; left out of every hash so that their keys never change
DEFAULT_PRECISION = "float32"


class TrainingSpec(_Strict):
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    batch_size: int = Field(default=128, ge=1)
    epochs: int = Field(default=100, ge=1, le=1_000_000)
    loss: Literal["cross_entropy", "mse"] = "cross_entropy"
    augmentation: Literal["none", "crop_flip"] = Field(
        default="none", description="crop_flip: pad-4 random crop + horizontal flip (1-D signals: random circular shift)"
    )
    record: RecordSpec = Field(default_factory=RecordSpec)
    precision: Literal["float32", "mixed_bfloat16"] = Field(
        default=DEFAULT_PRECISION,
        description="float32 (default, for fidelity) or mixed_bfloat16: bfloat16 compute with float32 variables, "
        "a float32 head (logits) and float32 losses; faster on GPUs/TPUs but changes the results, so it is part "
        "of the cell keys (float32 is left out of them, so keys of specs without this field do not change)",
    )

    def hashed_dump(self) -> dict[str, Any]:
        """The JSON data that identifies this recipe in hashes and in the resolved spec.

        ``precision`` is left out when it is the default: it was added after runs were
        published, and their cell keys, spec and training hashes must not change.
        """
        out = self.model_dump(mode="json")
        if out["precision"] == DEFAULT_PRECISION:
            del out["precision"]
        return out

    def recorded_epochs(self) -> list[int]:
        """Sorted 1-based epochs at which curves are recorded; always includes the last."""
        r, E = self.record, self.epochs
        if r.epochs is not None:
            eps = {e for e in r.epochs}
        elif r.schedule == "final":
            eps = set()
        elif r.schedule == "linear":
            eps = {int(round(v)) for v in np.linspace(1, E, r.num)}
        else:
            eps = {int(round(v)) for v in np.geomspace(1, E, r.num)}
        eps.add(E)
        return sorted(e for e in eps if 1 <= e <= E)

    @model_validator(mode="after")
    def _record_in_range(self) -> "TrainingSpec":
        if self.record.epochs is not None:
            bad = [e for e in self.record.epochs if not 1 <= e <= self.epochs]
            if bad:
                raise ValueError(f"record.epochs {bad} lie outside 1..epochs={self.epochs}")
        return self


class ModelSpec(_LateFields):
    family: str = Field(description="a registered model family (ddbench list families)")
    config: dict[str, Any] = Field(default_factory=dict, description="the family's options (validated by the family)")
    widths: list[int] = Field(description="the width grid: a list, {geomspace: [a, b, n]} or {range: [a, b, step]}")
    grid: dict[str, list[Any]] = Field(
        default_factory=dict, description="extra grid axes over family options, e.g. {depth: [1, 2, 4, 8]}"
    )
    refine: RefineSpec | None = Field(
        default=None, description="after the grid has trained, add widths around k* and the test-error peak, e.g. "
        "{around: [k_star, peak], points: 4} (docs/science.md, 'Refining the grid'); left out of the resolved spec "
        "when absent, so it changes no hash of a spec without it",
    )

    @field_validator("widths", mode="before", json_schema_input_type=GridInput)
    @classmethod
    def _widths(cls, v: Any) -> list[int]:
        return expand_grid(v)

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, vals in v.items():
            if not vals:
                raise ValueError(f"grid axis {key!r} is empty")
        return v

    #: left out of the dump at its default (:class:`_LateFields`)
    _late_fields: ClassVar[dict[str, Any]] = {"refine": None}

    def with_widths(self, widths: list[int]) -> "ModelSpec":
        """This model section with ``widths`` added to its grid and no ``refine`` (the refined grid, as trained)."""
        return self.model_copy(update={"widths": sorted(set(self.widths) | set(widths)), "refine": None})


class HypothesisSpec(_Strict):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class ProbeSpec(_LateFields):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    time_limit: float = Field(
        default=DEFAULT_PROBE_TIME_LIMIT, gt=0, le=7 * 24 * 3600,
        description="seconds this probe may run on one cell; past it the probe fails with the reason and the run "
        "goes on (docs/science.md, 'Probe time limits'). Left out of the resolved spec when default, so "
        "it changes no spec hash",
    )

    #: left out of the dump at its default (:class:`_LateFields`)
    _late_fields: ClassVar[dict[str, Any]] = {"time_limit": DEFAULT_PROBE_TIME_LIMIT}


class _NamedList:
    """``NamedList[ProbeSpec]``: the forms a list of probes or hypotheses may take in YAML (a name,
    ``{name: params}`` with one key, or the full ``{name, params}`` mapping), as a type; ``_named_list``
    turns each into the full form."""

    def __getitem__(self, full: type) -> Any:
        shorthand = Annotated[dict[str, Union[dict[str, Any], None]], Field(min_length=1, max_length=1)]
        return Union[list[Union[str, shorthand, full]], None]


NamedList = _NamedList()


def _named_list(v: Any, what: str) -> Any:
    """Accept ``[a, {b: {...}}, {name: c, params: {...}}]`` for probes and hypotheses."""
    if v is None:
        return []
    if not isinstance(v, list):
        raise ValueError(f"{what} must be a list of names or {{name: params}} mappings")
    out = []
    for item in v:
        if isinstance(item, str):
            out.append({"name": item})
        elif isinstance(item, dict) and "name" not in item and len(item) == 1:
            (k, params), = item.items()
            out.append({"name": k, "params": params or {}})
        else:
            out.append(item)
    return out


class AnalysisSpec(_LateFields):
    """Settings shared by all hypotheses."""

    interpolation_threshold: float = Field(
        default=0.01, ge=0, lt=1, description="training error at or below which a width interpolates (k*)"
    )
    alpha: float = Field(default=0.05, gt=0, lt=1, description="family-wise error rate of the leaderboard's claims")
    bootstrap: int = Field(default=1000, ge=100, le=1_000_000, description="bootstrap resamples for confidence intervals")
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="seed of the bootstrap")
    power_simulations: int = Field(
        default=DEFAULT_POWER_SIMULATIONS, ge=0, le=10_000,
        description="at most this many simulated runs per design for the power estimate every inconclusive "
        "verdict carries (docs/science.md, 'Power'); 0: no estimate. Left out of the resolved spec when default, "
        "so it changes no spec hash",
    )

    #: left out of the dump at its default (:class:`_LateFields`)
    _late_fields: ClassVar[dict[str, Any]] = {"power_simulations": DEFAULT_POWER_SIMULATIONS}


class EngineSpec(_Strict):
    """How the fast engine (trainer ``stateless``/``auto``) lays a bundle out; never what it computes."""

    pad_widths: Literal["auto", "never", "always"] = Field(
        default="auto",
        description="zero-pad narrow widths into a wider one's vmapped lanes (JAX; only where checked exact): "
        "auto = where a step is latency-bound (accelerators), never, always",
    )
    epochs_per_call: int | None = Field(
        default=None, ge=1, description="epochs per compiled call (JAX); default 8 on accelerators, 1 on CPU"
    )
    checkpoint_minutes: float = Field(
        default=10.0, gt=0, description="the engine saves the whole bundle's state at every recorded epoch and at "
        "least this often, so an interrupted bundle resumes mid-way (trainers stateless, fit, packed)"
    )

class DistributionSpec(_Strict):
    """Data parallelism over several devices: every batch is split over them and the gradients summed.

    An execution choice (the trained models are the same up to float32 reassociation),
    so it is in no hash. Which strategy is allowed depends on the Keras backend and is
    checked by ``ddbench validate``.
    """

    strategy: Literal["none", "mirrored", "data_parallel"] = Field(
        default="none",
        description="none: one device; mirrored: tf.distribute.MirroredStrategy (TensorFlow backend); "
        "data_parallel: keras.distribution.DataParallel (JAX backend)",
    )
    devices: int | list[str] | None = Field(
        default=None,
        description="null: every device the backend sees (its GPUs, else its CPUs); N: the first N; "
        "or a list of names, e.g. [/gpu:0, /gpu:1] (TensorFlow) or [gpu:0, gpu:1] (JAX)",
    )

    @field_validator("devices", mode="before")
    @classmethod
    def _devices(cls, v: Any) -> Any:
        if isinstance(v, bool) or (isinstance(v, int) and v < 1):
            raise ValueError(f"got {v!r}; allowed: null (all devices), a positive number of devices, or a list of device names")
        if isinstance(v, list):
            if not v or not all(isinstance(d, str) and d.strip() for d in v):
                raise ValueError("give a non-empty list of device names, e.g. [/gpu:0, /gpu:1]")
            if len(set(v)) != len(v):
                raise ValueError(f"device names repeat: {sorted({d for d in v if v.count(d) > 1})}")
        return v

    @model_validator(mode="after")
    def _devices_need_strategy(self) -> "DistributionSpec":
        if self.strategy == "none" and self.devices is not None:
            raise ValueError("devices is set but strategy is none; allowed strategies: mirrored (TensorFlow), "
                             "data_parallel (JAX)")
        return self


class Spec(_Strict):
    """A complete ddbench experiment."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=MAX_NAME_LENGTH,
                      description="run name (letters, digits, _ . -; used as a directory name)")
    description: str = ""
    dataset: DatasetSpec
    model: ModelSpec
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    seeds: list[int] = Field(default=[0], description="init/batch-order seeds; every cell is repeated per seed")
    probes: list[ProbeSpec] = Field(default_factory=list)
    hypotheses: list[HypothesisSpec] = Field(default_factory=list)
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)
    trainer: str = Field(
        default="auto", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=MAX_NAME_LENGTH,
        description="auto (= stateless); fit: one Keras fit per cell (reference); packed: a bundle as one "
        "multi-output model; stateless: a bundle as one compiled program, an epoch per call; or an installed "
        "trainer's name (`ddbench list trainers`)",
        json_schema_extra={"examples": ["auto", "stateless", "packed", "fit"]},
    )
    engine: EngineSpec = Field(default_factory=EngineSpec, description="layout of the fast engine (execution only)")
    distribution: DistributionSpec = Field(
        default_factory=DistributionSpec, description="spread training over several devices (execution only)"
    )
    output_dir: str | None = Field(default=None, description="run directory (default: runs/<name>)")

    _probes_v = field_validator("probes", mode="before", json_schema_input_type=NamedList[ProbeSpec])(
        classmethod(lambda cls, v: _named_list(v, "probes")))
    _hyps_v = field_validator("hypotheses", mode="before", json_schema_input_type=NamedList[HypothesisSpec])(
        classmethod(lambda cls, v: _named_list(v, "hypotheses")))

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        return check_seeds(v, "seeds")

    @field_validator("probes", "hypotheses")
    @classmethod
    def _unique_names(cls, v: list[Any], info: Any) -> list[Any]:
        twice = sorted(n for n, k in Counter(item.name for item in v).items() if k > 1)
        if twice:
            raise ValueError(f"{', '.join(twice)} listed more than once; list each {info.field_name[:-1].replace('hypothese', 'hypothesis')} once")
        return v

    @field_validator("output_dir")
    @classmethod
    def _output_dir(cls, v: str | None) -> str | None:
        return v if v is None else check_output_dir(v)

    def resolved(self) -> dict[str, Any]:
        """The spec with every default filled in, as plain JSON data (but ``training.precision``
        only when it is not float32: see :meth:`TrainingSpec.hashed_dump`)."""
        out = self.model_dump(mode="json")
        out["training"] = self.training.hashed_dump()
        return out

    def spec_hash(self) -> str:
        return content_hash({"format": SPEC_FORMAT, "spec": {k: v for k, v in self.resolved().items() if k not in EXECUTION_FIELDS}})

    def training_part(self) -> dict[str, Any]:
        """What determines the trained cells; probes, hypotheses and analysis do not."""
        resolved = self.resolved()
        return {k: resolved[k] for k in TRAINING_FIELDS}

    def run_dir(self, override: str | Path | None = None) -> Path:
        return Path(override or self.output_dir or Path("runs") / self.name)
