"""Pooling layers: the lecture's max and average pooling, and their global forms."""
from __future__ import annotations

from typing import Any

from .. import functional as F
from ..kernels.padding import normalize_padding, normalize_pair, output_size, resolve_pads
from .base import Layer, register


class Pooling2D(Layer):
    """Shared arguments of the pooling layers: pool_size, strides (default: pool_size), padding."""

    pool_fn = staticmethod(F.max_pool2d)

    def __init__(self, pool_size: Any = (2, 2), strides: Any = None, padding: str = "valid", **kwargs: Any):
        super().__init__(**kwargs)
        self.pool_size = normalize_pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_pair(strides, "strides")
        self.padding = normalize_padding(padding, allow_explicit=False)

    def call(self, x, training=False):
        return type(self).pool_fn(x, self.pool_size, self.strides, self.padding)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects input (N, H, W, C); got {input_shape}")
        hw = tuple(input_shape[1:3])
        if None in hw:
            return (input_shape[0], None, None, input_shape[3])
        pads = resolve_pads(self.padding, hw, self.pool_size, self.strides)
        return (input_shape[0], *output_size(hw, self.pool_size, self.strides, (1, 1), pads), input_shape[3])

    build = compute_output_shape  # checks the geometry (an empty output is an error) before any data flows

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding}


@register
class MaxPooling2D(Pooling2D):
    """Max over each window: checks the local presence of a feature. (N, H, W, C) -> (N, h, w, C)."""

    pool_fn = staticmethod(F.max_pool2d)


@register
class AveragePooling2D(Pooling2D):
    """Mean over each window; with 'same' padding a border window averages its real cells only."""

    pool_fn = staticmethod(F.avg_pool2d)


class _GlobalPooling2D(Layer):
    def __init__(self, keepdims: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects input (N, H, W, C); got {input_shape}")
        return (input_shape[0], 1, 1, input_shape[3]) if self.keepdims else (input_shape[0], input_shape[3])

    build = compute_output_shape

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


@register
class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over height and width: (N, H, W, C) -> (N, C)."""

    def call(self, x, training=False):
        return F.global_avg_pool2d(x, self.keepdims)


@register
class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over height and width: (N, H, W, C) -> (N, C)."""

    def call(self, x, training=False):
        return F.global_max_pool2d(x, self.keepdims)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
