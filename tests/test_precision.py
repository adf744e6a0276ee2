"""``training.precision``: mixed_bfloat16 trains, says so in provenance, and float32 keys are pinned.

The hashes below are those of specs/quickstart.yaml; published runs and leaderboards are keyed by
them. The spec hash is the one computed on main before ``precision`` existed: writing
``precision: float32`` out, or leaving it out, never changes it.

The training hash and the cell keys changed once, on purpose (ddbench issue "Verdicts a researcher
can publish", item 4): the same spec trained under TensorFlow and under JAX gave test errors up to
0.04 apart, so the Keras backend, the Keras version (major.minor) and the precision are now part of
what a cell is (``ddbench.spec.identity``; ``CELL_FORMAT`` 1 -> 2, training-hash format 2). They are
pinned here for an explicit runtime (TensorFlow, Keras 3.15), not this process's, so that the test
does not depend on the installed Keras; before that change they were 991fc8b0df96df53 (training)
and 58cc265211ccbdcd (keys).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from util import tiny_spec_text

from ddbench.plan import plan_cells
from ddbench.run.pipeline import run
from ddbench.spec.identity import training_hash
from ddbench.spec.model import DEFAULT_PRECISION
from ddbench.spec.validate import SpecError, load_spec, load_spec_text
from ddbench.train.precision import dtype_policy

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = {"backend": "tensorflow", "keras": "3.15"}
QUICKSTART_SPEC_HASH = "17139ee672ad6b8b"
QUICKSTART_TRAINING_HASH = "06828f46e092e8c8"  # under RUNTIME
QUICKSTART_CELL_KEYS = "66472e1beee5e91d"  # sha256 of the 28 cell keys (under RUNTIME) joined by commas, first 16 hex digits
QUICKSTART_CELL_KEYS_JAX = "178fc969b1145c19"  # the same under JAX, Keras 3.15: other cells


def _mixed(text: str) -> str:
    return text.replace("  batch_size: 50", "  batch_size: 50\n  precision: mixed_bfloat16")


def _keys_digest(spec, runtime=RUNTIME) -> str:
    return hashlib.sha256(",".join(c.key for c in plan_cells(spec, runtime)).encode()).hexdigest()[:16]


def test_float32_hashes_and_cell_keys_are_pinned():
    spec = load_spec(ROOT / "specs" / "quickstart.yaml")
    assert spec.training.precision == DEFAULT_PRECISION == "float32"
    assert spec.spec_hash() == QUICKSTART_SPEC_HASH
    assert training_hash(spec, RUNTIME) == QUICKSTART_TRAINING_HASH
    assert _keys_digest(spec) == QUICKSTART_CELL_KEYS
    assert _keys_digest(spec, {**RUNTIME, "backend": "jax"}) == QUICKSTART_CELL_KEYS_JAX
    assert "precision" not in spec.resolved()["training"] and "precision" not in spec.training_part()["training"]
    explicit = load_spec_text((ROOT / "specs" / "quickstart.yaml").read_text().replace(
        "  batch_size: 100", "  batch_size: 100\n  precision: float32"))
    assert explicit.training.precision == "float32"
    assert (explicit.spec_hash(), training_hash(explicit, RUNTIME), _keys_digest(explicit)) == (
        QUICKSTART_SPEC_HASH, QUICKSTART_TRAINING_HASH, QUICKSTART_CELL_KEYS)


def test_mixed_precision_is_part_of_every_hash():
    a, b = load_spec_text(tiny_spec_text()), load_spec_text(_mixed(tiny_spec_text()))
    assert b.training.precision == "mixed_bfloat16" and b.resolved()["training"]["precision"] == "mixed_bfloat16"
    assert a.spec_hash() != b.spec_hash() and training_hash(a, RUNTIME) != training_hash(b, RUNTIME)
    assert not {c.key for c in plan_cells(a, RUNTIME)} & {c.key for c in plan_cells(b, RUNTIME)}


def test_unknown_precision_lists_allowed_values():
    with pytest.raises(SpecError) as info:
        load_spec_text(tiny_spec_text().replace("  batch_size: 50", "  batch_size: 50\n  precision: mixed_float16"))
    (p,) = info.value.problems
    assert p.path == "training.precision" and "'float32'" in p.message and "'mixed_bfloat16'" in p.message
    assert p.value == "mixed_float16"


def test_closed_form_family_refuses_mixed_precision():
    text = _mixed(tiny_spec_text(family="random_features"))
    with pytest.raises(SpecError) as info:
        load_spec_text(text)
    assert [p.path for p in info.value.problems] == ["training.precision"]
    assert "closed form" in info.value.problems[0].message


def test_dtype_policy_is_restored_even_after_an_error():
    import keras

    before = keras.config.dtype_policy().name
    with pytest.raises(RuntimeError):
        with dtype_policy("mixed_bfloat16"):
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
            raise RuntimeError("build failed")
    assert keras.config.dtype_policy().name == before == "float32"


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["fit", "stateless"])
def test_mixed_bfloat16_run_trains_and_says_so(tmp_path, trainer):
    import keras

    text = tiny_spec_text(rates="[0.2]", widths="[4, 16]", epochs=3) + f"trainer: {trainer}\n"
    res = run(load_spec_text(_mixed(text)), run_dir=tmp_path / "mixed")
    assert res.counts["done"] == 2, res.counts
    board = res.leaderboard
    assert board.summary["precision"] == "mixed_bfloat16" and board.spec["training"]["precision"] == "mixed_bfloat16"
    assert board.summary["distribution"]["strategy"] == "none"
    assert keras.config.dtype_policy().name == "float32"  # nothing leaked out of the build
    # the saved model: float32 variables, bfloat16 compute in the hidden layers, a float32 head
    model = keras.saving.load_model(tmp_path / "mixed" / "cells" / board.rows[0].key / "model.keras")
    assert {v.dtype for v in model.weights} == {"float32"}
    assert model.get_layer("penultimate").compute_dtype == "bfloat16"
    assert model.get_layer("head").compute_dtype == "float32"
    from ddbench.leaderboard.render import render_markdown

    assert "precision: mixed_bfloat16" in render_markdown(board)
    # bfloat16 changes the numbers, but not by much on 3 epochs
    ref = run(load_spec_text(text), run_dir=tmp_path / "float32").leaderboard
    assert ref.summary["precision"] == "float32" and "precision" not in ref.spec["training"]
    for a, b in zip(ref.rows, board.rows):
        assert a.key != b.key
        assert b.test_loss == pytest.approx(a.test_loss, rel=0.02)
