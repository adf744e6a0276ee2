"""The backend layer: one sub-package per backend with the same modules, one dispatch point,
no backend code elsewhere, weak-map caches instead of attributes on models."""

from __future__ import annotations

import ast
import gc
import importlib
import re
import weakref
from pathlib import Path

import numpy as np

from ddbench import backend

ROOT = Path(backend.__file__).resolve().parent.parent  # the ddbench package
#: what every backend's modules provide
API = {
    "device": {"prepare", "describe", "platform", "versions", "memory_bytes"},
    "functions": {"forward", "input_gradient"},
    "engine": {"Engine"},
    "padding": {"padding_is_exact", "PADS_LANES"},
    "distribution": {"STRATEGY", "visible_devices", "make_strategy", "replicas", "mesh", "sharding"},
}


def test_every_backend_has_the_same_modules_and_names():
    assert set(API) == set(backend.MODULES)
    for name in backend.SUPPORTED:
        files = {p.stem for p in (ROOT / "backend" / name).glob("*.py")} - {"__init__"}
        assert files == set(backend.MODULES), name
        for module in backend.MODULES:  # importable without the backend's library (it is imported lazily)
            mod = importlib.import_module(f"ddbench.backend.{name}.{module}")
            assert API[module] <= set(vars(mod)), (name, module, API[module] - set(vars(mod)))


def test_the_active_backend_is_reached_through_one_dispatch_point():
    layer = backend.impl()
    assert layer.__name__ == f"ddbench.backend.{backend.name()}"
    assert all(hasattr(layer, m) for m in backend.MODULES)
    assert backend.impl("torch").engine.Engine is None  # the stateless trainer falls back to packed there


def test_no_module_outside_the_backend_layer_branches_on_the_backend_or_imports_one():
    branch = re.compile(r"(backend\.name\(\)|backend\.selected\(\)|keras\.backend\.backend\(\))\s*(==|!=|in\s|not in\s)")
    native = re.compile(r"^\s*(import|from)\s+(jax|tensorflow|torch)(\s|\.|$)", re.M)
    offenders = []
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("backend/"):
            continue
        text = path.read_text()
        offenders += [f"{rel}: {m.group(0)}" for m in branch.finditer(text)]
        offenders += [f"{rel}: {m.group(0).strip()}" for m in native.finditer(text)]
    assert offenders == []
    private = re.compile(r"backend\._[a-z]|\._flatten_layers|\._ddbench_|setattr\(model")
    assert [p for p in ROOT.rglob("*.py") if private.search(p.read_text())] == []


def test_the_backend_layer_does_not_import_the_trainers():
    """Trainers use the backends, never the reverse: what an engine shares with them is in ddbench.engine."""
    offenders = []
    for path in (ROOT / "backend").rglob("*.py"):
        package = ["ddbench", *path.relative_to(ROOT).parent.parts]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
                module = ".".join(p for p in (base, node.module or "") if p)
                targets = [module] + [f"{module}.{a.name}" for a in node.names]
            else:
                continue
            offenders += [f"{path.relative_to(ROOT)}: {t}" for t in targets if t == "ddbench.train"
                          or t.startswith("ddbench.train.")]
    assert offenders == []


def test_probe_functions_are_cached_in_a_weak_map_not_on_the_model():
    import keras

    from ddbench.families.base import HEAD, PENULTIMATE
    from ddbench.probes import features, gradients

    inputs = keras.Input(shape=(3,))
    h = keras.layers.Dense(4, activation="relu", name=PENULTIMATE)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name=HEAD)(h))
    before = set(vars(model))
    x, y = np.ones((5, 3), np.float32), np.zeros(5, np.int32)
    (z,) = gradients.forward(model, x)
    g = gradients.input_gradients(model, x, y)
    feats, logits = features.features(model, x)
    assert z.shape == (5, 2) and g.shape == (5, 3) and feats.shape == (5, 4)
    np.testing.assert_allclose(logits, z, rtol=1e-5)
    assert features.feature_model(model) is features.feature_model(model)  # cached
    assert gradients.compiled(model, grad=False) is gradients.compiled(model, grad=False)  # cached
    assert set(vars(model)) == before
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None  # the cache does not keep the model alive


def test_public_layer_walk_finds_every_layer():
    import keras

    from ddbench.families.walk import walk_layers

    inner = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3, name="a"), keras.layers.Dense(3, name="b")])
    inputs = keras.Input(shape=(4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="c")(inner(inputs)))
    names = [layer.name for layer in walk_layers(model)]
    assert {"a", "b", "c", inner.name} <= set(names)
