"""Activation layers with parameters: LeakyReLU, PReLU (a learned slope) and ELU."""
from __future__ import annotations

from typing import Any

from .. import constraints, functional as F, regularizers
from .base import Layer, register
from .core import initializer_config


@register
class LeakyReLU(Layer):
    """x for x > 0, ``negative_slope``·x otherwise (Keras 3's layer default 0.3)."""

    def __init__(self, negative_slope: float = 0.3, **kwargs: Any):
        if "alpha" in kwargs:  # Keras 2's name, which Keras 3 still accepts
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        if not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool) or negative_slope < 0:
            raise ValueError(f"negative_slope must be a number >= 0; got {negative_slope!r}")
        self.negative_slope = float(negative_slope)

    def call(self, x, training=False):
        return F.leaky_relu(x, self.negative_slope)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


@register
class ELU(Layer):
    """x for x > 0, alpha·(eˣ - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, x, training=False):
        return F.elu(x, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


@register
class PReLU(Layer):
    """max(x, 0) + alpha·min(x, 0) with a learned ``alpha`` of the input's per-sample shape, shared
    (size 1) along ``shared_axes`` (e.g. [1, 2]: one slope per channel of an image)."""

    def __init__(self, alpha_initializer: Any = "zeros", alpha_regularizer: Any = None,
                 alpha_constraint: Any = None, shared_axes: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.alpha_initializer = alpha_initializer
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = constraints.get(alpha_constraint)
        if shared_axes is not None and not isinstance(shared_axes, (list, tuple)):
            shared_axes = [shared_axes]
        self.shared_axes = None if shared_axes is None else [int(a) for a in shared_axes]

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for axis in self.shared_axes or []:
            if not 1 <= axis < len(input_shape):
                raise ValueError(f"PReLU {self.name!r}: shared axis {axis} is not an axis of {input_shape} (1..)")
            shape[axis - 1] = 1
        if None in shape:
            raise ValueError(f"PReLU {self.name!r} needs known sizes on its unshared axes; got {input_shape}")
        self.alpha = self.add_weight("alpha", tuple(shape), self.alpha_initializer,
                                     regularizer=self.alpha_regularizer, constraint=self.alpha_constraint)

    def call(self, x, training=False):
        return F.relu(x) - self.alpha * F.relu(-x)  # = relu(x) + alpha·min(x, 0), exactly

    def get_config(self):
        config = {**super().get_config(), "alpha_initializer": initializer_config(self.alpha_initializer),
                  "shared_axes": self.shared_axes}
        if self.alpha_regularizer is not None:
            config["alpha_regularizer"] = regularizers.serialize(self.alpha_regularizer)
        if self.alpha_constraint is not None:
            config["alpha_constraint"] = constraints.serialize(self.alpha_constraint)
        return config
