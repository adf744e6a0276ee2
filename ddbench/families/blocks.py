"""Building blocks shared by the convolutional families (cnn5, resnet18k, wide_resnet, cnn1d).

One code path serves 1-D signals and 2-D images: an input of shape ``(L,)`` or
``(L, C)`` is a signal (``Conv1D``; ``(L,)`` gets one channel), ``(H, W, C)`` is an
image (``Conv2D``). Every helper takes that ``rank``. Layers are always
``channels_last``.

Each graph helper has a parameter-count twin, so families can report exact closed
forms. This module does not import Keras at import time (the backend must be
selected first); the graph helpers import it when called.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

#: upper bound of the ``linear_overparam`` config fields (a product of 16 maps is already extreme)
MAX_OVERPARAM = 16
#: PyTorch's BatchNorm defaults (momentum 0.1 there is 0.9 here), which the reference recipes used
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5

ConvInit = Any  # a Keras initializer name


def linear_overparam_field() -> Any:
    """The shared ``linear_overparam`` config field (Huh et al.; see ``layers.py``)."""
    return Field(
        default=1, ge=1, le=MAX_OVERPARAM,
        description="write every Dense/Conv layer as a product of this many linear maps with no activation "
        "between (same function class; 1 = plain layers)",
    )


# --------------------------------------------------------------------------- shapes


def signal_rank(input_shape: tuple[int, ...]) -> int:
    """1 for signals ``(L,)`` / ``(L, C)``, 2 for images ``(H, W, C)``."""
    if len(input_shape) in (1, 2):
        return 1
    if len(input_shape) == 3:
        return 2
    raise ValueError(f"convolutional families take (L,), (L, C) or (H, W, C) inputs, got shape {tuple(input_shape)}")


def in_channels(input_shape: tuple[int, ...]) -> int:
    """Channels the first convolution sees (a bare ``(L,)`` signal has one)."""
    return 1 if len(input_shape) == 1 else int(input_shape[-1])


def conv_input(input_shape: tuple[int, ...]) -> tuple[Any, Any, int]:
    """``(inputs, x, rank)``: the model input and the channels-last tensor convolutions start from."""
    import keras

    rank = signal_rank(input_shape)
    inputs = keras.Input(shape=tuple(input_shape), name="inputs")
    x = keras.layers.Reshape((int(input_shape[0]), 1), name="add_channel")(inputs) if len(input_shape) == 1 else inputs
    return inputs, x, rank


# --------------------------------------------------------------------------- graph helpers


def conv(x: Any, rank: int, filters: int, kernel_size: int, *, name: str, strides: int = 1, use_bias: bool = True,
         linear_overparam: int = 1, kernel_initializer: ConvInit = "he_normal") -> Any:
    """Apply a (possibly linearly over-parameterised) ``same``-padded convolution."""
    from .layers import conv as conv_layer

    return conv_layer(rank, filters, kernel_size, strides=strides, use_bias=use_bias, linear_overparam=linear_overparam,
                      kernel_initializer=kernel_initializer, name=name)(x)


def norm_relu(x: Any, *, batch_norm: bool, name: str) -> Any:
    """Optional BatchNorm, then ReLU: the only non-linearity the conv families use."""
    import keras

    if batch_norm:
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x)


def max_pool(x: Any, rank: int, *, name: str, size: int = 2) -> Any:
    """Max pooling with ``same`` padding: identical to ``valid`` on even sizes, and never shrinks a size to 0."""
    import keras

    cls = {1: keras.layers.MaxPooling1D, 2: keras.layers.MaxPooling2D}[rank]
    return cls(pool_size=size, padding="same", data_format="channels_last", name=name)(x)


def global_pool(x: Any, rank: int, kind: str, *, name: str) -> Any:
    """Global ``max`` or ``avg`` pooling over all positions -> a ``(batch, channels)`` vector."""
    import keras

    table = {("max", 1): keras.layers.GlobalMaxPooling1D, ("max", 2): keras.layers.GlobalMaxPooling2D,
             ("avg", 1): keras.layers.GlobalAveragePooling1D, ("avg", 2): keras.layers.GlobalAveragePooling2D}
    return table[(kind, rank)](data_format="channels_last", name=name)(x)


def linear_head(h: Any, num_classes: int, *, name: str, linear_overparam: int = 1, use_bias: bool = True) -> Any:
    """The final linear layer (logits)."""
    from .layers import dense

    return dense(num_classes, linear_overparam=linear_overparam, use_bias=use_bias, name=name)(h)


def preact_block(x: Any, filters: int, stride: int, *, rank: int, batch_norm: bool, name: str, dropout: float = 0.0,
                 linear_overparam: int = 1, kernel_initializer: ConvInit = "he_normal") -> Any:
    """Pre-activation basic block (He et al. 2016; the ResNet18 and Wide-ResNet block).

    ``BN-ReLU-conv3-BN-ReLU-[dropout]-conv3`` plus a shortcut; when the shape changes
    the shortcut is a strided 1x1 conv of the *pre-activated* input, as in the
    reference implementations. Convolutions have no bias (BN, or the next block's
    BN, follows them).
    """
    import keras

    c_in = int(x.shape[-1])
    kw = dict(rank=rank, use_bias=False, linear_overparam=linear_overparam, kernel_initializer=kernel_initializer)
    out = norm_relu(x, batch_norm=batch_norm, name=f"{name}_pre")
    shortcut = x
    if stride != 1 or c_in != filters:
        shortcut = conv(out, filters=filters, kernel_size=1, strides=stride, name=f"{name}_shortcut", **kw)
    y = conv(out, filters=filters, kernel_size=3, strides=stride, name=f"{name}_conv1", **kw)
    y = norm_relu(y, batch_norm=batch_norm, name=f"{name}_mid")
    if dropout > 0:
        y = keras.layers.Dropout(dropout, name=f"{name}_dropout")(y)
    y = conv(y, filters=filters, kernel_size=3, name=f"{name}_conv2", **kw)
    return keras.layers.Add(name=f"{name}_add")([shortcut, y])


def preact_resnet(x: Any, rank: int, *, stem: int, stages: list[tuple[int, int, int]], batch_norm: bool,
                  final_bn_relu: bool, name: str, dropout: float = 0.0, linear_overparam: int = 1,
                  kernel_initializer: ConvInit = "he_normal") -> Any:
    """3x3 stem conv of ``stem`` channels, then ``stages`` of ``(width, blocks, first_stride)``.

    Returns the last feature map (after the optional final BN-ReLU); the caller pools it.
    """
    kw = dict(rank=rank, linear_overparam=linear_overparam, kernel_initializer=kernel_initializer)
    x = conv(x, filters=stem, kernel_size=3, use_bias=False, name=f"{name}_stem", **kw)
    for s, (width, blocks, stride) in enumerate(stages):
        for b in range(blocks):
            x = preact_block(x, width, stride if b == 0 else 1, batch_norm=batch_norm, dropout=dropout,
                             name=f"{name}_stage{s + 1}_block{b + 1}", **kw)
    if final_bn_relu:
        x = norm_relu(x, batch_norm=batch_norm, name=f"{name}_final")
    return x


# --------------------------------------------------------------------------- parameter arithmetic


def dense_params(d_in: int, units: int, *, use_bias: bool = True, linear_overparam: int = 1) -> int:
    """Trainable parameters of ``layers.dense``: ``d_in*units + (d-1)*units^2 (+ units)``."""
    return d_in * units + (linear_overparam - 1) * units * units + (units if use_bias else 0)


def conv_params(rank: int, c_in: int, filters: int, kernel_size: int, *, use_bias: bool = True,
                linear_overparam: int = 1) -> int:
    """Trainable parameters of ``layers.conv``: ``k^rank*c_in*f + (d-1)*f^2 (+ f)``."""
    return kernel_size**rank * c_in * filters + (linear_overparam - 1) * filters * filters + (filters if use_bias else 0)


def bn_params(channels: int, batch_norm: bool) -> int:
    """Trainable BatchNorm parameters (gamma and beta; the moving statistics are not trained)."""
    return 2 * channels if batch_norm else 0


def preact_resnet_params(rank: int, c_in: int, *, stem: int, stages: list[tuple[int, int, int]], batch_norm: bool,
                         final_bn_relu: bool, linear_overparam: int = 1) -> int:
    """Closed form for :func:`preact_resnet` (the pooled head is counted by the caller)."""
    d = linear_overparam
    total = conv_params(rank, c_in, stem, 3, use_bias=False, linear_overparam=d)
    c = stem
    for width, blocks, stride in stages:
        for b in range(blocks):
            s = stride if b == 0 else 1
            total += bn_params(c, batch_norm) + bn_params(width, batch_norm)
            total += conv_params(rank, c, width, 3, use_bias=False, linear_overparam=d)
            total += conv_params(rank, width, width, 3, use_bias=False, linear_overparam=d)
            if s != 1 or c != width:
                total += conv_params(rank, c, width, 1, use_bias=False, linear_overparam=d)
            c = width
    if final_bn_relu:
        total += bn_params(c, batch_norm)
    return total
