"""Core layers: Input, Dense, Flatten, Activation, ReLU, Softmax, Dropout, Reshape, Rescaling."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import functional as F
from ..autograd import Tensor
from ._options import WeightOptions
from .base import Layer, Shape, SymbolicTensor, register


def activation_name(activation: Any) -> Any:
    return getattr(activation, "__name__", activation) if activation is not None else "linear"


@register
class InputLayer(Layer):
    """The entry point of a functional graph: passes its input through unchanged."""

    def __init__(self, batch_shape: Sequence[int | None] | None = None, shape: Sequence[int] | None = None,
                 batch_size: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input needs a shape, e.g. Input((28, 28, 1)) for one image of 28×28×1")
            batch_shape = (batch_size,) + tuple(shape)
        batch_shape = tuple(batch_shape)
        if not all(d is None or (isinstance(d, (int, np.integer)) and d > 0) for d in batch_shape[1:]):
            raise ValueError(f"Input shape must hold positive ints (or None); got {batch_shape[1:]}")
        self.batch_shape = batch_shape
        self.built = True
        self.input_shape = self.output_shape = (None,) + batch_shape[1:]

    def call(self, x, training=False):
        return x

    def get_config(self):
        return {**super().get_config(), "batch_shape": list(self.batch_shape)}


def Input(shape: Sequence[int], batch_size: int | None = None, name: str | None = None,
          dtype=None) -> SymbolicTensor:
    """A symbolic input of per-sample ``shape`` (no batch axis), e.g. ``Input((28, 28, 1))``."""
    if isinstance(shape, int):
        shape = (shape,)
    layer = InputLayer(shape=tuple(shape), batch_size=batch_size, name=name, dtype=dtype)
    return SymbolicTensor(layer.batch_shape, layer.dtype, layer)


@register
class Dense(WeightOptions, Layer):
    """The fully connected layer of the lecture's contrast: ``y = activation(x · W + b)``.

    Input (..., in) -> output (..., units); kernel (in, units), bias (units,).
    """

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self._set_weight_options(kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                                 kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units < 1:
            raise ValueError(f"units must be a positive int; got {units!r}")
        self.units = int(units)
        self.activation = F.get_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(f"Dense {self.name!r} needs a known last input axis; got shape {input_shape}")
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, regularizer=self.bias_regularizer,
                                    constraint=self.bias_constraint) if self.use_bias else None

    def call(self, x, training=False):
        return self.activation(F.dense(x, self.kernel, self.bias))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": activation_name(self.activation),
                "use_bias": self.use_bias, "kernel_initializer": initializer_config(self.kernel_initializer),
                "bias_initializer": initializer_config(self.bias_initializer), **self._weight_options_config()}


def initializer_config(initializer: Any) -> Any:
    from .. import initializers
    return initializer if isinstance(initializer, str) else initializers.serialize(initializers.get(initializer))


@register
class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1·d2·...), in channels-last order like Keras."""

    def call(self, x, training=False):
        return F.flatten(x)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))  # Python ints: never wraps


@register
class Activation(Layer):
    """Applies an activation by name ('relu', 'softmax', ...) or callable."""

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation = F.get_activation(activation)

    def call(self, x, training=False):
        return self.activation(x)

    def get_config(self):
        return {**super().get_config(), "activation": activation_name(self.activation)}


@register
class ReLU(Layer):
    """max(x, 0), or Keras' general form with ``max_value``, ``negative_slope`` and ``threshold``."""

    def __init__(self, max_value: float | None = None, negative_slope: float = 0.0, threshold: float = 0.0,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"max_value must be >= 0 or None; got {max_value!r}")
        if negative_slope < 0:
            raise ValueError(f"negative_slope must be >= 0; got {negative_slope!r}")
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, x, training=False):
        if self.max_value is None and self.negative_slope == 0 and self.threshold == 0:
            return F.relu(x)
        # x >= threshold: x (capped at max_value); below: negative_slope·(x - threshold)
        shifted = x - self.threshold
        y = F.relu(shifted) + self.threshold * (x.data >= self.threshold)
        if self.negative_slope:
            y = y - self.negative_slope * F.relu(-shifted)
        if self.max_value is not None:
            y = F.clip(y, -np.inf, self.max_value)
        return y

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


@register
class Softmax(Layer):
    """Softmax along ``axis`` (default the last)."""

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, x, training=False):
        return F.softmax(x, axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


@register
class Dropout(Layer):
    """Zeros a ``rate`` fraction of entries while training and scales the rest by 1/(1-rate)."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0 <= rate < 1:
            raise ValueError(f"rate must be a number in [0, 1); got {rate!r}")
        self.rate, self.seed = float(rate), seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def call(self, x, training=False):
        return F.dropout(x, self.rate, training=training, rng=self._rng)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@register
class Reshape(Layer):
    """(N, ...) -> (N, *target_shape); one entry of target_shape may be -1."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1 or any(d == 0 or d < -1 for d in self.target_shape):
            raise ValueError(f"target_shape must hold positive ints and at most one -1; got {target_shape!r}")

    def compute_output_shape(self, input_shape):
        size = None if None in input_shape[1:] else math.prod(input_shape[1:])  # Python ints: never wraps
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if size is not None and size % known:
                raise ValueError(f"cannot reshape {input_shape[1:]} ({size} values) into {self.target_shape}")
            fill = None if size is None else size // known
            return (input_shape[0],) + tuple(fill if d == -1 else d for d in self.target_shape)
        if size is not None and size != known:
            raise ValueError(f"cannot reshape {input_shape[1:]} ({size} values) into {self.target_shape} "
                             f"({known} values)")
        return (input_shape[0],) + self.target_shape

    def build(self, input_shape):
        self.compute_output_shape(input_shape)  # refuse an impossible reshape before any data flows

    def call(self, x, training=False):
        return x.reshape((x.shape[0],) + self.compute_output_shape(x.shape)[1:])

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


@register
class Rescaling(Layer):
    """``x · scale + offset``, e.g. ``Rescaling(1/255)`` turns 0..255 pixels into 0..1."""

    def __init__(self, scale: float, offset: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def call(self, x: Tensor, training=False):
        return x * self.scale + self.offset

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
