"""Bundles trained one after another in this process (one device, or several through the
spec's ``distribution``)."""

from __future__ import annotations

import traceback
from typing import Iterable, Iterator

from .. import backend, registry
from ..plan import Bundle
from ..train import get_trainer
from .base import ExecContext
from .work import CellResult, failed_results, train_bundle


@registry.executors.register("local", version="1")
class LocalExecutor:
    """The reference executor: every bundle in this process, one after another."""

    name = "local"
    description = "bundles one after another in this process (one device, or several through distribution:)"

    def execute(self, bundles: Iterable[Bundle], ctx: ExecContext) -> Iterator[CellResult]:
        trainer = get_trainer(ctx.trainer, registry.families.get(ctx.spec.model.family), ctx.spec.distribution,
                              engine=ctx.spec.engine)

        def on_split(bundle: Bundle, halves: list[Bundle]) -> None:
            ctx.on_message(f"out of memory with {len(bundle.cells)} cells together; retrying as "
                           f"{' and '.join(str(len(h.cells)) for h in halves)}")

        for bundle in bundles:
            try:
                data = ctx.data.get((bundle.noise_rate, bundle.noise_seed))
            except Exception:
                yield from failed_results(bundle, traceback.format_exc())
                continue
            ctx.on_bundle(bundle)
            yield from train_bundle(ctx.spec, bundle, data, trainer, ctx.run_dir, ctx.on_epochs, on_split,
                                    on_phase=ctx.on_phase)
            backend.clear_session()
