"""Model families: the build contract, exact parameter counts, linear over-parameterisation."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from ddbench import registry
from ddbench.families.base import HEAD, PENULTIMATE

IMAGE_28 = (28, 28, 1)
IMAGE_32 = (32, 32, 3)
SIGNAL = (40,)

# (family, config, width, input_shape): small instances of every family on every input kind it takes
CASES = [
    ("cnn5", {}, 2, IMAGE_28),
    ("cnn5", {"batch_norm": False}, 2, IMAGE_32),
    ("cnn5", {"linear_overparam": 2}, 2, SIGNAL),
    ("resnet18k", {}, 1, IMAGE_28),
    ("resnet18k", {"batch_norm": False, "final_bn_relu": False}, 2, IMAGE_32),
    ("resnet18k", {"linear_overparam": 2}, 1, SIGNAL),
    ("wide_resnet", {"depth": 10}, 1, IMAGE_32),
    ("wide_resnet", {"depth": 10, "dropout": 0.3, "linear_overparam": 2}, 1, IMAGE_28),
    ("wide_resnet", {"depth": 10, "batch_norm": False}, 1, SIGNAL),
    ("cnn1d", {}, 4, SIGNAL),
    ("cnn1d", {"linear_overparam": 3}, 4, (40, 2)),
    ("deep_linear", {}, 3, SIGNAL),
    ("deep_linear", {"depth": 3, "use_bias": True}, 5, IMAGE_28),
    ("mlp", {}, 3, SIGNAL),
]


def _family(name: str):
    plugin = registry.families.get(name)
    return plugin(), plugin.Config


def _build(name: str, config: dict, width: int, input_shape: tuple[int, ...], num_classes: int = 10):
    import keras

    keras.utils.set_random_seed(0)
    fam, cfg_cls = _family(name)
    cfg = cfg_cls(**config)
    return fam, cfg, fam.build(cfg, width, input_shape, num_classes, name=f"{name}_test")


def _trainable(model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.trainable_weights))


def _x(input_shape: tuple[int, ...], n: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, *input_shape)).astype("float32")


@pytest.mark.parametrize("name,config,width,input_shape", CASES, ids=lambda v: str(v).replace(" ", ""))
def test_build_contract(name, config, width, input_shape):
    fam, cfg, model = _build(name, config, width, input_shape, num_classes=7)
    out = np.asarray(model(_x(input_shape)))
    assert out.shape == (3, 7)
    assert np.isfinite(out).all()
    names = {layer.name for layer in model.layers}
    assert {PENULTIMATE, HEAD} <= names
    penult_dim = int(np.prod(model.get_layer(PENULTIMATE).output.shape[1:]))
    assert int(model.get_layer(HEAD).input.shape[-1]) == penult_dim
    assert fam.param_count(cfg, width, input_shape, 7) == _trainable(model)


def test_registered():
    assert {"mlp", "cnn5", "resnet18k", "wide_resnet", "cnn1d", "deep_linear"} <= set(registry.families.names())


@pytest.mark.parametrize(
    "name,config,width,input_shape,expected",
    [
        # cnn5, k=2, 28x28x1, BN: convs (9*c_in*c_out + c_out) + BN (2*c_out):
        #   conv1 9*1*2+2=20, bn 4 | conv2 9*2*4+4=76, bn 8 | conv3 9*4*8+8=296, bn 16 | conv4 9*8*16+16=1168, bn 32
        #   head 16*10+10=170  ->  20+4+76+8+296+16+1168+32+170 = 1790
        ("cnn5", {}, 2, IMAGE_28, 1790),
        # same without BN: 1790 - (4+8+16+32) = 1730
        ("cnn5", {"batch_norm": False}, 2, IMAGE_28, 1730),
        # linear_overparam d=2 adds one c_out x c_out factor per layer: 1790 + 2^2+4^2+8^2+16^2+10^2 = 1790+440 = 2230
        ("cnn5", {"linear_overparam": 2}, 2, IMAGE_28, 2230),
        # resnet18k, k=1, 28x28x1 (no conv bias; block = bn(c_in) + conv3(c_in,c) + bn(c) + conv3(c,c) [+ 1x1 shortcut]):
        #   stem 9*1*1 = 9
        #   stage1 (1):  2 x (2+9+2+9) = 44
        #   stage2 (2):  (2+18+4+36+2) + (4+36+4+36) = 62+80 = 142
        #   stage3 (4):  (4+72+8+144+8) + (8+144+8+144) = 236+304 = 540
        #   stage4 (8):  (8+288+16+576+32) + (16+576+16+576) = 920+1184 = 2104
        #   final bn 16, head 8*10+10 = 90  ->  9+44+142+540+2104+16+90 = 2945
        ("resnet18k", {}, 1, IMAGE_28, 2945),
        # wide_resnet depth 10 (n=1), k=1, 32x32x3:
        #   stem 9*3*16 = 432
        #   stage1 (16->16):  32+2304+32+2304 = 4672
        #   stage2 (16->32):  32+4608+64+9216 + shortcut 16*32=512 = 14432
        #   stage3 (32->64):  64+18432+128+36864 + shortcut 32*64=2048 = 57536
        #   final bn 128, head 64*10+10 = 650  ->  432+4672+14432+57536+128+650 = 77850
        ("wide_resnet", {"depth": 10}, 1, IMAGE_32, 77850),
        # cnn1d, c=4, (40,): conv1 5*1*4+4=24, conv2 3*4*4+4=52, conv3 52; length 40->20->10->5,
        #   head 5*4*10+10=210  ->  24+52+52+210 = 338
        ("cnn1d", {}, 4, SIGNAL, 338),
        # deep_linear depth 2, width 3, (40,), no bias: 40*3 + 3*3 + 3*10 = 120+9+30 = 159
        ("deep_linear", {}, 3, SIGNAL, 159),
    ],
)
def test_hand_computed_param_counts(name, config, width, input_shape, expected):
    fam, cfg, model = _build(name, config, width, input_shape)
    assert fam.param_count(cfg, width, input_shape, 10) == expected == _trainable(model)


def test_published_param_counts():
    """Closed forms at paper sizes (not built: too slow for a unit test) match the reference implementations."""
    cases = [
        # kuangliu/pytorch-cifar PreActResNet18 (used by Nakkiran et al.; no final BN-ReLU): 11,171,146
        ("resnet18k", {"final_bn_relu": False}, 64, 11_171_146),
        # WRN-28-10 on CIFAR-10 (Zagoruyko & Komodakis): 36,479,194
        ("wide_resnet", {}, 10, 36_479_194),
        # Nakkiran's 5-layer CNN at k=64: 1792+128 + 73856+256 + 295168+512 + 1180160+1024 + 5130 = 1,558,026
        ("cnn5", {}, 64, 1_558_026),
    ]
    for name, config, width, expected in cases:
        fam, cfg_cls = _family(name)
        assert fam.param_count(cfg_cls(**config), width, IMAGE_32, 10) == expected, name
    fam, cfg_cls = _family("cnn1d")  # the MNIST-1D paper's CNN: 5,210 parameters at 25 channels
    assert fam.param_count(cfg_cls(), 25, SIGNAL, 10) == 5210


@pytest.mark.parametrize("name,extra", [("cnn5", {}), ("resnet18k", {}), ("wide_resnet", {"depth": 10})])
def test_batch_norm_off_has_fewer_params(name, extra):
    fam, cfg_cls = _family(name)
    on, off = cfg_cls(**extra), cfg_cls(batch_norm=False, **extra)
    assert fam.param_count(off, 2, IMAGE_28, 10) < fam.param_count(on, 2, IMAGE_28, 10)
    _, _, model = _build(name, {"batch_norm": False, **extra}, 2, IMAGE_28)
    assert not any("batch_normalization" in type(layer).__name__.lower() for layer in model.layers)
    assert fam.param_count(off, 2, IMAGE_28, 10) == _trainable(model)


def test_linear_overparam_one_builds_plain_layers():
    import keras

    _, _, model = _build("cnn5", {"linear_overparam": 1}, 2, IMAGE_28)
    kinds = {type(layer) for layer in model.layers}
    assert keras.layers.Conv2D in kinds and type(model.get_layer(HEAD)) is keras.layers.Dense


def test_wide_resnet_rejects_bad_depth():
    _, cfg_cls = _family("wide_resnet")
    with pytest.raises(ValidationError, match=r"6n\+4"):
        cfg_cls(depth=27)
    assert cfg_cls(depth=16).depth == 16


def test_configs_forbid_unknown_fields():
    for name in ("cnn5", "resnet18k", "wide_resnet", "cnn1d", "deep_linear"):
        _, cfg_cls = _family(name)
        with pytest.raises(ValidationError):
            cfg_cls(no_such_field=1)


@pytest.mark.parametrize("use_bias", [False, True])
def test_deep_linear_end_to_end_matrix(use_bias):
    from ddbench.families.deep_linear import end_to_end_bias, end_to_end_matrix

    _, _, model = _build("deep_linear", {"depth": 3, "use_bias": use_bias}, 6, (8, 5))
    if use_bias:  # non-zero biases so the affine offset is actually tested
        for layer in model.layers:
            if getattr(layer, "bias", None) is not None:
                layer.bias.assign(np.random.default_rng(1).standard_normal(layer.bias.shape).astype("float32"))
    m = end_to_end_matrix(model)
    assert m.shape == (40, 10)
    x = _x((8, 5), n=4)
    expected = x.reshape(4, -1) @ m + end_to_end_bias(model)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-4, atol=1e-5)
    if not use_bias:
        assert not np.any(end_to_end_bias(model))


def test_overparam_dense_collapses():
    from ddbench.families.layers import OverparamDense

    layer = OverparamDense(6, depth=3, activation=None, bias_initializer="random_normal")
    x = _x((9,), n=5)
    y = np.asarray(layer(x))
    factors = [f.numpy() for f in layer.factors]
    assert [f.shape for f in factors] == [(9, 6), (6, 6), (6, 6)]
    kernel, bias = layer.collapsed_kernel()
    np.testing.assert_allclose(kernel, factors[0] @ factors[1] @ factors[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(x @ kernel + bias, y, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("rank,shape", [(1, (12, 3)), (2, (7, 8, 3))])
def test_overparam_conv_collapses(rank, shape):
    from keras import ops

    from ddbench.families.layers import OverparamConv

    layer = OverparamConv(rank, 4, 3, depth=3, strides=2, bias_initializer="random_normal")
    x = _x(shape, n=2)
    y = np.asarray(layer(x))
    assert y.shape == layer.compute_output_shape((2, *shape))
    first, *rest = [f.numpy() for f in layer.factors]
    assert first.shape == (3,) * rank + (3, 4) and all(f.shape == (4, 4) for f in rest)
    # the literal definition: a strided conv, then two 1x1 convs (channel matrices), no activation
    sequential = np.asarray(ops.conv(x, first, strides=2, padding="same"))
    for factor in rest:
        sequential = sequential @ factor
    kernel, bias = layer.collapsed_kernel()
    np.testing.assert_allclose(sequential + bias, y, rtol=1e-5, atol=1e-5)
    collapsed = np.asarray(ops.conv(x, kernel, strides=2, padding="same")) + bias
    np.testing.assert_allclose(collapsed, y, rtol=1e-5, atol=1e-5)


def test_overparam_model_saves_and_loads(tmp_path: Path):
    import keras

    from ddbench.families.layers import OverparamConv, OverparamDense

    _, _, model = _build("cnn5", {"linear_overparam": 3, "batch_norm": False}, 2, IMAGE_28)
    assert isinstance(model.get_layer("conv1"), OverparamConv) and isinstance(model.get_layer(HEAD), OverparamDense)
    x = _x(IMAGE_28, n=4)
    before = np.asarray(model(x))
    path = tmp_path / "cnn5_overparam.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(x)), before)
    restored = loaded.get_layer("conv2")
    assert isinstance(restored, OverparamConv) and restored.get_config()["depth"] == 3
    # the head's collapsed kernel is what probes read as head.kernel
    kernel, bias = loaded.get_layer(HEAD).collapsed_kernel()
    np.testing.assert_allclose(np.asarray(loaded.get_layer(HEAD).kernel), kernel)
    assert kernel.shape == (16, 10) and bias.shape == (10,)


JAX_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import keras
    assert keras.backend.backend() == "jax", keras.backend.backend()
    from ddbench import registry
    cases = [("cnn5", {"linear_overparam": 2}, 2, (28, 28, 1)), ("resnet18k", {}, 1, (32, 32, 3)),
             ("wide_resnet", {"depth": 10, "linear_overparam": 2}, 1, (40,)), ("cnn1d", {}, 4, (40,)),
             ("deep_linear", {}, 3, (40,)), ("mlp", {}, 3, (40,))]
    for name, config, width, shape in cases:
        plugin = registry.families.get(name)
        fam, cfg = plugin(), plugin.Config(**config)
        model = fam.build(cfg, width, shape, 10, name=name)
        out = np.asarray(model(np.ones((2, *shape), "float32")))
        assert out.shape == (2, 10) and np.isfinite(out).all(), name
        assert fam.param_count(cfg, width, shape, 10) == sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    print("ok")
    """
)


def test_families_build_under_jax():
    # cheap XLA compiles: building compiles one random-initializer kernel per weight shape (~0.5 s each on CPU)
    fast_xla = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"{os.environ.get('XLA_FLAGS', '')} {fast_xla}".strip()}
    proc = subprocess.run([sys.executable, "-c", JAX_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=180, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
