"""Linear over-parameterisation (Huh et al.): one linear map written as a product of ``d``.

``OverparamDense`` and ``OverparamConv`` compute exactly the function class of a
single ``Dense`` / ``Conv`` layer, but their kernel is stored as ``d`` factors with
no activation in between. Gradient descent on the factors behaves differently
from gradient descent on the product (it favours low effective rank), which is
what the ``low_rank`` hypothesis measures. For evaluation, ``collapsed_kernel()``
returns the single equivalent kernel and bias.

Families expose the option as ``linear_overparam: d``; :func:`dense` and
:func:`conv` build a plain Keras layer when ``d == 1`` so that parameter counts and
saved models of the default configuration are unchanged. This module imports
Keras, so family modules import it inside ``build`` (the backend must be chosen
first); their parameter arithmetic lives in the Keras-free ``blocks`` module.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops


def _product(matrices: list[Any]) -> Any:
    """``M_1 @ M_2 @ ... @ M_n`` for a non-empty list."""
    out = matrices[0]
    for m in matrices[1:]:
        out = ops.matmul(out, m)
    return out


class _Overparam(keras.layers.Layer):
    """Shared machinery: ``depth`` kernel factors, one bias on the last factor.

    The bias sits on the last factor only: biases between factors would add
    parameters without enlarging the function class.
    """

    def __init__(self, depth: int, activation: Any, use_bias: bool, kernel_initializer: Any,
                 factor_initializer: Any, bias_initializer: Any, **kwargs: Any):
        super().__init__(**kwargs)
        if int(depth) < 1:
            raise ValueError(f"depth (the number of linear factors) must be >= 1, got {depth}")
        self.depth = int(depth)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.factor_initializer = keras.initializers.get(factor_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _build_factors(self, first_shape: tuple[int, ...], units: int) -> None:
        self.factors = [self.add_weight(name="kernel_0", shape=first_shape, initializer=self.kernel_initializer)]
        self.factors += [
            self.add_weight(name=f"kernel_{i}", shape=(units, units), initializer=self.factor_initializer)
            for i in range(1, self.depth)
        ]
        self._bias = self.add_weight(name="bias", shape=(units,), initializer=self.bias_initializer) if self.use_bias else None

    @property
    def kernel(self) -> Any:
        """The collapsed kernel as a backend tensor (what a plain layer's ``kernel`` would be)."""
        return _product(list(self.factors))

    @property
    def bias(self) -> Any:
        return self._bias

    def collapsed_kernel(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(kernel, bias)`` of the single equivalent layer, as NumPy arrays (bias None if unused)."""
        kernel = ops.convert_to_numpy(self.kernel)
        bias = None if self._bias is None else self._bias.numpy()
        return kernel, bias

    def _finish(self, y: Any) -> Any:
        if self._bias is not None:
            y = ops.add(y, self._bias)
        return self.activation(y) if self.activation is not None else y

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            depth=self.depth,
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            factor_initializer=keras.initializers.serialize(self.factor_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
        )
        return config


@keras.saving.register_keras_serializable(package="ddbench")
class OverparamDense(_Overparam):
    """A Dense layer whose kernel is a product of ``depth`` matrices: ``in x units``, then ``units x units``.

    The input is multiplied by the factors one at a time (cheaper than forming the
    product when the batch is smaller than the input dimension).
    ``factor_initializer`` (default Glorot normal: variance ``1/units`` for the
    square factors) keeps the product's scale close to a plain layer's at
    initialisation while giving it the spread spectrum of a random product.
    """

    def __init__(self, units: int, depth: int = 2, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", factor_initializer: Any = "glorot_normal",
                 bias_initializer: Any = "zeros", **kwargs: Any):
        super().__init__(depth, activation, use_bias, kernel_initializer, factor_initializer, bias_initializer, **kwargs)
        self.units = int(units)

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self._build_factors((int(input_shape[-1]), self.units), self.units)

    def call(self, inputs: Any) -> Any:
        y = inputs
        for factor in self.factors:
            y = ops.matmul(y, factor)
        return self._finish(y)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="ddbench")
class OverparamConv(_Overparam):
    """A 1-D or 2-D convolution followed by ``depth - 1`` 1x1 convolutions, no activation between.

    A 1x1 convolution is a ``filters x filters`` matrix acting on channels, so the
    factors after the first are stored as matrices. The forward pass contracts them
    into the first kernel and runs one convolution: the same function and the same
    gradients with respect to every factor as ``depth`` separate convolutions, at a
    fraction of the cost (the contraction is independent of batch and image size).
    Always ``channels_last``.
    """

    def __init__(self, rank: int, filters: int, kernel_size: int | tuple[int, ...], depth: int = 2,
                 strides: int | tuple[int, ...] = 1, padding: str = "same", activation: Any = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 factor_initializer: Any = "glorot_normal", bias_initializer: Any = "zeros", **kwargs: Any):
        super().__init__(depth, activation, use_bias, kernel_initializer, factor_initializer, bias_initializer, **kwargs)
        if rank not in (1, 2):
            raise ValueError(f"OverparamConv supports rank 1 or 2 (Conv1D/Conv2D), got {rank}")
        self.rank = int(rank)
        self.filters = int(filters)
        self.kernel_size = _tuple(kernel_size, self.rank)
        self.strides = _tuple(strides, self.rank)
        self.padding = padding

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        self._build_factors((*self.kernel_size, int(input_shape[-1]), self.filters), self.filters)

    def call(self, inputs: Any) -> Any:
        y = ops.conv(inputs, self.kernel, strides=self.strides, padding=self.padding, data_format="channels_last")
        return self._finish(y)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        spatial = []
        for size, k, s in zip(input_shape[1:-1], self.kernel_size, self.strides):
            if size is None:
                spatial.append(None)
            elif self.padding == "same":
                spatial.append(-(-size // s))
            else:
                spatial.append((size - k) // s + 1)
        return (input_shape[0], *spatial, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rank": self.rank, "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding}


def _tuple(value: int | tuple[int, ...] | list[int], rank: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * rank
    value = tuple(int(v) for v in value)
    if len(value) != rank:
        raise ValueError(f"expected {rank} values, got {value}")
    return value


def dense(units: int, *, linear_overparam: int = 1, activation: Any = None, use_bias: bool = True,
          kernel_initializer: Any = "glorot_uniform", name: str | None = None) -> keras.layers.Layer:
    """A plain ``Dense`` when ``linear_overparam == 1``, else an :class:`OverparamDense` of that depth."""
    if linear_overparam == 1:
        return keras.layers.Dense(units, activation=activation, use_bias=use_bias,
                                  kernel_initializer=kernel_initializer, name=name)
    return OverparamDense(units, depth=linear_overparam, activation=activation, use_bias=use_bias,
                          kernel_initializer=kernel_initializer, name=name)


def conv(rank: int, filters: int, kernel_size: int, *, strides: int = 1, linear_overparam: int = 1,
         use_bias: bool = True, kernel_initializer: Any = "glorot_uniform", padding: str = "same",
         name: str | None = None) -> keras.layers.Layer:
    """A plain ``Conv1D``/``Conv2D`` when ``linear_overparam == 1``, else an :class:`OverparamConv`."""
    if linear_overparam == 1:
        cls = {1: keras.layers.Conv1D, 2: keras.layers.Conv2D}[rank]
        return cls(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
                   kernel_initializer=kernel_initializer, data_format="channels_last", name=name)
    return OverparamConv(rank, filters, kernel_size, depth=linear_overparam, strides=strides, padding=padding,
                         use_bias=use_bias, kernel_initializer=kernel_initializer, name=name)

