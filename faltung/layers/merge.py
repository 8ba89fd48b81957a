"""Layers that join several inputs: Add (residual connections) and Concatenate."""
from __future__ import annotations

from typing import Any

from ..autograd import Function
import numpy as np

from .base import Layer, register


class _Merge(Layer):
    def _check(self, shapes) -> None:
        if not isinstance(shapes, list) or len(shapes) < 2:
            raise ValueError(f"{type(self).__name__} {self.name!r} needs a list of at least 2 inputs; got {shapes}")

    def build(self, input_shape):
        self.compute_output_shape(input_shape)


@register
class Add(_Merge):
    """Elementwise sum of inputs of one shape: ``Add()([x, shortcut])``."""

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        first = tuple(input_shape[0])
        for shape in input_shape[1:]:
            if len(shape) != len(first) or any(a is not None and b is not None and a != b
                                               for a, b in zip(first[1:], tuple(shape)[1:])):
                raise ValueError(f"Add {self.name!r} needs inputs of one shape; got {input_shape}")
        return first

    def call(self, xs, training=False):
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total


class _Concat(Function):
    def forward(self, *arrays, axis):
        self.axis = axis
        self.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return np.concatenate(arrays, axis=axis)

    def backward(self, g):
        return tuple(np.split(g, self.bounds, axis=self.axis))


@register
class Concatenate(_Merge):
    """Joins inputs along ``axis`` (default the channels): (N, H, W, C1), (N, H, W, C2) -> (N, H, W, C1+C2)."""

    def __init__(self, axis: int = -1, **kwargs: Any):
        super().__init__(**kwargs)
        self.axis = axis

    def compute_output_shape(self, input_shape):
        self._check(input_shape)
        rank = len(input_shape[0])
        axis = self.axis % rank
        if axis == 0:
            raise ValueError(f"Concatenate {self.name!r} cannot join along the batch axis")
        out = list(input_shape[0])
        for shape in input_shape[1:]:
            if len(shape) != rank or any(i != axis and a is not None and b is not None and a != b
                                         for i, (a, b) in enumerate(zip(out, shape)) if i > 0):
                raise ValueError(f"Concatenate {self.name!r} needs equal shapes except on axis {self.axis}; "
                                 f"got {input_shape}")
            out[axis] = None if out[axis] is None or shape[axis] is None else out[axis] + shape[axis]
        return tuple(out)

    def call(self, xs, training=False):
        return _Concat.apply(*xs, axis=self.axis % xs[0].ndim)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class _Elementwise(_Merge):
    """Merge layers on inputs of one shape (Add's shape rule)."""

    compute_output_shape = Add.compute_output_shape


@register
class Subtract(_Elementwise):
    """``inputs[0] - inputs[1]``: exactly two inputs of one shape."""

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list) and len(input_shape) != 2:
            raise ValueError(f"Subtract {self.name!r} needs exactly 2 inputs; got {len(input_shape)}")
        return _Elementwise.compute_output_shape(self, input_shape)

    def call(self, xs, training=False):
        return xs[0] - xs[1]


@register
class Multiply(_Elementwise):
    """Elementwise product of inputs of one shape."""

    def call(self, xs, training=False):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


@register
class Average(_Elementwise):
    """Elementwise mean of inputs of one shape."""

    def call(self, xs, training=False):
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total / float(len(xs))


@register
class Maximum(_Elementwise):
    """Elementwise maximum of inputs of one shape (a tie splits the gradient in half)."""

    def call(self, xs, training=False):
        from ..functional.elementwise import maximum
        out = xs[0]
        for x in xs[1:]:
            out = maximum(out, x)
        return out
