"""Refining a grid around k* and the test-error peak (docs/science.md, "Refining the grid").

Once a grid has trained, the statistical core (:class:`ddbench.hypotheses.core.StratumCore`, the one
definition of k* and of the peak) gives every stratum's k* and test-error peak; the gaps of the grid
around them are filled with new widths by :func:`ddbench.spec.grid.refine_widths`, and the union over
strata is the refinement (:class:`ddbench.leaderboard.schema.Refinement`). ``ddbench run`` refines a
spec with ``model.refine`` after its base grid; ``ddbench refine RUN`` refines a run directory's grid in
place. Both train only the new cells: the store grows a grid in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .. import registry
from ..hypotheses.table import ResultTable
from ..leaderboard.build import cell_views
from ..leaderboard.schema import RefinedStratum, Refinement
from ..spec.grid import RefineSpec, grid_spacing, refine_gaps, refine_widths
from ..spec.model import Spec
from ..store.run_store import RunStore, StoreView

FROM_SPEC, FROM_COMMAND = "model.refine", "ddbench refine"


def refinement(spec: Spec, cells: RunStore | StoreView | ResultTable, settings: RefineSpec,
               source: str = FROM_SPEC) -> Refinement:
    """The widths ``settings`` add to ``spec``'s grid, from the finished cells of ``cells`` (a view of the spec's
    cells, or their table): per stratum, ``settings.points`` widths in the gaps around its k* and/or test-error peak."""
    table = cells if isinstance(cells, ResultTable) else cell_views(cells)
    widths = sorted(spec.model.widths)
    spacing = grid_spacing(widths) if settings.spacing == "auto" else settings.spacing
    min_width = registry.families.get(spec.model.family).min_width
    strata, added = [], set()
    for core in table.cores(spec.analysis):
        targets, notes, peak = [], [], None
        if "k_star" in settings.around:
            if core.k_star is None:
                notes.append(f"no k*: {core.problem() or 'the grid never reaches the interpolation threshold'}")
            else:
                targets.append(core.k_star)
        if "peak" in settings.around:
            try:
                pk = core.peak("test_error")
            except (OSError, ValueError) as exc:  # unreadable per-point arrays: no peak, said why
                pk, why = None, f"{type(exc).__name__}: {exc}"
            else:
                why = core.problem() or "no test-error curve or no window near k*"
            if pk is None:
                notes.append(f"no test-error peak: {why}")
            else:
                peak = int(core.widths[pk[0]])
                targets.append(peak)
        targets = sorted(set(targets))
        new = refine_widths(widths, targets, settings.points, spacing, min_width) if targets else []
        gaps = [g for g in refine_gaps(widths, targets, min_width) if any(g[0] < w < g[1] for w in new)]
        strata.append(RefinedStratum(stratum=core.stratum, k_star=core.k_star, peak=peak, gaps=gaps, added=new,
                                     note="; ".join(notes)))
        added |= set(new)
    return Refinement(source=source, around=list(settings.around), points=settings.points, spacing=spacing,
                      base=widths, added=sorted(added), strata=strata)


def refined_spec(spec: Spec, step: Refinement) -> Spec:
    """``spec`` with the refinement's widths in its grid and no ``model.refine``: the grid as trained."""
    return spec.model_copy(update={"model": spec.model.with_widths(step.added)})


def kept_refinements(recorded: Any, widths: Iterable[int]) -> list[Refinement]:
    """The refinements recorded in a run directory that made (part of) the grid ``widths``: those that added
    widths, every one of them and of their base in ``widths``. Running the base grid again leaves them out;
    running the refined grid (a board's spec after ``ddbench refine``) keeps them."""
    have = set(widths)
    steps = [Refinement.model_validate(r) for r in recorded or []]
    return [s for s in steps if s.added and set(s.added) <= have and set(s.base) <= have]


def settings_from(around: str | None, points: int | None, spacing: str | None) -> RefineSpec:
    """``--around k_star,peak --points N --spacing S`` as a checked :class:`RefineSpec` (defaults where left out);
    ``ValueError`` naming the option, the value and what is allowed."""
    from pydantic import ValidationError

    data: dict[str, Any] = {}
    if around is not None:
        data["around"] = [a.strip() for a in around.split(",")] if around.strip() else []
    if points is not None:
        data["points"] = points
    if spacing is not None:
        data["spacing"] = spacing
    try:
        return RefineSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else "around"
        msg = first["msg"].removeprefix("Value error, ")
        raise ValueError(f"--{field} {data.get(field)!r}: {msg}") from None


def recorded_run(run_dir: Any) -> tuple[Spec, dict[str, str]]:
    """The spec a run directory's grid was last trained for (its ``model.refine`` left out: ``ddbench refine``
    brings its own settings) and its cells' identity (backend, Keras, precision); ``FileNotFoundError`` for a
    directory that is not a run, ``ValueError`` with the reason for one whose spec cannot be read back."""
    from pydantic import ValidationError

    from ..spec.validate import check_plugins, problems_from_validation

    store = RunStore.open_existing(run_dir)
    try:
        data, identity = store.meta("spec"), store.meta("identity")
    finally:
        store.close()
    if not isinstance(data, dict) or not isinstance(identity, dict):
        raise ValueError(f"{run_dir} records no spec to refine (made by an older ddbench, or never run); "
                         "run `ddbench run SPEC` on it first")
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        first = problems_from_validation(exc, Spec)[0]
        raise ValueError(f"{run_dir}: its recorded spec is not a valid spec here ({first.path}: {first.message})") from None
    problems = check_plugins(spec)
    if problems:
        raise ValueError(f"{run_dir}: its recorded spec needs what is not installed here "
                         f"({problems[0].path}: {problems[0].message})")
    return spec.model_copy(update={"model": spec.model.model_copy(update={"refine": None})}), identity
